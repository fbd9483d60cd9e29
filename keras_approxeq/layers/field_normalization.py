"""`FieldNormalization`: batch normalisation that respects field types."""

import keras
import numpy as np
from keras import ops

from keras_approxeq import _ops
from keras_approxeq._checks import is_number
from keras_approxeq._checks import require
from keras_approxeq._memo import Constants
from keras_approxeq._warnings import keyword_only
from keras_approxeq.actions import data_formats
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry.representations import PERMUTATION_FIELDS
from keras_approxeq.symmetry.representations import Representation
from keras_approxeq.symmetry.representations import validated

__all__ = ["FieldNormalization"]


@keras.saving.register_keras_serializable(package="keras_approxeq")
class FieldNormalization(keras.layers.Layer):
    """Batch normalisation with statistics and affine shared per field.

    `keras.layers.BatchNormalization` keeps a mean, a variance, a scale and
    an offset per channel, which breaks equivariance as soon as a group
    element moves channels (regular fields) or mixes them (vector fields).
    Here every field shares them:

    * trivial, regular and natural fields and the invariant irreps
      (`"irrep0"`, `"irrep0e"`): the mean and variance over the batch, the
      spatial axes and the field's channels; one scale and one offset per
      field;
    * other fields (vectors, the other irreps, pseudo-scalars): no mean is
      subtracted (it would not be invariant); they are divided by the root
      mean square of their components over the batch, the spatial axes and
      the field, and multiplied by one scale per field.

    Moving averages of the statistics serve at inference, as in
    `BatchNormalization`.

    Args:
        group: The group (see `ProjectionRegularizer`).
        rep: The channels' representation (a name or a list: a direct
            sum, repeated over the channels).
        momentum: Of the moving averages.
        epsilon: Added to the variances.
        data_format: `"channels_last"` or `"channels_first"`; defaults to
            `keras.config.image_data_format()`.
        **kwargs: Base `Layer` arguments.

    Example:

    >>> layer = FieldNormalization("C4", rep="regular")
    >>> y = layer(np.ones((2, 5, 5, 8), "float32"))  # 2 fields of 4
    >>> tuple(y.shape)
    (2, 5, 5, 8)

    In a network, after a group convolution:

    ```python
    x = GroupConv2D(8, 3, group="C4", padding="same")(x)
    x = FieldNormalization("C4", rep="regular")(x)
    x = keras.layers.ReLU()(x)
    ```
    """

    @keyword_only("rep", "momentum", "epsilon", "data_format")
    def __init__(
        self,
        group,
        *,
        rep="regular",
        momentum=0.99,
        epsilon=1e-3,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.group = groups.get(group).name
        self.rep = validated(rep)
        require(
            is_number(momentum) and 0 <= momentum < 1,
            "momentum",
            momentum,
            "a number in [0, 1) (of the moving averages)",
        )
        require(
            is_number(epsilon) and epsilon >= 0,
            "epsilon",
            epsilon,
            "a finite number >= 0 (added to the variances)",
        )
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.data_format = data_formats.standardize(data_format)

    def _channel_axis(self, rank):
        return data_formats.channel_axis(rank, self.data_format)

    def build(self, input_shape):
        axis = self._channel_axis(len(input_shape))
        channels = input_shape[axis]
        ndim = len(input_shape) - 2
        group = groups.get(self.group, ndim or None)
        index = Representation(group, self.rep).field_channels(
            channels, "channels"
        )
        shiftable, start = [], 0
        field_of = np.zeros(channels, np.int64)
        for field, rows in index.items():
            for channels_of_field in rows:
                field_of[channels_of_field] = start
                # A field whose components the group only permutes has an
                # invariant mean, which may be subtracted.
                shiftable.append(field in PERMUTATION_FIELDS)
                start += 1
        fields = start
        membership = np.zeros((channels, fields))
        membership[np.arange(channels), field_of] = 1.0
        # (C, F) averaging over a field's channels, and (F, C) broadcasting.
        self._constants = Constants(
            membership / membership.sum(0),
            membership.T,
            np.array(shiftable, np.float64),
        )
        self.gamma = self.add_weight(
            name="gamma", shape=(fields,), initializer="ones"
        )
        self.beta = self.add_weight(
            name="beta", shape=(fields,), initializer="zeros"
        )
        self.moving_mean = self.add_weight(
            name="moving_mean",
            shape=(fields,),
            initializer="zeros",
            trainable=False,
        )
        self.moving_variance = self.add_weight(
            name="moving_variance",
            shape=(fields,),
            initializer="ones",
            trainable=False,
        )

    def call(self, x, training=None):
        rank = len(x.shape)
        axis = self._channel_axis(rank)
        reduce = tuple(a for a in range(rank) if a != axis)
        average, broadcast, shiftable = self._constants.like(x)
        if training:
            channel_mean = _ops.mean(x, axis=reduce)
            channel_square = _ops.mean(ops.square(x), axis=reduce)
            mean = _ops.matmul(channel_mean, average) * shiftable
            variance = _ops.matmul(channel_square, average) - ops.square(mean)
            for variable, value in (
                (self.moving_mean, mean),
                (self.moving_variance, variance),
            ):
                variable.assign(
                    self.momentum * variable
                    + (1 - self.momentum) * ops.cast(value, variable.dtype)
                )
        else:
            mean = ops.cast(self.moving_mean, x.dtype) * shiftable
            variance = ops.cast(self.moving_variance, x.dtype)
        scale = self.gamma * ops.rsqrt(variance + self.epsilon)
        offset = self.beta * shiftable - mean * scale
        shape = [1] * rank
        shape[axis] = -1
        scale = ops.reshape(_ops.matmul(scale, broadcast), shape)
        offset = ops.reshape(_ops.matmul(offset, broadcast), shape)
        return x * scale + offset

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "group": self.group,
                "rep": self.rep,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "data_format": self.data_format,
            }
        )
        return config
