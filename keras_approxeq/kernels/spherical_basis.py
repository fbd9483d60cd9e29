r"""Steerable kernel bases on 3D grids, for `SO3` and `O3`.

A kernel from a field of degree `l_a` to one of degree `l_b` is a sum of
terms `profile(|x|) sum_j W_j Y_J^j(x / |x|)`: radial profiles (see
`keras_approxeq.kernels.radial`) times the real spherical harmonics of degree
`J` (`keras_approxeq.symmetry.spherical`), coupled to the fields by `W`, the
Clebsch-Gordan coefficients in the package's real basis. `pair_basis`
samples and orthonormalises them on the voxel grid; the projector itself
is `keras_approxeq.projection.steerable.SteerableProjector`.
"""

import math

import numpy as np

from keras_approxeq._linalg import orthonormal_rows
from keras_approxeq._memo import memoize
from keras_approxeq.kernels import radial
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry.spherical import degree_and_parity
from keras_approxeq.symmetry.spherical import harmonics
from keras_approxeq.symmetry.spherical import wigner_d

__all__ = ["grid_points", "pair_basis"]


def pair_basis(group, a, b, spatial, max_frequency=None, basis="smooth"):
    """Orthonormal sampled basis `(n, X, d_a, d_b)` of kernels from `a` to `b`.

    A kernel from degree `l_a` to `l_b` is a sum of terms
    `profile(|x|) sum_j W_j Y_J^j(x / |x|)` with `|l_a - l_b| <= J <=
    l_a + l_b` (and, for `O3`, `(-1)^J` equal to the product of the
    parities); equivariance, `K(R x) = D^l_b(R) K(x) D^l_a(R)^T`, asks
    `sum_j W_j D^J(R)_jk = D^l_b(R) W_k D^l_a(R)^T` (the Wigner-Eckart
    coupling, solved numerically). The radial profiles and the degrees
    each carries are those of `basis` (see `keras_approxeq.kernels.radial`),
    also limited to `J <= max_frequency`; the centre carries `J = 0` only.

    Args:
        group: `SO3` or `O3`.
        a: The input field type.
        b: The output field type.
        spatial: The kernel's spatial shape (cubic), or `()` for a Dense
            kernel.
        max_frequency: The largest degree `J`, or `None`.
        basis: `"smooth"` or `"grid"` (see `keras_approxeq.kernels.radial`).

    Example:

    >>> from keras_approxeq.symmetry import groups
    >>> pair_basis(groups.get("SO3"), "irrep0", "irrep1", (3, 3, 3)).shape
    (1, 27, 1, 3)
    """
    l_a, p_a = degree_and_parity(group, a)
    l_b, p_b = degree_and_parity(group, b)
    if max_frequency is None:
        max_frequency = math.inf
    d_a, d_b = 2 * l_a + 1, 2 * l_b + 1
    points = grid_points(spatial)
    radius = np.linalg.norm(points, axis=1)
    size = spatial[0] if spatial else 1
    profiles = radial.rings(radius, size, basis, ndim=3)
    top = min(l_a + l_b, max_frequency, max(band for _, band in profiles))
    sampled = []
    for j in range(abs(l_a - l_b), top + 1):
        if group.reflections and (-1) ** j != p_a * p_b:
            continue
        coupling = _coupling(l_a, l_b, j)  # (n, d_b, d_a, 2J + 1)
        angular = np.einsum("nbaj,xj->nxab", coupling, harmonics(j, points))
        for profile, band in profiles:
            if j <= band and j <= max_frequency:
                sampled.append(angular * profile(j)[None, :, None, None])
    if not sampled:
        return np.zeros((0, len(points), d_a, d_b))
    vectors = np.concatenate(sampled).reshape(-1, len(points) * d_a * d_b)
    basis = orthonormal_rows(vectors)
    return basis.reshape(len(basis), len(points), d_a, d_b)


def grid_points(spatial):
    """`(X, 3)` voxel offsets from the kernel's centre (`(1, 3)` zeros for
    a Dense kernel).

    Example:

    >>> points = grid_points((3, 3, 3))
    >>> points.shape, points[0].tolist(), points[13].tolist()
    ((27, 3), [-1.0, -1.0, -1.0], [0.0, 0.0, 0.0])
    """
    if not spatial:
        return np.zeros((1, 3))
    return np.indices(spatial).reshape(3, -1).T - (np.array(spatial) - 1) / 2


@memoize
def _coupling(l_a, l_b, j):
    """Equivariant couplings `W` `(n, d_b, d_a, 2 J + 1)` of degrees
    `l_a -> l_b` through harmonics of degree `J`, orthonormal.

    `W` solves `sum_k W_k D^J(R)_kk' = D^l_b(R) W_k' D^l_a(R)^T` for the
    two generating rotations. The first constraint's operator
    `1 x 1 x D^J^T - D^l_b x D^l_a x 1` is a Kronecker sum, diagonal in the
    products of the factors' eigenvectors: its null space is spanned by
    the products whose eigenvalues `e^{i m theta}` satisfy
    `m_J = m_b + m_a` (the selection rule; for a rotation by a generic
    angle no other product matches). The second constraint is solved on
    that small space (a few hundred unknowns instead of
    `d_b d_a (2 J + 1)`, up to 4913 for degrees 8), and the real and
    imaginary parts of the solutions give a real basis.
    """
    first, second = groups.get("SO3").generators
    null = _selection_rule_solutions(l_a, l_b, j, first)
    residual = _constraint(null, l_a, l_b, j, second)
    flat = residual.reshape(len(null), -1)
    # The null space of the (d_b d_a (2J + 1), n) system from the n x n
    # Gram matrix: its eigenvalues are the squared singular values.
    values, vectors = np.linalg.eigh(flat.conj() @ flat.T)
    solutions = vectors[:, values < 1e-12].T @ null.reshape(len(null), -1)
    coupling = orthonormal_rows(
        np.concatenate([solutions.real, solutions.imag])
    )
    sizes = (2 * l_b + 1, 2 * l_a + 1, 2 * j + 1)
    coupling = coupling.reshape(len(coupling), *sizes)
    for rotation in (first, second):  # the solve's own check
        error = np.abs(_constraint(coupling, l_a, l_b, j, rotation)).max()
        if error > 1e-9:
            raise RuntimeError(
                f"SO(3) coupling {l_a} -> {l_b} through degree {j} failed "
                f"its check ({error:.1e}); please report this."
            )
    return coupling


def _selection_rule_solutions(l_a, l_b, j, rotation):
    """Orthonormal complex `(n, d_b, d_a, 2 J + 1)` spanning the kernels
    `W` of `1 x 1 x D^J(R)^T - D^l_b(R) x D^l_a(R)`."""
    (val_b, vec_b), (val_a, vec_a), (val_j, vec_j) = (
        np.linalg.eig(matrix)
        for matrix in (
            wigner_d(l_b, rotation),
            wigner_d(l_a, rotation),
            wigner_d(j, rotation).T,
        )
    )
    products = val_b[:, None, None] * val_a[None, :, None]
    matches = np.argwhere(np.abs(products - val_j[None, None, :]) < 1e-6)
    p, q, r = matches.T
    return np.einsum("bn,an,kn->nbak", vec_b[:, p], vec_a[:, q], vec_j[:, r])


def _constraint(couplings, l_a, l_b, j, rotation):
    """`sum_k W_k D^J_kk' - D^l_b W_k' D^l_a^T` for each of `couplings`."""
    d_b, d_a, d_j = (wigner_d(deg, rotation) for deg in (l_b, l_a, j))
    harmonic = couplings @ d_j
    fields = np.einsum("xb,nbak->nxak", d_b, couplings, optimize=True)
    fields = np.einsum("ya,nxak->nxyk", d_a, fields, optimize=True)
    return harmonic - fields
