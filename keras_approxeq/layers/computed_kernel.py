"""A convolution (or Dense layer) whose kernel is computed from weights."""

import keras
from keras import ops

from keras_approxeq._checks import is_int
from keras_approxeq._checks import require
from keras_approxeq.actions import data_formats

__all__ = ["ComputedKernelLayer"]


class ComputedKernelLayer(keras.layers.Layer):
    """Base of the layers whose kernel is a function of their weights.

    Subclasses create their weights in `build_kernel(input_channels)` and
    return the kernel, `(*kernel_size, in, out)` (`(in, out)` for
    `rank=0`, a Dense layer), from `kernel()`. This class does the rest as
    `keras.layers.Conv2D` does: strides, padding, data format, dilation,
    a bias and an activation.

    Args:
        rank: 0 (Dense), 1, 2 or 3 spatial dimensions.
        filters: Output channels.
        kernel_size: An int or a tuple of `rank` ints (ignored for Dense).
        strides, padding, data_format, dilation_rate: As for Keras
            convolutions.
        activation, use_bias, bias_initializer, bias_regularizer,
        bias_constraint: As for Keras convolutions.
        **kwargs: Base `Layer` arguments.
    """

    def __init__(
        self,
        rank,
        filters,
        kernel_size=1,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        bias_initializer="zeros",
        bias_regularizer=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        require(
            is_int(rank, 0) and rank <= 3,
            "rank",
            rank,
            "0 (Dense), 1, 2 or 3 (spatial dimensions)",
        )
        require(is_int(filters, 1), "filters", filters, "a positive int")
        self.rank = rank
        self.filters = int(filters)
        self.kernel_size = _tuple(
            kernel_size if rank else (), rank, "kernel_size"
        )
        self.strides = _tuple(strides, rank, "strides")
        self.dilation_rate = _tuple(dilation_rate, rank, "dilation_rate")
        self.padding = padding
        self.data_format = data_formats.standardize(data_format)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.bias_constraint = keras.constraints.get(bias_constraint)

    def _channel_axis(self):
        if self.rank == 0:  # a Dense layer: the last axis, at any rank
            return -1
        return data_formats.channel_axis(self.rank + 2, self.data_format)

    def build(self, input_shape):
        self.build_kernel(input_shape[self._channel_axis()])
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.filters,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def call(self, x):
        kernel = self.kernel()
        if self.rank == 0:
            y = ops.matmul(x, kernel)
        else:
            y = ops.conv(
                x,
                kernel,
                strides=self.strides,
                padding=self.padding,
                data_format=self.data_format,
                dilation_rate=self.dilation_rate,
            )
        if self.use_bias:
            shape = [1] * len(y.shape)
            shape[self._channel_axis()] = self.filters
            y = y + ops.reshape(self.bias, shape)
        return self.activation(y) if self.activation else y

    def compute_output_shape(self, input_shape):
        if self.rank == 0:
            return (*input_shape[:-1], self.filters)
        channels_first = self.data_format == "channels_first"
        outputs = ops.conv(  # symbolic: only the shape is computed
            keras.KerasTensor(_one_channel(input_shape, channels_first)),
            keras.KerasTensor((*self.kernel_size, 1, self.filters)),
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate,
        )
        return tuple(outputs.shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
                "bias_regularizer": keras.regularizers.serialize(
                    self.bias_regularizer
                ),
                "bias_constraint": keras.constraints.serialize(
                    self.bias_constraint
                ),
            }
        )
        return config


def _one_channel(shape, channels_first):
    shape = list(shape)
    shape[1 if channels_first else -1] = 1
    return tuple(shape)


def _tuple(value, rank, name):
    if is_int(value, 1):
        return (int(value),) * rank
    try:
        values = tuple(value)
    except TypeError:
        values = None
    if (
        values is None
        or len(values) != rank
        or not all(is_int(v, 1) for v in values)
    ):
        raise ValueError(
            f"Expected `{name}` to be a positive int or {rank} of them. "
            f"Received: {name}={value!r}."
        )
    return tuple(int(v) for v in values)
