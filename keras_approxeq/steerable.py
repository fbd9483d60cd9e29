r"""Steerable kernel bases on 2D grids, and the projection onto them.

Rotations by angles other than multiples of 90 degrees do not map a pixel
grid onto itself, so for `C<N>`, `D<N>` (other `N`), `SO2` and `O2` the
equivariant kernels are defined through continuous kernels sampled on the
grid. In polar coordinates `x = r (cos phi, sin phi)` (in `(row, col)`
array coordinates), a kernel on the ring of radius `r` is a band-limited
matrix-valued function

    K(phi) = sum_{k=0..F} A_k cos(k phi) + B_k sin(k phi),   A_k, B_k: out x in

and it is equivariant when `K(g phi) rho_in(g) = rho_out(g) K(phi)` for the
group's generators, with `g phi = theta + (-1)^mirror phi`. These are
linear equations in the `A_k, B_k`; their solutions (a null space, found by
an SVD) are the angular harmonics that the field types allow, e.g. only
`k = |m_out +- m_in|` between the SO(2) irreps of frequencies `m_in` and
`m_out`. Each harmonic is multiplied by radial profiles and sampled at
the grid points (`keras_approxeq.radial`: by default Gaussian rings inside
the kernel, each carrying the frequencies a grid can rotate; with
`basis="grid"`, shells up to the corners carrying more; the centre admits
`k = 0` only). All sampled solutions of a pair of field types are
orthonormalised into a basis `Q_ab` of shape `(n, X, d_a, d_b)`, and

    P(K) = Q Q^T K

is the exact orthogonal projection onto their span, applied to each pair of
an input and an output field. The projector's memory depends on the field
types and the kernel size, not on the number of channels.

Every radial profile is a function of the distance from the centre, which
90-degree rotations and the grid's mirrors preserve, so a kernel projected
for `SO2` is exactly `C4`-equivariant on the grid and one projected for
`O2` exactly `D4`-equivariant (tested). The grid-exact groups `C4`/`D4`
(and `C2`/`D2`) reach this module only to compare the two routes: for
them the profiles are the rings of grid points (points at equal distance
from the centre), a ring of `n` points carrying `F = n // 2`, so that the
sampled harmonics span every grid-equivariant kernel and the projection
equals orbit averaging (tested for every pair of field types).

The field types of the 2D groups (their irreps) are defined in
`keras_approxeq.irreps`.
"""

import math

import numpy as np
from keras import ops

from keras_approxeq import groups
from keras_approxeq import irreps
from keras_approxeq import radial
from keras_approxeq import representations
from keras_approxeq import spherical
from keras_approxeq import spherical_basis
from keras_approxeq import weight_views
from keras_approxeq._linalg import null_space
from keras_approxeq._linalg import orthonormal_rows
from keras_approxeq._memo import Constants
from keras_approxeq._memo import memoize
from keras_approxeq._ops import einsum
from keras_approxeq._ops import split
from keras_approxeq.layouts import KernelLayout

__all__ = ["SteerableProjector", "get_steerable_projector", "plane_pair_basis"]


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
            frequencies they carry (see `keras_approxeq.radial`).
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
        radius = _polar(spatial)[0]
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


def _polar(spatial):
    """Radius, angle and twice-squared-radius key of each grid point."""
    if not spatial:
        return np.zeros(1), np.zeros(1), np.zeros(1, np.int64)
    size = spatial[0]
    twice = 2 * np.indices(spatial).reshape(2, -1) - (size - 1)
    radius2 = np.sum(twice**2, axis=0)
    return np.sqrt(radius2) / 2, np.arctan2(twice[1], twice[0]), radius2


def _radial_profiles(group, spatial, basis):
    """`(profile(k), band)` pairs: the radial functions and their bands.

    Grid-exact groups (reached here only to compare the two routes) use the
    rings of grid points themselves, with the band `n // 2` of a ring of
    `n` points, so that the basis spans every grid-equivariant kernel. The
    other groups use the radial functions of `basis` (see
    `keras_approxeq.radial`).
    """
    radius, _, key = _polar(spatial)
    if group.is_grid_exact:
        return [
            (
                lambda k, ring=(key == value).astype(float): ring,
                int(np.sum(key == value)) // 2,
            )
            for value in np.unique(key)
        ]
    size = spatial[0] if spatial else 1
    return radial.rings(radius, size, basis, ndim=2)


def _pair_basis(group, a, b, spatial, max_frequency, basis):
    """Orthonormal sampled basis `(n, X, d_a, d_b)` from type `a` to `b`."""
    if group.ndim == 3:
        return spherical_basis.pair_basis(
            group, a, b, spatial, max_frequency, basis
        )
    return plane_pair_basis(group.name, a, b, spatial, max_frequency, basis)


@memoize
def plane_pair_basis(group_name, a, b, spatial, max_frequency, basis):
    """The orthonormal basis `(n, X, d_a, d_b)` of the 2D kernels from
    fields of type `a` to type `b` (`X` the points of `spatial`), solved
    for and sampled directly (cached).

    Args:
        group_name: A 2D group's name, e.g. `"C8"` or `"SO2"`.
        a: The input field type, e.g. `"irrep1"` or `"regular"`.
        b: The output field type.
        spatial: The kernel's spatial shape, e.g. `(5, 5)`.
        max_frequency: `None` or the largest angular frequency kept.
        basis: The radial family, `"smooth"` or `"grid"`.
    """
    group = groups.get(group_name, 2)
    d_a, d_b = irreps.field_size(group, a), irreps.field_size(group, b)
    radius, angles, _ = _polar(spatial)
    centre = radius == 0  # where the angle is undefined: only k = 0 lives
    sampled = []
    for profile, band in _radial_profiles(group, spatial, basis):
        if max_frequency is not None:
            band = min(band, max_frequency)
        for k in range(band + 1):
            if not _may_couple(group, a, b, k):
                continue
            cos_part, sin_part = _frequency_solutions(group, a, b, k)
            angular = np.einsum("p,nij->npij", np.cos(k * angles), cos_part)
            angular += np.einsum("p,nij->npij", np.sin(k * angles), sin_part)
            weight = profile(k) * (~centre if k else 1.0)
            sampled.append(angular * weight[None, :, None, None])
    points = radius.size
    if not sampled:
        return np.zeros((0, points, d_a, d_b))
    sampled = np.concatenate(sampled).reshape(-1, points * d_a * d_b)
    basis = orthonormal_rows(sampled)
    return basis.reshape(len(basis), points, d_a, d_b)


def _may_couple(group, a, b, k):
    """The selection rule, a cheap filter before the exact solve.

    Rotating by `theta` multiplies harmonic `k` by `exp(i k theta)` and
    fields of frequencies `m_a`, `m_b` by `exp(+-i m theta)`, so the
    harmonic can map `a` to `b` only if `k = +-m_a +-m_b` modulo the
    number of rotations `N` (exactly, for `SO2`/`O2`). Regular fields mix
    all frequencies: always possible.
    """
    if "regular" in (a, b):
        return True
    m_a, m_b = irreps.frequency(group, a), irreps.frequency(group, b)
    n = irreps.rotation_order(group)
    for shift in (m_a + m_b, m_a - m_b, -m_a + m_b, -m_a - m_b):
        if (k - shift) % n == 0 if n else k == shift:
            return True
    return False


@memoize
def _frequency_solutions(group, a, b, k):
    """Equivariant kernels `A cos(k phi) + B sin(k phi)` from `a` to `b`.

    Returns `(A, B)`, each `(n, d_a, d_b)` in the Keras `(in, out)` order.
    Under `g = (theta, mirror)`, with `s = -1` for a mirror,
    `K(g phi) = A' cos(k phi) + B' sin(k phi)` where
    `A' = A cos(k theta) + B sin(k theta)` and
    `B' = s (B cos(k theta) - A sin(k theta))`; equivariance asks
    `A' rho_a = rho_b A` and `B' rho_a = rho_b B` (for `out x in` matrices).
    """
    d_a, d_b = irreps.field_size(group, a), irreps.field_size(group, b)
    size = d_a * d_b
    parts = 1 if k == 0 else 2
    rows = []
    for g in group.generators:
        theta, mirror = group.angle(g)
        sign = -1.0 if mirror else 1.0
        right = np.kron(np.eye(d_b), irreps.field_matrix(group, a, g).T)
        left = np.kron(irreps.field_matrix(group, b, g), np.eye(d_a))
        c, s = math.cos(k * theta), math.sin(k * theta)
        if parts == 1:
            rows.append(c * right - left)
            continue
        rows.append(np.hstack([c * right - left, s * right]))
        rows.append(np.hstack([-sign * s * right, sign * c * right - left]))
    null = null_space(rows, parts * size)
    null = null.reshape(len(null), parts, d_b, d_a).swapaxes(2, 3)
    if parts == 1:
        return null[:, 0], np.zeros_like(null[:, 0])
    return null[:, 0], null[:, 1]
