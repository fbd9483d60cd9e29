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
        self._use_matrix = block <= 64 or 2 * rank >= block
        if self._use_matrix:
            matrix = basis @ basis.T
            self._array = matrix.reshape((*block_shape, *block_shape))
        else:
            self._array = basis.reshape((*block_shape, rank))
        self._array.setflags(write=False)
        self._basis = basis
        self._tensors = {}

    @property
    def nbytes(self):
        """Bytes of the NumPy arrays it keeps."""
        return self._array.nbytes + self._basis.nbytes

    def _equations(self):
        view, blk = self._subscripts, self._block_letters
        if self._use_matrix:
            upper = blk.upper()
            out = "".join(c.upper() if c in blk else c for c in view)
            return (f"{upper}{blk},{view}->{out}",)
        copies = self._copy_letters
        return (f"{view},{blk}r->r{copies}", f"r{copies},{blk}r->{view}")

    def apply(self, kernel):
        """`P(K)` with `keras.ops`, same shape and dtype as `kernel`."""
        kernel = ops.convert_to_tensor(kernel)
        if self.is_identity:
            return kernel
        if self.is_zero:
            return ops.zeros_like(kernel)
        (array,) = constants(self._tensors, kernel, (self._array,))
        x = ops.reshape(kernel, self._view)
        equations = self._equations()
        if self._use_matrix:
            x = einsum(equations[0], array, x)
        else:
            x = einsum(equations[1], einsum(equations[0], x, array), array)
        return ops.reshape(x, self.shape)

    def apply_numpy(self, kernel):
        """`P(K)` in NumPy (exact in float64)."""
        kernel = np.asarray(kernel)
        if self.is_identity:
            return kernel.copy()
        x = kernel.reshape(self._view).astype(np.float64)
        equations = self._equations()
        if self._use_matrix:
            x = np.einsum(equations[0], self._array, x)
        else:
            coefficients = np.einsum(equations[0], x, self._array)
            x = np.einsum(equations[1], coefficients, self._array)
        return x.reshape(kernel.shape).astype(kernel.dtype)
