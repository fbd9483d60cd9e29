r"""Steerable kernel bases on 2D grids.

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
the grid points (`keras_approxeq.kernels.radial`: by default Gaussian
rings inside the kernel, each carrying the frequencies a grid can rotate;
with `basis="grid"`, shells up to the corners carrying more; the centre
admits `k = 0` only). All sampled solutions of a pair of field types are
orthonormalised into a basis `Q_ab` of shape `(n, X, d_a, d_b)`
(`plane_pair_basis`); `keras_approxeq.projection.steerable` projects onto
its span.

Every radial profile is a function of the distance from the centre, which
90-degree rotations and the grid's mirrors preserve, so a kernel in the
basis of `SO2` is exactly `C4`-equivariant on the grid and one in the
basis of `O2` exactly `D4`-equivariant (tested). For the grid-exact groups
`C4`/`D4` (and `C2`/`D2`), used only to compare the two routes, the
profiles are the rings of grid points (points at equal distance from the
centre), a ring of `n` points carrying `F = n // 2`, so that the sampled
harmonics span every grid-equivariant kernel.

The field types of the 2D groups (their irreps) are defined in
`keras_approxeq.symmetry.irreps`.
"""

import math

import numpy as np

from keras_approxeq._linalg import null_space
from keras_approxeq._linalg import orthonormal_rows
from keras_approxeq._memo import memoize
from keras_approxeq.kernels import radial
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry import irreps

__all__ = ["plane_pair_basis", "polar_grid"]


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

    Example:

    >>> q = plane_pair_basis("SO2", "irrep0", "irrep1", (5, 5), None, "smooth")
    >>> q.shape
    (4, 25, 1, 2)
    >>> m = q.reshape(len(q), -1)
    >>> bool(np.allclose(m @ m.T, np.eye(len(q))))
    True
    """
    group = groups.get(group_name, 2)
    d_a, d_b = irreps.field_size(group, a), irreps.field_size(group, b)
    radius, angles, _ = polar_grid(spatial)
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


def polar_grid(spatial):
    """`(radius, angle, key)` of each point of a square 2D grid.

    The angle is in `(row, col)` array coordinates, the key is the squared
    radius in half-steps (`(2 r)^2`, an integer, exact also for even
    sizes), equal on each ring of points.
    `spatial=()` (a Dense kernel) is one point at the centre.

    Example:

    >>> radius, angle, key = polar_grid((3, 3))
    >>> key.reshape(3, 3)
    array([[8, 4, 8],
           [4, 0, 4],
           [8, 4, 8]])
    >>> float(radius[0])  # a corner
    1.4142135623730951
    """
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
    `keras_approxeq.kernels.radial`).
    """
    radius, _, key = polar_grid(spatial)
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
