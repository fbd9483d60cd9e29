"""`ProjectionDecay`: shrink the non-equivariant part after every step."""

import warnings

import keras
from keras import ops

from keras_approxeq import _ops
from keras_approxeq._checks import is_number
from keras_approxeq._checks import require
from keras_approxeq._keras_state import global_attribute
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

    **With a learning-rate schedule, pass `learning_rate`.** Adam moves a
    coordinate by about the learning rate `lr` per step, and the decay
    takes `rate` of it back, so a non-equivariant part the task keeps
    asking for settles near `lr / rate`. A fixed rate under a schedule
    that lowers `lr` (cosine decay, `ReduceLROnPlateau`) erases it at the
    end of training, when the task can no longer restore it: on the
    symmetry-breaking study's teacher (dial 0.3, 32 images, 3 seeds),
    rate 0.03 under Adam with `CosineDecay` to 0 over the 1600 steps had
    11 times the test error of the same rate at a constant learning rate
    (0.467 against 0.042; plain: 0.041 and 0.045). With `learning_rate`
    set (the learning rate at which `rate` is meant, e.g. the schedule's
    peak), the decay follows the learning rate of the optimizer that
    applies it, as AdamW's weight decay does, removing
    `min(1, rate * lr / learning_rate)` per step, and the non-equivariant
    part stays where `rate` puts it whatever the schedule (0.041 in the
    same runs; `docs/layers.md`). `rate=1` still projects after every
    step. Called outside an optimizer step (e.g. directly), it removes
    `rate`. A decay with a rate between 0 and 1 and no `learning_rate`
    warns once when an optimizer with a `LearningRateSchedule` first
    applies it (when the train step is traced; not inside
    `torch.compile`, which Python warnings would break).

    Args:
        group: The group (see `ProjectionRegularizer`).
        in_rep: The input representation.
        out_rep: The output representation.
        rate: In `[0, 1]`: the fraction of the non-equivariant part removed
            per step. At 0 the weight is left as it is, so a model with
            rate-0 decays trains exactly as it would without them.
        learning_rate: `None` (`rate` per step, whatever the learning
            rate) or a positive number: the learning rate at which `rate`
            holds; the decay then scales with the optimizer's learning
            rate (see above).
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

    Following the learning rate: in an optimizer step at half the
    reference learning rate, it removes half of `rate`.

    >>> following = ProjectionDecay(
    ...     "C4", in_rep="regular", out_rep="regular", rate=0.5,
    ...     learning_rate=0.1,
    ... )
    >>> kernel = keras.Variable(w.astype("float32"))
    >>> kernel.constraint = following
    >>> optimizer = keras.optimizers.SGD(learning_rate=0.05)
    >>> optimizer.apply([ops.zeros(kernel.shape)], [kernel])  # no gradient
    >>> after = ops.convert_to_numpy(kernel)
    >>> bool(np.allclose(after - p, 0.75 * (w - p), atol=1e-5))  # a quarter
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
        learning_rate=None,
    ):
        self.rate = validated_rate(rate)
        self.learning_rate = validated_learning_rate(learning_rate)
        self._checked_schedule = False
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
        fraction = 1.0 if self.rate == 1.0 else self._step_rate(w.dtype)
        return projector.decayed(w, fraction)

    def _step_rate(self, dtype):
        """The fraction removed this step: `rate`, or `rate` scaled by the
        applying optimizer's learning rate over `learning_rate`."""
        if self.learning_rate is None:
            self._warn_once_under_a_schedule()
            return self.rate
        optimizer = applying_optimizer()
        if optimizer is None:
            return self.rate
        ratio = ops.cast(optimizer.learning_rate, dtype) / self.learning_rate
        return ops.minimum(self.rate * ratio, 1.0)

    def _warn_once_under_a_schedule(self):
        """Warns if the applying optimizer's learning rate follows a
        schedule, which a fixed rate does not (see the class docstring)."""
        if self._checked_schedule or _ops.torch_compiling():
            return
        optimizer = applying_optimizer()
        if optimizer is None:  # called directly, not by an optimizer
            return
        self._checked_schedule = True
        # Keras keeps the schedule there; `learning_rate` is its value.
        schedule = getattr(optimizer, "_learning_rate", None)
        if isinstance(
            schedule, keras.optimizers.schedules.LearningRateSchedule
        ):
            warnings.warn(
                f"A ProjectionDecay with a fixed rate={self.rate} is applied "
                f"by an optimizer whose learning rate follows a schedule "
                f"({type(schedule).__name__}). A fixed rate keeps removing "
                "the non-equivariant part as the learning rate falls, and "
                "erases the symmetry breaking that the task asks for by the "
                "end of training. Pass the learning rate at which `rate` "
                "holds, e.g. the schedule's peak: ProjectionDecay(..., "
                "learning_rate=peak) or regularize(..., "
                "decay_learning_rate=peak).",
                UserWarning,
                stacklevel=2,
            )

    def get_config(self):
        return {
            **self.target_config(),
            "rate": self.rate,
            "learning_rate": self.learning_rate,
        }


def applying_optimizer():
    """The Keras optimizer whose `apply` is running, or `None`.

    Keras applies a variable's constraint inside `Optimizer.apply`, within
    a name scope whose caller is the optimizer (the inner one of a
    `LossScaleOptimizer`); Keras has no public handle on it. Its learning
    rate read there is the one of the step being applied, inside
    `jax.jit`, `tf.function` and `torch.compile` too.
    """
    stack = global_attribute("name_scope_stack") or ()
    for scope in reversed(stack):
        caller = getattr(scope, "caller", None)
        if isinstance(caller, keras.optimizers.Optimizer):
            return caller
    return None


def validated_learning_rate(learning_rate, argument="learning_rate"):
    """`learning_rate` as `None` or a positive float, or a `ValueError`."""
    if learning_rate is None:
        return None
    require(
        is_number(learning_rate) and learning_rate > 0,
        argument,
        learning_rate,
        "None or a positive number, the learning rate at which the decay's "
        "rate holds (e.g. the peak of the optimizer's schedule)",
    )
    return float(learning_rate)


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
