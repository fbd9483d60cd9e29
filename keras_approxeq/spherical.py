r"""Real spherical harmonics and the irreps of `SO3` and `O3`.

The degree-`l` irrep of `SO(3)` acts on the `2 l + 1` real spherical
harmonics of degree `l`. Here they are built from polynomials, with no
special-function library: the harmonic part of each degree-`l` monomial in
the grid coordinates `(depth, row, col)`, taken in a fixed order and
orthonormalised by Gram-Schmidt over the unit sphere (monomial integrals
over the sphere have a closed form), so the basis is the same on every
machine. Degree 1 is the coordinates themselves: `Y_1(x) ~ (x_depth,
x_row, x_col)`, so `"irrep1"` is `"standard"`.

`D^l(R)` is defined by `Y_l(R x) = D^l(R) Y_l(x)`; it is an orthogonal
representation (`D^l(R1 R2) = D^l(R1) D^l(R2)`), computed by least squares
from the harmonics at a few points, exactly up to rounding.

Field types of `SO3` (besides `"trivial"` and `"standard"`):
`"irrep<l>"`, `l >= 0`, with `2 l + 1` channels. `O3` adds the inversion
`-I`, under which a field has a parity: `"irrep<l>e"` (even, `+1`) and
`"irrep<l>o"` (odd, `-1`); `"trivial"` is `"irrep0e"` and `"standard"` is
`"irrep1o"`, while `"irrep1e"` is a pseudo-vector (e.g. an angular
velocity) and `"irrep0o"` a pseudo-scalar.
"""

import itertools
import math
import re

import numpy as np

from keras_approxeq import groups
from keras_approxeq import radial
from keras_approxeq._linalg import orthonormal_rows
from keras_approxeq._memo import memoize

__all__ = [
    "field_matrix",
    "field_size",
    "harmonics",
    "pair_basis",
    "wigner_d",
]

_IRREP = re.compile(r"irrep(\d+)([eo]?)")


def harmonics(degree, points):
    """The real spherical harmonics of `degree` at `points`.

    Args:
        degree: `l >= 0`.
        points: `(n, 3)` array of points `(depth, row, col)`; they are
            normalised to the unit sphere (the origin gives `0` for
            `l > 0`).

    Returns:
        `(n, 2 l + 1)` array, orthonormal over the unit sphere.

    Example:

    >>> y = harmonics(1, np.eye(3))
    >>> bool(np.allclose(y / y[0, 0], np.eye(3)))
    True
    """
    points = np.asarray(points, np.float64).reshape(-1, 3)
    norm = np.linalg.norm(points, axis=1, keepdims=True)
    unit = np.divide(points, norm, out=np.zeros_like(points), where=norm > 0)
    exponents, coefficients = _harmonic_polynomials(degree)
    monomials = np.prod(unit[:, None, :] ** exponents[None], axis=2)
    return monomials @ coefficients


def wigner_d(degree, rotation):
    """`D^l(R)`, the `(2 l + 1, 2 l + 1)` orthogonal matrix of a rotation.

    Defined by `harmonics(l, R x) = D^l(R) harmonics(l, x)` (as column
    vectors); `wigner_d(1, R) == R`.
    """
    rotation = np.asarray(rotation, np.float64)
    points = _sample_points(degree)
    before = harmonics(degree, points)
    after = harmonics(degree, points @ rotation.T)
    transposed, *_ = np.linalg.lstsq(before, after, rcond=None)
    return transposed.T


def field_size(group, field):
    """Number of channels of one field of type `field` of `SO3`/`O3`."""
    if field == "regular":
        raise ValueError(
            f"The regular representation of {group.name} is infinite. Use "
            f"irreps ({_names(group)}) instead."
        )
    return 2 * _irrep(group, field)[0] + 1


def field_matrix(group, field, g):
    """`rho(g)` for a `3x3` orthogonal matrix `g` of `SO3`/`O3`."""
    degree, parity = _irrep(group, field)
    g = np.asarray(g, np.float64)
    if np.linalg.det(g) > 0:
        return wigner_d(degree, g)
    return parity * wigner_d(degree, -g)  # g = (-I) (-g), -g a rotation


def degree(group, field):
    """The degree `l` of a field type."""
    return _irrep(group, field)[0]


def pair_basis(group, a, b, spatial, max_frequency=None, basis="smooth"):
    """Orthonormal sampled basis `(n, X, d_a, d_b)` of kernels from `a` to `b`.

    A kernel from degree `l_a` to `l_b` is a sum of terms
    `profile(|x|) sum_j W_j Y_J^j(x / |x|)` with `|l_a - l_b| <= J <=
    l_a + l_b` (and, for `O3`, `(-1)^J` equal to the product of the
    parities); equivariance, `K(R x) = D^l_b(R) K(x) D^l_a(R)^T`, asks
    `sum_j W_j D^J(R)_jk = D^l_b(R) W_k D^l_a(R)^T` (the Wigner-Eckart
    coupling, solved numerically). The radial profiles and the degrees
    each carries are those of `basis` (see `keras_approxeq.radial`), also
    limited to `J <= max_frequency`; the centre carries `J = 0` only.

    Args:
        group: `SO3` or `O3`.
        a: The input field type.
        b: The output field type.
        spatial: The kernel's spatial shape (cubic), or `()` for a Dense
            kernel.
        max_frequency: The largest degree `J`, or `None`.
        basis: `"smooth"` or `"grid"` (see `keras_approxeq.radial`).
    """
    (l_a, p_a), (l_b, p_b) = _irrep(group, a), _irrep(group, b)
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
    a Dense kernel)."""
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


def _irrep(group, field):
    """`(degree, parity)` of a field type name of `SO3`/`O3`, validated."""
    if field == "trivial":
        return 0, 1
    if field == "standard":
        return 1, -1
    match = _IRREP.fullmatch(field)
    if match and (match.group(2) != "") == group.reflections:
        return int(match.group(1)), -1 if match.group(2) == "o" else 1
    raise ValueError(
        f"Unknown representation {field!r} of group {group.name}. Its "
        f"irreducible representations: {_names(group)}; also 'trivial' and "
        "'standard'."
    )


def _names(group):
    if group.reflections:
        return (
            "'irrep0e', 'irrep0o', 'irrep1e', 'irrep1o', ... (degree l, "
            "even or odd under the inversion)"
        )
    return "'irrep0', 'irrep1', 'irrep2', ... (degree l)"


@memoize
def _harmonic_polynomials(degree):
    """`(exponents (m, 3), coefficients (m, 2 l + 1))` of `Y_l`.

    Each column is a harmonic polynomial `sum_k c_k x^e_k`; the columns are
    orthonormal over the unit sphere.
    """
    exponents = _monomials(degree)
    gram = _sphere_gram(exponents)
    # On the sphere, the polynomials |x|^2 q (q of degree l - 2) span the
    # lower degrees; the harmonic part of a monomial is what is left after
    # removing its projection onto them.
    position = {tuple(e): i for i, e in enumerate(exponents)}
    lower = np.zeros((len(exponents), 0))
    if degree >= 2:
        inner = _monomials(degree - 2)
        lower = np.zeros((len(exponents), len(inner)))
        for j, e in enumerate(inner):
            for step in 2 * np.eye(3, dtype=np.int64):
                lower[position[tuple(e + step)], j] += 1.0
    harmonic = np.eye(len(exponents))
    if lower.shape[1]:
        solve = np.linalg.solve(lower.T @ gram @ lower, lower.T @ gram)
        harmonic -= lower @ solve
    basis = []
    for v in harmonic.T:  # Gram-Schmidt in the monomials' order
        for u in basis:
            v = v - (u @ gram @ v) * u
        norm = math.sqrt(max(v @ gram @ v, 0.0))
        if norm > 1e-9:
            basis.append(v / norm)
    return exponents, np.stack(basis[: 2 * degree + 1], axis=1)


def _monomials(degree):
    """Exponents `(m, 3)` of the degree-`degree` monomials, in a fixed order."""
    powers = itertools.product(range(degree, -1, -1), repeat=3)
    return np.array([e for e in powers if sum(e) == degree]).reshape(-1, 3)


def _sphere_gram(exponents):
    """`int x^(e_i + e_j) dOmega` over the unit sphere, for all pairs."""
    total = exponents[:, None, :] + exponents[None, :, :]
    gram = np.zeros(total.shape[:2])
    for i, j in np.ndindex(*gram.shape):
        a = total[i, j]
        if np.all(a % 2 == 0):
            gram[i, j] = (
                2
                * math.prod(math.gamma((k + 1) / 2) for k in a)
                / math.gamma((a.sum() + 3) / 2)
            )
    return gram


@memoize
def _sample_points(degree):
    """Fixed points on which the harmonics of `degree` are independent."""
    rng = np.random.default_rng(degree)
    return rng.normal(size=(4 * (2 * degree + 1), 3))
