"""Rotating feature maps by any rotation, by multilinear interpolation.

Used by `keras_approxeq.transform` for the elements of `C<N>`, `D<N>`,
`SO2`, `O2`, `SO3` and `O3` that do not permute pixels (voxels). Output
point `p` reads the input at `g^-1 p`, interpolated bilinearly from its 4
neighbours in 2D (trilinearly from 8 in 3D; zero outside the grid), and
its channels are mixed by `rho(g)`. Interpolation
blurs, and the grid's corners rotate out of the picture, so a layer is
equivariant to these rotations only approximately, and only for smooth
inputs that vanish towards the border. Angles that are multiples of 90
degrees (up to 1e-9), and signed permutation matrices in 3D, reproduce
the exact pixel permutation.
"""

import itertools
import math

import numpy as np
from keras import ops

from keras_approxeq._memo import Constants
from keras_approxeq._memo import memoize
from keras_approxeq._ops import einsum
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry import representations
from keras_approxeq.symmetry.irreps import field_matrix

__all__ = ["rotate"]


def rotate(x, group, element, fields, channels_first):
    """`(g f)(p) = rho(g) f(g^-1 p)` for a batch `x` of feature maps.

    Args:
        x: A tensor `(batch, n, n, channels)` or `(batch, n, n, n,
            channels)` (or channels first).
        group: A 2D group, `SO3` or `O3`.
        element: An element index (finite groups), an angle (`SO2`), an
            `(angle, mirror)` pair (`O2`) or a `3x3` matrix as nested
            tuples (`SO3`, `O3`).
        fields: Tuple of the channels' field type names.
        channels_first: Whether `x` is channels first.

    Returns:
        A tensor of `x`'s shape and dtype.

    Example:

    >>> from keras_approxeq.symmetry import groups
    >>> x = ops.convert_to_tensor(np.arange(9.0).reshape(1, 3, 3, 1))
    >>> y = rotate(x, groups.get("SO2"), np.pi / 2, ("trivial",), False)
    >>> np.round(ops.convert_to_numpy(y)[0, ..., 0], 6).tolist()
    [[2.0, 5.0, 8.0], [1.0, 4.0, 7.0], [0.0, 3.0, 6.0]]
    """
    if channels_first:
        x = ops.moveaxis(x, 1, -1)
    batch_shape = tuple(x.shape)
    spatial, channels = batch_shape[1:-1], batch_shape[-1]
    maps = _maps(group.name, element, fields, channels, spatial)
    index, weight, matrix = maps.like(x)
    flat = ops.reshape(x, (-1, math.prod(spatial), channels))
    gathered = ops.take(flat, index, axis=1)  # (batch, points, 4, channels)
    moved = ops.sum(gathered * weight[None, :, :, None], axis=2)
    y = einsum("bpc,dc->bpd", moved, matrix)
    y = ops.reshape(y, (-1, *batch_shape[1:]))  # the batch may be unknown
    return ops.moveaxis(y, -1, 1) if channels_first else y


@memoize
def _maps(group_name, element, fields, channels, spatial):
    group = groups.get(group_name, len(spatial) or None)
    if not spatial:  # (batch, channels): only the channels are mixed
        matrix = _channel_matrix(group, fields, channels, element)
        return Constants(np.zeros((1, 1), np.int32), np.ones((1, 1)), matrix)
    matrix = _matrix(group, element)
    if len(spatial) != group.ndim or len(set(spatial)) != 1:
        raise ValueError(
            f"Rotating by an element of {group.name} needs "
            f"{'square 2D' if group.ndim == 2 else 'cubic 3D'} feature "
            f"maps. Received spatial shape {spatial}. Crop or pad the "
            "feature maps to a square (cube)."
        )
    n = spatial[0]
    centre = (n - 1) / 2
    points = np.indices(spatial).reshape(len(spatial), -1) - centre
    source = np.round(matrix.T @ points + centre, 9)  # g^-1 p
    low = np.floor(source).astype(np.int64)
    frac = source - low
    index, weight = [], []
    for corner in itertools.product((0, 1), repeat=len(spatial)):
        position = low + np.array(corner)[:, None]
        inside = np.all((position >= 0) & (position < n), axis=0)
        w = np.prod([f if c else 1 - f for f, c in zip(frac, corner)], axis=0)
        flat = np.ravel_multi_index(np.where(inside, position, 0), spatial)
        index.append(flat)
        weight.append(np.where(inside, w, 0.0))
    channel_matrix = _channel_matrix(group, fields, channels, element)
    return Constants(
        np.stack(index, 1).astype(np.int32),
        np.stack(weight, 1),
        channel_matrix,
    )


def _matrix(group, element):
    """The orthogonal matrix of `element` in grid coordinates."""
    if group.ndim == 3:
        return np.asarray(element, np.float64)
    return groups.plane_matrix(*group.angle(element))


def _channel_matrix(group, fields, channels, element):
    """`rho(g)` on all channels: a block per field."""
    matrix = np.zeros((channels, channels))
    rep = representations.Representation(group, fields)
    for field, index in rep.field_channels(channels).items():
        block = field_matrix(group, field, element)
        for rows in index:
            matrix[np.ix_(rows, rows)] = block
    return matrix
