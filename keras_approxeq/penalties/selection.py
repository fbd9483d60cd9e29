r"""`select_strength`: how far to pull towards equivariance, from the data.

How much symmetry a data set has is not known before training: an exactly
symmetric task wants the non-equivariant parts gone, a task without the
symmetry wants them free, and the useful cases lie between. No single
strength serves all of them (see the symmetry-breaking study in
`docs/results.md`), so the strength is chosen as any other
hyperparameter is, on held-out data: each candidate trains on the first
part of the data and is scored on the rest, or, for small data sets
where one held-out part is too noisy to choose by, by `k`-fold
cross-validation.

The default candidates are `ProjectionDecay` rates. Under a decay of rate
`r` per step, Adam's steps (of size about the learning rate `lr` per
coordinate) hold a non-equivariant coordinate at about `lr / r` where the
task keeps pushing it and let it decay where it does not, so `r = 0` is
the plain model, `r = 1` an exactly equivariant one, and
the rates between keep the departures that the data asks for
consistently.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_approxeq._checks import is_int
from keras_approxeq._checks import is_number

__all__ = ["DEFAULT_RATES", "held_out_parts", "select_strength"]

DEFAULT_RATES = (0.0, 0.03, 0.1, 0.3, 1.0)


def select_strength(
    build_model,
    x,
    y,
    *,
    strengths=DEFAULT_RATES,
    starts=None,
    prefer=None,
    validation_split=None,
    folds=None,
    rule="1se",
    metric=None,
    verbose=True,
    **fit_kwargs,
):
    """Trains one model per strength and keeps the best on held-out data.

    The last `validation_split` of the samples is held out (as Keras'
    `fit(validation_split=...)` does, before any shuffling); for each
    strength `s`, `build_model(s)` returns a compiled model, which is
    fitted on the rest with `fit_kwargs` and scored on the held-out part
    by `metric` (by default its compiled loss, without the penalties that
    `evaluate` would add). With `folds=k`, the samples are cut instead
    into `k` contiguous parts, each held out once, and a strength's score
    is the mean over all the held-out samples of the `k` fits (`k` times
    the cost, a steadier choice on a few dozen samples).

    Each fit sees only part of the data, `(k - 1) / k` of it, and on less
    data a stronger pull towards equivariance helps more, so few folds
    lean towards strengths stronger than the final fit on all the data
    wants. Use as many folds as you can afford: in the symmetry-breaking
    study (`docs/results.md`, 32 images without any symmetry), 3 folds
    chose a decay rate of 0.03 on every seed, 7 to 12 % worse than the
    plain model, where 8 folds chose each seed's best rate.

    `rule="1se"` (the default; the one-standard-error rule of
    cross-validation) returns the largest strength whose score is within
    one standard error of the lowest: of the strengths the data cannot
    tell apart, the one that pulls hardest towards equivariance.
    `rule="min"` returns the strength of the lowest score. Measured
    (`docs/results.md`, both starts): on the rotated digits (300 real
    images, 10 seeds) `"min"` scored higher, 0.884 against 0.870 test
    accuracy, and 0.948 against 0.945 with `LayerNormalization`; on the
    symmetry-breaking study their picks scored alike in 10 cells of 15,
    `"1se"` clearly ahead in two with 8 training images. Every strength
    is scored on the same held-out samples, so they are compared sample
    by sample: the standard error is that of the mean of the per-sample
    differences `loss_s - loss_best` (over the folds instead, if `metric`
    returns one number per call), which leaves out how hard each sample is
    for every strength alike. Train the final model on all the data with
    the strength returned.

    A `ProjectionDecay` acts once per optimizer step, so a rate means the
    same in every fit only if every fit takes as many steps. `epochs`
    counts passes over the data, and a fit on part of the data takes
    fewer steps per epoch: where the number of steps matters (short
    trainings, small data sets), pass `fit_kwargs` that give the fits
    here as many steps as the final fit will take (e.g. `epochs` scaled
    by the ratio of batches per epoch), as
    `examples/symmetry_breaking.py` does. Under a learning-rate schedule,
    give the decays the schedule's peak (`ProjectionDecay(...,
    learning_rate=peak)`, `regularize(..., decay_learning_rate=peak)`):
    a fixed rate keeps removing the non-equivariant part after the
    learning rate has fallen, which turned the study's gains into losses
    under `CosineDecay` (`docs/layers.md`).

    Where a pulled candidate starts matters too, and neither start wins
    everywhere. Inside the equivariant subspace at its initializer's
    variance (`ProjectedInitializer`, or
    `regularize(..., reinitialize=True)` on a built model), a strongly
    pulled kernel keeps its scale; from the layer's own start it keeps
    only its projection, `D / N` of its variance. On
    `examples/rotated_digits.py` (ten seeds, 3 folds) the selection
    scored 0.877 from the projected start and 0.841 from Keras' one
    (plain 0.864); on the symmetry-breaking study's three-layer student
    the projected start had 4 to 60 % more error in every cell of the
    8- and 32-image columns. With `starts`, the start is chosen with the
    strength: `build_model(strength, start)` is scored for every start
    and strength, the start of the lowest held-out score is kept (on a
    tie, the earlier one in `starts`), and `rule` picks the strength
    among that start's candidates. Strength 0, no pull, is the same
    model whatever the start, so it is built once, as
    `build_model(0, starts[0])`, and counts for every start. Replayed
    from those runs' records, `starts=("own", "projected")` matched the
    better start's selection in 14 of the study's 15 cells and scored
    0.870 on the digits (`docs/results.md`), for `2 k - 1` candidates
    instead of `k` (for `k` strengths, 0 among them).

    Some families add an ingredient, such as a weight decay on top of the
    rates (`select_and_fit(weight_decays=...)`). With `prefer` (labels
    of `starts`) and `rule="1se"`, a family outside `prefer` is chosen
    only if no candidate of `prefer` (strength 0 counting as the first
    start's) is within one standard error of the lowest held-out score:
    the one-standard-error rule applied to the ingredient. Replayed on
    the 17 cells of the symmetry-breaking study recorded with weight
    decays before it (`docs/results.md`), it changed the pick's test
    error in four: where the symmetry was exact, with 32 noisy images,
    0.051 (exact 0.050) where the lowest score alone took a weight decay
    and scored 0.055; 0.067 to 0.061 and 0.068 to 0.062 where it nearly
    held; and 0.054 to 0.055 in one exactly symmetric cell.

    Args:
        build_model: A function `strength -> compiled keras.Model`, e.g.
            a model whose kernels carry `ProjectionDecay(rate=strength)`
            (with `starts`: `(strength, start) -> compiled keras.Model`).
        x: Inputs, a NumPy array (or a list of arrays for several inputs).
        y: Targets, a NumPy array (or a list).
        strengths: The candidates, numbers (by default `ProjectionDecay`
            rates from 0, a plain model, to 1, an exact one).
        starts: `None` (`build_model(strength)`) or a list of labels, each
            passed as `build_model(strength, start)`, for example
            `("own", "projected")`: the start is chosen too (see above).
            A label may also name another family of candidates, such as
            the plain model under a weight decay of a size set by the
            strength (`docs/choosing.md`, "Weight decay as a start").
            A dict `{label: strengths}` gives each family strengths of
            its own instead of `strengths` (e.g. weight decays for a
            weight-decay family); strength 0 is built from the first
            label's, if it has one.
        prefer: `None`, or labels of `starts` to keep unless another
            family is better by more than one standard error (see
            above; `rule="1se"` only).
        validation_split: In `(0, 1)`: the held-out fraction (default
            0.25). Not with `folds`.
        folds: `None` (one held-out part) or an int `k >= 2`:
            `k`-fold cross-validation.
        rule: `"1se"` or `"min"` (see above; for `"1se"` strengths must
            grow with the pull towards equivariance, as rates and lambdas
            do).
        metric: `None` (the model's compiled loss, which must be a single
            loss; a `keras.losses.Loss` is scored per sample, before its
            reduction) or a function `(y_true, y_pred) -> loss`, lower is
            better, either per sample (shape `(batch, ...)`) or a scalar.
        verbose: Whether to print each strength's held-out score.
        **fit_kwargs: Passed to every `fit` (`epochs`, `batch_size`, ...).

    Returns:
        `(best, scores)`: the chosen strength and a dict of the held-out
        score per strength. With `starts`, `best` is a pair
        `(strength, start)`, to build the final model with
        `build_model(*best)`, and `scores` is keyed by such pairs.

    Raises:
        ValueError: if `strengths` is empty or not numbers, `starts` is
            not a list of distinct labels, `prefer` names labels that
            are not in `starts`, `validation_split` is not in
            `(0, 1)`, `folds` is not an int
            from 2 to the number of samples, both are given, a part would
            be empty, `rule` is unknown, or `fit_kwargs` sets the
            validation data itself.

    Example:

    >>> from keras_approxeq import ProjectionDecay
    >>> x = np.random.default_rng(0).normal(size=(16, 8, 8, 1))
    >>> y = x.mean(axis=(1, 2))  # a C4-invariant target
    >>> def build(rate):
    ...     keras.utils.set_random_seed(0)
    ...     decay = ProjectionDecay("C4", rate=rate)
    ...     model = keras.Sequential([
    ...         keras.Input((8, 8, 1)),
    ...         keras.layers.Conv2D(4, 3, kernel_constraint=decay),
    ...         keras.layers.GlobalAveragePooling2D(),
    ...         keras.layers.Dense(1),
    ...     ])
    ...     model.compile("adam", "mse")
    ...     return model
    >>> best, scores = select_strength(
    ...     build, x, y, strengths=(0.0, 1.0), folds=2, epochs=2,
    ...     verbose=False,
    ... )
    >>> best in (0.0, 1.0), sorted(scores)
    (True, [0.0, 1.0])

    The README's recipe, choosing the start with the rate:

    ```python
    def build(rate, start):
        reps = {"in_rep": "regular", "out_rep": "regular"}
        decay = ProjectionDecay("C4", rate=rate, **reps)
        if start == "projected":
            init = ProjectedInitializer("C4", **reps)  # glorot's variance
        else:
            init = "glorot_uniform"
        model = make_model(kernel_constraint=decay, kernel_initializer=init)
        model.compile("adam", "mse")
        return model

    best, losses = select_strength(
        build, x_train, y_train, starts=("own", "projected"), folds=3,
        epochs=20,
    )
    model = build(*best)  # best: (rate, start)
    model.fit(x_train, y_train, epochs=20)
    ```
    """
    strengths = _validated_strengths(strengths)
    labels = _validated_starts(starts)
    preferred = _validated_prefer(prefer, labels)
    if isinstance(starts, dict):
        strengths = {
            label: _validated_strengths(starts[label]) for label in labels
        }
    for key in ("validation_split", "validation_data"):
        if key in fit_kwargs:
            raise ValueError(
                f"`select_strength` holds out the validation data itself; "
                f"do not pass `{key}` to `fit`. Received: {key}="
                f"{fit_kwargs[key]!r}. Use `validation_split=` of "
                "`select_strength` instead."
            )
    if rule not in _RULES:
        raise ValueError(
            f"Expected `rule` to be one of {list(_RULES)}. Received: "
            f"rule={rule!r}."
        )
    count = len(x[0] if isinstance(x, (list, tuple)) else x)
    held_out = held_out_parts(count, validation_split, folds)
    losses = {}
    for candidate in _candidates(strengths, labels):
        parts = []
        for part in held_out:
            fit_on = np.setdiff1d(np.arange(count), part)
            model = build_model(*candidate)
            model.fit(
                _take(x, fit_on), _take(y, fit_on), verbose=0, **fit_kwargs
            )
            score_fn = _loss_of(model) if metric is None else metric
            predicted = model.predict(_take(x, part), verbose=0)
            parts.append(_per_sample(score_fn(_take(y, part), predicted)))
        losses[candidate] = np.concatenate(parts)
        if verbose:
            name = f"{candidate[0]:g}" + (
                f" ({candidate[1]})" if starts is not None else ""
            )
            print(
                f"select_strength: {name}: held-out score "
                f"{np.mean(losses[candidate]):.6g} +- "
                f"{_standard_error(losses[candidate]):.2g}"
            )
    if starts is None:
        losses = {strength: v for (strength,), v in losses.items()}
        best = _chosen(losses, rule)
    else:
        best = _chosen_with_start(losses, labels, rule, preferred)
    return best, {key: float(np.mean(v)) for key, v in losses.items()}


def _candidates(strengths, starts):
    """The `build_model` arguments to score, in order: `(strength,)`, or
    `(strength, start)` with strength 0 (no pull) under the first start
    only; `strengths` is a list, or a dict of one list per start."""
    if starts is None:
        return [(strength,) for strength in strengths]
    if not isinstance(strengths, dict):
        strengths = dict.fromkeys(starts, strengths)
    return [
        (strength, start)
        for start in starts
        for strength in strengths[start]
        if strength != 0 or start == starts[0]
    ]


def _chosen_with_start(losses, starts, rule, prefer=()):
    """The `(strength, start)` that `rule` picks from `losses`, a dict
    `(strength, start) -> array` with strength 0 under the first start
    only: the start of the lowest mean (the earliest on a tie), then
    `rule` among that start's strengths and strength 0. With `prefer`
    and `"1se"`, among the starts of `prefer` if one of their candidates
    is within one standard error of the lowest mean, else among the
    others."""
    if prefer and rule == "1se":
        best = _lowest(losses)[2]
        kept = any(
            key[1] in prefer and _within_one_error(losses, key, best)
            for key in losses
        )
        among = {k: v for k, v in losses.items() if (k[1] in prefer) == kept}
    else:
        among = losses
    start = _lowest(among)[2][1]
    family = {
        strength: v
        for (strength, label), v in losses.items()
        if label == start or strength == 0
    }
    strength = _chosen(family, rule)
    return (strength, start if strength != 0 else starts[0])


def _chosen(losses, rule):
    """The strength that `rule` picks from the held-out `losses`, a dict
    `strength -> array`, each strength's losses on the same samples."""
    _, finite, best = _lowest(losses)
    if rule == "1se":
        best = max(s for s in finite if _within_one_error(losses, s, best))
    return best


def _within_one_error(losses, key, best):
    """Whether `key`'s mean loss is within one standard error of `best`'s
    (that of the mean of their per-sample differences)."""
    difference = losses[key] - losses[best]
    return float(np.mean(difference)) <= _standard_error(difference)


def _lowest(losses):
    """Each candidate's mean held-out loss, the candidates whose mean is
    finite, and the first of the lowest."""
    means = {key: float(np.mean(v)) for key, v in losses.items()}
    finite = [key for key, v in means.items() if math.isfinite(v)]
    if not finite:
        raise ValueError(
            "Every candidate diverged (non-finite held-out score): "
            f"{means}. Lower the learning rate or check the data."
        )
    return means, finite, min(finite, key=means.get)


def _standard_error(values):
    """The standard error of the mean of `values`."""
    return float(np.std(values) / math.sqrt(len(values)))


_RULES = ("min", "1se")


def _per_sample(losses):
    """A loss's values as a flat array: one per sample, or the scalar."""
    losses = np.asarray(ops.convert_to_numpy(losses), "float64")
    return (
        losses.reshape(len(losses), -1).mean(1) if losses.ndim else losses[None]
    )


def _loss_of(model):
    loss = getattr(model, "loss", None)
    if loss is None or isinstance(loss, (list, tuple, dict)):
        raise ValueError(
            "`select_strength` scores the held-out data with the model's "
            f"compiled loss, which must be a single loss. Received: "
            f"loss={loss!r}. Compile the model with one loss, or pass "
            "`metric=`, a function `(y_true, y_pred) -> scalar`."
        )
    loss = keras.losses.get(loss)
    if not isinstance(loss, keras.losses.Loss):
        return loss

    def per_sample(y_true, y_pred):
        # `Loss.__call__` reduces over the samples; `call` keeps them apart.
        return loss.call(
            ops.convert_to_tensor(y_true, loss.dtype),
            ops.convert_to_tensor(y_pred, loss.dtype),
        )

    return per_sample


def _validated_starts(starts):
    if starts is None:
        return None
    try:
        labels = list(starts) if not isinstance(starts, str) else []
        distinct = len(set(labels)) == len(labels)
    except TypeError:
        labels, distinct = [], False
    if not labels or not distinct:
        raise ValueError(
            "Expected `starts` to be None, a non-empty list of distinct "
            "labels, each passed to `build_model(strength, start)`, e.g. "
            '("own", "projected"), or a dict of such labels to their '
            f"strengths. Received: starts={starts!r}."
        )
    return labels


def _validated_prefer(prefer, labels):
    if prefer is None:
        return ()
    preferred = [prefer] if isinstance(prefer, str) else prefer
    try:
        preferred = tuple(preferred)
    except TypeError:
        preferred = ()
    if labels is None or not preferred or not set(preferred) <= set(labels):
        raise ValueError(
            "Expected `prefer` to be None or a non-empty list of labels "
            f"of `starts` ({labels}). Received: prefer={prefer!r}. Pass "
            "`starts` with every label of `prefer`."
        )
    return preferred


def _validated_strengths(strengths):
    try:
        values = [float(s) for s in strengths]
    except (TypeError, ValueError):
        values = []
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(
            "Expected `strengths` to be a non-empty list of finite numbers "
            f"(e.g. ProjectionDecay rates). Received: strengths="
            f"{strengths!r}."
        )
    return list(dict.fromkeys(values))


def held_out_parts(count, validation_split, folds):
    """The index arrays held out in turn: one part, or `folds` parts.

    Raises the `ValueError`s of `select_strength` for bad `folds` and
    `validation_split`."""
    if folds is not None:
        if validation_split is not None:
            raise ValueError(
                "Pass either `validation_split` (one held-out part) or "
                "`folds` (cross-validation), not both. Received: "
                f"validation_split={validation_split!r}, folds={folds!r}."
            )
        if not (is_int(folds, 2) and folds <= count):
            raise ValueError(
                f"Expected `folds` to be an int from 2 to the number of "
                f"samples ({count}). Received: folds={folds!r}."
            )
        return np.array_split(np.arange(count), int(folds))
    if validation_split is None:
        validation_split = 0.25
    if not (is_number(validation_split) and 0.0 < validation_split < 1.0):
        raise ValueError(
            "Expected `validation_split` to be a number in (0, 1), the "
            f"held-out fraction. Received: validation_split="
            f"{validation_split!r}."
        )
    held_out = int(round(count * validation_split))
    if not 0 < held_out < count:
        raise ValueError(
            f"A validation_split of {validation_split} of {count} samples "
            f"leaves {held_out} held out and {count - held_out} to train "
            "on; both must be at least 1. Pass more samples or another "
            "`validation_split`."
        )
    return [np.arange(count - held_out, count)]


def _take(data, indices):
    if isinstance(data, (list, tuple)):
        return [_take(d, indices) for d in data]
    return np.asarray(data)[indices]
