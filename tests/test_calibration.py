"""`rescale_kernels`: unit-scale starts measured on data, still equivariant."""

import re

import keras
import numpy as np
import pytest

from keras_approxeq import ProjectedInitializer
from keras_approxeq import project
from keras_approxeq import regularize
from keras_approxeq import rescale_kernels

LAST = {"data_format": "channels_last"}
REGULAR = {"in_rep": "regular", "out_rep": "regular"}


def _network(scale=1.0):
    """Two projected C4 convolutions (ReLU, then linear) between plain
    layers; `scale` multiplies the projected initializers' draws."""
    projected = ProjectedInitializer(
        "C4",
        **REGULAR,
        base=keras.initializers.RandomNormal(stddev=0.1 * scale),
    )
    inputs = keras.Input((9, 9, 8))
    x = keras.layers.Conv2D(8, 1, name="plain", **LAST)(inputs)
    x = keras.layers.Conv2D(
        8,
        3,
        padding="same",
        activation="relu",
        kernel_initializer=projected,
        name="first",
        **LAST,
    )(x)
    x = keras.layers.Conv2D(
        8,
        3,
        padding="same",
        kernel_initializer=projected,
        name="second",
        **LAST,
    )(x)
    x = keras.layers.GlobalAveragePooling2D(**LAST)(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x))


def _batch(shape=(16, 9, 9, 8)):
    return np.random.default_rng(0).normal(size=shape).astype("float32")


def _output_std(model, name, x):
    probe = keras.Model(model.inputs, model.get_layer(name).output)
    return float(np.std(keras.ops.convert_to_numpy(probe(x))))


@pytest.mark.parametrize("scale", [1e-3, 1e3])
def test_selected_layers_reach_the_target_spread(scale):
    """From far too small and far too large draws, each projected layer
    ends at the target, and its kernel stays equivariant."""
    keras.utils.set_random_seed(0)
    model, x = _network(scale), _batch()
    factors = rescale_kernels(model, x, target_std=0.5, verbose=False)
    assert set(factors) == {"first", "second"}
    for name in factors:
        assert factors[name] > 0
        assert _output_std(model, name, x) == pytest.approx(0.5, rel=0.05)
        kernel = keras.ops.convert_to_numpy(model.get_layer(name).kernel)
        kernel = kernel.astype("float64")
        parallel = project(kernel, "C4", **REGULAR)
        np.testing.assert_allclose(
            parallel, kernel, atol=1e-5 * np.abs(kernel).max()
        )


def test_other_layers_keep_their_weights():
    keras.utils.set_random_seed(0)
    model = _network(1e-2)
    before = {
        name: keras.ops.convert_to_numpy(model.get_layer(name).kernel)
        for name in ("plain", "head")
    }
    rescale_kernels(model, _batch(), verbose=False)
    for name, kernel in before.items():
        np.testing.assert_array_equal(model.get_layer(name).kernel, kernel)


def test_layers_by_name_and_by_predicate(capsys):
    keras.utils.set_random_seed(0)
    model, x = _network(), _batch()
    factors = rescale_kernels(model, x, layers=["plain"])
    assert set(factors) == {"plain"}
    assert _output_std(model, "plain", x) == pytest.approx(1.0, rel=0.05)
    assert "rescale_kernels: plain: output std" in capsys.readouterr().out
    dense = rescale_kernels(
        model,
        x,
        layers=lambda layer: isinstance(layer, keras.layers.Dense),
        verbose=False,
    )
    assert set(dense) == {"head"}


def test_a_regularized_model_is_rescaled_where_it_was_redrawn():
    """The recipe's path: `regularize(..., reinitialize="auto")` then
    `rescale_kernels` touches exactly the re-drawn kernels."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((9, 9, 32)),
            # C8 regular fields: 5.5 % of a 5x5 kernel (re-drawn), 12.5 %
            # of a 1x1 one (kept).
            keras.layers.Conv2D(32, 5, name="small", **LAST),
            keras.layers.Conv2D(32, 1, name="large", **LAST),
        ]
    )
    model = regularize(
        model,
        "C8",
        **REGULAR,
        penalty=False,
        decay=1.0,
        reinitialize="auto",
        verbose=False,
    )
    x = _batch((8, 9, 9, 32))
    assert set(rescale_kernels(model, x, verbose=False)) == {"small"}
    assert _output_std(model, "small", x) == pytest.approx(1.0, rel=0.05)


def test_a_dead_layer_is_left_finite():
    """A layer whose output is zero on `x` keeps its kernel: no division
    by zero, no NaN."""
    keras.utils.set_random_seed(0)
    model = _network()
    before = keras.ops.convert_to_numpy(model.get_layer("first").kernel)
    factors = rescale_kernels(
        model, np.zeros((4, 9, 9, 8), "float32"), layers=["first"]
    )
    assert factors == {"first": 1.0}
    np.testing.assert_array_equal(model.get_layer("first").kernel, before)


def test_a_subclassed_model_is_refused():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(4, 3, **LAST)

        def call(self, x):
            return self.conv(x)

    model = Net()
    model(_batch((1, 9, 9, 8)))
    with pytest.raises(ValueError, match="a Net without them"):
        rescale_kernels(model, _batch())


def test_nothing_selected_is_refused():
    model = keras.Sequential(
        [keras.Input((9, 9, 8)), keras.layers.Conv2D(4, 3, **LAST)]
    )
    with pytest.raises(ValueError, match="No layer selected"):
        rescale_kernels(model, _batch())


def test_a_selected_layer_without_kernel_is_refused():
    model = keras.Sequential(
        [
            keras.Input((9, 9, 8)),
            keras.layers.ReLU(name="act"),
            keras.layers.Conv2D(4, 3, **LAST),
        ]
    )
    expected = "Layer 'act' (ReLU) has no kernel"
    with pytest.raises(ValueError, match=re.escape(expected)):
        rescale_kernels(model, _batch(), layers=["act"])


@pytest.mark.parametrize(
    "option, value",
    [
        ("target_std", 0),
        ("target_std", float("nan")),
        ("tolerance", 1.5),
        ("max_iterations", 0),
        ("max_iterations", True),
    ],
)
def test_options_out_of_range_are_refused(option, value):
    with pytest.raises(ValueError, match=re.escape(f"{option}={value!r}")):
        rescale_kernels(_network(), _batch(), **{option: value})


def test_a_bounded_activation_takes_several_passes_and_warns_if_short():
    """A sigmoid is not homogeneous: one pass does not reach the target,
    several do; a target above what a sigmoid can give warns."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    outputs = keras.layers.Dense(
        6, activation="sigmoid", bias_initializer="ones", name="gate"
    )(inputs)
    model, x = keras.Model(inputs, outputs), _batch((64, 6))
    rescale_kernels(model, x, layers=["gate"], target_std=0.2, verbose=False)
    assert _output_std(model, "gate", x) == pytest.approx(0.2, rel=0.05)
    with pytest.warns(UserWarning, match="caps the spread"):
        rescale_kernels(
            model, x, layers=["gate"], max_iterations=3, verbose=False
        )


def test_an_overflowing_factor_is_refused_and_the_kernel_kept():
    """Outputs of 1e-3 asked to reach 1e3 need a float16 kernel of ones
    multiplied by about 5e5, past float16's largest number."""
    inputs = keras.Input((4,))
    dense = keras.layers.Dense(
        4, kernel_initializer="ones", dtype="float16", name="small"
    )
    model = keras.Model(inputs, dense(inputs))
    before = keras.ops.convert_to_numpy(dense.kernel)
    with pytest.raises(ValueError, match="overflows its dtype float16"):
        rescale_kernels(
            model, 1e-3 * _batch((8, 4)), layers=["small"], target_std=1e3
        )
    after = keras.ops.convert_to_numpy(dense.kernel)
    np.testing.assert_array_equal(after, before)


def test_a_shared_layer_is_refused():
    inputs = keras.Input((4,))
    shared = keras.layers.Dense(4, name="shared")
    model = keras.Model(inputs, shared(shared(inputs)))
    with pytest.raises(ValueError, match="'shared' is called 2 times"):
        rescale_kernels(model, _batch((8, 4)), layers=["shared"])


def test_layer_names_are_checked():
    model = _network()
    with pytest.raises(ValueError, match=re.escape("['typo']")):
        rescale_kernels(model, _batch(), layers=["first", "typo"])
    with pytest.raises(ValueError, match=re.escape("layers=['first']")):
        rescale_kernels(model, _batch(), layers="first")


def test_depthwise_kernels_drawn_inside_the_subspace_are_selected():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((9, 9, 4)),
            keras.layers.DepthwiseConv2D(3, name="depthwise", **LAST),
        ]
    )
    model = regularize(
        model, "C4", penalty=False, decay=1.0, reinitialize=True, verbose=False
    )
    x = _batch((8, 9, 9, 4))
    assert set(rescale_kernels(model, x, verbose=False)) == {"depthwise"}
    assert _output_std(model, "depthwise", x) == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_kernels_of_every_float_dtype_are_rescaled(dtype):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    outputs = keras.layers.Dense(8, dtype=dtype, name="dense")(inputs)
    model, x = keras.Model(inputs, outputs), _batch((32, 8))
    rescale_kernels(model, x, layers=["dense"], target_std=3.0, verbose=False)
    kernel = model.get_layer("dense").kernel
    assert keras.backend.standardize_dtype(kernel.dtype) == dtype
    assert _output_std(model, "dense", x) == pytest.approx(3.0, rel=0.05)
