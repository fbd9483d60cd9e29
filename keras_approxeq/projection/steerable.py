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

import math

import numpy as np
from keras import ops

from keras_approxeq._memo import Constants
from keras_approxeq._memo import memoize
from keras_approxeq._ops import einsum
from keras_approxeq._ops import split
from keras_approxeq.actions.layouts import KernelLayout
from keras_approxeq.kernels import radial
from keras_approxeq.kernels import spherical_basis
from keras_approxeq.kernels.plane_basis import plane_pair_basis
from keras_approxeq.kernels.plane_basis import polar_grid
from keras_approxeq.projection import weight_views
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry import irreps
from keras_approxeq.symmetry import representations
from keras_approxeq.symmetry import spherical

__all__ = ["SteerableProjector", "get_steerable_projector"]


def _split(x, groups, axis):
    """`x` cut along `axis` into the channels of each field type."""
    if len(groups) == 1:
        return [x]
    return split(x, [index.size for index in groups.values()], axis)


class SteerableProjector:
    """`P(K) = Q Q^T K` per pair of input and output fields.

    Build it with `get_steerable_projector`. `bases[(a, b)]` holds `Q_ab`,
    shape `(n, X, d_a, d_b)`, orthonormal over its last three axes; the
    kernel's channels are gathered field type by field type, projected
    with two einsums per pair, and put back.

    Attributes:
        shape: The kernel shape `(spatial..., in, out)` it projects.
        dim: Dimension of the equivariant subspace.
        bases: Dict from `(in field type, out field type)` to `Q_ab`.
    """

    def __init__(self, shape, in_groups, out_groups, bases):
        self.shape = tuple(shape)
        self.in_groups = in_groups  # field type -> (copies, d) channel idx
        self.out_groups = out_groups
        self.bases = bases
        self.dim = sum(
            q.shape[0] * in_groups[a].shape[0] * out_groups[b].shape[0]
            for (a, b), q in bases.items()
        )
        self.is_identity = self.dim == math.prod(self.shape)
        self._sizes = [
            q.shape[0] * in_groups[a].shape[0] * out_groups[b].shape[0]
            for (a, b), q in bases.items()
        ]
        # The arrays `apply` needs, named; made into tensors once per dtype.
        arrays = {}
        for key, index in (("in", in_groups), ("out", out_groups)):
            order = np.concatenate([i.reshape(-1) for i in index.values()])
            arrays[f"{key}_order"] = order.astype(np.int32)
            arrays[f"{key}_inverse"] = np.argsort(order).astype(np.int32)
        for (a, b), q in bases.items():
            arrays[f"basis:{a}:{b}"] = q
        self._constants = Constants(**arrays)

    @property
    def nbytes(self):
        """Bytes of the NumPy arrays it keeps (tensors made from them take
        as much again per dtype and device)."""
        return self._constants.nbytes

    def apply_numpy(self, kernel):
        """`P(K)` in NumPy (exact in float64)."""
        kernel = np.asarray(kernel)
        flat = kernel.reshape(-1, *kernel.shape[-2:])
        out = np.zeros_like(flat)
        for (a, b), q in self.bases.items():
            rows, cols = self.in_groups[a], self.out_groups[b]
            block = flat[:, rows][:, :, :, cols]  # (X, p, i, q, j)
            coeff = np.einsum("nxij,xpiqj->npq", q, block)
            projected = np.einsum("nxij,npq->xpiqj", q, coeff)
            out[:, rows[:, :, None, None], cols[None, None]] = projected
        return out.reshape(kernel.shape).astype(kernel.dtype)

    def coefficients(self, kernel):
        """`Q^T K`, the kernel's `dim` coordinates (a 1-D tensor)."""
        kernel = ops.convert_to_tensor(kernel)
        x, c_in, c_out = math.prod(self.shape[:-2]), *self.shape[-2:]
        tensors = self._constants.like(kernel)
        flat = ops.reshape(kernel, (x, c_in, c_out))
        # Channels grouped by field type, so that each pair is a slice.
        grouped = ops.take(flat, tensors["in_order"], axis=1)
        grouped = ops.take(grouped, tensors["out_order"], axis=2)
        parts = []
        for a, row in zip(self.in_groups, _split(grouped, self.in_groups, 1)):
            for b, block in zip(
                self.out_groups, _split(row, self.out_groups, 2)
            ):
                q = tensors.get(f"basis:{a}:{b}")
                if q is not None:
                    shape = (
                        x,
                        *self.in_groups[a].shape,
                        *self.out_groups[b].shape,
                    )
                    block = ops.reshape(block, shape)
                    coefficients = einsum("nxij,xpiqj->npq", q, block)
                    parts.append(ops.reshape(coefficients, (-1,)))
        if not parts:
            return ops.zeros((0,), kernel.dtype)
        return ops.concatenate(parts, axis=0)

    def expand(self, coefficients):
        """`Q c`: the kernel of coordinates `c` (as `coefficients` gives)."""
        coefficients = ops.convert_to_tensor(coefficients)
        x = math.prod(self.shape[:-2])
        tensors = self._constants.like(coefficients)
        pieces = iter(split(coefficients, self._sizes, 0))
        rows = []
        for a, (p, i) in ((a, g.shape) for a, g in self.in_groups.items()):
            blocks = []
            for b, (q_, j) in (
                (b, g.shape) for b, g in self.out_groups.items()
            ):
                q = tensors.get(f"basis:{a}:{b}")
                if q is None:
                    zeros = ops.zeros((x, p * i, q_ * j), coefficients.dtype)
                    blocks.append(zeros)
                    continue
                piece = ops.reshape(next(pieces), (-1, p, q_))
                block = einsum("nxij,npq->xpiqj", q, piece)
                blocks.append(ops.reshape(block, (x, p * i, q_ * j)))
            rows.append(ops.concatenate(blocks, axis=2))
        projected = ops.concatenate(rows, axis=1)
        projected = ops.take(projected, tensors["in_inverse"], axis=1)
        projected = ops.take(projected, tensors["out_inverse"], axis=2)
        return ops.reshape(projected, self.shape)

    def apply(self, kernel):
        """`P(K)` with `keras.ops`, same shape and dtype as `kernel`."""
        return self.expand(self.coefficients(kernel))


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
            f"only, not for {group.name}."
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
    in_groups = representations.Representation(group, in_fields).field_channels(
        shape[-2], "input channels"
    )
    out_groups = representations.Representation(
        group, out_fields
    ).field_channels(shape[-1], "output channels")
    bases = {}
    for a in in_groups:
        for b in out_groups:
            q = _pair_basis(group, a, b, spatial, max_frequency, basis)
            if q.shape[0]:
                bases[(a, b)] = q
            elif spatial and not group.is_finite and max_frequency is None:
                _check_band_limit(group, a, b, spatial, basis)
    return SteerableProjector(shape, in_groups, out_groups, bases)


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
