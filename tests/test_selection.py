"""`select_strength`: held-out choice of how hard to pull."""

import keras
import numpy as np
import pytest

from keras_approxeq import select_strength


def _fixed_gain(gain, l2=0.0):
    """`y = gain * x`, untrainable: its held-out loss is known exactly."""
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(
                1,
                use_bias=False,
                trainable=False,
                kernel_initializer=keras.initializers.Constant(gain),
                kernel_regularizer=keras.regularizers.L2(l2) if l2 else None,
            ),
        ]
    )
    model.compile("sgd", "mse")
    return model


def test_picks_the_strength_of_the_lowest_held_out_loss():
    x = np.ones((8, 1), "float32")
    best, scores = select_strength(
        _fixed_gain, x, 0.3 * x, strengths=(0.0, 0.3, 1.0), epochs=1
    )
    assert best == 0.3
    np.testing.assert_allclose(
        [scores[0.0], scores[0.3], scores[1.0]], [0.09, 0.0, 0.49], atol=1e-6
    )


def test_scores_only_the_last_part_and_without_penalties():
    """The last quarter is held out (here the only samples with `y = 0`),
    and the compiled loss is scored without the L2 penalty."""
    x = np.ones((8, 1), "float32")
    y = np.concatenate([np.ones((6, 1)), np.zeros((2, 1))]).astype("float32")
    best, scores = select_strength(
        lambda gain: _fixed_gain(gain, l2=100.0),
        x,
        y,
        strengths=(0.0, 1.0),
        epochs=1,
        verbose=False,
    )
    assert best == 0.0 and scores[0.0] == 0.0
    np.testing.assert_allclose(scores[1.0], 1.0, atol=1e-6)


def test_custom_metric_and_several_inputs():
    inputs = [keras.Input((1,)), keras.Input((1,))]
    x = [np.ones((8, 1), "float32"), 2 * np.ones((8, 1), "float32")]

    def build(gain):
        out = keras.layers.Add()(
            [keras.layers.Rescaling(gain)(inputs[0]), inputs[1]]
        )
        model = keras.Model(inputs, out)
        model.compile("sgd", "mse")
        return model

    def mae(y_true, y_pred):
        return np.mean(np.abs(y_true - y_pred))

    best, scores = select_strength(
        build, x, 2.5 * x[0], strengths=(0.0, 0.5, 1.0), metric=mae, epochs=1
    )
    assert best == 0.5
    np.testing.assert_allclose(scores[1.0], 0.5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(strengths=()), "non-empty list of finite numbers"),
        (dict(strengths=("a",)), "non-empty list of finite numbers"),
        (dict(strengths=(0.1, float("nan"))), "Received: strengths="),
        (dict(validation_split=0.0), "number in \\(0, 1\\)"),
        (dict(validation_split=1.5), "number in \\(0, 1\\)"),
        (dict(validation_split=0.01), "both must be at least 1"),
        (dict(validation_data=None), "do not pass `validation_data`"),
        (dict(folds=1), "an int from 2 to the number of samples \\(8\\)"),
        (dict(folds=9), "Received: folds=9"),
        (dict(folds=2.0), "Received: folds=2.0"),
        (dict(folds=2, validation_split=0.5), "not both"),
        (dict(folds=8, epochs=1, strengths=(0.1,)), None),
        (dict(rule="best"), "one of \\['min', '1se'\\].*rule='best'"),
        (dict(starts="projected"), "list of distinct labels.*'projected'"),
        (dict(starts=()), "list of distinct labels"),
        (dict(starts=("own", "own")), "Received: starts=\\('own', 'own'\\)"),
        (dict(starts=([1], [2])), "list of distinct labels"),
        (dict(prefer=("own",)), "labels of `starts` \\(None\\)"),
        (dict(starts=("own",), prefer="mine"), "Received: prefer='mine'"),
        (dict(starts=("own",), prefer=()), "non-empty list of labels"),
        (dict(validation_split=0.5, epochs=1, validation_freq=1), None),
    ],
)
def test_bad_arguments_say_what_to_do(kwargs, message):
    x = np.ones((8, 1), "float32")
    if message is None:  # a valid call, for contrast
        select_strength(_fixed_gain, x, x, verbose=False, **kwargs)
        return
    with pytest.raises(ValueError, match=message):
        select_strength(_fixed_gain, x, x, **kwargs)


def test_folds_hold_out_every_part_once_and_average():
    """Four folds of two samples; only the last fold's targets are 0, so a
    gain `g` scores `(3 * (1 - g)**2 + g**2) / 4`, lowest at `g = 0.75`."""
    x = np.ones((8, 1), "float32")
    y = np.concatenate([np.ones((6, 1)), np.zeros((2, 1))]).astype("float32")
    held_out = []

    def build(gain):
        model = _fixed_gain(gain)
        predict = model.predict
        model.predict = lambda data, **kw: (
            held_out.append(len(data)) or predict(data, **kw)
        )
        return model

    best, scores = select_strength(
        build,
        x,
        y,
        strengths=(0.5, 0.75, 1.0),
        folds=4,
        rule="min",
        epochs=1,
    )
    assert best == 0.75 and held_out == [2] * 12
    np.testing.assert_allclose(
        [scores[0.5], scores[0.75], scores[1.0]],
        [0.25, 0.1875, 0.25],
        atol=1e-6,
    )


def test_the_one_standard_error_rule_takes_the_strongest_pull_within_noise():
    """Held-out targets 0, 0.2, 0.4, 0.6 and constant predictions `g`:
    `g = 0.3` scores 0.05 and `g = 0.4` 0.06; their per-sample differences
    (0.07, 0.03, -0.01, -0.05) have a standard error of 0.022, so 0.4 is
    within reach and "1se" takes it where "min" takes 0.3; `g = 1` (0.54)
    is out of reach of both. A compiled `keras.losses.Loss` is scored per
    sample as the same loss by name is (reduced to one number first,
    there would be no spread and "1se" would take 0.3)."""
    x = np.ones((8, 1), "float32")
    y = np.array([0, 0, 0, 0, 0, 0.2, 0.4, 0.6], "float32")[:, None]
    chosen = {}
    for rule, loss in (
        ("min", "mse"),
        ("1se", "mse"),
        ("1se, Loss object", keras.losses.MeanSquaredError()),
    ):

        def build(gain):
            model = _fixed_gain(gain)
            model.compile("sgd", loss)
            return model

        chosen[rule], scores = select_strength(
            build,
            x,
            y,
            strengths=(0.3, 0.4, 1.0),
            validation_split=0.5,
            rule=rule.split(",")[0],
            epochs=1,
            verbose=False,
        )
    assert chosen == {"min": 0.3, "1se": 0.4, "1se, Loss object": 0.4}
    np.testing.assert_allclose(
        [scores[0.3], scores[0.4], scores[1.0]], [0.05, 0.06, 0.54], atol=1e-6
    )


def test_the_one_standard_error_rule_compares_strengths_sample_by_sample():
    """Held-out samples of very different difficulty `d` (0, 1, 2, 3),
    the same for every strength, and a metric `d + (g - 0.3)**2`: `g = 0.4`
    is worse than `g = 0.3` by 0.01 on every sample, which the samples'
    spread (a standard error of 0.56) would hide but their differences,
    all equal, do not."""
    x = np.ones((8, 1), "float32")
    difficulty = np.array([9, 9, 9, 9, 0, 1, 2, 3], "float32")[:, None]

    def metric(y_true, y_pred):
        return y_true[:, 0] + (y_pred[:, 0] - 0.3) ** 2

    best, scores = select_strength(
        _fixed_gain,
        x,
        difficulty,
        strengths=(0.3, 0.4),
        validation_split=0.5,
        metric=metric,
        epochs=1,
        verbose=False,
    )
    assert best == 0.3
    np.testing.assert_allclose(
        [scores[0.3], scores[0.4]], [1.5, 1.51], atol=1e-6
    )


def test_a_model_with_several_losses_needs_a_metric():
    def build(gain):
        inputs = keras.Input((1,))
        model = keras.Model(inputs, [inputs, inputs])
        model.compile("sgd", ["mse", "mse"])
        return model

    x = np.ones((8, 1), "float32")
    with pytest.raises(ValueError, match="pass `metric=`"):
        select_strength(build, x, [x, x], strengths=(0.0,), epochs=1)


def _shifted_gain(gain, start):
    """A pulled candidate (`gain != 0`) from start "shifted" has its gain
    lowered by 0.2; gain 0 is the same model from either start."""
    return _fixed_gain(gain - 0.2 if gain and start == "shifted" else gain)


def test_starts_choose_the_start_with_the_strength(capsys):
    """Targets `0.3 x`: from "shifted", strength 0.5 predicts them exactly,
    so its start wins; strength 0 is built once, from the first start."""
    x = np.ones((8, 1), "float32")
    built = []

    def build(gain, start):
        built.append((gain, start))
        return _shifted_gain(gain, start)

    best, scores = select_strength(
        build,
        x,
        0.3 * x,
        strengths=(0.0, 0.5, 1.0),
        starts=("own", "shifted"),
        epochs=1,
    )
    assert best == (0.5, "shifted")
    assert built == [
        (0.0, "own"),
        (0.5, "own"),
        (1.0, "own"),
        (0.5, "shifted"),
        (1.0, "shifted"),
    ]
    assert list(scores) == built
    np.testing.assert_allclose(
        list(scores.values()), [0.09, 0.04, 0.49, 0.0, 0.25], atol=1e-6
    )
    assert "select_strength: 0.5 (shifted): held-out score" in (
        capsys.readouterr().out
    )


def test_a_start_can_label_another_family_of_candidates():
    """`docs/choosing.md` adds a weight decay as a third start: its
    strengths are built by the same `build(strength, start)` and win
    when they score best. Targets `0.3 x`: "weight decay" at strength 1
    (gain 0.3 here) predicts them exactly."""
    x = np.ones((8, 1), "float32")
    built = []

    def build(gain, start):
        built.append((gain, start))
        if start == "weight decay":
            return _fixed_gain(0.3 * gain)
        return _shifted_gain(gain, start)

    best, scores = select_strength(
        build,
        x,
        0.3 * x,
        strengths=(0.0, 1.0),
        starts=("own", "shifted", "weight decay"),
        epochs=1,
        verbose=False,
    )
    assert best == (1.0, "weight decay")
    assert built == [
        (0.0, "own"),
        (1.0, "own"),
        (1.0, "shifted"),
        (1.0, "weight decay"),
    ]
    np.testing.assert_allclose(
        list(scores.values()), [0.09, 0.49, 0.25, 0.0], atol=1e-6
    )


@pytest.mark.parametrize(
    "starts, expected",
    [
        (("own", "shifted"), (0.0, "own")),
        (("shifted", "own"), (0.2, "shifted")),
    ],
)
def test_a_tie_between_starts_goes_to_the_earlier_one(starts, expected):
    """Targets 0: strength 0 and strength 0.2 from "shifted" both predict
    them exactly. The earlier start in `starts` wins the tie, and "1se"
    then picks among that start's strengths and strength 0: from "own",
    0.2 (0.04 on every sample) is out of reach; from "shifted" it ties
    with 0 and, pulling harder, is taken."""
    x = np.ones((8, 1), "float32")
    best, _ = select_strength(
        _shifted_gain,
        x,
        0 * x,
        strengths=(0.0, 0.2),
        starts=starts,
        epochs=1,
        verbose=False,
    )
    assert best == expected


@pytest.mark.parametrize(
    "own_gain, prefer, rule, expected",
    [
        (0.4, None, "1se", (1.0, "weight decay")),
        (0.4, ("own",), "1se", (1.0, "own")),
        (0.4, ("own",), "min", (1.0, "weight decay")),
        (1.0, ("own",), "1se", (1.0, "weight decay")),
    ],
)
def test_a_preferred_family_is_left_only_for_a_clearly_better_one(
    own_gain, prefer, rule, expected
):
    """Held-out targets 0, 0.2, 0.4, 0.6, as in the one-standard-error
    test above: "weight decay" at strength 1 predicts 0.3 (0.05), "own"
    at strength 1 predicts `own_gain`. At 0.4 (0.06, one standard error
    of 0.022 away) `prefer=("own",)` keeps own under "1se", not under
    "min"; at 1.0 (0.54) the weight decay is better by far more than a
    standard error and is taken all the same."""
    x = np.ones((8, 1), "float32")
    y = np.array([0, 0, 0, 0, 0, 0.2, 0.4, 0.6], "float32")[:, None]

    def build(strength, start):
        gain = own_gain if start == "own" else 0.3
        return _fixed_gain(gain * strength)

    best, _ = select_strength(
        build,
        x,
        y,
        strengths=(0.0, 1.0),
        starts=("own", "weight decay"),
        prefer=prefer,
        rule=rule,
        validation_split=0.5,
        epochs=1,
        verbose=False,
    )
    assert best == expected


@pytest.mark.parametrize("starts", [None, ("own", "shifted")])
def test_diverged_candidates_are_passed_over_and_all_diverged_is_an_error(
    starts,
):
    """A metric that is NaN for gain 1 (a diverged fit, in effect): the
    other candidates decide (from "shifted", strength 1 has gain 0.8,
    the closest to the targets). NaN for every candidate: a clear
    error."""
    x = np.ones((8, 1), "float32")
    build = _fixed_gain if starts is None else _shifted_gain

    def nan_at_gain_1(y_true, y_pred):
        error = (y_pred[:, 0] - y_true[:, 0]) ** 2
        return np.where(np.isclose(y_pred[:, 0], 1.0), np.nan, error)

    best, scores = select_strength(
        build,
        x,
        x,
        strengths=(0.0, 0.5, 1.0),
        starts=starts,
        metric=nan_at_gain_1,
        epochs=1,
        verbose=False,
    )
    assert best == (0.5 if starts is None else (1.0, "shifted"))
    assert np.isnan(scores[1.0 if starts is None else (1.0, "own")])
    with pytest.raises(ValueError, match="diverged.*learning rate"):
        select_strength(
            build,
            x,
            x,
            strengths=(0.0, 0.5, 1.0),
            starts=starts,
            metric=lambda y_true, y_pred: np.full(len(y_true), np.nan),
            epochs=1,
            verbose=False,
        )
