"""`ProjectedInitializer`: start in the equivariant subspace, at full scale."""

import math

import keras
from keras import ops

from keras_approxeq._warnings import keyword_only
from keras_approxeq.projection.target import ProjectionTarget

__all__ = ["ProjectedInitializer"]


@keras.saving.register_keras_serializable(package="keras_approxeq")
class ProjectedInitializer(ProjectionTarget, keras.initializers.Initializer):
    """Samples a base initializer, projects it, and restores its scale.

    A standard initializer draws `N` independent entries; projecting them
    onto the `D`-dimensional equivariant subspace keeps only `D / N` of
    their variance (about 1/4 for regular fields of `C4`), so signals
    shrink layer by layer once the penalty (or `project_weights`) makes a
    deep network equivariant. This initializer returns
    `sqrt(N / D) * P(W)` for `W` drawn by `base`: exactly equivariant, with
    the base initializer's variance per entry.

    Args:
        group: The group (see `ProjectionRegularizer`).
        in_rep: The input representation.
        out_rep: The output representation.
        base: A Keras initializer (name, config or instance). The
            default, `"glorot_uniform"`, is Keras' own default for
            convolution and dense kernels, so swapping this initializer
            into a layer keeps the scale the model had.
        layout: The weight's layout (`None` infers it from the rank).
        domain: As for `ProjectionRegularizer` (the same projection).
        max_frequency: As for `ProjectionRegularizer`: draw from the
            band-limited subspace.
        basis: As for `ProjectionRegularizer`.

    Example:

    >>> import numpy as np
    >>> from keras_approxeq import project
    >>> init = ProjectedInitializer("C4", in_rep="regular", out_rep="regular")
    >>> layer = keras.layers.Conv2D(8, 3, kernel_initializer=init)
    >>> w = ops.convert_to_numpy(init((3, 3, 8, 8)))
    >>> p = project(w, "C4", in_rep="regular", out_rep="regular")
    >>> bool(np.allclose(p, w, atol=1e-6))  # equivariant from the start
    True
    """

    @keyword_only("in_rep", "out_rep", "base", "layout")
    def __init__(
        self,
        group,
        *,
        in_rep="trivial",
        out_rep="trivial",
        base="glorot_uniform",
        layout=None,
        domain="spatial",
        max_frequency=None,
        basis="smooth",
    ):
        self._set_target(
            group, in_rep, out_rep, layout, domain, max_frequency, basis
        )
        self.base = keras.initializers.get(base)

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        projector = self.projector(shape)
        if projector.dim == 0:
            return ops.zeros(shape, dtype=dtype)
        weights = self.base(shape, dtype=dtype)
        scale = math.sqrt(math.prod(shape) / projector.dim)
        return ops.cast(projector.apply(weights) * scale, weights.dtype)

    def get_config(self):
        return {
            **self.target_config(),
            "base": keras.initializers.serialize(self.base),
        }
