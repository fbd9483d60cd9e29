"""Measuring how equivariant a function is."""

import numpy as np
from keras import ops

from keras_approxeq._checks import is_int
from keras_approxeq._warnings import keyword_only
from keras_approxeq.actions.transforms import transform
from keras_approxeq.symmetry import groups

__all__ = ["equivariance_error"]


@keyword_only("in_rep", "out_rep", "data_format", "num_elements", "seed")
def equivariance_error(
    fn,
    x,
    group,
    *,
    in_rep="trivial",
    out_rep="trivial",
    data_format=None,
    num_elements=None,
    seed=0,
):
    """The relative equivariance error of `fn` on a batch, over the group.

        max_g max |fn(g x) - g fn(x)| / max |fn(x)|

    with `g` acting as in `keras_approxeq.transform`. It is 0 for an exactly
    equivariant `fn` (up to rounding), and about 1 or more for a function
    that ignores the symmetry. An invariant function has
    `out_rep="trivial"` and outputs without spatial axes.

    Args:
        fn: A callable from a batch to a batch, e.g. a layer or a model.
        x: A batch of inputs, `(batch, spatial..., channels)` (or channels
            first) or `(batch, channels)`.
        group: A group name or a group object.
        in_rep: The representation of `x`'s channels.
        out_rep: The representation of `fn(x)`'s channels.
        data_format: `"channels_last"` or `"channels_first"`; defaults to
            `keras.config.image_data_format()`.
        num_elements: Check this many random elements (without the
            identity) instead of all. `None` checks all elements of groups
            of order up to 1024, 64 random ones of larger groups (`S7` and
            up) and 16 random ones of `SO2`, `O2` (angles, mirrors) and
            `SO3`, `O3` (uniformly random rotations, inversions).
        seed: Seed of the random elements.

    Returns:
        A Python float.

    Example:

    >>> import keras
    >>> from keras_approxeq import project
    >>> layer = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)
    >>> layer.build((None, 9, 9, 4))
    >>> reps = dict(in_rep="regular", out_rep="regular")
    >>> x = np.random.default_rng(0).normal(size=(2, 9, 9, 4))
    >>> equivariance_error(layer, x, "C4", **reps) > 0.1  # a random kernel
    True
    >>> _ = layer.kernel.assign(project(layer.kernel, "C4", **reps))
    >>> equivariance_error(layer, x, "C4", **reps) < 1e-5
    True
    """
    x = ops.convert_to_tensor(x)
    y = fn(x)
    ndim = len(x.shape) - 2
    group = groups.get(group, ndim=ndim or None)
    scale = _max_abs(y)
    worst = 0.0
    for g in _elements(group, num_elements, seed):
        gx = transform(x, group, g, rep=in_rep, data_format=data_format)
        gy = transform(y, group, g, rep=out_rep, data_format=data_format)
        worst = max(worst, _max_abs(fn(gx) - gy))
    return worst / scale if scale > 0 else worst


def _elements(group, num_elements, seed):
    if num_elements is None:
        if group.is_finite and group.order <= 1024:
            return group.elements
        num_elements = 64 if group.is_finite else 16
    return group.sample(validated_num_elements(num_elements), seed)


def validated_num_elements(num_elements):
    """`num_elements`: `None` or a positive int, else a `ValueError`."""
    if num_elements is None:
        return None
    if not is_int(num_elements, 1):
        raise ValueError(
            "Expected `num_elements` to be a positive integer or None. "
            f"Received: num_elements={num_elements!r}."
        )
    return int(num_elements)


def _max_abs(t):
    return float(np.max(np.abs(ops.convert_to_numpy(t))))
