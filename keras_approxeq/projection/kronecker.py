r"""The projection of a layer with many copies of its fields.

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
`B = S D_in D_out`, computed once in NumPy from the orbits of one copy's
entries (see `keras_approxeq.projection.projectors`). With an orthonormal basis
`Q` (`(B, r)`) of its range, `P_block = Q Q^T`, and

    P(K)[x, a, i, b, j] = sum_y M[(x, i, j), (y, k, l)] K[y, a, k, b, l]

with `M = P_block` (when `B` is small) or as the two contractions
`c = Q^T K`, `P(K) = Q c` (when `r < B / 2`). Either is one or two dense
contractions (matrix products on every backend) whose backward pass is
again a matrix product, with no gather or scatter.

Between regular fields the group moves every entry `(x, i, j)` of a copy
to `|G|` distinct entries, without signs, so each column of `Q` is the
normalised indicator of one orbit of `m = B / r` entries and `P_block`
replaces each entry by its orbit's mean. Where the block is large, that
is how it is applied: the `(B, copies)` blocks' rows gathered orbit by
orbit into `(r, m, copies)`, the mean over `m`, the rows put back, a few
passes over memory instead of `2 r` multiply-adds per entry (a
`(3, 3, 256, 256)` kernel of regular D4 fields: `r = 72`). Its gradient
is `P` again (`self_adjoint`), not the gathers' scatters.

Where a copy is one orbit (`r = 1`: a bias, a normalisation layer's
scale or offset, or a 1x1 kernel from regular to trivial fields), `P`
is the mean of each copy, taken over the block's axes of the kernel's
view, with no gather or transpose, on every backend.

For trivial fields (`D_in = D_out = 1`, the usual `keras.applications`
kernel) the kernel viewed as a `(S, in * out)` matrix is projected by a
`(S, S)` matrix: `P(K) = M K`.

**The group sum.** For the groups that permute grid points, each element
`g` moves the entries of a kernel as flips and transposes of its spatial
axes, signed permutations of the few channels of one copy of the fields
and nothing else, so

    P(K) = 1/|G| sum_g g K

is a sum of `|G|` rearranged copies of `K`. JAX's XLA fuses that sum,
the residual `K - P(K)` and its norm into one pass over the kernel, which
the matrix product cannot join; it is what `apply` computes there (a
penalty of a large kernel between trivial fields takes its value's
residual from the matrix product all the same, see `residuals`).
TensorFlow's graphs on a CPU ran the group sum 2-3 times slower than the
matrix product (ResNet50's penalties with gradients: 78 against 30 ms
for C4, 453 against 148 ms for regular fields), and PyTorch runs eagerly,
one operation at a time: both use the matrix product.

Layouts (see `keras_approxeq.actions.layouts`): a transposed-convolution kernel
has its channel axes swapped; a depthwise kernel `(spatial..., in,
multiplier)` has `D_out = 1` (its multiplier axis is a copy axis); a Dense
kernel has `S = 1`; a bias is `(m_out, D_out)`.
"""

import itertools
import math

import keras
import numpy as np
from keras import ops

from keras_approxeq._memo import Constants
from keras_approxeq._ops import matmul
from keras_approxeq._ops import mean
from keras_approxeq._ops import reshape
from keras_approxeq._ops import take
from keras_approxeq._ops import transpose
from keras_approxeq.projection.interface import Projector
from keras_approxeq.projection.self_adjoint import self_adjoint

__all__ = ["GroupAction", "KroneckerProjector"]

# Largest block `B` whose `(B, B)` complement `1 - P_block` is kept for
# `residual` (at most 512 KiB in float64).
_MAX_COMPLEMENT = 256
# Fewest kernel entries (32k: 128 KiB in float32) from which
# `residuals` computes a penalty's value and gradient apart.
_SEPARATE_RESIDUALS_FROM = 1 << 15


class KroneckerProjector(Projector):
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
        elements: `None`, or how every group element moves the entries of
            one copy, for the group sum (see the module docstring):
            `(spatial, channels)` with `spatial` the `(order, S)` flat
            index of the point each point comes from (or `None` without
            spatial axes) and `channels` one `(perm, sign)` pair, each
            `(order, d)`, per channel axis (`sign` may be `None`).

    Attributes:
        shape: The kernel shape.
        dim: Dimension of the equivariant subspace, `r` times the copies.
        is_identity: Whether `P` is the identity (every kernel of this
            shape is equivariant, e.g. a 1x1 kernel between trivial
            fields); the penalty is then zero without evaluating it.

    Example:

    >>> from keras_approxeq.projection import get_projector
    >>> p = get_projector("C4", "regular", "regular", (3, 3, 8, 8))
    >>> type(p).__name__, p.dim, p.is_identity
    ('KroneckerProjector', 144, False)
    >>> k = np.random.default_rng(0).normal(size=(3, 3, 8, 8))
    >>> bool(np.allclose(p.apply_numpy(p.apply_numpy(k)), p.apply_numpy(k)))
    True
    """

    # Backends that apply `P` as the group sum (XLA fuses its flips and
    # transposes with the norm); the others use the dense block matrix
    # (TensorFlow's graphs on a CPU ran the group sum 2-3x slower, PyTorch
    # dispatches each of its ops eagerly).
    group_sum_backends = ("jax",)

    def __init__(self, shape, spatial_axes, field_sizes, basis, elements=None):
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
        # are dropped (a trivial field has one).
        view, block_axes, copy_axes = [], [], []
        if spatial:
            block_axes.append(len(view))
            view.append(size)
        for m, d in zip(copies, field_sizes):
            copy_axes.append(len(view))
            view.append(m)
            if d > 1:
                block_axes.append(len(view))
                view.append(d)
        # The matrix products see the view transposed to (block, copies):
        # spatial offsets, then the channel axes' fields last to first.
        # PyTorch's CPU copies into this order 3-5 times faster than into
        # (copies, block), the order `einsum` picks (a (3, 3, 256, 256)
        # kernel of regular C4 fields: 0.6 against 3.0 ms).
        spatial_first = 1 if spatial else 0
        order = block_axes[:spatial_first] + block_axes[spatial_first:][::-1]
        self._view = tuple(view)
        self._to_block = (*order, *copy_axes)
        self._from_block = tuple(np.argsort(self._to_block).tolist())
        self._block_view = tuple(view[axis] for axis in self._to_block)
        self._transposes = self._to_block != tuple(range(len(view)))
        self._block = block
        self._copies = tuple(copies)
        self._rank = rank
        # The basis's rows in the transposed block's order.
        in_block = [block_axes.index(axis) for axis in order]
        block_shape = [view[axis] for axis in block_axes]
        basis = basis.reshape((*block_shape, rank))
        basis = basis.transpose((*in_block, len(block_shape))).reshape(
            (block, rank)
        )
        self._basis = Constants(basis, np.ascontiguousarray(basis.T))
        # apply() multiplies by the (B, B) projection itself (small
        # blocks), or averages orbits of rows, or multiplies by the basis
        # twice.
        self._use_matrix = block <= 64 or 2 * rank >= block
        orbits = None if self._use_matrix else _free_orbits(basis)
        self._orbits = None
        if orbits is not None:
            sort = orbits.reshape(-1).astype(np.int32)
            self._orbits = Constants(sort, np.argsort(sort).astype(np.int32))
        # A copy that is one orbit (a bias or a normalisation's scale of
        # regular fields: `P` averages each field) is averaged in the
        # view, without a gather, a transpose or a group sum.
        self._mean_axes = None
        if rank == 1 and block > 1 and np.allclose(basis, basis[0, 0]):
            self._mean_axes = tuple(block_axes)
        self._matrix = self._complement = None
        if self._use_matrix:
            matrix = basis @ basis.T
            self._matrix = Constants(matrix)
            if block <= _MAX_COMPLEMENT:
                self._complement = Constants(np.eye(block) - matrix)
        # Whether `residuals` may compute the value's residual blockwise
        # (static; the backend is checked per call).
        self._residuals_apart = (
            self._complement is not None
            and not self._transposes
            and not (self.is_identity or self.is_zero)
            and self._mean_axes is None
            and math.prod(self.shape) >= _SEPARATE_RESIDUALS_FROM
        )
        actions = None
        if elements is not None:
            actions = _group_actions(spatial, field_sizes, *elements)
        self._actions = actions
        self._sum_arrays = None
        if actions is not None:
            # The kernel's view for the group sum keeps the spatial axes.
            self._sum_view = (*spatial, *view[1 if spatial else 0 :])
            self._sum_arrays = Constants(
                *(a for action in actions for a in action.arrays)
            )

    @property
    def nbytes(self):
        """Bytes of the NumPy arrays it keeps."""
        kept = (
            self._basis,
            self._orbits,
            self._matrix,
            self._complement,
            self._sum_arrays,
        )
        return sum(c.nbytes for c in kept if c is not None)

    def coefficients(self, kernel):
        """`Q^T K`, the kernel's `dim` coordinates (a 1-D tensor)."""
        kernel = ops.convert_to_tensor(kernel)
        _, basis_t = self._basis.like(kernel)
        return reshape(matmul(basis_t, self._blocks(kernel)), (-1,))

    def expand(self, coefficients):
        """`Q c`: the kernel of coordinates `c` (as `coefficients` gives)."""
        coefficients = ops.convert_to_tensor(coefficients)
        basis, _ = self._basis.like(coefficients)
        c = reshape(coefficients, (self._rank, -1))
        return self._kernel(matmul(basis, c))

    @self_adjoint
    def apply(self, kernel):
        """`P(K)` with `keras.ops`, same shape and dtype as `kernel`."""
        kernel = ops.convert_to_tensor(kernel)
        if self.is_identity:
            return kernel
        if self.is_zero:
            return ops.zeros_like(kernel)
        if self._mean_axes is not None:
            return self._copy_mean(kernel)
        if self._sums_the_group():
            return self._group_sum(kernel)
        return self._kernel(self._projected(self._blocks(kernel)))

    @self_adjoint
    def residual(self, kernel):
        """`K - P(K)` with `keras.ops`, same shape and dtype as `kernel`.

        One matrix product with `1 - P_block` where that matrix is kept
        (blocks of up to 256 entries), else the difference taken on the
        transposed blocks, where both terms are fresh in the cache: on
        eager PyTorch the difference of two kernels in memory is a full
        pass more.
        """
        kernel = ops.convert_to_tensor(kernel)
        if self.is_identity:
            return ops.zeros_like(kernel)
        if self.is_zero:
            return kernel
        if self._mean_axes is not None:
            return self._copy_mean(kernel, lambda x, average: x - average)
        if self._sums_the_group():
            return kernel - self._group_sum(kernel)
        return self._blockwise_residual(kernel)

    def decayed(self, kernel, fraction):
        """`P(K) + (1 - fraction) (K - P(K))` (see `Projector.decayed`),
        on the `(B, copies)` blocks: one product with `1 - fraction (1 -
        P_block)` where that matrix is kept, else the orbit means or the
        products of `apply`, mixed on the blocks; where each copy is one
        orbit, its mean mixed with its entries.

        Never the group sum: after the optimizer's update, inside the
        train step that XLA compiles, `ProjectionDecay` between regular C4
        fields took 1.59 times ResNet50's plain step with the group sum
        and 1.12 on the blocks (JAX, CPU; `docs/benchmarks_history.md`).
        """
        kernel = ops.convert_to_tensor(kernel)
        if self.is_identity or self.is_zero:
            return super().decayed(kernel, fraction)
        if self._mean_axes is not None:
            if self._removes_all(fraction):
                return self._copy_mean(kernel)
            return self._copy_mean(kernel, _toward(1.0 - fraction))
        blocks = self._blocks(kernel)
        if self._removes_all(fraction):
            return self._kernel(self._projected(blocks))
        if self._complement is not None:
            return self._kernel(
                matmul(self._decay_step(fraction, blocks), blocks)
            )
        keep = 1.0 - fraction
        if self._orbits is not None:
            return self._kernel(self._orbit_mean(blocks, _toward(keep)))
        parallel = self._projected(blocks)
        return self._kernel(parallel + keep * (blocks - parallel))

    def _decay_step(self, fraction, like):
        """`1 - fraction (1 - P_block)`, as `P_block + (1 - fraction) (1 -
        P_block)` from the two kept matrices, a tensor like `like` (per
        call: NumPy made inside `torch.compile` would be traced)."""
        matrix, complement = (
            c.like(like)[0] for c in (self._matrix, self._complement)
        )
        return matrix + (1.0 - fraction) * complement

    def residuals(self, kernel):
        """`K - P(K)` for a penalty's value and for its gradient.

        Where `P` is applied as the group sum (JAX), the kernel is
        already its `(B, copies)` blocks (trivial fields) and too large to
        stay in a CPU's cache, the value's residual is one product with
        the small `1 - P_block` instead. With one residual for both, XLA
        kept it in memory from the value to the optimizer's update, and
        with the Frobenius norm, whose gradient `r / ||r||` waits for the
        value, ResNet50's training step took 3 % longer (C4 and D4 on its
        3x3 kernels, 37k to 2.4M entries; `docs/benchmarks_history.md`). On
        smaller kernels (MobileNetV2's and EfficientNetB0's depthwise
        ones, at most 29k entries) the product cost 1 to 2 % more than
        it saved, and where the blocks are a transpose away (regular
        fields) 50 %: there both residuals are the group sum's.
        """
        if not (self._residuals_apart and self._sums_the_group()):
            return super().residuals(kernel)
        kernel = ops.convert_to_tensor(kernel)
        return self._blockwise_residual(kernel), self.residual(kernel)

    def _blockwise_residual(self, kernel):
        """`K - P(K)` on the `(B, copies)` blocks."""
        blocks = self._blocks(kernel)
        if self._orbits is not None:
            residual = self._orbit_mean(
                blocks, lambda rows, average: rows - average
            )
            return self._kernel(residual)
        if self._complement is not None:
            (complement,) = self._complement.like(kernel)
            return self._kernel(matmul(complement, blocks))
        return self._kernel(blocks - self._projected(blocks))

    def _sums_the_group(self):
        return self._actions is not None and (
            keras.backend.backend() in self.group_sum_backends
        )

    def _projected(self, blocks):
        """`P_block` times the `(B, copies)` blocks."""
        if self._orbits is not None:
            return self._orbit_mean(blocks)
        if self._use_matrix:
            (matrix,) = self._matrix.like(blocks)
            return matmul(matrix, blocks)
        basis, basis_t = self._basis.like(blocks)
        return matmul(basis, matmul(basis_t, blocks))

    def _orbit_mean(self, blocks, mix=None):
        """`P_block` times the `(B, copies)` blocks, as orbit means; with
        `mix`, each orbit's rows become `mix(rows, mean)` instead.

        The rows are gathered orbit by orbit into `(r, m, copies)`, each
        orbit's mean is taken and the rows are put back: two row gathers
        and a mean instead of `2 r` (or `B`) multiply-adds per entry.
        """
        sort, unsort = self._orbits.like(blocks)
        rows = reshape(take(blocks, sort, 0), (self._rank, -1, blocks.shape[1]))
        average = mean(rows, axis=1, keepdims=True)
        if mix is None:
            rows = ops.broadcast_to(average, rows.shape)
        else:
            rows = mix(rows, average)
        return take(reshape(rows, blocks.shape), unsort, 0)

    def _copy_mean(self, kernel, mix=None):
        """`P(K)` where each copy is one orbit: the mean of each copy's
        entries, in the kernel's view; with `mix`, each entry becomes
        `mix(entry, mean)` instead."""
        x = reshape(kernel, self._view)
        average = mean(x, axis=self._mean_axes, keepdims=True)
        if mix is None:
            return reshape(ops.broadcast_to(average, x.shape), self.shape)
        return reshape(mix(x, average), self.shape)

    def _blocks(self, kernel):
        """The kernel as a `(B, copies)` matrix, one copy per column."""
        if not self._transposes:
            return reshape(kernel, (self._block, -1))
        x = transpose(reshape(kernel, self._view), self._to_block)
        return reshape(x, (self._block, -1))

    def _kernel(self, blocks):
        """The inverse of `_blocks`."""
        if not self._transposes:
            return reshape(blocks, self.shape)
        x = transpose(reshape(blocks, self._block_view), self._from_block)
        return reshape(x, self.shape)

    def _group_sum(self, kernel):
        tensors = iter(self._sum_arrays.like(kernel))
        x = reshape(kernel, self._sum_view)
        total = None
        for action in self._actions:
            moved = action.apply(x, [next(tensors) for _ in action.arrays])
            total = moved if total is None else total + moved
        return reshape(total / len(self._actions), self.shape)

    def apply_numpy(self, kernel):
        """`P(K)` in NumPy (exact in float64)."""
        kernel = np.asarray(kernel)
        x = kernel.reshape(self._view).transpose(self._to_block)
        x = x.reshape((self._block, -1)).astype(np.float64)
        basis, basis_t = self._basis.arrays
        x = (basis @ (basis_t @ x)).reshape(self._block_view)
        x = x.transpose(self._from_block).reshape(kernel.shape)
        return x.astype(kernel.dtype)


def _toward(keep):
    """The `mix` of `_orbit_mean` and `_copy_mean` that keeps `keep` of
    each entry's difference from its orbit's mean."""
    return lambda x, average: average + keep * (x - average)


def _free_orbits(basis):
    """The rows of each column of `basis`, `(r, m)` int, if every column is
    the mean of `m >= 2` rows (all its entries `1 / sqrt(m)`) and every row
    belongs to one column; else `None`.

    That is the orbit basis (see `keras_approxeq.projection.orbit`) of a
    group acting freely and without signs on a copy's entries: regular
    fields, whose every entry `(x, i, j)` has `|G|` distinct images.
    """
    block, rank = basis.shape
    if rank == 0 or block % rank or block == rank:
        return None
    size = block // rank
    support = basis != 0
    if not (
        np.all(support.sum(axis=0) == size)
        and np.all(support.sum(axis=1) == 1)
        and np.allclose(basis[support], 1 / math.sqrt(size))
    ):
        return None
    column = np.argmax(support, axis=1)
    return np.argsort(column, kind="stable").reshape(rank, size)


def _group_actions(spatial, field_sizes, spatial_perms, channels):
    """One `GroupAction` per element, or `None` if some element's spatial
    permutation is not a transposition and flips of the axes."""
    order = channels[0][0].shape[0]
    moves = [((), ())] * order
    if spatial:
        moves = [_spatial_move(spatial, perm) for perm in spatial_perms]
        if any(move is None for move in moves):
            return None
    # The view: spatial axes, then (copies, fields) per channel axis with
    # the fields' axis dropped when it has one channel.
    axes, position = [], len(spatial)
    for size in field_sizes:
        position += 1
        axes.append(position if size > 1 else None)
        position += size > 1
    actions = []
    for g, (axes_order, flips) in enumerate(moves):
        moved, scale = [], 1.0
        for axis, (perm, sign) in zip(axes, channels):
            if axis is not None:
                moved.append((axis, perm[g], None if sign is None else sign[g]))
            elif sign is not None:  # a one-channel field, e.g. a pseudo-scalar
                scale *= float(sign[g][0])
        actions.append(GroupAction(axes_order, flips, moved, scale))
    return actions


def _spatial_move(spatial, perm):
    """`(axes, flips)` with `flip(transpose(K, axes), flips)` the kernel
    whose point `x` is `K`'s point `perm[x]`, or `None`."""
    index = np.arange(math.prod(spatial)).reshape(spatial)
    for axes in itertools.permutations(range(len(spatial))):
        if tuple(spatial[a] for a in axes) != tuple(spatial):
            continue
        for flips in itertools.product((False, True), repeat=len(spatial)):
            flipped = tuple(a for a, f in enumerate(flips) if f)
            moved = np.transpose(index, axes)
            if flipped:
                moved = np.flip(moved, flipped)
            if np.array_equal(moved.reshape(-1), perm):
                return axes, flipped
    return None


class GroupAction:
    """One group element acting on the kernel's view, axis by axis.

    The view is `(spatial..., m_in, D_in, m_out, D_out)` (with `D` axes of
    size 1 dropped, as in `KroneckerProjector`). The element transposes and
    flips the spatial axes, permutes the channels of each `D` axis and
    multiplies them by signs:

        (g K)[x, a, i, b, j] = s_in[i] s_out[j] K[g x, a, p_in[i], b, p_out[j]]

    Args:
        spatial_axes: The transposition of the spatial axes (a tuple).
        flips: The spatial axes to reverse, after transposing.
        channels: For each `D` axis of the view, `(axis, perm, sign)`: the
            axis index, the permutation (or `None` for the identity) and
            the signs (or `None` for all +1).
        scale: +1 or -1, the sign of the one-channel fields (whose axes
            the view drops).

    Attributes:
        arrays: The NumPy arrays `apply` needs as tensors, in order.
    """

    def __init__(self, spatial_axes, flips, channels, scale=1.0):
        self.scale = scale
        self.spatial_axes = tuple(spatial_axes)
        self.flips = tuple(flips)
        self.channels = []
        self.arrays = []
        for axis, perm, sign in channels:
            if perm is not None and np.array_equal(perm, np.arange(perm.size)):
                perm = None
            if sign is not None and np.all(sign == 1):
                sign = None
            self.channels.append((axis, perm is not None, sign is not None))
            if perm is not None:
                self.arrays.append(np.asarray(perm, np.int32))
            if sign is not None:
                self.arrays.append(np.asarray(sign, np.float64))

    def apply(self, x, tensors):
        """`g K` for the view `x`; `tensors` are `arrays` as tensors."""
        tensors = iter(tensors)
        rank = len(x.shape)
        spatial = len(self.spatial_axes)
        if self.spatial_axes != tuple(range(spatial)):
            x = transpose(x, (*self.spatial_axes, *range(spatial, rank)))
        if self.flips:
            x = ops.flip(x, axis=self.flips)
        for axis, permuted, signed in self.channels:
            if permuted:
                x = take(x, next(tensors), axis=axis)
            if signed:
                shape = [1] * rank
                shape[axis] = x.shape[axis]
                x = x * reshape(next(tensors), shape)
        return -x if self.scale < 0 else x
