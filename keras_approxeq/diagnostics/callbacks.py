"""`EquivarianceMonitor`: equivariance in the training logs."""

import keras
import numpy as np

from keras_approxeq.actions import data_formats
from keras_approxeq.diagnostics.error import equivariance_error
from keras_approxeq.diagnostics.error import validated_num_elements
from keras_approxeq.diagnostics.report import regularized_weights
from keras_approxeq.diagnostics.report import relative_residual
from keras_approxeq.diagnostics.report import weight_and_projection
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry import representations

__all__ = ["EquivarianceMonitor"]


@keras.saving.register_keras_serializable(package="keras_approxeq")
class EquivarianceMonitor(keras.callbacks.Callback):
    """Writes how equivariant the model is into the logs, every epoch.

    For each weight with a `ProjectionRegularizer` it adds
    `"<prefix>/<weight path>"`: `||T - P T||_F / ||T||_F`; with a batch `x`
    and a `group`, also `"<prefix>_error"`: `equivariance_error(model, x,
    group, in_rep, out_rep)`. `History` then holds the curves
    (`plot_equivariance` draws them) and a `TensorBoard` callback listed
    after this one writes them as scalars.

    Args:
        x: Optional batch of inputs for the model's equivariance error.
        group: The group for that error (a name).
        in_rep: The representation of `x`'s channels.
        out_rep: The representation of the model's outputs.
        data_format: As for `equivariance_error`.
        num_elements: As for `equivariance_error`.
        prefix: Prefix of the log keys.

    Example:

    >>> from keras_approxeq import ProjectionRegularizer
    >>> x = np.random.default_rng(0).normal(size=(4, 8, 8, 1))
    >>> model = keras.Sequential([
    ...     keras.Input((8, 8, 1)),
    ...     keras.layers.Conv2D(
    ...         2, 3, padding="same",
    ...         kernel_regularizer=ProjectionRegularizer("C4"),
    ...     ),
    ...     keras.layers.GlobalAveragePooling2D(),
    ... ])
    >>> model.compile("adam", "mse")
    >>> monitor = EquivarianceMonitor(x[:2], group="C4")
    >>> history = model.fit(
    ...     x, np.zeros((4, 2)), epochs=2, verbose=0, callbacks=[monitor]
    ... )
    >>> len(history.history["equivariance_error"])  # one per epoch
    2
    >>> any(key.startswith("equivariance/") for key in history.history)
    True
    """

    def __init__(
        self,
        x=None,
        group=None,
        in_rep="trivial",
        out_rep="trivial",
        data_format=None,
        num_elements=None,
        prefix="equivariance",
    ):
        super().__init__()
        if (x is None) != (group is None):
            raise ValueError(
                "Pass both `x` and `group` to log the model's equivariance "
                "error, or neither. Received: "
                f"x={'None' if x is None else 'a batch'}, group={group!r}."
            )
        self.x = None if x is None else np.asarray(x)
        self.group = None if group is None else groups.get(group).name
        self.in_rep = representations.validated(in_rep, "in_rep")
        self.out_rep = representations.validated(out_rep, "out_rep")
        if data_format is not None:
            data_formats.standardize(data_format)
        self.data_format = data_format
        self.num_elements = validated_num_elements(num_elements)
        self.prefix = prefix

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for variable, regularizer in regularized_weights(self.model):
            kernel, projected = weight_and_projection(variable, regularizer)
            ratio = relative_residual(kernel, projected)
            logs[f"{self.prefix}/{variable.path}"] = ratio
        if self.x is not None:
            logs[f"{self.prefix}_error"] = equivariance_error(
                self.model,
                self.x,
                self.group,
                in_rep=self.in_rep,
                out_rep=self.out_rep,
                data_format=self.data_format,
                num_elements=self.num_elements,
            )

    def get_config(self):
        return {
            "x": self.x,
            "group": self.group,
            "in_rep": self.in_rep,
            "out_rep": self.out_rep,
            "data_format": self.data_format,
            "num_elements": self.num_elements,
            "prefix": self.prefix,
        }

    @classmethod
    def from_config(cls, config):
        # Keras' Callback has no `from_config`, and Keras leaves the array
        # `x` serialized inside the config.
        config = dict(config)
        if isinstance(config.get("x"), dict):
            config["x"] = keras.saving.deserialize_keras_object(config["x"])
        return cls(**config)
