"""Group convolutions as plain convolutions with a projection penalty.

`LiftingConv2D`, `GroupConv2D` (and `LiftingConv3D`, `GroupConv3D`) are
Keras convolutions whose output channels are regular fields of a finite
group, with a `ProjectionRegularizer` attached to the kernel and the bias.
With a large `lambda_perp` (or after `project_weights`) they are exactly
the group convolutions of Cohen & Welling (2016); with a small one, an
approximately equivariant CNN:

```python
model = keras.Sequential([
    keras.Input((28, 28, 1)),
    LiftingConv2D(8, 3, group="C4", padding="same", activation="relu"),
    GroupConv2D(8, 3, group="C4", padding="same", activation="relu"),
    GroupPooling("C4"),
    keras.layers.GlobalAveragePooling2D(),
    keras.layers.Dense(10),
])
```
"""

import keras

from keras_approxeq._checks import is_int
from keras_approxeq._checks import require
from keras_approxeq._warnings import keyword_only
from keras_approxeq.penalties.regularizer import ProjectionRegularizer
from keras_approxeq.symmetry import groups

__all__ = ["GroupConv2D", "GroupConv3D", "LiftingConv2D", "LiftingConv3D"]


class _RegularOutput:
    """Shared by the four classes: the arguments and the config.

    A subclass sets the Keras convolution it extends (`_base`, `_ndim`)
    and its defaults for `group` and `in_rep` (`_group`, `_in_rep`).
    """

    _base = _ndim = _group = _in_rep = None

    @keyword_only("group", "in_rep", renamed={"fields": "num_fields"})
    def __init__(
        self,
        num_fields,
        kernel_size,
        *,
        group=None,
        in_rep=None,
        norm="fro",
        lambda_perp=1e-2,
        lambda_g=0.0,
        domain="spatial",
        **kwargs,
    ):
        resolved = groups.get_finite(
            group or self._group,
            self._ndim,
            user=type(self).__name__,
            hint="Use a finite one such as 'C8', or a Conv layer with a "
            "ProjectionRegularizer on irreps.",
        )
        require(
            is_int(num_fields, 1),
            "num_fields",
            num_fields,
            "a positive int (the number of regular fields)",
        )
        self.num_fields, self.group = int(num_fields), resolved.name
        self.in_rep = in_rep or self._in_rep
        self.penalty = {
            "norm": norm,
            "lambda_perp": lambda_perp,
            "lambda_g": lambda_g,
            "domain": domain,
        }
        regularizer = ProjectionRegularizer(
            self.group, in_rep=self.in_rep, out_rep="regular", **self.penalty
        )
        # Saved as normalised: a deprecated alias warns once, not on reload.
        self.penalty["domain"] = regularizer.domain
        kwargs.setdefault("kernel_regularizer", regularizer)
        kwargs.setdefault("bias_regularizer", regularizer)
        self._base.__init__(
            self,
            filters=self.num_fields * resolved.order,
            kernel_size=kernel_size,
            **kwargs,
        )

    def get_config(self):
        config = self._base.get_config(self)
        config.pop("filters")
        config.update(
            {
                "num_fields": self.num_fields,
                "group": self.group,
                "in_rep": self.in_rep,
            }
        )
        config.update(self.penalty)
        return config


@keras.saving.register_keras_serializable(package="keras_approxeq")
class LiftingConv2D(_RegularOutput, keras.layers.Conv2D):
    """A `Conv2D` from scalar (or other) fields to regular fields of
    `group`, penalised towards equivariance: the first layer of a group
    CNN.

    Args:
        num_fields: Number of output regular fields; the layer has
            `num_fields * |G|` output channels.
        kernel_size: As for the Keras convolution.
        group: A finite group acting on 2D grids: `"C4"`, `"D4"`, `"C8"`,
            `"D16"`, ... Default `"C4"`.
        in_rep: The input channels' representation. Default `"trivial"`.
        **kwargs: Every other argument of the Keras convolution
            (`strides`, `padding`, `activation`, `use_bias`, initializers,
            constraints, ...). A `kernel_regularizer` or
            `bias_regularizer` given here replaces the default one.

    Keyword Args:
        norm: The penalty's norm (see `ProjectionRegularizer`). Default
            `"fro"`.
        lambda_perp: Weight of the non-equivariant part's norm. Default
            `1e-2`.
        lambda_g: Weight of the equivariant part's norm. Default `0.0`.
        domain: `"spatial"` (default) or `"fourier"`.

    Example:

    >>> layer = LiftingConv2D(8, 3, group="C4", padding="same")
    >>> tuple(layer(keras.ops.zeros((1, 9, 9, 1))).shape)
    (1, 9, 9, 32)
    """

    _base, _ndim = keras.layers.Conv2D, 2
    _group, _in_rep = "C4", "trivial"


@keras.saving.register_keras_serializable(package="keras_approxeq")
class GroupConv2D(_RegularOutput, keras.layers.Conv2D):
    """A `Conv2D` between regular fields of `group`, penalised
    towards equivariance: a group convolution when exact.

    Args:
        num_fields: Number of output regular fields; the layer has
            `num_fields * |G|` output channels.
        kernel_size: As for the Keras convolution.
        group: A finite group acting on 2D grids: `"C4"`, `"D4"`, `"C8"`,
            `"D16"`, ... Default `"C4"`.
        in_rep: The input channels' representation. Default `"regular"`.
        **kwargs: Every other argument of the Keras convolution
            (`strides`, `padding`, `activation`, `use_bias`, initializers,
            constraints, ...). A `kernel_regularizer` or
            `bias_regularizer` given here replaces the default one.

    Keyword Args:
        norm: The penalty's norm (see `ProjectionRegularizer`). Default
            `"fro"`.
        lambda_perp: Weight of the non-equivariant part's norm. Default
            `1e-2`.
        lambda_g: Weight of the equivariant part's norm. Default `0.0`.
        domain: `"spatial"` (default) or `"fourier"`.

    Example:

    >>> layer = GroupConv2D(8, 3, group="C4", padding="same")
    >>> tuple(layer(keras.ops.zeros((1, 9, 9, 32))).shape)
    (1, 9, 9, 32)
    """

    _base, _ndim = keras.layers.Conv2D, 2
    _group, _in_rep = "C4", "regular"


@keras.saving.register_keras_serializable(package="keras_approxeq")
class LiftingConv3D(_RegularOutput, keras.layers.Conv3D):
    """A `Conv3D` from scalar (or other) fields to regular fields of
    `group` (`"O"`: 24 channels per field), penalised towards equivariance.

    Args:
        num_fields: Number of output regular fields; the layer has
            `num_fields * |G|` output channels.
        kernel_size: As for the Keras convolution.
        group: A finite group acting on 3D grids: `"O"` (the cube's 24
            rotations) or `"Oh"` (with its reflections, 48). Default
            `"O"`.
        in_rep: The input channels' representation. Default `"trivial"`.
        **kwargs: Every other argument of the Keras convolution
            (`strides`, `padding`, `activation`, `use_bias`, initializers,
            constraints, ...). A `kernel_regularizer` or
            `bias_regularizer` given here replaces the default one.

    Keyword Args:
        norm: The penalty's norm (see `ProjectionRegularizer`). Default
            `"fro"`.
        lambda_perp: Weight of the non-equivariant part's norm. Default
            `1e-2`.
        lambda_g: Weight of the equivariant part's norm. Default `0.0`.
        domain: `"spatial"` (default) or `"fourier"`.

    Example:

    >>> layer = LiftingConv3D(2, 3, group="O", padding="same")
    >>> tuple(layer(keras.ops.zeros((1, 5, 5, 5, 1))).shape)
    (1, 5, 5, 5, 48)
    """

    _base, _ndim = keras.layers.Conv3D, 3
    _group, _in_rep = "O", "trivial"


@keras.saving.register_keras_serializable(package="keras_approxeq")
class GroupConv3D(_RegularOutput, keras.layers.Conv3D):
    """A `Conv3D` between regular fields of `group`, penalised
    towards equivariance.

    Args:
        num_fields: Number of output regular fields; the layer has
            `num_fields * |G|` output channels.
        kernel_size: As for the Keras convolution.
        group: A finite group acting on 3D grids: `"O"` (the cube's 24
            rotations) or `"Oh"` (with its reflections, 48). Default
            `"O"`.
        in_rep: The input channels' representation. Default `"regular"`.
        **kwargs: Every other argument of the Keras convolution
            (`strides`, `padding`, `activation`, `use_bias`, initializers,
            constraints, ...). A `kernel_regularizer` or
            `bias_regularizer` given here replaces the default one.

    Keyword Args:
        norm: The penalty's norm (see `ProjectionRegularizer`). Default
            `"fro"`.
        lambda_perp: Weight of the non-equivariant part's norm. Default
            `1e-2`.
        lambda_g: Weight of the equivariant part's norm. Default `0.0`.
        domain: `"spatial"` (default) or `"fourier"`.

    Example:

    >>> layer = GroupConv3D(1, 3, group="O", padding="same")
    >>> tuple(layer(keras.ops.zeros((1, 5, 5, 5, 48))).shape)
    (1, 5, 5, 5, 24)
    """

    _base, _ndim = keras.layers.Conv3D, 3
    _group, _in_rep = "O", "regular"
