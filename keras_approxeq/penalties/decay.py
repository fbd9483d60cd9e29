"""`ProjectionDecay`: shrink the non-equivariant part after every step."""

import keras
from keras import ops

from keras_approxeq._warnings import keyword_only
from keras_approxeq.projection.target import ProjectionTarget

__all__ = ["ProjectionDecay"]


@keras.saving.register_keras_serializable(package="keras_approxeq")
class ProjectionDecay(ProjectionTarget, keras.constraints.Constraint):
    """Decoupled decay of the non-equivariant part, as AdamW is to L2.

    After each optimizer step Keras applies the constraint:

        K <- P(K) + (1 - rate) (K - P(K)).

    A penalty's gradient goes through the optimizer, and Adam divides it
    by its running scale, mixed per coordinate with the task's gradient;
    the non-equivariant part then settles at a floor set by the learning
    rate rather than by the penalty's weight. This decay does not go
    through the optimizer: after `n` steps without task gradient the
    non-equivariant part is `(1 - rate)^n` of what it was, whatever the
    optimizer. `rate=1` projects after every step (an exactly equivariant
    layer, trained by projected gradient descent).

    Args:
        group: The group (see `ProjectionRegularizer`).
        in_rep: The input representation.
        out_rep: The output representation.
        rate: In `[0, 1]`: the fraction of the non-equivariant part removed
            per step. At 0 the weight is left as it is, so a model with
            rate-0 decays trains exactly as it would without them.
        layout: The weight's layout (`None` infers it from the rank).
        domain: As for `ProjectionRegularizer` (the same projection).
        max_frequency: As for `ProjectionRegularizer`: decay towards the
            band-limited subspace.
        basis: As for `ProjectionRegularizer`.

    Example:

    >>> import numpy as np
    >>> from keras_approxeq import project
    >>> decay = ProjectionDecay(
    ...     "C4", in_rep="regular", out_rep="regular", rate=0.5
    ... )
    >>> layer = keras.layers.Conv2D(8, 3, kernel_constraint=decay)
    >>> w = np.random.default_rng(0).normal(size=(3, 3, 8, 8))
    >>> p = project(w, "C4", in_rep="regular", out_rep="regular")
    >>> after = ops.convert_to_numpy(decay(ops.convert_to_tensor(w)))
    >>> bool(np.allclose(after - p, 0.5 * (w - p), atol=1e-5))  # halved
    True
    """

    @keyword_only("in_rep", "out_rep", "rate", "layout")
    def __init__(
        self,
        group,
        *,
        in_rep="trivial",
        out_rep="trivial",
        rate=0.01,
        layout=None,
        domain="spatial",
        max_frequency=None,
        basis="smooth",
    ):
        self.rate = validated_rate(rate)
        self._set_target(
            group, in_rep, out_rep, layout, domain, max_frequency, basis
        )

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        projector = self.projector(w.shape)
        if projector.is_identity or self.rate == 0.0:
            # `P(w) + (w - P(w))` rounds differently from `w`: rate 0 must
            # leave the plain model's weights bit for bit.
            return w
        parallel = projector.apply(w)
        return parallel + (1.0 - self.rate) * (w - parallel)

    def get_config(self):
        return {**self.target_config(), "rate": self.rate}


def validated_rate(rate, argument="rate"):
    """`rate` as a float in `[0, 1]`, or a `ValueError` naming `argument`."""
    try:
        valid = 0.0 <= float(rate) <= 1.0
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(
            f"Expected `{argument}` to be a number in [0, 1] (the fraction "
            "of the non-equivariant part removed per step). Received: "
            f"{argument}={rate!r}."
        )
    return float(rate)
