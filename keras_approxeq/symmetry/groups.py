"""The groups: finite point groups, continuous rotations, permutations.

A finite group here is a set of orthogonal matrices acting on the
coordinates of a `ndim`-dimensional grid, closed under multiplication.
Coordinates are array-index coordinates, measured from the grid's centre:
on a 2D grid a point is `(row, col)` with row 0 at the top, on a 3D grid
`(depth, row, col)`, on a 1D grid `(col,)`. Element `g` moves the value at
point `p` to point `g p`, so an image transforms as
`(g f)(p) = rho(g) f(g^-1 p)`.

Conventions (all groups):

* Element `0` is the identity; elements are indices `0 .. order - 1`.
* `C<N>` (2D): element `k` is the rotation by `2 pi k / N`, counter-clockwise
  as an image is displayed (row 0 at the top). Its matrix in `(row, col)`
  coordinates is `[[cos t, -sin t], [sin t, cos t]]`, so element 1 of `C4`
  rotates an image exactly like `np.rot90(image, k=1, axes=(0, 1))`.
* `D<N>` (2D): elements `k < N` are the rotations of `C<N>`; element
  `N + k` is the mirror followed by rotation `k`. The mirror reverses the
  column axis (a left-right flip, `image[:, ::-1]`), so `D1` is the group of
  that one mirror.
* `D1` on a 1D grid is the flip `x -> -x`.
* `O` (3D): the 24 rotations of the cube, signed permutation matrices of
  determinant +1 in `(depth, row, col)` coordinates; `Oh` adds the point
  inversion `-I`: its elements `24 + k` are `-1` times element `k` of `O`.
* `C1` is the trivial group, on grids of 1, 2 or 3 dimensions.
* `C<N>` and `D<N>` for other `N` (e.g. `"C8"`), `SO2` (all rotations)
  and `O2` (rotations and mirrors) also act on 2D grids, but not by
  permuting pixels: their kernels are projected onto steerable bases (see
  `keras_approxeq.projection.steerable`). An element of `SO2` is an angle, one
  of `O2` an `(angle, mirror)` pair: the mirror (if true) then the rotation.
* `SO3` (all rotations) and `O3` (with the inversion) act on 3D grids
  through steerable bases (see `keras_approxeq.kernels.spherical_basis`); an
  element is a `3x3` orthogonal matrix.
* `S<n>` (e.g. `"S5"`) is the group of all permutations of `n` set
  elements; it acts on no grid (use it with Dense kernels). Element `k` is
  the `k`-th permutation of `range(n)` in lexicographic order (element 0
  is the identity); it moves set element `i` to position `perm[i]`.

Example:

>>> from keras_approxeq.symmetry import groups
>>> c4 = groups.get("C4")
>>> c4.order, c4.ndim
(4, 2)
>>> c4.matrices[1].astype(int).tolist()
[[0, -1], [1, 0]]
>>> int(c4.multiply(1, 3))
0
"""

import itertools
import math
import re

import numpy as np

from keras_approxeq._checks import is_int
from keras_approxeq._memo import memoize
from keras_approxeq._warnings import deprecated

__all__ = [
    "BaseGroup",
    "ContinuousGroup2D",
    "ContinuousGroup3D",
    "FiniteGroup",
    "O2",
    "O3",
    "SO2",
    "SO3",
    "SymmetricGroup",
    "get",
    "get_finite",
    "names",
    "plane_matrix",
]


class BaseGroup:
    """What every group here provides, finite or continuous.

    Attributes:
        name: The group's name, e.g. `"C4"` or `"SO3"`.
        ndim: Dimension of the grid it acts on (0 for `S<n>`).
        order: Number of elements, `None` for `SO2`, `O2`, `SO3`, `O3`.
        is_finite: Whether the group is finite (`order` is an int).
        is_grid_exact: Whether every element maps the points of a square
            (cubic) grid onto points of the grid, so that projections are
            exact group averages over permuted pixels; otherwise kernels
            go through steerable bases. True for `S<n>`, which acts on no
            grid (its projections are exact averages too).
        reflections: Whether the group holds elements of determinant -1
            (mirrors, or the inversion in 3D).
        generators: A few elements that generate the group (a dense
            subgroup, for the continuous ones).

    Example:

    >>> g = get("C4")
    >>> g.name, g.ndim, g.order, g.is_finite, g.is_grid_exact
    ('C4', 2, 4, True, True)
    >>> get("SO3").order is None
    True
    """

    is_finite = True
    is_grid_exact = True
    reflections = False

    def sample(self, count, seed=0):
        """`count` random elements other than the identity, seeded.

        A finite group gives distinct element indices (all but the
        identity when `count >= order - 1`); `SO2`/`O2` uniform angles (and
        mirrors); `SO3`/`O3` Haar-random rotations (times a random sign).

        Example:

        >>> list(get("C4").sample(8))
        [1, 2, 3]
        """
        if not is_int(count, 1):
            raise ValueError(
                "Expected `count` to be a positive integer. Received: "
                f"count={count!r}."
            )
        return self._sample(count, np.random.default_rng(seed))

    def _sample(self, count, rng):
        if count >= self.order - 1:
            return range(1, self.order)
        # Python ints: the orders of large permutation groups exceed int64.
        chosen = set()
        while len(chosen) < count:
            chosen.add(1 + int(rng.integers(self.order - 1)))
        return sorted(chosen)


class FiniteGroup(BaseGroup):
    """A finite group of orthogonal matrices acting on a grid.

    Args:
        name: Name of the group, e.g. `"C4"`.
        matrices: Array of shape `(order, ndim, ndim)`; `matrices[0]` must be
            the identity.

    Attributes:
        name: The group's name.
        ndim: Dimension of the grid it acts on.
        order: Number of elements.
        matrices: `(order, ndim, ndim)` float64 array, element `g`'s action
            on grid coordinates.
        cayley: `(order, order)` int array, `cayley[a, b]` is the index of
            the product `a b` (first `b`, then `a`).
        inverses: `(order,)` int array, the index of each element's inverse.
        is_grid_exact: Whether every element permutes the points of a
            square (cubic) grid: true for `C1`, `C2`, `C4`, `D1`, `D2`,
            `D4`, `O`, `Oh`.
        reflections: Whether some element has determinant -1 (`D<N>`,
            `Oh`).

    Example:

    >>> g = get("D4")
    >>> g.order, g.inverses.tolist()
    (8, [0, 3, 2, 1, 4, 5, 6, 7])
    """

    def __init__(self, name, matrices):
        matrices = np.asarray(matrices, dtype=np.float64)
        if not np.allclose(matrices[0], np.eye(matrices.shape[-1])):
            raise ValueError(f"Element 0 of group {name!r} must be identity.")
        self.name = name
        self.matrices = matrices
        self.matrices.setflags(write=False)
        self.order = matrices.shape[0]
        self.ndim = matrices.shape[-1]
        self.cayley = _cayley_table(name, matrices)
        self.inverses = np.argmax(self.cayley == 0, axis=1)
        # Whether every element permutes the points of a cubic grid.
        self.is_grid_exact = bool(np.all(np.abs(matrices).sum(axis=1) == 1))
        self.reflections = bool(np.any(np.linalg.det(matrices) < 0))
        self._generators = None

    @property
    def elements(self):
        """The element indices, `range(order)`."""
        return range(self.order)

    def grid_permutations(self, shape, what="grid"):
        """How each element permutes the points of a grid of `shape`.

        Points are measured from the grid's centre (half-integer offsets on
        even sizes), so the grid maps onto itself whenever the axes that an
        element exchanges have equal sizes.

        Args:
            shape: The grid's spatial shape, `ndim` ints.
            what: What the grid is, for error messages.

        Returns:
            `(order, prod(shape))` int array; entry `[g, x]` is the flat
            (C-order) index of point `g x`.

        Example:

        >>> get("C4").grid_permutations((2, 2))[1].tolist()
        [2, 0, 3, 1]
        """
        shape = tuple(int(s) for s in shape)
        if len(shape) != self.ndim:
            raise ValueError(
                f"Group {self.name} acts on {self.ndim}D grids; received a "
                f"{what} of spatial shape {shape}."
            )
        if not self.is_grid_exact:
            raise ValueError(
                f"Group {self.name} has elements that do not map grid points "
                "onto grid points. Use a grid-exact group (C1, C2, C4, D1, "
                "D2, D4, O, Oh), or the steerable projection, which handles "
                f"{self.name} on any grid."
            )
        for g, matrix in enumerate(self.matrices):
            moved = tuple(shape[a] for a in np.argmax(np.abs(matrix), 1))
            if moved != shape:
                raise ValueError(
                    f"Group {self.name} does not map a {what} of spatial "
                    f"shape {shape} onto itself (element {g} turns it into "
                    f"{moved}). Rotations need equal sizes along the axes "
                    f"they exchange: use a square (2D) or cubic (3D) {what}, "
                    "e.g. kernel_size 3 rather than (3, 5)."
                )
        sizes = np.array(shape)
        centred = 2 * np.indices(shape).reshape(self.ndim, -1)
        centred -= (sizes - 1)[:, None]  # twice the offset: integers
        moved = np.einsum("gij,jx->gix", self.matrices, centred).round()
        moved = (moved.astype(np.int64) + (sizes - 1)[:, None]) // 2
        return np.ravel_multi_index(tuple(moved.transpose(1, 0, 2)), shape)

    def multiply(self, a, b):
        """Index of the product `a b` (apply `b`, then `a`)."""
        return self.cayley[a, b]

    def angle(self, g):
        """`(angle, mirror)` of element `g` of a 2D group: `g` is the
        mirror (if `mirror`), then the rotation by `angle` (radians)."""
        matrix = self.matrices[g]
        mirror = bool(np.linalg.det(matrix) < 0)
        rotation = matrix @ _MIRROR_2D if mirror else matrix
        return float(np.arctan2(rotation[1, 0], rotation[0, 0])), mirror

    @property
    def generators(self):
        """A small set of element indices that generates the group."""
        if self._generators is None:
            subgroup, generators = {0}, []
            for g in self.elements:
                if g not in subgroup:
                    generators.append(g)
                    subgroup = _closure(self.cayley, subgroup | {g})
            self._generators = generators
        return self._generators

    def __repr__(self):
        return f"<Group {self.name} of order {self.order} on {self.ndim}D>"


def _cayley_table(name, matrices):
    keys = {_key(m): i for i, m in enumerate(matrices)}
    if len(keys) != len(matrices):
        raise ValueError(f"Group {name!r} lists an element twice.")
    table = np.empty((len(matrices),) * 2, dtype=np.int64)
    for a, b in itertools.product(range(len(matrices)), repeat=2):
        product = keys.get(_key(matrices[a] @ matrices[b]))
        if product is None:
            raise ValueError(f"Group {name!r} is not closed.")
        table[a, b] = product
    return table


def _closure(cayley, elements):
    closed = set(elements)
    while True:
        grown = closed | {int(cayley[a, b]) for a in closed for b in closed}
        if grown == closed:
            return closed
        closed = grown


class ContinuousGroup2D(BaseGroup):
    """What `SO2` and `O2` share: the continuous groups of the plane.

    Example:

    >>> so2 = get("SO2")
    >>> isinstance(so2, ContinuousGroup2D), so2.is_finite, so2.order
    (True, False, None)
    >>> get("O2").angle((0.5, True))  # rotate by 0.5 rad after the mirror
    (0.5, True)
    """

    ndim = 2
    order = None  # infinite
    is_finite = False
    is_grid_exact = False

    def __init__(self):
        # A rotation by 1 radian generates a dense subgroup: a band-limited
        # function equivariant under it is equivariant under all rotations.
        self.generators = [(1.0, False)] + [(0.0, True)] * self.reflections

    def _sample(self, count, rng):
        angles = rng.uniform(0, 2 * np.pi, count).tolist()
        if not self.reflections:
            return angles
        mirrors = rng.integers(0, 2, count).astype(bool).tolist()
        return list(zip(angles, mirrors))

    def angle(self, g):
        """`(angle, mirror)` of element `g` (an angle or a pair)."""
        if isinstance(g, tuple):
            return float(g[0]), bool(g[1])
        return float(g), False

    def __repr__(self):
        return f"<{self.name}>"


class SO2(ContinuousGroup2D):
    """SO(2), all rotations of the plane.

    An element is an angle in radians, counter-clockwise as an image is
    displayed. Kernels are projected onto steerable bases.

    Example:

    >>> get("SO2").generators
    [(1.0, False)]
    """

    name = "SO2"
    reflections = False


class O2(ContinuousGroup2D):
    """O(2), the rotations and mirrors of the plane.

    An element is an `(angle, mirror)` pair: the mirror, which reverses
    the column axis, if `mirror`, then the rotation by `angle` radians,
    counter-clockwise as an image is displayed. Kernels are projected
    onto steerable bases.

    Example:

    >>> get("O2").generators
    [(1.0, False), (0.0, True)]
    """

    name = "O2"
    reflections = True


class ContinuousGroup3D(BaseGroup):
    """What `SO3` and `O3` share: the continuous groups of space.

    An element is a `3x3` orthogonal matrix acting on `(depth, row, col)`
    coordinates. Kernels are projected onto steerable bases of spherical
    harmonics (see `keras_approxeq.kernels.spherical_basis`). The signed
    permutation matrices among the elements (the 24 of `O`, 48 of `Oh`)
    permute voxels exactly.

    Example:

    >>> so3 = get("SO3")
    >>> isinstance(so3, ContinuousGroup3D), so3.is_finite
    (True, False)
    >>> so3.matrix(np.diag([1.0, -1.0, -1.0])).shape  # a half turn
    (3, 3)
    >>> so3.matrix(-np.eye(3))
    Traceback (most recent call last):
    ...
    ValueError: Expected an element of SO3: a 3x3 rotation matrix ...
    """

    ndim = 3
    order = None  # infinite
    is_finite = False
    is_grid_exact = False

    def __init__(self):
        # Two rotations about different axes by angles that are irrational
        # multiples of pi generate a dense subgroup of SO(3).
        self.generators = [
            _axis_rotation((1.0, 2.0, 3.0), 1.0),
            _axis_rotation((3.0, -1.0, 2.0), 2.0),
        ] + [-np.eye(3)] * self.reflections

    def _sample(self, count, rng):
        return [self._random_rotation(rng) for _ in range(count)]

    def _random_rotation(self, rng):
        q, r = np.linalg.qr(rng.normal(size=(3, 3)))
        q = q * np.sign(np.diag(r))  # Haar-distributed orthogonal matrix
        q = q * np.sign(np.linalg.det(q))  # a rotation
        if self.reflections and rng.integers(2):
            q = -q
        return q

    def matrix(self, g):
        """Element `g` as a validated `3x3` orthogonal matrix."""
        try:
            matrix = np.asarray(g, np.float64)
        except (TypeError, ValueError):
            matrix = np.zeros(0)
        valid = matrix.shape == (3, 3) and np.allclose(
            matrix @ matrix.T, np.eye(3), atol=1e-6
        )
        valid = valid and (self.reflections or np.linalg.det(matrix) > 0)
        if not valid:
            kind = "orthogonal" if self.reflections else "rotation"
            raise ValueError(
                f"Expected an element of {self.name}: a 3x3 {kind} matrix "
                f"(M @ M.T == I{'' if self.reflections else ', det M = +1'})."
                f" Received: {g!r}."
            )
        return matrix

    def __repr__(self):
        return f"<{self.name}>"


class SO3(ContinuousGroup3D):
    """SO(3), all rotations of space: an element is a `3x3` rotation
    matrix (determinant +1).

    Example:

    >>> len(get("SO3").generators)
    2
    """

    name = "SO3"
    reflections = False


class O3(ContinuousGroup3D):
    """O(3), the rotations of space and the point inversion: an element is
    a `3x3` orthogonal matrix.

    Example:

    >>> len(get("O3").generators)
    3
    """

    name = "O3"
    reflections = True


def _axis_rotation(axis, angle):
    """The rotation by `angle` radians about `axis` (Rodrigues' formula)."""
    x, y, z = np.asarray(axis) / np.linalg.norm(axis)
    cross = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return (
        np.eye(3)
        + math.sin(angle) * cross
        + (1 - math.cos(angle)) * (cross @ cross)
    )


class SymmetricGroup(BaseGroup):
    """The group `S<n>` of all permutations of `n` set elements.

    It acts on no grid: use it for Dense layers whose features are `n`
    set elements (the `"natural"` representation). Its `n!` elements are
    never listed; projections use the two generators (a swap and a cycle).

    Args:
        n: The number of set elements, 1 to 20.

    Example:

    >>> s3 = get("S3")
    >>> s3.order, s3.permutation(1).tolist(), s3.generators
    (6, [0, 2, 1], [2, 3])
    """

    def __init__(self, n):
        self.n = n
        self.name = f"S{n}"
        self.ndim = 0
        self.order = math.factorial(n)
        swap = np.arange(n)
        if n > 1:
            swap[[0, 1]] = [1, 0]
        cycle = np.roll(np.arange(n), -1)
        self.generators = sorted(
            {self.index(swap), self.index(cycle)} - {0}
        ) or [0]

    @property
    def elements(self):
        return range(self.order)

    def permutation(self, k):
        """Element `k` as an array: set element `i` moves to `perm[i]`."""
        k = int(k)
        remaining, perm = list(range(self.n)), []
        for i in range(self.n - 1, -1, -1):
            position, k = divmod(k, math.factorial(i))
            perm.append(remaining.pop(position))
        return np.array(perm)

    def index(self, perm):
        """The element index of the permutation `perm` (inverse of
        `permutation`)."""
        remaining, k = list(range(self.n)), 0
        for i, p in enumerate(perm):
            position = remaining.index(int(p))
            k += position * math.factorial(self.n - 1 - i)
            remaining.pop(position)
        return k

    def multiply(self, a, b):
        """Index of the product `a b` (apply `b`, then `a`)."""
        return self.index(self.permutation(a)[self.permutation(b)])

    def inverse(self, k):
        """Index of the inverse of element `k`."""
        return self.index(np.argsort(self.permutation(k)))

    def __repr__(self):
        return f"<SymmetricGroup {self.name} of order {self.order}>"


def _key(matrix):
    return tuple(np.round(matrix, 9).ravel() + 0.0)


def plane_matrix(angle, mirror=False):
    """`R(angle) M^mirror`, `2 x 2`: the mirror `M = diag(1, -1)` reverses
    the column axis, then the counter-clockwise rotation by `angle`.

    Example:

    >>> plane_matrix(np.pi / 2).round(6).tolist()  # a quarter turn
    [[0.0, -1.0], [1.0, 0.0]]
    >>> plane_matrix(0.0, mirror=True).tolist()
    [[1.0, 0.0], [0.0, -1.0]]
    """
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]]) @ np.diag([1.0, -1.0 if mirror else 1.0])


_MIRROR_2D = np.diag([1.0, -1.0])


def _cyclic(n):
    # Exact zeros and ones for the quarter turns (cos(pi / 2) ~ 6e-17).
    rotations = [plane_matrix(2 * np.pi * k / n) for k in range(n)]
    return [
        np.where(abs(m - m.round()) < 1e-12, m.round(), m) for m in rotations
    ]


def _dihedral(n):
    rotations = _cyclic(n)
    return rotations + [r @ _MIRROR_2D for r in rotations]


def _cube_rotations():
    rotations = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            matrix = np.zeros((3, 3))
            matrix[perm, range(3)] = signs
            if np.linalg.det(matrix) > 0:
                rotations.append(matrix)
    return rotations


# name -> {grid ndim: function returning the list of matrices}
_REGISTRY = {
    "C1": {d: (lambda d=d: [np.eye(d)]) for d in (1, 2, 3)},
    "C2": {2: lambda: _cyclic(2)},
    "C4": {2: lambda: _cyclic(4)},
    "D1": {1: lambda: [np.eye(1), -np.eye(1)], 2: lambda: _dihedral(1)},
    "D2": {2: lambda: _dihedral(2)},
    "D4": {2: lambda: _dihedral(4)},
    "O": {3: _cube_rotations},
    "Oh": {3: lambda: _cube_rotations() + [-m for m in _cube_rotations()]},
}
_DEFAULT_NDIM = {"O": 3, "Oh": 3}
_CANONICAL = {name.lower(): name for name in _REGISTRY}


def names(ndim=None):
    """The names of the known grid groups, optionally those on `ndim`-D grids.

    Besides these, `S<n>` names the permutation group of `n` set elements.

    Example:

    >>> names(2)[:6]
    ['C1', 'C2', 'C4', 'D1', 'D2', 'D4']
    >>> names(3)
    ['C1', 'O', 'Oh']
    """
    return sorted(n for n, dims in _REGISTRY.items() if ndim in (None, *dims))


def get_finite(identifier, ndim=None, *, user, hint):
    """`get`, for callers that need a finite group (regular fields).

    Args:
        identifier: As for `get`.
        ndim: As for `get`.
        user: Who needs it, for the error (e.g. `"GroupPooling"`).
        hint: What to do instead, for the error.

    Raises:
        ValueError: as `get`, or if the group is infinite.

    Example:

    >>> get_finite("C8", 2, user="GroupConv2D", hint="").order
    8
    """
    group = get(identifier, ndim)
    if not group.is_finite:
        raise ValueError(
            f"{user} needs a finite group with regular fields; "
            f"{group.name} has none. {hint}"
        )
    return group


def get(identifier, ndim=None):
    """Returns a group by name (or passes a group object through).

    Args:
        identifier: A group name such as `"C4"`, `"D4"`, `"O"`, `"Oh"`
            (case-insensitive), or a group object.
        ndim: Dimension of the grid the group must act on. `None` picks the
            group's usual grid: 3D for `O`/`Oh`, 2D for the others.

    Returns:
        A `FiniteGroup`, `SO2`, `O2`, `SO3`, `O3` or `SymmetricGroup`.

    Raises:
        ValueError: for an unknown name, or a group that does not act on
            `ndim`-dimensional grids.

    Example:

    >>> get("D1", ndim=1).matrices.ravel().tolist()
    [1.0, -1.0]
    """
    if isinstance(identifier, BaseGroup):
        if ndim is None or identifier.ndim == ndim:
            return identifier
        identifier = identifier.name
    if not isinstance(identifier, str):
        raise ValueError(
            "Expected a group name (str) or a group object. Received: "
            f"group={identifier!r} of type {type(identifier).__name__}. "
            f"Known groups: {', '.join(names())}."
        )
    symmetric = re.fullmatch(r"[sS](\d+)", identifier)
    if symmetric and 1 <= int(symmetric.group(1)) <= 20:
        if ndim:
            raise ValueError(
                f"Group {identifier!r} permutes set elements and acts on no "
                f"grid, but the input has {ndim} spatial dimension(s). Use "
                "it with Dense kernels."
            )
        return _symmetric(int(symmetric.group(1)))
    name = _CANONICAL.get(identifier.lower())
    if identifier.upper() in ("SO3", "O3"):
        if ndim not in (None, 3):
            raise ValueError(
                f"Group {identifier!r} acts on 3D grids, but the input has "
                f"{ndim} spatial dimension(s)."
            )
        return _rotations_3d(identifier.upper() == "O3")
    steerable = re.fullmatch(r"([CD])(\d+)|(SO2|O2)", identifier, re.I)
    if name is None and steerable:
        if ndim not in (None, 2):
            raise ValueError(
                f"Group {identifier!r} acts on 2D grids, but the input has "
                f"{ndim} spatial dimension(s)."
            )
        kind, n, continuous = steerable.groups()
        if continuous:
            return _rotations(continuous.upper() == "O2")
        if 1 <= int(n) <= 64:
            return _build(f"{kind.upper()}{int(n)}", 2)
    if name is None:
        raise ValueError(
            f"Unknown group {identifier!r}. Known groups: "
            f"{', '.join(names())} (2D grids: {', '.join(names(2))}; "
            f"3D grids: {', '.join(names(3))}; 1D grids: "
            f"{', '.join(names(1))}); C<N> and D<N> for other N up to 64, "
            "SO2 and O2 on 2D grids and SO3 and O3 on 3D grids through "
            "steerable bases; and S<n> for "
            "the permutations of n set elements (n = 1 to 20)."
        )
    if ndim is None:
        ndim = _DEFAULT_NDIM.get(name, 2)
    if ndim not in _REGISTRY[name]:
        dims = " or ".join(f"{d}D" for d in sorted(_REGISTRY[name]))
        raise ValueError(
            f"Group {name!r} acts on {dims} grids, but the input has "
            f"{ndim} spatial dimension(s). Groups that act on {ndim}D grids: "
            f"{', '.join(names(ndim)) or 'none'}."
        )
    return _build(name, ndim)


@memoize
def _build(name, ndim):
    if name in _REGISTRY:
        return FiniteGroup(name, _REGISTRY[name][ndim]())
    kind, n = name[0], int(name[1:])
    return FiniteGroup(name, _cyclic(n) if kind == "C" else _dihedral(n))


@memoize
def _rotations(reflections):
    return O2() if reflections else SO2()


@memoize
def _rotations_3d(reflections):
    return O3() if reflections else SO3()


# The names of version 0.1.0.
Group = FiniteGroup


def RotationGroup2D(reflections):  # noqa: N802 (the old class's name)
    """Deprecated: `get("SO2")` or `get("O2")`."""
    deprecated("RotationGroup2D is deprecated; use get('SO2') or get('O2').")
    return _rotations(bool(reflections))


def RotationGroup3D(reflections):  # noqa: N802 (the old class's name)
    """Deprecated: `get("SO3")` or `get("O3")`."""
    deprecated("RotationGroup3D is deprecated; use get('SO3') or get('O3').")
    return _rotations_3d(bool(reflections))


@memoize
def _symmetric(n):
    return SymmetricGroup(n)
