r"""The projection onto steerable kernels: `P(K) = Q Q^T K`.

For the groups whose rotations do not map the grid onto itself (`C<N>`,
`D<N>` for other `N`, `SO2`, `O2`, `SO3`, `O3`), the equivariant kernels
from a field of type `a` to one of type `b` are spanned by a sampled,
orthonormal basis `Q_ab` of shape `(n, X, d_a, d_b)`
(`keras_approxeq.kernels.plane_basis` in 2D,
`keras_approxeq.kernels.spherical_basis` in 3D), and

    P(K) = Q Q^T K

is the exact orthogonal projection onto their span, applied to each pair of
an input and an output field. The projector's memory depends on the field
types and the kernel size, not on the number of channels.

Every radial profile is a function of the distance from the centre, so a
kernel projected for `SO2` is exactly `C4`-equivariant on the grid and one
projected for `O2` exactly `D4`-equivariant; for the grid-exact groups
(`C4`, `D4`, reached here only through `max_frequency`) the projection
equals orbit averaging (tested for every pair of field types).
"""

import itertools
import math

import keras
import numpy as np
from keras import ops

from keras_approxeq._memo import Constants
from keras_approxeq._memo import memoize
from keras_approxeq._ops import einsum
from keras_approxeq._ops import matmul
from keras_approxeq._ops import reshape
from keras_approxeq._ops import split
from keras_approxeq._ops import transpose
from keras_approxeq.actions.layouts import KernelLayout
from keras_approxeq.kernels import radial
from keras_approxeq.kernels import spherical_basis
from keras_approxeq.kernels.plane_basis import plane_pair_basis
from keras_approxeq.kernels.plane_basis import polar_grid
from keras_approxeq.projection import weight_views
from keras_approxeq.projection.interface import Projector
from keras_approxeq.projection.self_adjoint import self_adjoint
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry import irreps
from keras_approxeq.symmetry import representations
from keras_approxeq.symmetry import spherical

__all__ = ["ChannelRuns", "SteerableProjector", "get_steerable_projector"]


class ChannelRuns:
    """A field list's channels as `(copies, period)`, cut into runs.

    Keras lays out `copies` repeats of the field list along the channel
    axis. Reshaped to `(copies, period)`, each maximal run of consecutive
    fields of one type within the shortest repeating pattern is a slice
    of the `period` axis, so the channels of a type come out by a reshape
    and a split, whose gradient is a concatenation: no gather, whose
    gradient would be a scatter.

    Attributes:
        copies: Repeats of the shortest pattern along the channel axis.
        period: Channels in one pattern.
        runs: `(field type, first channel, fields, field size)` per run,
            in channel order within the pattern.
    """

    def __init__(self, representation, channels):
        fields = representation.fields
        length = next(
            n
            for n in range(1, len(fields) + 1)
            if fields == fields[:n] * (len(fields) // n)
        )
        start, self.runs = 0, []
        for field, run in itertools.groupby(fields[:length]):
            count = len(list(run))
            size = representations.Representation(
                representation.group, [field]
            ).size
            self.runs.append((field, start, count, size))
            start += count * size
        self.period = start
        self.copies = channels // start


class SteerableProjector(Projector):
    """`P(K) = Q Q^T K` per pair of input and output field types.

    Build it with `get_steerable_projector`. `bases[(a, b)]` holds `Q_ab`,
    shape `(n, X, d_a, d_b)`, orthonormal over its last three axes. The
    kernel, reshaped to `(X, copies, period, copies, period)` (a
    `ChannelRuns` per side), is split into one block per pair of runs,
    shape `(X, fields_in, d_a, fields_out, d_b)`. Blocks of the same
    shape and basis size `n` are stacked into a batch of `G` and
    projected with two batched matrix products (the `Q_ab` as a `(G, n,
    X d_a d_b)` stack, the blocks transposed to `(G, X d_a d_b,
    fields_in fields_out)`; two einsums on `EINSUM_BACKENDS`), and the
    blocks are concatenated back (the gradients of a split and a
    concatenation are each other). The coordinates (`coefficients`) come
    batch by batch.

    Attributes:
        shape: The kernel shape `(spatial..., in, out)` it projects.
        dim: Dimension of the equivariant subspace.
        bases: Dict from `(in field type, out field type)` to `Q_ab`.

    Example:

    >>> from keras_approxeq.projection import get_projector
    >>> p = get_projector("SO2", ["irrep0", "irrep1"], "irrep1", (5, 5, 3, 2))
    >>> type(p).__name__, p.dim
    ('SteerableProjector', 14)
    >>> k = np.random.default_rng(0).normal(size=(5, 5, 3, 2))
    >>> c = p.coefficients(p.apply_numpy(k))
    >>> bool(np.allclose(p.expand(c), p.apply_numpy(k), atol=1e-6))
    True
    """

    def __init__(self, shape, in_runs, out_runs, bases):
        self.shape = tuple(shape)
        self.in_runs = in_runs
        self.out_runs = out_runs
        self.bases = bases
        self._blocks = []  # (in run, out run, fields in, fields out, n)
        for i, (a, _, count_a, _) in enumerate(in_runs.runs):
            for j, (b, _, count_b, _) in enumerate(out_runs.runs):
                if (a, b) in bases:
                    fields_in = in_runs.copies * count_a
                    fields_out = out_runs.copies * count_b
                    n = bases[(a, b)].shape[0]
                    self._blocks.append((i, j, fields_in, fields_out, n))
        self.dim = sum(p * q * n for *_, p, q, n in self._blocks)
        self.is_identity = self.dim == math.prod(self.shape)
        # Blocks of one shape and basis size are projected together, one
        # batched product for each such batch: a D16 kernel between
        # regular fields has 91 blocks but 14 batches.
        batches = {}
        for i, j, *_, n in self._blocks:
            batches.setdefault((self._block_shape(i, j), n), []).append((i, j))
        # (block shape `(X, p, d_a, q, d_b)`, the blocks' (in run, out run),
        # number of coordinates).
        self._batches = [
            (shape, cells, len(cells) * n * shape[1] * shape[3])
            for (shape, n), cells in batches.items()
        ]
        # Channels of each run within the pattern, per side, and each
        # batch's number of coordinates: how `coefficients` and `expand`
        # split their inputs.
        self._widths = [
            [count * size for _, _, count, size in side.runs]
            for side in (in_runs, out_runs)
        ]
        self._sizes = [size for *_, size in self._batches]
        # Each batch's `Q_ab` as a stack of `(n, X d_a d_b)` matrices.
        self._constants = Constants(
            *(
                np.stack([self._basis_matrix(i, j) for i, j in cells])
                for _, cells, _ in self._batches
            )
        )

    @property
    def nbytes(self):
        """Bytes of the NumPy arrays it keeps (tensors made from them take
        as much again per dtype and device)."""
        return self._constants.nbytes

    def _basis_matrix(self, i, j):
        a, b = self.in_runs.runs[i][0], self.out_runs.runs[j][0]
        q = self.bases[(a, b)]
        return q.reshape(len(q), -1)

    def _grid(self):
        x = math.prod(self.shape[:-2])
        runs = (self.in_runs, self.out_runs)
        return (x, *(n for r in runs for n in (r.copies, r.period)))

    def _block_shape(self, i, j):
        """`(X, fields_in, d_a, fields_out, d_b)` of the pair of runs."""
        (_, _, count_a, d_a), (_, _, count_b, d_b) = (
            self.in_runs.runs[i],
            self.out_runs.runs[j],
        )
        return (
            math.prod(self.shape[:-2]),
            self.in_runs.copies * count_a,
            d_a,
            self.out_runs.copies * count_b,
            d_b,
        )

    def apply_numpy(self, kernel):
        """`P(K)` in NumPy (exact in float64)."""
        kernel = np.asarray(kernel)
        grid = kernel.reshape(self._grid())
        out = np.zeros_like(grid)
        for i, j, *_ in self._blocks:
            (a, first_a, count_a, d_a) = self.in_runs.runs[i]
            (b, first_b, count_b, d_b) = self.out_runs.runs[j]
            rows = slice(first_a, first_a + count_a * d_a)
            cols = slice(first_b, first_b + count_b * d_b)
            block = grid[:, :, rows, :, cols].reshape(self._block_shape(i, j))
            q = self.bases[(a, b)]
            coeff = np.einsum("nxij,xpiqj->npq", q, block)
            projected = np.einsum("nxij,npq->xpiqj", q, coeff)
            out[:, :, rows, :, cols] = projected.reshape(
                out[:, :, rows, :, cols].shape
            )
        return out.reshape(kernel.shape).astype(kernel.dtype)

    def coefficients(self, kernel):
        """`Q^T K`, the kernel's `dim` coordinates (a 1-D tensor), batch
        by batch."""
        kernel = ops.convert_to_tensor(kernel)
        if not self._blocks:
            return ops.zeros((0,), kernel.dtype)
        tensors = self._constants.like(kernel)
        grid = reshape(kernel, self._grid())
        in_widths, out_widths = self._widths
        cells = [split(row, out_widths, 4) for row in split(grid, in_widths, 2)]
        parts = []
        for (shape, batch, _), basis in zip(self._batches, tensors):
            blocks = [reshape(cells[i][j], (1, *shape)) for i, j in batch]
            coefficients = _analysis(basis, _concatenate(blocks, axis=0))
            parts.append(reshape(coefficients, (-1,)))
        return _concatenate(parts, axis=0)

    def expand(self, coefficients):
        """`Q c`: the kernel of coordinates `c` (as `coefficients` gives)."""
        coefficients = ops.convert_to_tensor(coefficients)
        tensors = self._constants.like(coefficients)
        x, p, _, q_, _ = self._grid()
        blocks = {}
        for (shape, cells, _), basis, piece in zip(
            self._batches, tensors, split(coefficients, self._sizes, 0)
        ):
            batch = _synthesis(basis, piece, (len(cells), *shape))
            blocks.update(zip(cells, split(batch, [1] * len(cells), 0)))
        rows = []
        for i, (_, _, count_a, d_a) in enumerate(self.in_runs.runs):
            row = []
            for j, (_, _, count_b, d_b) in enumerate(self.out_runs.runs):
                shape = (x, p, count_a * d_a, q_, count_b * d_b)
                if (i, j) in blocks:
                    row.append(reshape(blocks[(i, j)], shape))
                else:
                    row.append(ops.zeros(shape, coefficients.dtype))
            rows.append(_concatenate(row, axis=4))
        return reshape(_concatenate(rows, axis=2), self.shape)

    @self_adjoint
    def apply(self, kernel):
        """`P(K)` with `keras.ops`, same shape and dtype as `kernel`."""
        return self.expand(self.coefficients(kernel))


# Backends on which one einsum per batch of blocks is faster than a
# transpose and a matrix product: PyTorch's einsum (measured per block,
# before the batches: SO(3) 7^3 63 -> 63, one CPU core: 21 ms against 23
# for P; D16 9x9 64 -> 64: 54 against 64). JAX and TensorFlow run the
# matrix products faster (SO(3): 8.7 -> 6.5 ms on JAX, 28 -> 17 ms on
# TensorFlow).
EINSUM_BACKENDS = ("torch",)


def _analysis(basis, blocks):
    """`Q_ab^T` applied to a batch of blocks: `(G, n, X d_a d_b)` basis
    matrices and `(G, X, p, d_a, q, d_b)` blocks to `(G, n, p q)`
    coefficients."""
    g, x, p, d_a, q, d_b = blocks.shape
    if keras.backend.backend() in EINSUM_BACKENDS:
        basis = reshape(basis, (g, basis.shape[1], x, d_a, d_b))
        return einsum("gnxij,gxpiqj->gnpq", basis, blocks)
    # (G, X, d_a, d_b, p, q): the contracted axes first, X kept outermost
    # so that the transpose moves small tiles.
    blocks = transpose(blocks, (0, 1, 3, 5, 2, 4))
    return matmul(basis, reshape(blocks, (g, x * d_a * d_b, p * q)))


def _synthesis(basis, coefficients, shape):
    """`Q_ab c` for a batch of blocks: `(G, n, X d_a d_b)` basis matrices
    and `G n p q` coefficients to blocks of `shape`
    `(G, X, p, d_a, q, d_b)`."""
    g, x, p, d_a, q, d_b = shape
    n = basis.shape[1]
    if keras.backend.backend() in EINSUM_BACKENDS:
        basis = reshape(basis, (g, n, x, d_a, d_b))
        piece = reshape(coefficients, (g, n, p, q))
        return einsum("gnxij,gnpq->gxpiqj", basis, piece)
    piece = reshape(coefficients, (g, n, p * q))
    blocks = matmul(transpose(basis, (0, 2, 1)), piece)
    blocks = reshape(blocks, (g, x, d_a, d_b, p, q))
    return transpose(blocks, (0, 1, 4, 2, 5, 3))


def _concatenate(tensors, axis):
    return tensors[0] if len(tensors) == 1 else ops.concatenate(tensors, axis)


def get_steerable_projector(
    group,
    in_fields,
    out_fields,
    shape,
    layout,
    max_frequency=None,
    basis="smooth",
):
    """The (cached) steerable projector of a kernel.

    Args:
        group: A 2D group (`C<N>`, `D<N>`, `SO2`, `O2`, also `C4`, `D4`)
            or `SO3`/`O3`.
        in_fields: Tuple of the input field type names.
        out_fields: Tuple of the output field type names.
        shape: The kernel's shape.
        layout: A `KernelLayout` of layout `"dense"`, `"conv"`,
            `"conv_transpose"` or `"bias"`.
        max_frequency: The largest angular frequency (2D) or degree (3D)
            of the basis kernels, or `None` for the basis' own limits.
        basis: `"smooth"` or `"grid"`: the radial profiles and the
            frequencies they carry (see `keras_approxeq.kernels.radial`).
    """
    if layout.name == "depthwise":
        raise ValueError(
            f"Depthwise kernels are supported for the grid-exact groups "
            f"only (C4, D4, O, ...), not for {group.name}; received a "
            f"depthwise kernel of shape {tuple(shape)}. Use a grid-exact "
            "group, or leave depthwise layers out (`regularize(..., "
            "layers=...)`)."
        )
    args = (group.name, group.ndim, in_fields, out_fields, shape)
    return _build(*args, layout.name, max_frequency, basis)


@memoize
def _build(
    name, ndim, in_fields, out_fields, shape, layout, max_frequency, basis
):
    group = groups.get(name, ndim)
    layout = KernelLayout(shape, layout)
    if layout.name == "bias":  # a bias is a 1x1 kernel from one scalar
        dense = (1, shape[0])
        args = (name, ndim, ("trivial",), out_fields, dense, "dense", 0)
        return weight_views.Reshaped(_build(*args, basis), shape)
    if layout.name == "conv_transpose":
        swapped = (*shape[:-2], shape[-1], shape[-2])
        args = (name, ndim, in_fields, out_fields, swapped, "conv")
        return weight_views.Transposed(
            _build(*args, max_frequency, basis), shape
        )
    spatial = layout.spatial_shape
    if spatial and (len(spatial) != ndim or len(set(spatial)) != 1):
        needed = "a square 2D" if ndim == 2 else "a cubic 3D"
        raise ValueError(
            f"Group {group.name} needs {needed} kernel; received a kernel "
            f"of shape {shape}."
        )
    in_rep = representations.Representation(group, in_fields)
    out_rep = representations.Representation(group, out_fields)
    in_rep.copies(shape[-2], "input channels")
    out_rep.copies(shape[-1], "output channels")
    bases = {}
    for a in dict.fromkeys(in_rep.fields):
        for b in dict.fromkeys(out_rep.fields):
            q = _pair_basis(group, a, b, spatial, max_frequency, basis)
            if q.shape[0]:
                bases[(a, b)] = q
            elif spatial and not group.is_finite and max_frequency is None:
                _check_band_limit(group, a, b, spatial, basis)
    return SteerableProjector(
        shape,
        ChannelRuns(in_rep, shape[-2]),
        ChannelRuns(out_rep, shape[-1]),
        bases,
    )


def _check_band_limit(group, a, b, spatial, basis):
    """Raises if a kernel is too small for the frequencies `a` to `b` need."""
    if group.ndim == 3:
        m_a, m_b = spherical.degree(group, a), spherical.degree(group, b)
        radius = np.linalg.norm(spherical_basis.grid_points(spatial), axis=1)
    else:
        m_a, m_b = irreps.frequency(group, a), irreps.frequency(group, b)
        radius = polar_grid(spatial)[0]
    band = radial.band_limit(radius, spatial[0], basis, group.ndim)
    if abs(m_a - m_b) > band:
        size = "x".join(str(n) for n in spatial)
        hint = " or basis='grid' (more frequencies, exact on the grid alone)"
        raise ValueError(
            f"A {size} kernel resolves angular frequencies up to {band} "
            f"with basis={basis!r}, but mapping {a!r} to {b!r} under "
            f"{group.name} needs frequency {abs(m_a - m_b)} or more. Use a "
            "larger kernel_size, lower irrep frequencies"
            f"{hint if basis == 'smooth' else ''}."
        )


def _pair_basis(group, a, b, spatial, max_frequency, basis):
    """Orthonormal sampled basis `(n, X, d_a, d_b)` from type `a` to `b`."""
    if group.ndim == 3:
        return spherical_basis.pair_basis(
            group, a, b, spatial, max_frequency, basis
        )
    return plane_pair_basis(group.name, a, b, spatial, max_frequency, basis)
