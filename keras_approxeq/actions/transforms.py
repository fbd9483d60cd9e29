"""Applying one group element to a batch of feature maps."""

import math

import numpy as np
from keras import ops

from keras_approxeq._memo import Constants
from keras_approxeq._memo import memoize
from keras_approxeq._warnings import keyword_only
from keras_approxeq.actions import data_formats
from keras_approxeq.actions import interpolation
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry import representations
from keras_approxeq.symmetry.representations import Representation

__all__ = ["transform"]


@keyword_only("rep", "data_format")
def transform(x, group, element, *, rep="trivial", data_format=None):
    """Applies group element `element` to a batch of features.

    The features transform as `(g f)(p) = rho(g) f(g^-1 p)`: the value at
    grid point `p` moves to `g p` (see `keras_approxeq.symmetry.groups` for the
    rotation sense and the mirror axis) and its channels are mixed by
    `rho(g)` (see `keras_approxeq.symmetry.representations`). This is the action
    under which a kernel projected by `keras_approxeq.project` is
    equivariant: with an odd kernel, stride 1 and `padding="same"` on a
    square (cubic) input, `layer(transform(x, g)) == transform(layer(x), g)`
    exactly. Rotations by multiples of 90 degrees and flips permute pixels
    exactly; other angles (`C8`, `SO2`, `SO3`, ...) interpolate
    (bilinearly in 2D, trilinearly in 3D; see
    `keras_approxeq.actions.interpolation`), so equivariance to them holds only
    approximately, for smooth inputs.

    Args:
        x: Features of shape `(batch, spatial..., channels)`, or
            `(batch, channels, spatial...)` with `"channels_first"`, or
            `(batch, channels)` for Dense layers. A NumPy array or a backend
            tensor.
        group: A group name or a group object; it must act on grids of `x`'s
            spatial dimension.
        element: The group element: an index in `range(group.order)`, an
            angle in radians for `SO2`, an `(angle, mirror)` pair for `O2`,
            a `3x3` orthogonal matrix for `SO3`/`O3`.
        rep: The representation of the channels.
        data_format: `"channels_last"` or `"channels_first"`; defaults to
            `keras.config.image_data_format()`. Ignored for rank-2 `x`.

    Returns:
        A backend tensor of `x`'s shape and dtype.

    Example:

    >>> import numpy as np
    >>> x = np.arange(4.0).reshape(1, 2, 2, 1)
    >>> y = transform(x, "C4", 1, data_format="channels_last")
    >>> np.asarray(y)[0, :, :, 0].tolist()  # like np.rot90
    [[1.0, 3.0], [0.0, 2.0]]
    """
    x = ops.convert_to_tensor(x)
    shape = tuple(x.shape)
    if len(shape) < 2:
        raise ValueError(
            "Expected features of shape (batch, spatial..., channels) or "
            f"(batch, channels). Received: shape {shape}."
        )
    data_format = data_formats.standardize(data_format)
    if len(shape) == 2:
        data_format = "channels_last"
    if data_format == "channels_first":
        channels, spatial = shape[1], shape[2:]
    else:
        channels, spatial = shape[-1], shape[1:-1]
    group = groups.get(group, ndim=len(spatial) or None)
    element = _validate_element(group, element)
    fields = representations.normalize(rep)
    if not group.is_grid_exact:
        return interpolation.rotate(
            x, group, element, fields, data_format == "channels_first"
        )
    maps = _index_maps(
        group.name, group.ndim, int(element), fields, channels, spatial
    )
    source, channel_source, sign = maps.like(x)
    channel_axis = 1 if data_format == "channels_first" else -1
    sign_shape = [1] * 3 if spatial else [1, 1]
    sign_shape[channel_axis] = channels
    y = x
    if spatial:
        flat_shape = (-1, channels, math.prod(spatial))
        spatial_axis = 2
        if data_format == "channels_last":
            flat_shape = (-1, math.prod(spatial), channels)
            spatial_axis = 1
        y = ops.take(ops.reshape(y, flat_shape), source, axis=spatial_axis)
    y = ops.take(y, channel_source, axis=channel_axis)
    y = y * ops.reshape(sign, sign_shape)
    return ops.reshape(y, (-1, *shape[1:]))  # the batch may be unknown


def _validate_element(group, element):
    if group.order is not None:
        valid = isinstance(element, (int, np.integer)) and not isinstance(
            element, bool
        )
        if valid and 0 <= element < group.order:
            return int(element)
        expected = f"an integer in [0, {group.order})"
    elif group.ndim == 3:  # SO3, O3: a hashable matrix
        return tuple(map(tuple, group.matrix(element).tolist()))
    else:
        number = (int, float, np.integer, np.floating)
        if isinstance(element, number) and math.isfinite(element):
            return float(element)
        if group.reflections and isinstance(element, tuple):
            if len(element) == 2 and isinstance(element[0], number):
                return float(element[0]), bool(element[1])
        expected = "an angle in radians"
        if group.reflections:
            expected += " or an (angle, mirror) pair"
    raise ValueError(
        f"Expected `element` to be {expected} for group {group.name}. "
        f"Received: element={element!r}."
    )


@memoize
def _index_maps(group_name, ndim, element, fields, channels, spatial):
    """Gather indices for one element: output `p` reads input `g^-1 p`."""
    group = groups.get(group_name, ndim)
    source = np.zeros(0, np.int32)
    if spatial:
        perms = group.grid_permutations(spatial, "feature map")
        source = perms[group.inverses[element]].astype(np.int32)
    rep = Representation(group, fields)
    perm, sign = rep.signed_permutation(channels, elements=[element])
    channel_source = np.argsort(perm[0]).astype(np.int32)
    return Constants(source, channel_source, sign[0][channel_source])
