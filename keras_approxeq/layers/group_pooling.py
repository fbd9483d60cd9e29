"""`GroupPooling`: regular fields to invariant channels."""

import keras
from keras import ops

from keras_approxeq import _ops
from keras_approxeq._warnings import keyword_only
from keras_approxeq.actions import data_formats
from keras_approxeq.symmetry import groups

__all__ = ["GroupPooling"]


@keras.saving.register_keras_serializable(package="keras_approxeq")
class GroupPooling(keras.layers.Layer):
    """Pools each regular field over its group axis: `|G|` channels to 1.

    A regular field is `|G|` consecutive channels, one per group element
    (see `keras_approxeq.symmetry.representations`); a group element permutes
    them within the field. Their maximum (or mean) is invariant, so the output
    channels are trivial fields: `(..., fields * |G|)` becomes
    `(..., fields)`. It acts on the channel axis only; put it after the
    last group convolution, before spatial pooling.

    Args:
        group: A finite group name, e.g. `"C4"`, `"D4"`, `"C8"`, `"O"`.
        mode: `"max"` (default) or `"mean"`.
        data_format: `"channels_last"` or `"channels_first"`; defaults to
            `keras.config.image_data_format()`. Ignored for rank-2 inputs.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...).

    Example:

    >>> import numpy as np
    >>> layer = GroupPooling("C4", data_format="channels_last")
    >>> x = np.arange(8.0).reshape(1, 1, 1, 8)
    >>> np.asarray(layer(x)).ravel().tolist()
    [3.0, 7.0]
    """

    @keyword_only("mode", "data_format")
    def __init__(self, group, *, mode="max", data_format=None, **kwargs):
        super().__init__(**kwargs)
        resolved = groups.get_finite(
            group,
            user="GroupPooling",
            hint="Use e.g. 'C8' instead of 'SO2', or pool invariant "
            "(irrep0) channels directly.",
        )
        if mode not in ("max", "mean"):
            raise ValueError(
                "Expected `mode` to be 'max' or 'mean'. Received: "
                f"mode={mode!r}."
            )
        self.group = resolved.name
        self.order = resolved.order
        self.mode = mode
        self.data_format = data_formats.standardize(data_format)

    def _channel_axis(self, rank):
        return data_formats.channel_axis(rank, self.data_format)

    def build(self, input_shape):
        axis = self._channel_axis(len(input_shape))
        channels = input_shape[axis]
        if channels is not None and channels % self.order:
            raise ValueError(
                f"GroupPooling({self.group!r}) pools regular fields of "
                f"{self.order} channels, so the channel count must be a "
                f"multiple of {self.order}. Received input shape "
                f"{tuple(input_shape)} ({channels} channels on axis {axis})."
            )

    def call(self, x):
        shape = ops.shape(x)
        axis = self._channel_axis(len(x.shape))
        fields = x.shape[axis] // self.order
        split = (*shape[:axis], fields, self.order, *shape[axis + 1 :])
        x = ops.reshape(x, split)
        pool = ops.max if self.mode == "max" else _ops.mean
        return pool(x, axis=axis + 1)

    def compute_output_shape(self, input_shape):
        axis = self._channel_axis(len(input_shape))
        shape = list(input_shape)
        if shape[axis] is not None:
            shape[axis] //= self.order
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "group": self.group,
                "mode": self.mode,
                "data_format": self.data_format,
            }
        )
        return config
