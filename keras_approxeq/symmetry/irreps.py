r"""The irreducible representations of the 2D groups, as field types.

Field types of `C<N>`, `D<N>`, `SO2` and `O2` (besides `"trivial"`,
`"standard"` and, for the finite groups, `"regular"`):

* `"irrep<m>"`, `m >= 1`: a 2D vector field of angular frequency `m`,
  `rho(g) = R(m theta) M^mirror` with `R` the rotation matrix and
  `M = diag(1, -1)`; `"irrep1"` is `"standard"`. For `C<N>`/`D<N>`,
  `m < N / 2`.
* `"irrep0"`: the trivial representation; `"irrep0-"` (`O2`, `D<N>`): a
  scalar that changes sign under mirrors (a pseudo-scalar).
* For even `N`, `"irrep<N/2>"` (`C<N>`) is the scalar `(-1)^k` under
  rotation `k`; `D<N>` has `"irrep<N/2>+"` and `"irrep<N/2>-"`, the latter
  also changing sign under mirrors.

The regular representation of a finite group splits into these irreps
(Peter-Weyl, `regular_decomposition`). `field_size` and `field_matrix`
also answer for `SO3`/`O3`, whose irreps are in
`keras_approxeq.symmetry.spherical`.
"""

import math
import re

import numpy as np

from keras_approxeq._memo import memoize
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry import spherical

__all__ = [
    "decomposition",
    "field_matrix",
    "field_size",
    "frequency",
    "irreps",
    "is_irrep",
    "regular_decomposition",
    "rotation_order",
]

_IRREP = re.compile(r"irrep(\d+)([+-]?)")


def is_irrep(field):
    """Whether `field` names an irrep: `"irrep<m>"`, optionally with a
    suffix `+`/`-` (2D groups) or `e`/`o` (`O3`).

    Example:

    >>> is_irrep("irrep2"), is_irrep("regular")
    (True, False)
    """
    return bool(re.fullmatch(r"irrep\d+[-+eo]?", field))


def field_size(group, field):
    """Number of channels of one field of type `field` (2D groups, `SO3`,
    `O3`).

    Example:

    >>> from keras_approxeq.symmetry import groups
    >>> d4, so2 = groups.get("D4"), groups.get("SO2")
    >>> field_size(d4, "irrep1"), field_size(so2, "irrep0")
    (2, 1)
    """
    if group.ndim == 3:
        return spherical.field_size(group, field)
    if field == "trivial":
        return 1
    if field == "standard":
        return 2
    if field == "regular":
        if not group.is_finite:
            raise ValueError(
                f"The regular representation of {group.name} is infinite. "
                "Use irreps ('irrep0', 'irrep1', ...) instead."
            )
        return group.order
    return _irrep(group, field)[0]


def _irrep(group, field):
    """`(size, m, flips_under_mirrors)` of an irrep name, validated."""
    match = _IRREP.fullmatch(field)
    reflections = group.reflections
    n = rotation_order(group)
    if match:
        m, suffix = int(match.group(1)), match.group(2)
        half = n is not None and 2 * m == n
        one_dim = m == 0 or half
        valid = (n is None or 2 * m <= n) and (suffix == "" or one_dim)
        valid &= suffix != "-" or reflections
        valid &= not (half and reflections and suffix == "")
        if valid:
            return (1 if one_dim else 2), m, suffix == "-"
    regular = ", 'regular'" if n else ""
    names = "'irrep0', 'irrep1', 'irrep2', ..."
    if reflections:
        names += ", 'irrep0-' (a pseudo-scalar)"
    if n is not None:
        names += f" up to m = {n // 2}"
        if n % 2 == 0:
            top = f"'irrep{n // 2}'"
            if reflections:
                top = f"'irrep{n // 2}+', 'irrep{n // 2}-'"
            names += f" ({top} are scalars)"
    raise ValueError(
        f"Unknown representation {field!r} of group {group.name}. Its "
        f"irreducible representations: {names}; also 'trivial', "
        f"'standard'{regular}."
    )


def rotation_order(group):
    """`N`, the number of rotations of `C<N>` or `D<N>`; `None` for `SO2`
    and `O2`.

    Example:

    >>> from keras_approxeq.symmetry import groups
    >>> rotation_order(groups.get("D8")), rotation_order(groups.get("SO2"))
    (8, None)
    """
    if not group.is_finite:
        return None
    return group.order // 2 if group.reflections else group.order


def frequency(group, field):
    """The angular frequency `m` of a field type of a 2D group.

    Example:

    >>> from keras_approxeq.symmetry import groups
    >>> frequency(groups.get("C8"), "irrep3")
    3
    """
    if field in ("trivial", "standard"):
        return int(field == "standard")
    return _irrep(group, field)[1]


def field_matrix(group, field, g):
    """`rho(g)` of field type `field`, for element `g` of a 2D group.

    Args:
        group: A 2D group (`C<N>`, `D<N>`, `SO2`, `O2`).
        field: A field type name.
        g: An element: an index for the finite groups, an angle or an
            `(angle, mirror)` pair for `SO2`/`O2`.

    Returns:
        A `(d, d)` orthogonal matrix.

    Example:

    >>> from keras_approxeq.symmetry import groups
    >>> field_matrix(groups.get("C4"), "irrep1", 1).round(6).tolist()
    [[0.0, -1.0], [1.0, 0.0]]
    """
    if group.ndim == 3:
        return spherical.field_matrix(group, field, g)
    theta, mirror = group.angle(g)
    if field == "trivial":
        return np.ones((1, 1))
    if field == "regular":
        field_size(group, field)
        matrix = np.zeros((group.order, group.order))
        matrix[group.cayley[g], np.arange(group.order)] = 1.0
        return matrix
    if field == "standard":  # the group's own matrices
        return groups.plane_matrix(theta, mirror)
    size, m, flips = _irrep(group, field)
    if size == 1:
        value = math.cos(m * theta) * (-1.0 if flips and mirror else 1.0)
        return np.array([[round(value)]], dtype=np.float64)
    return groups.plane_matrix(m * theta, mirror)


def irreps(group):
    """The irreducible representations of `C<N>` or `D<N>`, by name.

    Example:

    >>> irreps(groups.get("D4"))
    ('irrep0', 'irrep0-', 'irrep1', 'irrep2+', 'irrep2-')
    """
    reflections = group.reflections
    n = rotation_order(group)
    names = ["irrep0"] + ["irrep0-"] * reflections
    names += [f"irrep{m}" for m in range(1, (n + 1) // 2)]
    if n % 2 == 0 and n > 1:
        half = f"irrep{n // 2}"
        names += [half + "+", half + "-"] if reflections else [half]
    return tuple(names)


def regular_decomposition(group):
    """`(fields, F)`: the regular representation of a finite 2D group as a
    direct sum of irreps.

    `F` is an orthogonal `(order, order)` matrix with
    `F^T rho_regular(g) F = rho_fields(g)` for every element, `fields` the
    irreps of that direct sum (with multiplicity). Its columns are matrix
    coefficients of the irreps (Peter-Weyl): for an irrep `sigma` of
    dimension `d`, column `(j, i)` is `h -> sqrt(d / order) sigma(h)_ij`.
    An irrep appears `d` times, except the 2D irreps of `C<N>`, whose
    columns `j = 0, 1` span the same functions, once. For `C<N>` this is
    the real, unitary DFT along the group axis: `F^T v` holds the Fourier
    coefficients `(cos, sin)` of each frequency.

    Example:

    >>> fields, f = regular_decomposition(groups.get("C4"))
    >>> fields
    ('irrep0', 'irrep1', 'irrep2')
    """
    return _regular_decomposition(group.name)


@memoize
def _regular_decomposition(name):
    group = groups.get(name, 2)
    fields, columns = [], []
    for field in irreps(group):
        size = field_size(group, field)
        matrices = np.array(
            [field_matrix(group, field, h) for h in group.elements]
        )
        copies = size if group.reflections else 1
        for j in range(copies):
            fields.append(field)
            columns.append(np.sqrt(size / group.order) * matrices[:, :, j])
    return tuple(fields), np.concatenate(columns, axis=1)


def decomposition(group, field):
    """`(irreps, F)`: a field type as a direct sum of irreps, `F^T rho F`
    block diagonal (see `regular_decomposition`); the identity for fields
    that are irreps already.

    Example:

    >>> from keras_approxeq.symmetry import groups
    >>> fields, change = decomposition(groups.get("C4"), "regular")
    >>> fields, change.shape
    (('irrep0', 'irrep1', 'irrep2'), (4, 4))
    >>> bool(np.allclose(change.T @ change, np.eye(4)))
    True
    """
    if field == "regular":
        return regular_decomposition(group)
    return (field,), np.eye(field_size(group, field))
