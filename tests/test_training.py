"""Training with the penalty: fit, compilation, mixed precision."""

import warnings

import keras
import numpy as np
import pytest
from keras import ops
from utils import needs_channels_first_convolutions

from keras_approxeq import ProjectionDecay
from keras_approxeq import ProjectionRegularizer
from keras_approxeq import project
from keras_approxeq._keras_state import in_symbolic_scope


def _model(reg, data_format="channels_last"):
    shape = (8, 8, 1) if data_format == "channels_last" else (1, 8, 8)
    return keras.Sequential(
        [
            keras.Input(shape),
            keras.layers.Conv2D(
                8,
                3,
                padding="same",
                data_format=data_format,
                kernel_regularizer=ProjectionRegularizer(
                    "C4", out_rep="regular", lambda_perp=0.1
                ),
                bias_regularizer=ProjectionRegularizer(
                    "C4", out_rep="regular", lambda_perp=0.1
                ),
            ),
            keras.layers.ReLU(),
            keras.layers.Conv2D(
                8,
                3,
                padding="same",
                data_format=data_format,
                kernel_regularizer=reg,
            ),
            keras.layers.GlobalAveragePooling2D(data_format),
            keras.layers.Dense(
                1,
                kernel_regularizer=ProjectionRegularizer(
                    "C4", in_rep="regular", lambda_perp=0.1
                ),
            ),
        ]
    )


def _data(data_format="channels_last", n=16):
    rng = np.random.default_rng(0)
    shape = (n, 8, 8, 1) if data_format == "channels_last" else (n, 1, 8, 8)
    return rng.normal(size=shape).astype("float32"), rng.normal(
        size=(n, 1)
    ).astype("float32")


def _penalty_total(model):
    return sum(float(ops.convert_to_numpy(loss)) for loss in model.losses)


@pytest.mark.parametrize("jit_compile", ["auto", True])
def test_fit_reduces_the_penalty(jit_compile):
    reg = ProjectionRegularizer(
        "C4", in_rep="regular", out_rep="regular", lambda_perp=0.1
    )
    model = _model(reg)
    # The recipe's decay in the same compiled step (torch.compile with
    # jit_compile=True on PyTorch): at rate 1 it projects after each step.
    dense = model.layers[-1].kernel
    dense.constraint = ProjectionDecay("C4", in_rep="regular", rate=1.0)
    x, y = _data()
    model.compile(keras.optimizers.SGD(0.05), "mse", jit_compile=jit_compile)
    assert len(model.losses) == 4  # three kernels and one bias
    before = _penalty_total(model)
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert _penalty_total(model) < before
    kernel = ops.convert_to_numpy(dense.value)
    np.testing.assert_allclose(
        kernel, project(kernel, "C4", in_rep="regular"), atol=1e-6
    )
    assert np.abs(kernel).max() > 1e-3  # projected, not zeroed


def _residual_norm(kernel):
    kernel = ops.convert_to_numpy(kernel).astype("float64")
    return np.linalg.norm(kernel - project(kernel, "C4", out_rep="regular"))


@pytest.mark.parametrize("jit_compile", ["auto", True])
@pytest.mark.parametrize(
    "learning_rate, factor",
    [
        # A fixed rate: half of the non-equivariant part per step.
        (None, 0.5**4),
        # Following the schedule: rate 0.5 at lr 0.1, 0.25 at lr 0.05.
        (0.1, 0.5**2 * 0.75**2),
    ],
)
def test_decay_follows_the_learning_rate_schedule(
    jit_compile, learning_rate, factor
):
    """With `learning_rate`, each step removes `rate * lr / learning_rate`
    of the non-equivariant part, at the schedule's learning rate of that
    step, inside the compiled train step."""
    decay = ProjectionDecay(
        "C4", out_rep="regular", rate=0.5, learning_rate=learning_rate
    )
    conv = keras.layers.Conv2D(8, 3, padding="same", kernel_constraint=decay)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            conv,
            keras.layers.Lambda(lambda t: 0.0 * t),  # no task gradient
        ]
    )
    # lr 0.1 at steps 0 and 1, 0.05 at steps 2 and 3.
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [1], [0.1, 0.05]
    )
    model.compile(
        keras.optimizers.SGD(schedule), "mse", jit_compile=jit_compile
    )
    x, _ = _data(n=4)
    before = _residual_norm(conv.kernel)
    model.fit(
        x, np.zeros((4, 8, 8, 8), "float32"), epochs=4, batch_size=4, verbose=0
    )
    np.testing.assert_allclose(
        _residual_norm(conv.kernel) / before, factor, rtol=1e-4
    )


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_decay_follows_a_changed_learning_rate(policy):
    """The learning rate read after a change (as `ReduceLROnPlateau`
    makes), not the one the compiled step was traced with; under
    `mixed_float16`, that of the `LossScaleOptimizer`'s inner optimizer."""
    keras.config.set_dtype_policy(policy)
    decay = ProjectionDecay(
        "C4", out_rep="regular", rate=0.5, learning_rate=0.1
    )
    conv = keras.layers.Conv2D(8, 3, padding="same", kernel_constraint=decay)
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), conv, keras.layers.Lambda(lambda t: 0.0 * t)]
    )
    model.compile(keras.optimizers.SGD(0.1), "mse")
    x, _ = _data(n=4)
    y = np.zeros((4, 8, 8, 8), "float32")
    before = _residual_norm(conv.kernel)
    model.fit(x, y, batch_size=4, verbose=0)
    model.optimizer.learning_rate = 0.05
    model.fit(x, y, batch_size=4, verbose=0)
    np.testing.assert_allclose(
        _residual_norm(conv.kernel) / before, 0.5 * 0.75, rtol=1e-4
    )


def _fit_a_decay(decay, learning_rate, jit_compile="auto"):
    conv = keras.layers.Conv2D(8, 3, padding="same", kernel_constraint=decay)
    model = keras.Sequential([keras.Input((8, 8, 1)), conv])
    model.compile(
        keras.optimizers.Adam(learning_rate), "mse", jit_compile=jit_compile
    )
    x, _ = _data(n=4)
    model.fit(x, np.zeros((4, 8, 8, 8), "float32"), batch_size=4, verbose=0)


def _decay_warnings(caught):
    return [w for w in caught if "ProjectionDecay" in str(w.message)]


def _schedule():
    return keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=10)


def test_a_fixed_decay_under_a_schedule_warns_once():
    """A fixed rate under a schedule erases the symmetry breaking as the
    learning rate falls: the warning says so and how to fix it."""
    decay = ProjectionDecay("C4", out_rep="regular", rate=0.1)
    with pytest.warns(UserWarning, match=r"rate=0\.1.*CosineDecay") as caught:
        _fit_a_decay(decay, _schedule())
    assert "learning_rate=peak" in str(caught[0].message)
    assert len(_decay_warnings(caught)) == 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit_a_decay(decay, _schedule())  # checked once
    assert not _decay_warnings(caught)


@pytest.mark.parametrize(
    "rate, learning_rate, optimizer_rate",
    [
        (0.1, None, 1e-3),  # constant learning rate
        (0.1, 1e-3, "schedule"),  # follows the schedule
        (1.0, None, "schedule"),  # projects, whatever the learning rate
        (0.0, None, "schedule"),  # leaves the weight alone
    ],
)
def test_decays_that_suit_the_learning_rate_do_not_warn(
    rate, learning_rate, optimizer_rate
):
    if optimizer_rate == "schedule":
        optimizer_rate = _schedule()
    decay = ProjectionDecay(
        "C4", out_rep="regular", rate=rate, learning_rate=learning_rate
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit_a_decay(decay, optimizer_rate)
    assert not _decay_warnings(caught)


@pytest.mark.parametrize("step", ["evaluate", "train_on_batch"])
def test_the_compiled_loss_includes_the_penalty(step, monkeypatch):
    """The compiled loss is the task loss plus the sum of penalties.

    Keras' first step also builds the loss in a shape-only pass
    (`keras.SymbolicScope`, on JAX and PyTorch): no penalty is computed
    there."""
    scopes = []
    evaluate = ProjectionRegularizer._evaluate

    def recording(self, *args):
        scopes.append(in_symbolic_scope())
        return evaluate(self, *args)

    monkeypatch.setattr(ProjectionRegularizer, "_evaluate", recording)
    reg = ProjectionRegularizer(
        "C4", in_rep="regular", out_rep="regular", lambda_perp=10.0
    )
    model = _model(reg)
    x, y = _data()
    model.compile(keras.optimizers.SGD(0.0), "mse")
    task = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    if step == "evaluate":
        loss = model.evaluate(x, y, verbose=0, batch_size=16)
    else:
        loss = model.train_on_batch(x, y)
    assert scopes and not any(scopes)
    np.testing.assert_allclose(loss, task + _penalty_total(model), rtol=1e-4)


def test_large_penalty_drives_the_kernel_to_equivariance():
    reg = ProjectionRegularizer(
        "C4",
        in_rep="regular",
        out_rep="regular",
        norm="fro2",
        lambda_perp=5.0,
    )
    model = _model(reg)
    x, y = _data()
    model.compile(keras.optimizers.SGD(0.05), "mse")
    kernel = model.layers[2].kernel

    def relative_residual():
        k = ops.convert_to_numpy(kernel).astype("float64")
        residual = k - project(k, "C4", in_rep="regular", out_rep="regular")
        return np.linalg.norm(residual) / np.linalg.norm(k)

    before = relative_residual()
    model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert relative_residual() < 0.1 * before


def test_mixed_float16():
    keras.config.set_dtype_policy("mixed_float16")
    reg = ProjectionRegularizer("C4", in_rep="regular", out_rep="regular")
    model = _model(reg)
    x, y = _data()
    model.compile(keras.optimizers.SGD(0.01), "mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    for loss in model.losses:
        assert keras.backend.standardize_dtype(loss.dtype) == "float32"
    assert np.isfinite(_penalty_total(model))


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "bfloat16"])
def test_bfloat16_policies(policy):
    keras.config.set_dtype_policy(policy)
    reg = ProjectionRegularizer("C4", in_rep="regular", out_rep="regular")
    model = _model(reg)
    x, y = _data()
    model.compile(keras.optimizers.SGD(0.01), "mse")
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for loss in model.losses:
        assert keras.backend.standardize_dtype(loss.dtype) == "float32"


@needs_channels_first_convolutions
def test_channels_first_model_trains():
    reg = ProjectionRegularizer(
        "C4", in_rep="regular", out_rep="regular", lambda_perp=0.1
    )
    model = _model(reg, "channels_first")
    x, y = _data("channels_first")
    model.compile(keras.optimizers.SGD(0.05), "mse")
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
