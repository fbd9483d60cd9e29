r"""The projection in the group-Fourier domain: per irrep, after a group Fourier
transform.

In a basis of irreducible representations an equivariant map is block
diagonal (Schur's lemma), and kernels between two irreps are spanned by a
few angular harmonics (see `keras_approxeq.projection.steerable`). So the
spectral route

1. changes the basis of the channels: a regular field of `C<N>`/`D<N>`
   becomes its irreps through the orthogonal matrix `F` of
   `irreps.regular_decomposition` (for `C<N>`, a unitary real DFT along
   the group axis), `K' = F_in^T K F_out` per field;
2. projects `K'` block by block between irreps (masking the blocks that
   no harmonic connects, averaging inside the others);
3. changes the basis back (only where the norm needs it).

Every step is orthogonal, so `||K - P K||_F = ||K' - P' K'||_F`: for the
Frobenius and operator norms the penalty is computed on the spectral
coefficients without step 3. The projection is the same as the spatial
route's (up to rounding). For `C4`/`D4` the spatial route, orbit
averaging, is a few gathers and usually the cheaper. Regular fields of
other `C<N>`/`D<N>` always take this route (`get_projector` sends them
here in both domains): one basis per pair of regular fields would be
about `order^2` times larger than the bases per pair of irreps, for the
same projection. Fields that are irreps already (all fields of `SO2`,
`O2`, `SO3`, `O3`) need no change of basis, so there both domains are one
computation.
"""

import math

import numpy as np
from keras import ops

from keras_approxeq._memo import Constants
from keras_approxeq._memo import memoize
from keras_approxeq._ops import einsum
from keras_approxeq._ops import reshape
from keras_approxeq._ops import split
from keras_approxeq._ops import transpose
from keras_approxeq.actions.layouts import KernelLayout
from keras_approxeq.projection import steerable
from keras_approxeq.projection import weight_views
from keras_approxeq.projection.interface import Projector
from keras_approxeq.projection.self_adjoint import self_adjoint
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry import irreps
from keras_approxeq.symmetry.representations import Representation

__all__ = ["SpectralProjector", "get_spectral_projector"]


class SpectralProjector(Projector):
    """`P(K) = F_in P'(F_in^T K F_out) F_out^T` with `P'` per irrep pair.

    Build it with `get_spectral_projector`. `to_spectral` and `from_spectral`
    change the basis of the channels; `spectral(K)` returns the spectral
    coefficients `K'` and their projection `P'(K')`, whose difference has
    the Frobenius norm of `K - P(K)`.

    Attributes:
        shape: The kernel shape `(spatial..., in, out)` it projects.
        dim: Dimension of the equivariant subspace.
        core: The `steerable.SteerableProjector` between irreps.

    Example:

    >>> from keras_approxeq.projection import get_projector
    >>> p = get_projector(
    ...     "D4", "regular", "regular", (3, 3, 8, 8), domain="fourier"
    ... )
    >>> type(p).__name__, p.dim
    ('SpectralProjector', 72)
    """

    def __init__(self, shape, core, in_parts, out_parts):
        self.shape = tuple(shape)
        self.core = core
        self.dim = core.dim
        self.is_identity = core.is_identity
        # Per axis: [(channel index (p, d), F (d, d) or None)], in the order
        # in which the spectral channels are laid out.
        self._parts = (in_parts, out_parts)
        arrays = {}
        for axis, parts in (("in", in_parts), ("out", out_parts)):
            order = np.concatenate([index.reshape(-1) for index, _ in parts])
            if not np.array_equal(order, np.arange(order.size)):
                arrays[f"{axis}_gather"] = order.astype(np.int32)
                arrays[f"{axis}_scatter"] = np.argsort(order).astype(np.int32)
            for i, (_, f) in enumerate(parts):
                if f is not None:
                    arrays[f"{axis}_{i}"] = f
        self._constants = Constants(**arrays)

    @property
    def nbytes(self):
        """Bytes of the NumPy arrays it keeps, its core's included."""
        return self.core.nbytes + self._constants.nbytes

    def to_spectral(self, kernel):
        """`K' = F_in^T K F_out`, shape `(X, in, out)` (spectral order)."""
        tensors = self._constants.like(kernel)
        x = math.prod(self.shape[:-2])
        flat = reshape(kernel, (x, *self.shape[-2:]))
        flat = _reorder(flat, tensors, "in_gather", axis=1)
        flat = _reorder(flat, tensors, "out_gather", axis=2)
        flat = self._mix(flat, "in", tensors, inverse=False)
        return self._mix(flat, "out", tensors, inverse=False)

    def from_spectral(self, spectral):
        """`K = F_in K' F_out^T`, back in the kernel's shape."""
        tensors = self._constants.like(spectral)
        flat = self._mix(spectral, "in", tensors, inverse=True)
        flat = self._mix(flat, "out", tensors, inverse=True)
        flat = _reorder(flat, tensors, "in_scatter", axis=1)
        flat = _reorder(flat, tensors, "out_scatter", axis=2)
        return reshape(flat, self.shape)

    def spectral(self, kernel):
        """`(K', P'(K'))`, both `(X, in, out)` in the spectral order."""
        coefficients = self.to_spectral(ops.convert_to_tensor(kernel))
        core_shape = self.core.shape
        projected = self.core.apply(reshape(coefficients, core_shape))
        return coefficients, reshape(projected, coefficients.shape)

    @self_adjoint
    def apply(self, kernel):
        """`P(K)` with `keras.ops`, same shape and dtype as `kernel`."""
        return self.from_spectral(self.spectral(kernel)[1])

    def coefficients(self, kernel):
        """The kernel's `dim` coordinates in the irreps' bases (1-D)."""
        spectral = self.to_spectral(ops.convert_to_tensor(kernel))
        return self.core.coefficients(reshape(spectral, self.core.shape))

    def expand(self, coefficients):
        """The kernel of coordinates `coefficients`."""
        spectral = self.core.expand(coefficients)
        x = math.prod(self.shape[:-2])
        return self.from_spectral(reshape(spectral, (x, *self.shape[-2:])))

    def apply_numpy(self, kernel):
        """`P(K)` in NumPy (exact in float64)."""
        kernel = np.asarray(kernel)
        flat = kernel.reshape(-1, *self.shape[-2:]).astype(np.float64)
        (in_parts, out_parts) = self._parts
        spectral = _mix_numpy(flat, in_parts, 1, inverse=False)
        spectral = _mix_numpy(spectral, out_parts, 2, inverse=False)
        projected = self.core.apply_numpy(spectral.reshape(self.core.shape))
        projected = projected.reshape(spectral.shape)
        back = _mix_numpy(projected, in_parts, 1, inverse=True)
        back = _mix_numpy(back, out_parts, 2, inverse=True)
        return back.reshape(kernel.shape).astype(kernel.dtype)

    def _mix(self, flat, axis, tensors, inverse):
        """Applies `F^T` (or `F`) to each field along a channel axis."""
        parts = self._parts[0 if axis == "in" else 1]
        if all(f is None for _, f in parts):
            return flat
        position = 1 if axis == "in" else 2
        pieces = split(flat, [index.size for index, _ in parts], position)
        mixed = []
        for i, ((index, f), piece) in enumerate(zip(parts, pieces)):
            if f is not None:
                matrix = tensors[f"{axis}_{i}"]
                matrix = matrix if inverse else transpose(matrix)
                shape = list(piece.shape)
                fields = (
                    shape[:position] + list(index.shape) + shape[position + 1 :]
                )
                piece = reshape(piece, fields)
                subscripts = "xpdc->xpec" if position == 1 else "xcpd->xcpe"
                piece = einsum("ed," + subscripts, matrix, piece)
                piece = reshape(piece, shape)
            mixed.append(piece)
        return ops.concatenate(mixed, axis=position)


def _reorder(flat, tensors, name, axis):
    """The channels along `axis` in the order `tensors[name]` (absent
    where the order is the identity: a regular field's channels)."""
    order = tensors.get(name)
    return flat if order is None else ops.take(flat, order, axis=axis)


def _mix_numpy(flat, parts, position, inverse):
    """NumPy twin of `SpectralProjector._mix`, with the gathers."""
    if not inverse:
        order = np.concatenate([index.reshape(-1) for index, _ in parts])
        flat = np.take(flat, order, axis=position)
    pieces, start = [], 0
    for index, f in parts:
        piece = np.take(flat, np.arange(start, start + index.size), position)
        start += index.size
        if f is not None:
            matrix = f if inverse else f.T
            moved = np.moveaxis(piece, position, -1)
            moved = moved.reshape(*moved.shape[:-1], *index.shape)
            moved = np.einsum("ed,...pd->...pe", matrix, moved)
            piece = np.moveaxis(
                moved.reshape(*moved.shape[:-2], -1), -1, position
            )
        pieces.append(piece)
    flat = np.concatenate(pieces, axis=position)
    if inverse:
        order = np.concatenate([index.reshape(-1) for index, _ in parts])
        flat = np.take(flat, np.argsort(order), axis=position)
    return flat


def get_spectral_projector(
    group,
    in_fields,
    out_fields,
    shape,
    layout,
    max_frequency=None,
    basis="smooth",
):
    """The (cached) spectral projector of a kernel.

    Args:
        group: A 2D group (`C<N>`, `D<N>`, `SO2`, `O2`) or `SO3`/`O3`.
        in_fields: Tuple of the input field type names.
        out_fields: Tuple of the output field type names.
        shape: The kernel's shape.
        layout: A `KernelLayout` (`"dense"`, `"conv"`, `"conv_transpose"`
            or `"bias"`).
        max_frequency: As for `steerable.get_steerable_projector`.
        basis: As for `steerable.get_steerable_projector`.
    """
    if layout.name == "depthwise":
        raise ValueError(
            "domain='fourier' does not support depthwise kernels. Use "
            "domain='spatial'."
        )
    return _build(
        group.name,
        group.ndim,
        in_fields,
        out_fields,
        layout.shape,
        layout.name,
        max_frequency,
        basis,
    )


@memoize
def _build(
    name, ndim, in_fields, out_fields, shape, layout, max_frequency, basis
):
    group = groups.get(name, ndim)
    layout = KernelLayout(shape, layout)
    if layout.name == "bias":
        dense = (1, shape[0])
        args = (name, ndim, ("trivial",), out_fields, dense, "dense", 0)
        return weight_views.Reshaped(_build(*args, basis), shape)
    if layout.name == "conv_transpose":
        swapped = (*shape[:-2], shape[-1], shape[-2])
        args = (name, ndim, in_fields, out_fields, swapped, "conv")
        return weight_views.Transposed(
            _build(*args, max_frequency, basis), shape
        )
    axes = []
    for fields, channels, what in (
        (in_fields, shape[-2], "input channels"),
        (out_fields, shape[-1], "output channels"),
    ):
        parts, names = [], []
        index = Representation(group, fields).field_channels(channels, what)
        for field, channel_index in index.items():
            field_irreps, f = irreps.decomposition(group, field)
            parts.append((channel_index, None if field != "regular" else f))
            names += list(field_irreps) * channel_index.shape[0]
        axes.append((parts, tuple(names)))
    (in_parts, in_irreps), (out_parts, out_irreps) = axes
    core = steerable.get_steerable_projector(
        group, in_irreps, out_irreps, shape, layout, max_frequency, basis
    )
    return SpectralProjector(shape, core, in_parts, out_parts)
