"""`regularize`: existing models made approximately equivariant."""

import re
import warnings

import keras
import numpy as np
import pytest

from keras_approxeq import ProjectedInitializer
from keras_approxeq import ProjectionRegularizer
from keras_approxeq import equivariance_error
from keras_approxeq import equivariance_report
from keras_approxeq import project
from keras_approxeq import project_weights
from keras_approxeq import regularize
from keras_approxeq import select_strength
from keras_approxeq.penalties.regularize import NORMALIZATION_LAYERS

# Hand-built layers say their data format: the suite also runs with
# channels_first as Keras' default. keras.applications follows the default.
LAST = {"data_format": "channels_last"}


def _sequential():
    return keras.Sequential(
        [
            keras.Input((9, 9, 3)),
            keras.layers.Conv2D(8, 3, padding="same", name="conv", **LAST),
            keras.layers.DepthwiseConv2D(
                3, padding="same", name="depthwise", **LAST
            ),
            keras.layers.SeparableConv2D(8, 3, name="separable", **LAST),
            keras.layers.Conv2DTranspose(4, 3, name="transpose", **LAST),
            keras.layers.Conv2D(4, 1, name="pointwise", **LAST),
            keras.layers.GlobalAveragePooling2D(**LAST),
            keras.layers.Dense(5, name="head"),
        ]
    )


def _regularized_paths(model):
    """`layer/weight` of every weight with a projection regularizer."""
    return sorted(
        "/".join(v.path.split("/")[-2:])
        for v in model.weights
        if isinstance(v.regularizer, ProjectionRegularizer)
    )


def test_sequential_every_spatial_kernel(capsys):
    model = _sequential()
    out = regularize(model, "C4", lambda_perp=1e-2)
    assert out is not model  # cloned, the original unchanged
    assert not _regularized_paths(model)
    assert _regularized_paths(out) == [
        "conv/kernel",
        "depthwise/kernel",
        "separable/depthwise_kernel",
        "transpose/kernel",
    ]
    layouts = {
        "/".join(v.path.split("/")[-2:]): v.regularizer.layout
        for v in out.weights
        if v.regularizer is not None
    }
    assert layouts["depthwise/kernel"] == "depthwise"
    assert layouts["separable/depthwise_kernel"] == "depthwise"
    assert layouts["transpose/kernel"] == "conv_transpose"
    # 1x1 and Dense kernels between trivial fields are listed, not touched.
    printed = capsys.readouterr().out
    for path in ("pointwise/kernel", "head/kernel", "pointwise_kernel"):
        assert path in printed
    for a, b in zip(model.get_weights(), out.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_functional_application_fits_and_round_trips(tmp_path):
    first = keras.config.image_data_format() == "channels_first"
    shape = (3, 32, 32) if first else (32, 32, 3)
    backbone = keras.applications.MobileNetV2(
        weights=None, input_shape=shape, alpha=0.35, classes=4
    )
    model = regularize(backbone, "D4", lambda_perp=1e-2, verbose=False)
    spatial = [
        layer.name
        for layer in model.layers
        if getattr(layer, "kernel_size", (1, 1)) != (1, 1)
    ]
    covered = {path.split("/")[0] for path in _regularized_paths(model)}
    assert covered == set(spatial) and spatial
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(4, *shape))
    before = float(sum(keras.ops.convert_to_numpy(v) for v in model.losses))
    assert before > 0
    model.fit(x, np.arange(4), epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert _regularized_paths(loaded) == _regularized_paths(model)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x[:1])),
        keras.ops.convert_to_numpy(model(x[:1])),
        atol=1e-5,
    )


class SubclassedNet(keras.Model):
    def __init__(self):
        super().__init__()
        self.conv = keras.layers.Conv2D(8, 3, padding="same", **LAST)
        self.head = keras.layers.Dense(2)

    def call(self, x):
        return self.head(keras.ops.mean(self.conv(x), axis=(1, 2)))


def test_subclassed_model_in_place():
    model = SubclassedNet()
    model(np.zeros((1, 5, 5, 1)))
    out = regularize(model, "C4", in_rep="trivial", verbose=False)
    assert out is model
    assert len(_regularized_paths(model)) == 1
    assert model.losses  # the penalty is picked up
    model.compile("adam", "mse")
    model.fit(np.ones((2, 5, 5, 1)), np.ones((2, 2)), verbose=0)
    report = equivariance_report(model)
    assert len(report) == 1
    project_weights(model)
    assert equivariance_report(model)[0]["relative_residual"] < 1e-6


def test_bad_channel_counts_name_every_layer():
    model = keras.Sequential(
        [
            keras.Input((9, 9, 3)),
            keras.layers.Conv2D(10, 3, name="ten", **LAST),
            keras.layers.DepthwiseConv2D(3, name="dw", **LAST),
            keras.layers.Conv2D(12, 1, name="twelve", **LAST),
        ]
    )
    with pytest.raises(ValueError) as info:
        regularize(model, "C4", in_rep="regular", out_rep="regular")
    message = str(info.value)
    for name in ("ten (kernel)", "twelve (kernel)", "dw (kernel)"):
        assert name in message
    assert "multiple of 4" in message and "Fix:" in message


def test_selection_and_decay():
    model = _sequential()
    out = regularize(
        model, "C4", layers=["conv"], penalty=False, decay=0.5, verbose=False
    )
    assert _regularized_paths(out) == ["conv/kernel"]  # labelled only
    kernel = out.get_layer("conv").kernel
    assert kernel.regularizer.lambda_perp == 0.0
    assert float(keras.ops.convert_to_numpy(out.losses[0])) == 0.0
    assert kernel.constraint.rate == 0.5
    # The decay acts after each step: a fit pulls the kernel in.
    out.compile(keras.optimizers.SGD(0.0), "mse")

    def residual():
        value = keras.ops.convert_to_numpy(kernel.value).astype("float64")
        return np.linalg.norm(value - project(value, "C4"))

    before = residual()
    out.fit(np.ones((2, 9, 9, 3)), np.ones((2, 5)), verbose=0)
    assert residual() == pytest.approx(0.5 * before, rel=1e-4)
    # Following the learning rate, the decay removes nothing at
    # learning rate 0.
    out = regularize(
        model,
        "C4",
        penalty=False,
        decay=0.5,
        decay_learning_rate=0.1,
        verbose=False,
    )
    kernel = out.get_layer("conv").kernel
    assert kernel.constraint.learning_rate == 0.1
    out.compile(keras.optimizers.SGD(0.0), "mse")
    before = residual()
    out.fit(np.ones((2, 9, 9, 3)), np.ones((2, 5)), verbose=0)
    assert residual() == pytest.approx(before, rel=1e-6)
    with pytest.raises(ValueError, match="No layer"):
        regularize(model, "C4", layers=lambda layer: False)


def test_the_readme_recipe_chooses_a_rate_and_a_start():
    """The README's recipe end to end: `build(rate, start)` through
    `regularize`, both starts scored, the choice rebuilt and trained.
    From "projected" the kernels start exactly equivariant; from "own"
    they keep Keras' draw."""
    x = np.random.default_rng(0).normal(size=(8, 9, 9, 3))
    y = np.random.default_rng(1).normal(size=(8, 5))
    built = []

    def build(rate, start):
        keras.utils.set_random_seed(0)
        model = _sequential()
        if rate:
            model = regularize(
                model,
                "C4",
                penalty=False,
                decay=rate,
                reinitialize=start == "projected",
                verbose=False,
            )
        kernel = keras.ops.convert_to_numpy(model.get_layer("conv").kernel)
        kernel = kernel.astype("float64")
        residual = np.linalg.norm(kernel - project(kernel, "C4"))
        built.append((rate, start, residual < 1e-6 * np.linalg.norm(kernel)))
        model.compile("sgd", "mse")
        return model

    best, scores = select_strength(
        build,
        x,
        y,
        strengths=(0.0, 1.0),
        starts=("own", "projected"),
        folds=2,
        epochs=1,
        verbose=False,
    )
    assert built == [
        (0.0, "own", False),
        (0.0, "own", False),
        (1.0, "own", False),
        (1.0, "own", False),
        (1.0, "projected", True),
        (1.0, "projected", True),
    ]
    assert set(scores) == {(0.0, "own"), (1.0, "own"), (1.0, "projected")}
    assert best in scores
    build(*best).fit(x, y, verbose=0)


def test_reinitialize_starts_inside_the_subspace_at_full_scale(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((9, 9, 64)),
            keras.layers.Conv2D(64, 3, name="conv", **LAST),
            keras.layers.Conv2D(4, 1, name="pointwise", **LAST),
        ]
    )
    pointwise = model.get_layer("pointwise").kernel.numpy()
    before = model.get_layer("conv").kernel.numpy()
    out = regularize(
        model,
        "C4",
        in_rep="regular",
        out_rep="regular",
        layers=["conv"],
        penalty=False,
        decay=0.1,
        decay_learning_rate=1e-3,
        reinitialize=True,
        verbose=False,
    )
    layer = out.get_layer("conv")
    kernel = keras.ops.convert_to_numpy(layer.kernel).astype("float64")
    residual = kernel - project(
        kernel, "C4", in_rep="regular", out_rep="regular"
    )
    assert np.abs(residual).max() < 1e-5 * np.abs(kernel).max()
    # A projection alone would keep about a quarter of the variance
    # (the estimate's own relative error is about 1 % here).
    assert np.std(kernel) / np.std(before) == pytest.approx(1.0, rel=0.05)
    np.testing.assert_array_equal(out.get_layer("pointwise").kernel, pointwise)
    np.testing.assert_array_equal(layer.bias, np.zeros(64))
    assert isinstance(layer.kernel_initializer, ProjectedInitializer)
    assert isinstance(
        layer.kernel_initializer.base, keras.initializers.GlorotUniform
    )
    path = tmp_path / "m.keras"
    out.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_layer("conv").kernel_initializer.get_config() == (
        layer.kernel_initializer.get_config()
    )
    constraint = loaded.get_layer("conv").kernel_constraint.get_config()
    assert constraint == layer.kernel_constraint.get_config()
    assert (constraint["rate"], constraint["learning_rate"]) == (0.1, 1e-3)


def test_reinitialize_reaches_every_kind_of_kernel():
    out = regularize(_sequential(), "C4", reinitialize=True, verbose=False)
    for variable in out.weights:
        regularizer = variable.regularizer
        if not isinstance(regularizer, ProjectionRegularizer):
            continue
        value = keras.ops.convert_to_numpy(variable).astype("float64")
        parallel = project(value, "C4", layout=regularizer.layout)
        np.testing.assert_allclose(parallel, value, atol=1e-6)
    for name, attribute in [
        ("conv", "kernel"),
        ("depthwise", "depthwise"),
        ("separable", "depthwise"),
        ("transpose", "kernel"),
    ]:
        initializer = getattr(out.get_layer(name), f"{attribute}_initializer")
        assert isinstance(initializer, ProjectedInitializer), (name, attribute)
    # A 1x1 kernel between trivial fields is left alone, initializer too.
    pointwise = out.get_layer("separable").pointwise_initializer
    assert not isinstance(pointwise, ProjectedInitializer)


def test_reinitialize_auto_redraws_only_small_subspaces(capsys):
    """`"auto"` re-draws where the subspace keeps under a tenth."""
    model = keras.Sequential(
        [
            keras.Input((9, 9, 32)),
            # C8 regular fields: 5.5 % of a 5x5 kernel, 12.5 % of a 1x1.
            keras.layers.Conv2D(32, 5, name="small", **LAST),
            keras.layers.Conv2D(32, 1, name="large", **LAST),
        ]
    )
    before = {layer.name: layer.kernel.numpy() for layer in model.layers}
    out = regularize(
        model,
        "C8",
        in_rep="regular",
        out_rep="regular",
        penalty=False,
        decay=1.0,
        reinitialize="auto",
    )
    small = out.get_layer("small")
    kernel = keras.ops.convert_to_numpy(small.kernel).astype("float64")
    parallel = project(kernel, "C8", in_rep="regular", out_rep="regular")
    np.testing.assert_allclose(parallel, kernel, atol=1e-6)
    # A projection alone would keep sqrt(0.055) of the standard deviation.
    assert np.std(kernel) / np.std(before["small"]) == pytest.approx(
        1.0, rel=0.1
    )
    assert isinstance(small.kernel_initializer, ProjectedInitializer)
    large = out.get_layer("large")
    np.testing.assert_array_equal(large.kernel, before["large"])
    assert not isinstance(large.kernel_initializer, ProjectedInitializer)
    printed = capsys.readouterr().out
    assert "1 kernel(s) re-drawn" in printed and "small" in printed


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_reinitialize_rejects_other_values(value):
    expected = f"False, True or 'auto'. Received: reinitialize={value!r}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        regularize(_sequential(), "C4", reinitialize=value, verbose=False)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"decay": 2.0}, r"`decay` to be a number in \[0, 1\].*decay=2.0"),
        (
            {"decay": 0.1, "decay_learning_rate": 0.0},
            r"`decay_learning_rate` to be None or a positive number.*=0.0",
        ),
        ({"layers": "conv"}, r"a string. Pass layers=\['conv'\]"),
        ({"layers": ["conv", "typo"]}, r"does not have: \['typo'\]"),
    ],
    ids=str,
)
def test_bad_arguments_raise_before_a_layer_changes(kwargs, message):
    """A subclassed model is changed in place: a bad argument must not
    leave it half regularised."""

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(4, 3, name="conv", **LAST)
            self.head = keras.layers.Conv2D(4, 3, name="head", **LAST)

        def call(self, x):
            return self.head(self.conv(x))

    model = Net()
    model(np.zeros((1, 9, 9, 3), "float32"))
    with pytest.raises(ValueError, match=message):
        regularize(model, "C4", verbose=False, **kwargs)
    assert model.conv.kernel_regularizer is None
    assert model.head.kernel_regularizer is None


def test_the_decay_targets_the_regularizers_subspace():
    """`basis`, `max_frequency` and `domain` reach the decay too."""
    model = keras.Sequential(
        [keras.Input((7, 7, 1)), keras.layers.Conv2D(3, 7, **LAST)]
    )
    out = regularize(
        model,
        "SO2",
        out_rep=["irrep0", "irrep1"],
        decay=1.0,
        basis="grid",
        max_frequency=1,
        verbose=False,
    )
    kernel = out.layers[0].kernel
    regularizer_options = kernel.regularizer.target_config()
    decay_config = kernel.constraint.get_config()
    assert {k: decay_config[k] for k in regularizer_options} == (
        regularizer_options
    )
    assert decay_config["basis"] == "grid"
    assert decay_config["max_frequency"] == 1


def test_unbuilt_model_is_refused():
    model = keras.Sequential([keras.layers.Conv2D(4, 3)])
    with pytest.raises(ValueError, match="built model"):
        regularize(model, "C4")


def test_report_and_projection_refuse_models_without_regularizers():
    model = _sequential()
    with pytest.warns(UserWarning, match="regularize"):
        assert not equivariance_report(model)
    with pytest.raises(ValueError, match="regularize"):
        project_weights(model)


def test_direct_regularizer_error_names_the_weight():
    reg = ProjectionRegularizer("C4", in_rep="regular", out_rep="regular")
    layer = keras.layers.DepthwiseConv2D(3, depthwise_regularizer=reg)
    layer.build((None, 9, 9, 6))
    with pytest.raises(ValueError) as info:
        reg(layer.kernel)
    message = str(info.value)
    assert layer.kernel.path in message
    assert "layout='depthwise'" in message
    assert "multiple of 4" in message


def test_the_depthwise_hint_comes_only_with_a_channel_count():
    """A non-square kernel is no depthwise kernel: no hint."""
    reg = ProjectionRegularizer("C4")
    with pytest.raises(ValueError) as info:
        reg(keras.ops.zeros((3, 5, 4, 4)))
    assert "square" in str(info.value)
    assert "depthwise" not in str(info.value)


def _normalized_model(normalization):
    """Conv (trivial -> fields), a normalisation layer, conv (fields ->
    fields), pooling and an invariant head; the normalisation layer's
    scale and offset drawn at random, per channel."""
    model = keras.Sequential(
        [
            keras.Input((9, 9, 1)),
            keras.layers.Conv2D(8, 3, padding="same", **LAST),
            normalization,
            keras.layers.ReLU(),
            keras.layers.Conv2D(8, 3, padding="same", **LAST),
            keras.layers.GlobalAveragePooling2D(**LAST),
            keras.layers.Dense(3),
        ]
    )
    rng = np.random.default_rng(0)
    for weight in normalization.trainable_weights:
        weight.assign(rng.normal(size=weight.shape).astype("float32"))
    return model


def _fields(rep):
    def in_rep(layer):
        return "trivial" if layer.name == "conv2d" else rep

    def out_rep(layer):
        return "trivial" if isinstance(layer, keras.layers.Dense) else rep

    return in_rep, out_rep


@pytest.mark.parametrize(
    "normalization",
    [
        lambda: keras.layers.LayerNormalization(),
        # Statistics over groups of whole fields (one C4 field per group).
        lambda: keras.layers.GroupNormalization(groups=2),
    ],
)
def test_normalization_layers_are_tied_per_field(normalization):
    """With regular fields, the scale and offset of a normalisation layer
    whose statistics are per position get the bias' projection: projected,
    the whole network is invariant (it is not before)."""
    keras.backend.clear_session()  # layer names: conv2d, conv2d_1, ...
    model = _normalized_model(normalization())
    x = np.random.default_rng(1).normal(size=(4, 9, 9, 1)).astype("float32")
    in_rep, out_rep = _fields("regular")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        regularized = regularize(
            model,
            "C4",
            in_rep=in_rep,
            out_rep=out_rep,
            decay=0.5,
            verbose=False,
        )
    assert not [w for w in caught if "normalisation" in str(w.message)]
    norm = regularized.layers[1]
    for name in ("gamma", "beta"):
        variable = getattr(norm, name)
        assert isinstance(variable.regularizer, ProjectionRegularizer)
        assert variable.regularizer.layout == "bias"
        assert variable.constraint.rate == 0.5
    project_weights(regularized)
    error = equivariance_error(
        regularized, x, "C4", data_format="channels_last"
    )
    assert error < 1e-5
    gamma = keras.ops.convert_to_numpy(norm.gamma).reshape(2, 4)
    np.testing.assert_allclose(gamma, gamma[:, :1] + 0 * gamma, atol=1e-6)
    # Without the tie, the trained-looking scale breaks the invariance.
    plain = regularize(
        model,
        "C4",
        in_rep=in_rep,
        out_rep=out_rep,
        verbose=False,
        layers=lambda layer: not isinstance(layer, NORMALIZATION_LAYERS),
    )
    project_weights(plain)
    assert (
        equivariance_error(plain, x, "C4", data_format="channels_last") > 1e-2
    )


@pytest.mark.parametrize(
    "normalization",
    [
        lambda: keras.layers.BatchNormalization(),
        # Two channels per group: each C4 field split in half.
        lambda: keras.layers.GroupNormalization(groups=4),
    ],
)
def test_statistics_that_split_fields_warn(normalization):
    keras.backend.clear_session()
    model = _normalized_model(normalization())
    in_rep, out_rep = _fields("regular")
    with pytest.warns(UserWarning, match="LayerNormalization") as caught:
        regularized = regularize(
            model, "C4", in_rep=in_rep, out_rep=out_rep, verbose=False
        )
    (message,) = [
        str(w.message) for w in caught if "normalisation" in str(w.message)
    ]
    assert model.layers[1].name in message and "FieldNormalization" in message
    assert isinstance(
        regularized.layers[1].gamma.regularizer, ProjectionRegularizer
    )


def test_normalization_between_trivial_fields_is_left_alone():
    """Between trivial fields a per-channel scale and offset are
    equivariant: no regularizer, no warning, even for batch statistics."""
    keras.backend.clear_session()
    model = _normalized_model(keras.layers.BatchNormalization())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        regularized = regularize(model, "C4", verbose=False)
    assert not [w for w in caught if "normalisation" in str(w.message)]
    assert regularized.layers[1].gamma.regularizer is None


@pytest.mark.parametrize(
    "normalization, rep, message",
    [
        (
            lambda: keras.layers.LayerNormalization(),
            "standard",
            "not all permuted by the group",
        ),
        (
            lambda: keras.layers.LayerNormalization(axis=(1, 2, 3)),
            "regular",
            "several axes",
        ),
        # One scale per row of the image, not per channel.
        (
            lambda: keras.layers.LayerNormalization(axis=1),
            "regular",
            "axis 1 of its rank-4 input.*channel axis, -1",
        ),
        (
            lambda: keras.layers.BatchNormalization(axis=2),
            "trivial",
            "axis 2 of its rank-4 input.*channel axis, -1",
        ),
    ],
)
def test_normalization_layers_that_cannot_be_tied_are_refused(
    normalization, rep, message
):
    keras.backend.clear_session()
    model = _normalized_model(normalization())
    in_rep, out_rep = _fields(rep)
    with pytest.raises(ValueError, match=message) as info:
        regularize(model, "C4", in_rep=in_rep, out_rep=out_rep, verbose=False)
    assert model.layers[1].name in str(info.value)


def test_channels_first_normalization_is_tied_on_axis_1():
    """In a channels-first model the channel axis is 1: a
    `BatchNormalization(axis=1)` is tied per field (with the batch
    statistics' warning), one over a spatial axis is refused."""
    first = {"data_format": "channels_first", "padding": "same"}

    def model(axis):
        keras.backend.clear_session()
        return keras.Sequential(
            [
                keras.Input((1, 8, 8)),
                keras.layers.Conv2D(8, 3, name="lift", **first),
                keras.layers.BatchNormalization(axis=axis, name="norm"),
                keras.layers.Conv2D(8, 3, **first),
            ]
        )

    def in_rep(layer):
        return "trivial" if layer.name == "lift" else "regular"

    with pytest.warns(UserWarning, match=r"layer\(s\) norm compute"):
        regularized = regularize(
            model(1), "C4", in_rep=in_rep, out_rep="regular", verbose=False
        )
    gamma = regularized.get_layer("norm").gamma
    assert isinstance(gamma.regularizer, ProjectionRegularizer)
    with pytest.raises(ValueError, match="axis 2 of its rank-4.*1 or -1"):
        regularize(
            model(2), "C4", in_rep=in_rep, out_rep="regular", verbose=False
        )


def test_layers_with_weights_it_cannot_place_warn():
    """A per-channel weight `regularize` has no rule for (here a PReLU
    slope and an RMS scale) is named, and the layers are left unchanged;
    leaving them out with `layers=` silences the warning."""
    keras.backend.clear_session()
    model = keras.Sequential(
        [
            keras.Input((9, 9, 3)),
            keras.layers.Conv2D(8, 3, name="conv", **LAST),
            keras.layers.PReLU(shared_axes=[1, 2], name="slope"),
            keras.layers.RMSNormalization(name="rms"),
            keras.layers.GlobalAveragePooling2D(**LAST),
        ]
    )
    with pytest.warns(UserWarning, match="LayerNormalization") as caught:
        regularized = regularize(model, "C4", verbose=False)
    (message,) = [str(w.message) for w in caught if "left" in str(w.message)]
    assert "slope (PReLU)" in message and "rms (RMSNormalization)" in message
    assert regularized.get_layer("slope").alpha.regularizer is None
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        regularize(model, "C4", layers=["conv"], verbose=False)
