r"""The projection of a layer with many copies of its fields, as matmuls.

A layer whose input carries `m_in` copies of a direct sum of fields of
size `D_in` (and its output `m_out` copies of one of size `D_out`) has a
kernel that reads, after splitting each channel axis into
`(copy, channel of the copy)`,

    K[x, a, i, b, j]    x: spatial offset (S of them), a < m_in, i < D_in,
                        b < m_out, j < D_out.

The group acts on `(x, i, j)` only and leaves the copy indices alone, so
the projection is a Kronecker product

    P = P_block (x) 1_{m_in m_out},

where `P_block` is the projection of a single copy, a `(B, B)` matrix with
`B = S D_in D_out`, computed once in NumPy (from orbits or a steerable
basis). With an orthonormal basis `Q` (`(B, r)`) of its range,
`P_block = Q Q^T`, and

    P(K)[x, a, i, b, j] = sum_y M[(x, i, j), (y, k, l)] K[y, a, k, b, l]

with `M = P_block` (when `B` is small) or as the two contractions
`c = Q^T K`, `P(K) = Q c` (when `r < B / 2`). Either is one or two dense
contractions (matrix products on every backend) whose backward pass is
again a matrix product, with no gather or scatter. For trivial fields
(`D_in = D_out = 1`, the usual `keras.applications` kernel) the kernel
viewed as a `(S, in * out)` matrix is projected by a `(S, S)` matrix:
`P(K) = M K`.

Layouts (see `keras_approxeq.layouts`): a transposed-convolution kernel
has its channel axes swapped; a depthwise kernel `(spatial..., in,
multiplier)` has `D_out = 1` (its multiplier axis is a copy axis); a Dense
kernel has `S = 1`; a bias is `(m_out, D_out)`.
"""

import math

import numpy as np
from keras import ops

from keras_approxeq._memo import constants
from keras_approxeq._ops import einsum

__all__ = ["KroneckerProjector"]

_BLOCK = "ijkl"  # block letters of the channel axes' fields, in axis order
_COPY = "abcd"  # letters of the copy axes


class KroneckerProjector:
    """`P = P_block (x) 1` for a kernel of many copies of its fields.

    Args:
        shape: The kernel shape.
        spatial_axes: How many leading axes are spatial.
        field_sizes: For each channel axis after the spatial ones, in order,
            the size of one copy of its fields (1 for a depthwise
            multiplier axis).
        basis: `(B, r)` NumPy array, an orthonormal basis of the
            equivariant kernels of one copy, `B = S * prod(field_sizes)`
            ordered as the block's C-order flattening `(x, i, j)`.

    Attributes:
        shape: The kernel shape.
        dim: Dimension of the equivariant subspace, `r` times the copies.
        is_identity: Whether `P` is the identity (every kernel of this
            shape is equivariant, e.g. a 1x1 kernel between trivial
            fields); the penalty is then zero without evaluating it.
    """

    def __init__(self, shape, spatial_axes, field_sizes, basis):
        self.shape = tuple(shape)
        spatial = self.shape[:spatial_axes]
        size = math.prod(spatial)
        copies = [
            n // d for n, d in zip(self.shape[spatial_axes:], field_sizes)
        ]
        block, rank = basis.shape
        self.dim = rank * math.prod(copies)
        self.is_identity = rank == block
        self.is_zero = rank == 0

        # The kernel's view: spatial offsets flattened, each channel axis
        # split into (copy, field channel); axes of size 1 in the block
        # are dropped from the subscripts (a trivial field has one).
        view, block_letters, block_shape, copy_letters = [], "", [], ""
        if spatial:
            view.append(size)
            block_letters += "x"
            block_shape.append(size)
        subscripts = block_letters
        for axis, (m, d) in enumerate(zip(copies, field_sizes)):
            copy_letters += _COPY[axis]
            subscripts += _COPY[axis]
            view.append(m)
            if d > 1:
                subscripts += _BLOCK[axis]
                block_letters += _BLOCK[axis]
                block_shape.append(d)
                view.append(d)
        self._view = tuple(view)
        self._subscripts = subscripts
        self._block_letters = block_letters
        self._copy_letters = copy_letters
        self._copies = tuple(copies)
        self._rank = rank
        self._use_matrix = block <= 64 or 2 * rank >= block
        self._basis = basis.reshape((*block_shape, rank))
        # The arrays apply() contracts with: the (B, B) projection itself
        # or the basis (applied twice).
        arrays = (self._basis,)
        if self._use_matrix:
            matrix = basis @ basis.T
            arrays = (matrix.reshape((*block_shape, *block_shape)),)
        self._arrays = arrays
        for array in (self._basis, *arrays):
            array.setflags(write=False)
        self._tensors = {}  # (dtype, device) -> the arrays as tensors
        self._basis_tensors = {}

    @property
    def nbytes(self):
        """Bytes of the NumPy arrays it keeps."""
        return self._basis.nbytes + sum(a.nbytes for a in self._arrays)

    def coefficients(self, kernel):
        """`Q^T K`, the kernel's `dim` coordinates (a 1-D tensor)."""
        kernel = ops.convert_to_tensor(kernel)
        (basis,) = constants(self._basis_tensors, kernel, (self._basis,))
        analysis, _ = self._basis_equations()
        x = ops.reshape(kernel, self._view)
        return ops.reshape(einsum(analysis, x, basis), (-1,))

    def expand(self, coefficients):
        """`Q c`: the kernel of coordinates `c` (as `coefficients` gives)."""
        coefficients = ops.convert_to_tensor(coefficients)
        (basis,) = constants(self._basis_tensors, coefficients, (self._basis,))
        _, synthesis = self._basis_equations()
        c = ops.reshape(coefficients, (self._rank, *self._copies))
        return ops.reshape(einsum(synthesis, c, basis), self.shape)

    def apply(self, kernel):
        """`P(K)` with `keras.ops`, same shape and dtype as `kernel`."""
        kernel = ops.convert_to_tensor(kernel)
        if self.is_identity:
            return kernel
        if self.is_zero:
            return ops.zeros_like(kernel)
        if not self._use_matrix:
            return self.expand(self.coefficients(kernel))
        (matrix,) = constants(self._tensors, kernel, self._arrays)
        x = einsum(
            self._matrix_equation(), matrix, ops.reshape(kernel, self._view)
        )
        return ops.reshape(x, self.shape)

    def apply_numpy(self, kernel):
        """`P(K)` in NumPy (exact in float64)."""
        kernel = np.asarray(kernel)
        x = kernel.reshape(self._view).astype(np.float64)
        analysis, synthesis = self._basis_equations()
        x = np.einsum(
            synthesis, np.einsum(analysis, x, self._basis), self._basis
        )
        return x.reshape(kernel.shape).astype(kernel.dtype)

    def _matrix_equation(self):
        view, block = self._subscripts, self._block_letters
        out = "".join(c.upper() if c in block else c for c in view)
        return f"{block.upper()}{block},{view}->{out}"

    def _basis_equations(self):
        view, block = self._subscripts, self._block_letters
        copies = self._copy_letters
        return (f"{view},{block}r->r{copies}", f"r{copies},{block}r->{view}")
