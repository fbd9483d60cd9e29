"""The sample-based baseline: penalise `f(g x) - g f(x)` on the batch."""

import functools

import keras
from keras import ops

from keras_approxeq._checks import is_int
from keras_approxeq._checks import is_number
from keras_approxeq._checks import require
from keras_approxeq.actions import data_formats
from keras_approxeq.actions.transforms import transform
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry import representations

__all__ = ["SampledEquivariance"]


@keras.saving.register_keras_serializable(package="keras_approxeq")
class SampledEquivariance(keras.Model):
    """Wraps a model; in training, adds a sample-based equivariance loss.

    Each training step draws `num_samples` group elements `g` and adds

        weight * mean_g mean((f(g x) - g f(x))^2)

    to the loss, the regulariser that the projection penalty replaces (it
    needs `num_samples` extra forward and backward passes per step, and
    sees only the elements it draws). The elements are drawn with
    `keras.random` inside the compiled step, among all non-identity
    elements of a finite group, or among `pool_size` fixed random elements
    of `SO2`, `O2`, `SO3`, `O3` (drawn once, with `seed`). Outside
    training the wrapper is the model.

    Args:
        model: The Keras model `f`.
        group: A group name.
        in_rep: The representation of the inputs' channels.
        out_rep: The representation of the outputs' channels.
        num_samples: `k`, elements per step.
        weight: The loss's weight.
        data_format: As for `transform`.
        pool_size: For continuous groups, how many fixed elements to draw
            from.
        seed: Seed of the fixed pool and of the per-step draws.
        **kwargs: Base `Model` arguments (`name`, ...).

    Example:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(4, 8, 8, 1))
    >>> model = keras.Sequential([
    ...     keras.Input((8, 8, 1)), keras.layers.Conv2D(1, 3, padding="same")
    ... ])
    >>> wrapped = SampledEquivariance(model, "C4", num_samples=2, weight=0.1)
    >>> wrapped.compile(optimizer="adam", loss="mse")
    >>> history = wrapped.fit(x, x, epochs=1, verbose=0)  # loss + penalty
    >>> same = np.allclose(wrapped.predict(x, verbose=0),
    ...                    model.predict(x, verbose=0))
    >>> bool(same)  # outside training, the wrapper is the model
    True
    """

    def __init__(
        self,
        model,
        group,
        in_rep="trivial",
        out_rep="trivial",
        num_samples=1,
        weight=1.0,
        data_format=None,
        pool_size=16,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        require(
            is_int(num_samples, 1), "num_samples", num_samples, "a positive int"
        )
        require(
            is_number(weight) and weight >= 0,
            "weight",
            weight,
            "a finite number >= 0 (the sampled loss's weight)",
        )
        require(
            is_int(pool_size, 1),
            "pool_size",
            pool_size,
            "a positive int (elements drawn once from an infinite group)",
        )
        if data_format is not None:
            data_formats.standardize(data_format)
        self.model = model
        self.group = groups.get(group).name
        self.in_rep = representations.validated(in_rep, "in_rep")
        self.out_rep = representations.validated(out_rep, "out_rep")
        self.num_samples = int(num_samples)
        self.weight = float(weight)
        self.data_format = data_format
        self.pool_size = int(pool_size)
        self.seed = seed
        self._seed_generator = keras.random.SeedGenerator(seed)

    def _elements(self, ndim):
        group = groups.get(self.group, ndim or None)
        if group.order is not None:
            return list(range(1, group.order))
        return list(group.sample(self.pool_size, self.seed))

    def call(self, x, training=None):
        y = self.model(x, training=training)
        if training:
            self.add_loss(self.weight * self.sample_loss(x, y))
        return y

    def sample_loss(self, x, y=None):
        """`mean_g mean((f(g x) - g f(x))^2)` over `num_samples` draws."""
        if y is None:
            y = self.model(x)
        ndim = len(x.shape) - 2
        elements = self._elements(ndim)
        act = functools.partial(
            transform, group=self.group, data_format=self.data_format
        )
        total = 0.0
        for _ in range(self.num_samples):
            index = keras.random.randint(
                (), 0, len(elements), seed=self._seed_generator
            )
            gx = ops.switch(
                index,
                [
                    functools.partial(act, element=g, rep=self.in_rep)
                    for g in elements
                ],
                x,
            )
            gy = ops.switch(
                index,
                [
                    functools.partial(act, element=g, rep=self.out_rep)
                    for g in elements
                ],
                y,
            )
            total += ops.mean(ops.square(self.model(gx) - gy))
        return total / self.num_samples

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "model": keras.saving.serialize_keras_object(self.model),
                "group": self.group,
                "in_rep": self.in_rep,
                "out_rep": self.out_rep,
                "num_samples": self.num_samples,
                "weight": self.weight,
                "data_format": self.data_format,
                "pool_size": self.pool_size,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        return cls(**config)
