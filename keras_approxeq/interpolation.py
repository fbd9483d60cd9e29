"""Rotating 2D feature maps by any angle, by bilinear interpolation.

Used by `keras_approxeq.transform` for the elements of `C<N>`, `D<N>`,
`SO2` and `O2` that do not permute pixels. Output point `p` reads the
input at `g^-1 p`, interpolated bilinearly from its four neighbours (zero
outside the grid), and its channels are mixed by `rho(g)`. Interpolation
blurs, and the grid's corners rotate out of the picture, so a layer is
equivariant to these rotations only approximately, and only for smooth
inputs that vanish towards the border. Angles that are multiples of 90
degrees (up to 1e-9) reproduce the exact pixel permutation.
"""

import math

import numpy as np
from keras import ops

from keras_approxeq import groups
from keras_approxeq import representations
from keras_approxeq._memo import constants
from keras_approxeq._memo import memoize
from keras_approxeq.steerable import field_matrix

__all__ = ["rotate"]


def rotate(x, group, element, fields, channels_first):
    """`(g f)(p) = rho(g) f(g^-1 p)` for a batch `x` of 2D feature maps.

    Args:
        x: A tensor `(batch, n, n, channels)` (or channels first).
        group: A 2D group.
        element: An element index (finite groups), an angle (`SO2`) or an
            `(angle, mirror)` pair (`O2`).
        fields: Tuple of the channels' field type names.
        channels_first: Whether `x` is channels first.

    Returns:
        A tensor of `x`'s shape and dtype.
    """
    if channels_first:
        x = ops.moveaxis(x, 1, -1)
    batch_shape = tuple(x.shape)
    spatial, channels = batch_shape[1:-1], batch_shape[-1]
    key = element if isinstance(element, tuple) else (element,)
    maps = _maps(group.name, key, fields, channels, spatial)
    index, weight, matrix = constants(maps["tensors"], x, maps["arrays"])
    flat = ops.reshape(x, (-1, math.prod(spatial), channels))
    gathered = ops.take(flat, index, axis=1)  # (batch, points, 4, channels)
    moved = ops.sum(gathered * weight[None, :, :, None], axis=2)
    y = ops.reshape(ops.einsum("bpc,dc->bpd", moved, matrix), batch_shape)
    return ops.moveaxis(y, -1, 1) if channels_first else y


@memoize
def _maps(group_name, key, fields, channels, spatial):
    group = groups.get(group_name, 2)
    element = key if len(key) > 1 else key[0]
    theta, mirror = group.angle(element)
    if len(spatial) != 2 or spatial[0] != spatial[1]:
        raise ValueError(
            f"Rotating by {theta:.4g} radians needs square 2D feature maps. "
            f"Received spatial shape {spatial}."
        )
    n = spatial[0]
    centre = (n - 1) / 2
    points = np.indices(spatial).reshape(2, -1) - centre
    c, s = math.cos(theta), math.sin(theta)
    inverse = np.diag([1.0, -1.0 if mirror else 1.0]) @ np.array(
        [[c, s], [-s, c]]
    )
    source = np.round(inverse @ points + centre, 9)  # (2, points)
    low = np.floor(source).astype(np.int64)
    frac = source - low
    index, weight = [], []
    for dr, dc in ((0, 0), (1, 0), (0, 1), (1, 1)):
        row, col = low[0] + dr, low[1] + dc
        w = (frac[0] if dr else 1 - frac[0]) * (frac[1] if dc else 1 - frac[1])
        inside = (row >= 0) & (row < n) & (col >= 0) & (col < n)
        index.append(np.where(inside, row * n + col, 0))
        weight.append(np.where(inside, w, 0.0))
    matrix = _channel_matrix(group, fields, channels, element)
    arrays = (np.stack(index, 1).astype(np.int32), np.stack(weight, 1), matrix)
    return {"arrays": arrays, "tensors": {}}


def _channel_matrix(group, fields, channels, element):
    """`rho(g)` on all channels: a block per field."""
    matrix = np.zeros((channels, channels))
    rep = representations.Representation(group, fields)
    for field, index in rep.field_channels(channels).items():
        block = field_matrix(group, field, element)
        for rows in index:
            matrix[np.ix_(rows, rows)] = block
    return matrix
