"""`select_and_fit`: the recipe's candidates, chosen and fitted in one call."""

import re

import keras
import numpy as np
import pytest

from keras_approxeq import ProjectionDecay
from keras_approxeq import project
from keras_approxeq import select_and_fit
from keras_approxeq import select_strength

LAST = {"data_format": "channels_last"}


def _make_model(filters=4):
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(
                filters, 3, padding="same", name="conv", **LAST
            ),
            keras.layers.GlobalAveragePooling2D(**LAST),
            keras.layers.Dense(1, name="head"),
        ]
    )


def _data(count=12):
    x = np.random.default_rng(1).normal(size=(count, 6, 6, 1))
    return x.astype("float32"), x.mean(axis=(1, 2)).astype("float32")


class _Steps(keras.callbacks.Callback):
    """The optimizer steps of every fit it was passed to, in order."""

    def __init__(self):
        super().__init__()
        self.fits = []

    def on_train_begin(self, logs=None):
        self.fits.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.fits[-1] += 1


def test_the_recipes_candidates_are_scored_and_the_choice_is_fitted():
    x, y = _data()
    model, best, scores = select_and_fit(
        _make_model, "C4", x, y, loss="mse", rates=(0.0, 1.0), folds=2,
        verbose=False,
    )  # fmt: skip
    assert list(scores) == [(0.0, "own"), (1.0, "own"), (1.0, "projected")]
    assert best in scores
    assert int(model.optimizer.iterations) > 0  # fitted on all the data
    constraint = model.get_layer("conv").kernel.constraint
    if best[0]:
        assert isinstance(constraint, ProjectionDecay)
        assert constraint.rate == best[0]
    else:
        assert constraint is None


def test_an_exact_candidate_is_fitted_inside_the_equivariant_subspace(
    tmp_path,
):
    """The only candidate, rate 1 from the projected start: its kernel
    stays its own projection through training, the model is invariant
    to quarter turns, and it reloads from a `.keras` file."""
    x, y = _data()
    model, best, _ = select_and_fit(
        _make_model, "C4", x, y, loss="mse", rates=(1.0,),
        starts=("projected",), folds=2, epochs=2, verbose=False,
    )  # fmt: skip
    assert best == (1.0, "projected")
    kernel = keras.ops.convert_to_numpy(model.get_layer("conv").kernel)
    np.testing.assert_allclose(project(kernel, "C4"), kernel, atol=1e-6)
    turned = np.rot90(x, axes=(1, 2))
    np.testing.assert_allclose(
        model.predict(turned, verbose=0), model.predict(x, verbose=0),
        atol=1e-5,
    )  # fmt: skip
    model.save(tmp_path / "chosen.keras")
    reloaded = keras.saving.load_model(tmp_path / "chosen.keras")
    assert reloaded.get_layer("conv").kernel.constraint.rate == 1.0
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0), model.predict(x, verbose=0),
        atol=1e-6,
    )  # fmt: skip


def test_weight_decays_add_two_families_and_reach_the_optimizer():
    x, y = _data()
    model, best, scores = select_and_fit(
        _make_model, "C4", x, y, loss="mse", optimizer="adam",
        rates=(0.0, 1.0), starts=("own",), weight_decays=(0.5, 2),
        folds=2, verbose=False,
    )  # fmt: skip
    assert list(scores) == [
        (0.0, "own"),
        (1.0, "own"),
        (0.5, "weight decay"),
        (2.0, "weight decay"),
        (1.0, "rates on weight decay 0.5"),
        (1.0, "rates on weight decay 2"),
    ]
    decays = {"weight decay": best[0], "rates on weight decay 0.5": 0.5}
    decays["rates on weight decay 2"] = 2.0
    expected = decays.get(best[1]) if best[0] else None
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer.weight_decay == expected


def test_a_weight_decay_is_chosen_only_if_clearly_better(monkeypatch):
    """`select_strength` gets the starts as the families to prefer, so a
    weight-decay family is chosen only if it beats them by more than a
    standard error (the rule itself: `tests/test_selection.py`)."""
    from keras_approxeq.penalties import recipe

    calls = []

    def recorded(*args, **kwargs):
        calls.append(kwargs)
        return select_strength(*args, **kwargs)

    monkeypatch.setattr(recipe, "select_strength", recorded)
    x, y = _data()
    select_and_fit(
        _make_model, "C4", x, y, loss="mse", rates=(0.0, 1.0),
        starts=("projected", "own"), weight_decays=(0.5,), folds=2,
        verbose=False,
    )  # fmt: skip
    assert calls[0]["prefer"] == ["projected", "own"]
    assert list(calls[0]["starts"]) == [
        "projected",
        "own",
        "weight decay",
        "rates on weight decay 0.5",
    ]


def test_the_users_optimizer_is_copied_not_trained():
    x, y = _data()
    optimizer = keras.optimizers.SGD(learning_rate=0.05, momentum=0.5)
    model, _, _ = select_and_fit(
        _make_model, "C4", x, y, loss="mse", optimizer=optimizer,
        rates=(0.0, 0.3), starts=("own",), folds=2, verbose=False,
    )  # fmt: skip
    assert model.optimizer is not optimizer
    assert int(optimizer.iterations) == 0
    assert model.optimizer.momentum == 0.5
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 0.05)


def test_cross_validation_fits_take_as_many_steps_as_the_final_fit():
    """12 samples in batches of 4: the final fit takes 3 steps per epoch,
    6 in 2 epochs; each of the 3 folds trains on 8 samples, 2 steps per
    epoch, so it takes 3 epochs, 6 steps too."""
    x, y = _data(12)
    steps = _Steps()
    select_and_fit(
        _make_model, "C4", x, y, loss="mse", rates=(0.0, 1.0),
        starts=("own",), folds=3, epochs=2, batch_size=4, verbose=False,
        callbacks=[steps],
    )  # fmt: skip
    assert steps.fits == [6] * (2 * 3 + 1)


def test_one_held_out_part_and_a_metric_of_ones_own():
    """`validation_split=0.25` of 12 samples holds out 3: the fits train
    on 9, in batches of 4 as many steps per epoch as on 12, so they
    take the final fit's 2 epochs. The metric scores the held-out
    samples instead of the compiled loss."""
    x, y = _data(12)
    steps, scored = _Steps(), []

    def metric(y_true, y_pred):
        scored.append(len(y_true))
        return np.abs(y_pred - y_true)

    _, best, scores = select_and_fit(
        _make_model, "C4", x, y, loss="mse", rates=(0.0, 1.0),
        starts=("own",), validation_split=0.25, metric=metric, epochs=2,
        batch_size=4, verbose=False, callbacks=[steps],
    )  # fmt: skip
    assert steps.fits == [6, 6, 6]
    assert scored == [3, 3]
    assert list(scores) == [(0.0, "own"), (1.0, "own")]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"starts": ("own", "sideways")}, "names from ('own', 'projected')"),
        ({"starts": ()}, "non-empty list of distinct names"),
        ({"starts": ("own", "own")}, "non-empty list of distinct names"),
        ({"weight_decays": (0.0,)}, "positive numbers"),
        ({"weight_decays": 0.1}, "positive numbers"),
        ({"epochs": 0}, "`epochs` to be a positive int"),
        ({"batch_size": 2.5}, "`batch_size` to be a positive int"),
        ({"folds": 1}, "`folds` to be an int from 2"),
        ({"folds": None, "validation_split": 1.5}, "number in (0, 1)"),
        ({"validation_split": 0.25}, "either `validation_split`"),
        ({"out_rep": "regular"}, "conv"),  # 4 channels: one regular field
        ({"group": "C4x"}, "C4x"),
    ],
)
def test_bad_arguments_fail_before_any_training(kwargs, message):
    x, y = _data()
    steps = _Steps()
    kwargs = {"group": "C4", "out_rep": "trivial", **kwargs}

    def make_model():
        # 3 channels fit no regular C4 field.
        return _make_model(3 if kwargs["out_rep"] == "regular" else 4)

    with pytest.raises(ValueError, match=re.escape(message)):
        select_and_fit(
            make_model, x=x, y=y, loss="mse", verbose=False,
            callbacks=[steps], **{"folds": 2, **kwargs},
        )  # fmt: skip
    assert steps.fits == []


def test_a_model_that_is_not_built_is_refused():
    x, y = _data()

    def make_model():
        return keras.Sequential([keras.layers.Dense(1)])

    with pytest.raises(ValueError, match="built Keras model"):
        select_and_fit(make_model, "C4", x, y, loss="mse", verbose=False)
