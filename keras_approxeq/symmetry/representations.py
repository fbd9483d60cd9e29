"""Representations of a group on feature channels.

A representation `rho` assigns each group element `g` an orthogonal matrix
`rho(g)` acting on the channel vector of one pixel. For the groups that
permute grid points (and for `S<n>`) all representations here are
*signed permutations*: `rho(g)` moves channel `b` to channel `perm[g, b]`
and multiplies it by `sign[g, b]` (+1 or -1), i.e.
`rho(g)[perm[g, b], b] = sign[g, b]`. The irreps of the 2D groups
(`"irrep0"`, `"irrep1"`, ...) and the fields of the groups that rotate by
other angles are described in `keras_approxeq.symmetry.irreps` (2D) and
`keras_approxeq.symmetry.spherical` (3D).

Field types:

* `"trivial"`: one channel, left unchanged (`rho(g) = 1`), e.g. a
  grey-scale image.
* `"regular"`: `order` channels, one per group element; channel `h` of a
  block holds the feature of element `h`. Element `g` moves the content of
  channel `h` to channel `g h` (the left regular action,
  `rho(g) e_h = e_{gh}`). For `C4` that is a cyclic shift of the block by
  `g` channels.
* `"standard"`: `ndim` channels holding a vector with one component per
  spatial axis of the array (`(v_row, v_col)` in 2D, `(v_depth, v_row,
  v_col)` in 3D), rotated with the grid: `rho(g) = group.matrices[g]`. Use
  it for velocity-like fields.
* `"natural"` (permutation groups `S<n>` only): the `n` set elements, each
  with its own feature vector, permuted: set element `i` moves to
  `perm[i]`. A `(batch, n, d)` tensor reshaped to `(batch, n * d)` is `d`
  features per element, element after element (channel `i * d + f`).

A representation can be a direct sum, given as a list such as
`["trivial", "standard"]` (3 channels for a 2D group, in that order). A
layer whose channel count is a multiple `m` of the representation's size
carries `m` consecutive copies of it.

Example:

>>> from keras_approxeq.symmetry import groups
>>> rep = Representation(groups.get("C4"), "regular")
>>> perm, sign = rep.signed_permutation(8)
>>> perm[1].tolist()
[1, 2, 3, 0, 5, 6, 7, 4]
"""

import numpy as np

from keras_approxeq.symmetry import irreps
from keras_approxeq.symmetry.groups import SymmetricGroup

__all__ = [
    "FIELD_TYPES",
    "PERMUTATION_FIELDS",
    "Representation",
    "normalize",
    "to_config",
]

FIELD_TYPES = ("trivial", "regular", "standard", "natural")
# Fields whose channels the group only permutes (never negates or mixes).
PERMUTATION_FIELDS = ("trivial", "regular", "natural", "irrep0", "irrep0e")


def normalize(identifier, argument="rep"):
    """Validates a representation given by users; returns a tuple of names.

    Args:
        identifier: A field type name or a non-empty list of them.
        argument: The argument's name, for error messages.

    Returns:
        A tuple of field type names.

    Example:

    >>> normalize("regular"), normalize(["trivial", "standard"])
    (('regular',), ('trivial', 'standard'))
    """
    fields = (identifier,) if isinstance(identifier, str) else identifier
    try:
        fields = tuple(fields)
    except TypeError:
        fields = ()
    if not fields or not all(isinstance(f, str) for f in fields):
        raise ValueError(
            f"Expected `{argument}` to be one of {list(FIELD_TYPES)} or a "
            f"non-empty list of them. Received: {argument}={identifier!r}."
        )
    for field in fields:
        if field not in FIELD_TYPES and not irreps.is_irrep(field):
            raise ValueError(
                f"Unknown representation {field!r} in {argument}="
                f"{identifier!r}. Known representations: "
                f"{', '.join(FIELD_TYPES)} and irreps: 'irrep0', 'irrep1', "
                "... for 2D groups (see keras_approxeq.symmetry.irreps), "
                "'irrep2', 'irrep1e', ... for SO3/O3 (see "
                "keras_approxeq.symmetry.spherical); a direct sum is a "
                "list of these, e.g. ['trivial', 'standard']."
            )
    return fields


def to_config(fields):
    """The plain form of normalised fields: a name, or a list of names.

    Example:

    >>> to_config(("regular",)), to_config(("trivial", "standard"))
    ('regular', ['trivial', 'standard'])
    """
    return fields[0] if len(fields) == 1 else list(fields)


def validated(identifier, argument="rep"):
    """`identifier` checked by `normalize`, in its plain (config) form."""
    return to_config(normalize(identifier, argument))


class Representation:
    """A direct sum of field types of one group, repeated over channels.

    Args:
        group: A group object (`groups.get`).
        fields: A field type name or a list of them (see module docstring).

    Attributes:
        group: The group.
        fields: Tuple of the field type names.
        size: Number of channels of one copy of the direct sum.

    Example:

    >>> from keras_approxeq.symmetry import groups
    >>> rep = Representation(groups.get("C4"), ["trivial", "standard"])
    >>> rep.size
    3
    >>> rep.matrices(3)[1].astype(int).tolist()
    [[1, 0, 0], [0, 0, -1], [0, 1, 0]]
    """

    def __init__(self, group, fields):
        self.group = group
        self.fields = normalize(fields)
        self.size = sum(_field_size(group, field) for field in self.fields)

    def copies(self, channels, argument="channels"):
        """Number of copies of the direct sum in `channels` channels."""
        if channels % self.size:
            raise ValueError(
                f"The representation {_describe(self.fields)} of group "
                f"{self.group.name} has {self.size} channel(s) per copy, "
                f"so the {argument} must be a multiple of {self.size}. "
                f"Received: {channels} {argument}. Use a multiple of "
                f"{self.size} channels or another representation."
            )
        return channels // self.size

    def field_channels(self, channels, argument="channels"):
        """Field type -> `(fields, size)` int array of its fields' channels.

        Example:

        >>> from keras_approxeq.symmetry import groups
        >>> rep = Representation(groups.get("C4"), ["trivial", "standard"])
        >>> {k: v.tolist() for k, v in rep.field_channels(6).items()}
        {'trivial': [[0], [3]], 'standard': [[1, 2], [4, 5]]}
        """
        copies = self.copies(channels, argument)
        if self.fields == ("natural",):
            # Element-major, as in `signed_permutation`: copy c is channels
            # c, c + copies, c + 2 copies, ...
            rows = np.arange(copies)[:, None] + copies * np.arange(self.size)
            return {"natural": rows}
        sizes = [_field_size(self.group, f) for f in self.fields]
        starts = np.cumsum([0] + sizes[:-1])
        index = {}
        for copy in range(copies):
            for field, start, size in zip(self.fields, starts, sizes):
                first = copy * self.size + start
                index.setdefault(field, []).append(first + np.arange(size))
        return {field: np.array(rows) for field, rows in index.items()}

    def signed_permutation(self, channels, argument="channels", elements=None):
        """`(perm, sign)`, each `(len(elements), channels)`.

        `rho(g)[perm[i, b], b] = sign[i, b]` for `g = elements[i]`, all other
        entries zero. `elements` defaults to the whole group.
        """
        copies = self.copies(channels, argument)
        if elements is None:
            elements = self.group.elements
        elements = np.asarray(elements, np.int64)
        perm, sign = _direct_sum(
            [_field(self.group, f, elements) for f in self.fields]
        )
        if self.fields == ("natural",):
            # Element-major: channel i * d + f is feature f of set element i.
            perm = (perm[:, :, None] * copies + np.arange(copies)).reshape(
                len(elements), -1
            )
            return perm, np.ones(perm.shape)
        offsets = np.repeat(np.arange(copies) * self.size, self.size)
        return np.tile(perm, (1, copies)) + offsets, np.tile(sign, (1, copies))

    def matrices(self, channels):
        """The dense matrices `rho(g)`, shape `(order, channels, channels)`."""
        perm, sign = self.signed_permutation(channels)
        out = np.zeros((self.group.order, channels, channels))
        g, b = np.indices(perm.shape)
        out[g, perm, b] = sign
        return out

    def characters(self, channels):
        """The traces `tr rho(g)`, shape `(order,)`."""
        perm, sign = self.signed_permutation(channels)
        return np.sum(np.where(perm == np.arange(channels), sign, 0.0), 1)


def _describe(fields):
    return repr(fields[0]) if len(fields) == 1 else repr(list(fields))


def _field_size(group, field):
    steered = group.ndim == 2 or not group.is_grid_exact
    if steered and field != "natural":
        return irreps.field_size(group, field)
    if isinstance(group, SymmetricGroup):
        sizes = {"trivial": 1, "natural": group.n}
    else:
        sizes = {"trivial": 1, "regular": group.order, "standard": group.ndim}
    if field not in sizes:
        raise ValueError(
            f"The representation {field!r} is not defined for group "
            f"{group.name}. Its representations: "
            f"{', '.join(repr(f) for f in sizes)}."
        )
    return sizes[field]


def _field(group, field, elements):
    count = len(elements)
    if field == "trivial":
        return np.zeros((count, 1), np.int64), np.ones((count, 1))
    if field == "natural":
        perm = np.array([group.permutation(g) for g in elements])
        return perm.reshape(count, group.n), np.ones((count, group.n))
    if field == "regular":
        return group.cayley[elements], np.ones((count, group.order))
    if irreps.is_irrep(field):
        size = irreps.field_size(group, field)
        matrices = np.array(
            [irreps.field_matrix(group, field, g) for g in elements]
        ).reshape(count, size, size)
        return _signed_permutation(group, field, matrices)
    return _signed_permutation(group, field, group.matrices[elements])


def _signed_permutation(group, field, matrices):
    perm = np.argmax(np.abs(matrices), axis=1)
    sign = np.take_along_axis(matrices, perm[:, None, :], axis=1)[:, 0]
    if not np.allclose(np.abs(sign), 1.0):
        raise ValueError(
            f"The representation {field!r} of {group.name} does not permute "
            "channels for this element; it needs a steerable projection."
        )
    return perm, np.round(sign)


def _direct_sum(parts):
    offsets = np.cumsum([0] + [p.shape[1] for p, _ in parts])
    perm = np.concatenate([p + o for (p, _), o in zip(parts, offsets)], 1)
    sign = np.concatenate([s for _, s in parts], axis=1)
    return perm, sign
