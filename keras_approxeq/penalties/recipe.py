r"""`select_and_fit`: the README's recipe in one call.

The recipe makes a model approximately equivariant by a `ProjectionDecay`
on every kernel (`regularize(model, group, penalty=False, decay=rate)`)
whose rate, from 0 (the model as it is) to 1 (exactly equivariant), and
whose start (the layers' own kernels, or kernels re-drawn inside the
equivariant subspace) are chosen on held-out data by `select_strength`.
`select_and_fit` does all of it for a function that makes the model:
it builds every candidate, scales the epochs of the cross-validation
fits so that they take as many optimizer steps as the final fit (a
decay acts once per step), chooses, and fits the chosen model on all
the data.

With `weight_decays`, the optimizer's decoupled weight decay (Keras'
`weight_decay`, which every optimizer takes; per step it shrinks a
weight by `learning_rate * weight_decay` of itself) is chosen with the
rate, as more families of candidates:

- `"weight decay"`: the model as it is, under each weight decay;
- `"rates on weight decay w"`, for each decay `w`: the rates above 0,
  from the layers' own kernels, under the weight decay `w`.

Pulling towards the equivariant subspace also shrinks the kernels, which
helps by itself wherever a model overfits; these families let the
held-out data decide between shrinking and the symmetry, and combine
them. On the symmetry-breaking study's noisy targets with 8 and 32
training images (`docs/results.md`, "Rates and weight decays chosen
together") the pulled models did best under a lighter decay than the
one that suited the plain model, so give decays from about the one
you would tune for your model down to a tenth of it.
"""

import math

import keras

from keras_approxeq._checks import is_int
from keras_approxeq._checks import is_number
from keras_approxeq.penalties.regularize import regularize
from keras_approxeq.penalties.selection import DEFAULT_RATES
from keras_approxeq.penalties.selection import held_out_parts
from keras_approxeq.penalties.selection import select_strength

__all__ = ["STARTS", "select_and_fit"]

STARTS = ("own", "projected")
WEIGHT_DECAY = "weight decay"


def select_and_fit(
    make_model,
    group,
    x,
    y,
    *,
    loss,
    optimizer="adam",
    metrics=None,
    rates=DEFAULT_RATES,
    starts=STARTS,
    weight_decays=None,
    in_rep="trivial",
    out_rep="trivial",
    layers=None,
    decay_learning_rate=None,
    folds=None,
    validation_split=None,
    rule="1se",
    metric=None,
    epochs=1,
    batch_size=32,
    verbose=True,
    **fit_kwargs,
):
    """Chooses how hard to pull a model towards equivariance, and fits it.

    Each candidate is `make_model()` made approximately equivariant by
    `regularize(model, group, penalty=False, decay=rate, ...)` (the model
    as it is for rate 0), compiled with `loss`, a fresh copy of
    `optimizer` and `metrics`. `select_strength` scores every candidate
    by cross-validation on `(x, y)` (3 folds unless told otherwise), or
    on its last `validation_split`; the chosen one is fitted on all of
    it for `epochs` and returned.

    Candidates (for `k` rates above 0 and `d` weight decays):

    - `"own"`: every rate, from the kernels that `make_model` drew;
    - `"projected"`: every rate above 0, the kernels re-drawn inside the
      equivariant subspace (`regularize(..., reinitialize=True)`);
    - with `weight_decays`: `"weight decay"`, the model as it is under
      each weight decay, and one family `"rates on weight decay w"` per
      decay `w`, the rates above 0 from the own kernels under `w` (see
      the module docstring). With `rule="1se"` a weight decay is chosen
      only if it beats every candidate without one by more than a
      standard error (`select_strength(prefer=starts)`): a decay the
      held-out data cannot tell from none is left out.

    That is `1 + 2 k` candidates by default (9: the README's recipe) and
    `1 + 2 k + d + d k` with weight decays, each trained once per fold.
    A fold's fit trains on `(folds - 1) / folds` of the data (or
    `1 - validation_split`), so its epochs are scaled to take as many
    steps as the final fit's `epochs` (e.g. 75 for 50 with 3 folds and
    many batches).

    `make_model` must return a new, built, uncompiled-or-compiled Keras
    model on every call; seed it (`keras.utils.set_random_seed`) so that
    the candidates differ only in what the selection chooses.

    Args:
        make_model: A function `() -> keras.Model`, built.
        group: A group name (see `ProjectionRegularizer`).
        x: Inputs, a NumPy array (or a list of arrays).
        y: Targets, a NumPy array (or a list).
        loss: The loss to compile with; a single loss, which also scores
            the held-out data (see `select_strength`).
        optimizer: A Keras optimizer: a name, a config dict or an
            instance, copied for every candidate (never trained itself).
            Under a learning-rate schedule, pass its peak as
            `decay_learning_rate`.
        metrics: Passed to `compile`.
        rates: The `ProjectionDecay` rates, from 0 (the model as it is)
            to 1 (exactly equivariant).
        starts: Which of `"own"` and `"projected"` to train the rates
            from; the first also gives the model as it is (rate 0).
        weight_decays: `None`, or positive weight decays, in the
            optimizer's units (its `weight_decay`), e.g.
            `(0.01, 0.03, 0.1)` for AdamW-like shrinking: also choose
            the weight decay (see above).
        in_rep: Passed to `regularize`: the representation of every
            layer's inputs, or a function `layer -> representation`.
        out_rep: Passed to `regularize`: that of the outputs.
        layers: Passed to `regularize`: which layers to pull (`None`:
            all that have kernels).
        decay_learning_rate: Passed to `regularize`: `None`, or the
            learning rate at which the rates hold (a schedule's peak).
        folds: `None` (3 unless `validation_split` is given) or the
            cross-validation folds, an int of at least 2.
        validation_split: `None`, or the held-out fraction in `(0, 1)`
            instead of folds: one fit per candidate, for data sets large
            enough to choose by one held-out part.
        rule: `"1se"` or `"min"` (see `select_strength`).
        metric: `None` (the compiled loss) or a function `(y_true,
            y_pred) -> loss` that scores the held-out data (see
            `select_strength`).
        epochs: The final fit's epochs.
        batch_size: The batch size of every fit.
        verbose: Whether to print the candidates' held-out scores and
            the final fit's progress.
        **fit_kwargs: Passed to every `fit` (e.g. `callbacks`); not
            `validation_split` or `validation_data`.

    Returns:
        `(model, best, scores)`: the chosen model fitted on all of
        `(x, y)`, the chosen `(rate or weight decay, family)` and the
        held-out score of every candidate, keyed by such pairs.

    Raises:
        ValueError: if `make_model` does not return a built Keras model,
            the group or representations do not fit it (checked before
            any training), `starts` is not a non-empty list of distinct
            names from `("own", "projected")`, `weight_decays` are not
            positive numbers, `epochs` or `batch_size` is not a positive
            int, or `select_strength` refuses its arguments.

    Example:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(12, 8, 8, 1))
    >>> y = x.mean(axis=(1, 2))  # a C4-invariant target
    >>> def make_model():
    ...     keras.utils.set_random_seed(0)
    ...     return keras.Sequential([
    ...         keras.Input((8, 8, 1)),
    ...         keras.layers.Conv2D(4, 3),
    ...         keras.layers.GlobalAveragePooling2D(),
    ...         keras.layers.Dense(1),
    ...     ])
    >>> model, best, scores = select_and_fit(
    ...     make_model, "C4", x, y, loss="mse", rates=(0.0, 1.0), folds=2,
    ...     epochs=2, verbose=False,
    ... )
    >>> sorted(scores)
    [(0.0, 'own'), (1.0, 'own'), (1.0, 'projected')]

    With the weight decay chosen too (`docs/choosing.md`, "Rates and
    weight decays together"):

    ```python
    model, best, scores = select_and_fit(
        make_model, "C4", x, y, loss="mse", optimizer="adam",
        weight_decays=(0.3, 1.0, 3.0), epochs=50,
    )
    ```
    """
    starts = _validated_starts(starts)
    weight_decays = _validated_weight_decays(weight_decays)
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not is_int(value, 1):
            raise ValueError(
                f"Expected `{name}` to be a positive int. Received: "
                f"{name}={value!r}."
            )
    on_decay = {f"rates on weight decay {w:g}": w for w in weight_decays}
    pulled = [rate for rate in rates if rate]
    families = {start: rates for start in starts}
    if weight_decays:
        families[WEIGHT_DECAY] = weight_decays
    if pulled:
        families.update(dict.fromkeys(on_decay, pulled))

    def build(strength, family):
        model = make_model()
        if not isinstance(model, keras.Model) or not model.built:
            raise ValueError(
                "Expected `make_model()` to return a new, built Keras "
                f"model. Received: {model!r}. Give it an `Input` (or "
                "call `model.build(input_shape)`) before returning it."
            )
        weight_decay = on_decay.get(family)
        if family == WEIGHT_DECAY:
            weight_decay = strength
        elif strength:
            model = regularize(
                model,
                group,
                in_rep=in_rep,
                out_rep=out_rep,
                layers=layers,
                penalty=False,
                decay=strength,
                decay_learning_rate=decay_learning_rate,
                reinitialize=family == "projected",
                verbose=False,
            )
        model.compile(
            optimizer=_fresh(optimizer, weight_decay),
            loss=loss,
            metrics=metrics,
        )
        return model

    if pulled:
        # Fails here, before any training, if the group, the
        # representations or the layers do not fit the model.
        build(pulled[0], starts[0])
    if folds is None and validation_split is None:
        folds = 3
    count = len(x[0] if isinstance(x, (list, tuple)) else x)
    parts = held_out_parts(count, validation_split, folds)
    fitted = count - min(len(part) for part in parts)
    best, scores = select_strength(
        build,
        x,
        y,
        starts=families,
        prefer=starts,
        folds=folds,
        validation_split=validation_split,
        rule=rule,
        metric=metric,
        verbose=verbose,
        epochs=_matched_epochs(epochs, count, fitted, batch_size),
        batch_size=batch_size,
        **fit_kwargs,
    )
    model = build(*best)
    model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        verbose="auto" if verbose else 0,
        **fit_kwargs,
    )
    return model, best, scores


def _matched_epochs(epochs, count, fitted, batch_size):
    """The epochs over `fitted` samples that take as many steps as
    `epochs` over `count` samples, in batches of `batch_size`."""
    steps = math.ceil(count / batch_size) * epochs
    return max(1, round(steps / math.ceil(fitted / batch_size)))


def _fresh(optimizer, weight_decay):
    """A new optimizer like `optimizer`, with `weight_decay` if given."""
    template = keras.optimizers.get(optimizer)
    config = template.get_config()
    if weight_decay is not None:
        config["weight_decay"] = weight_decay
    return type(template).from_config(config)


def _validated_starts(starts):
    try:
        labels = [starts] if isinstance(starts, str) else list(starts)
    except TypeError:
        labels = []
    if (
        not labels
        or len(set(labels)) < len(labels)
        or not set(labels) <= set(STARTS)
    ):
        raise ValueError(
            f"Expected `starts` to be a non-empty list of distinct names "
            f"from {STARTS}. Received: starts={starts!r}."
        )
    return labels


def _validated_weight_decays(weight_decays):
    if weight_decays is None:
        return []
    try:
        values = list(weight_decays)
    except TypeError:
        values = []
    if not values or not all(is_number(w) and w > 0 for w in values):
        raise ValueError(
            "Expected `weight_decays` to be None or a non-empty list of "
            "positive numbers, the optimizer's `weight_decay` values to "
            f"choose from. Received: weight_decays={weight_decays!r}."
        )
    return list(dict.fromkeys(float(w) for w in values))
