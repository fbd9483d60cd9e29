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

from keras_approxeq._memo import memoize

__all__ = [
    "degree",
    "degree_and_parity",
    "field_matrix",
    "field_size",
    "harmonics",
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

    Example:

    >>> bool(np.allclose(wigner_d(2, np.eye(3)), np.eye(5)))
    True
    """
    rotation = np.asarray(rotation, np.float64)
    points = _sample_points(degree)
    before = harmonics(degree, points)
    after = harmonics(degree, points @ rotation.T)
    transposed, *_ = np.linalg.lstsq(before, after, rcond=None)
    return transposed.T


def field_size(group, field):
    """Number of channels of one field of type `field` of `SO3`/`O3`.

    Example:

    >>> from keras_approxeq.symmetry import groups
    >>> field_size(groups.get("SO3"), "irrep2")
    5
    """
    if field == "regular":
        raise ValueError(
            f"The regular representation of {group.name} is infinite. Use "
            f"irreps ({_names(group)}) instead."
        )
    return 2 * degree_and_parity(group, field)[0] + 1


def field_matrix(group, field, g):
    """`rho(g)` for a `3x3` orthogonal matrix `g` of `SO3`/`O3`.

    Example:

    >>> from keras_approxeq.symmetry import groups
    >>> quarter = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
    >>> rho = field_matrix(groups.get("SO3"), "irrep2", quarter)
    >>> rho.shape, bool(np.allclose(rho @ rho.T, np.eye(5)))
    ((5, 5), True)
    >>> half = field_matrix(groups.get("SO3"), "irrep2", quarter @ quarter)
    >>> bool(np.allclose(rho @ rho, half))  # a representation
    True
    """
    degree, parity = degree_and_parity(group, field)
    g = np.asarray(g, np.float64)
    if np.linalg.det(g) > 0:
        return wigner_d(degree, g)
    return parity * wigner_d(degree, -g)  # g = (-I) (-g), -g a rotation


def degree(group, field):
    """The degree `l` of a field type.

    Example:

    >>> from keras_approxeq.symmetry import groups
    >>> degree(groups.get("SO3"), "irrep2")
    2
    """
    return degree_and_parity(group, field)[0]


def degree_and_parity(group, field):
    """`(degree, parity)` of a field type name of `SO3`/`O3`, validated.

    Example:

    >>> from keras_approxeq.symmetry import groups
    >>> degree_and_parity(groups.get("O3"), "irrep1o")
    (1, -1)
    """
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
