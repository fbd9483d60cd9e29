"""The layers, the initializer, the decay and the sample-based baseline
through Keras' standard checks: build, call, fit, config, `.keras` files."""

import keras
import numpy as np
import pytest
from keras import ops
from utils import FLOAT64

from keras_approxeq import ProjectedInitializer
from keras_approxeq import ProjectionDecay
from keras_approxeq import SampledEquivariance
from keras_approxeq import equivariance_error
from keras_approxeq import project
from keras_approxeq import project_weights
from keras_approxeq.layers import FieldNormalization
from keras_approxeq.layers import GroupConv2D
from keras_approxeq.layers import GroupConv3D
from keras_approxeq.layers import GroupPooling
from keras_approxeq.layers import LiftingConv2D
from keras_approxeq.layers import LiftingConv3D
from keras_approxeq.layers import RelaxedGroupConv2D
from keras_approxeq.layers import ResidualPathway

CL = "channels_last"

# name -> (factory, input shape, group, in_rep, out_rep, equivariant at init)
LAYERS = {
    "group_pooling": (
        lambda: GroupPooling("C4", data_format=CL),
        (7, 7, 8),
        "C4",
        "regular",
        "trivial",
        True,
    ),
    "group_pooling_mean_d4": (
        lambda: GroupPooling("D4", mode="mean", data_format=CL),
        (5, 5, 16),
        "D4",
        "regular",
        "trivial",
        True,
    ),
    "lifting_conv2d": (
        lambda: LiftingConv2D(2, 3, padding="same", data_format=CL),
        (7, 7, 1),
        "C4",
        "trivial",
        "regular",
        False,
    ),
    "group_conv2d": (
        lambda: GroupConv2D(
            2, 3, group="D4", padding="same", data_format=CL, activation="relu"
        ),
        (7, 7, 8),
        "D4",
        "regular",
        "regular",
        False,
    ),
    "lifting_conv3d": (
        lambda: LiftingConv3D(1, 3, padding="same", data_format=CL),
        (5, 5, 5, 1),
        "O",
        "trivial",
        "regular",
        False,
    ),
    "group_conv3d": (
        lambda: GroupConv3D(1, 3, padding="same", data_format=CL),
        (5, 5, 5, 24),
        "O",
        "regular",
        "regular",
        False,
    ),
    "relaxed_group_conv2d": (
        lambda: RelaxedGroupConv2D(
            2, 3, num_filter_banks=3, padding="same", data_format=CL
        ),
        (7, 7, 4),
        "C4",
        "regular",
        "regular",
        True,
    ),
    "residual_pathway": (
        lambda: ResidualPathway(
            8,
            3,
            group="C4",
            in_rep="regular",
            out_rep="regular",
            padding="same",
            data_format=CL,
        ),
        (7, 7, 4),
        "C4",
        "regular",
        "regular",
        True,
    ),
    "residual_pathway_dense_s4": (
        lambda: ResidualPathway(
            4, group="S4", in_rep="natural", out_rep="natural", rank=0
        ),
        (8,),
        "S4",
        "natural",
        "natural",
        True,
    ),
    "field_normalization": (
        lambda: FieldNormalization(
            "C4", rep=["trivial", "regular", "standard"], data_format=CL
        ),
        (7, 7, 14),
        "C4",
        ["trivial", "regular", "standard"],
        ["trivial", "regular", "standard"],
        True,
    ),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_standard_layer_checks(name, tmp_path, rng):
    factory, shape, group, in_rep, out_rep, equivariant = LAYERS[name]
    layer = factory()
    x = rng.normal(size=(4, *shape)).astype("float32")
    y = layer(x)
    assert tuple(y.shape[1:]) == tuple(
        layer.compute_output_shape((4, *shape))[1:]
    )
    error = equivariance_error(
        layer, x, group, in_rep=in_rep, out_rep=out_rep, data_format=CL
    )
    if equivariant:
        assert error < 1e-5
    else:  # plain initialisation; exactly equivariant once projected
        assert error > 1e-3
        project_weights(layer)
        assert (
            equivariance_error(
                layer, x, group, in_rep=in_rep, out_rep=out_rep, data_format=CL
            )
            < 1e-5
        )
    revived = type(layer).from_config(layer.get_config())
    assert revived.get_config() == layer.get_config()
    model = keras.Sequential([keras.Input(shape), layer])
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mse")
    model.fit(x, np.asarray(ops.convert_to_numpy(y)) + 0.1, epochs=1, verbose=0)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(
        ops.convert_to_numpy(restored(x)),
        ops.convert_to_numpy(model(x)),
        atol=1e-5,
    )


def test_field_normalization_is_equivariant_in_training_mode(rng):
    layer = FieldNormalization(
        "C4", rep=["regular", "standard"], data_format=CL
    )
    x = rng.normal(size=(4, 7, 7, 6)).astype("float32") * 3 + 1

    def train(v):
        return layer(v, training=True)

    error = equivariance_error(
        train,
        x,
        "C4",
        in_rep=["regular", "standard"],
        out_rep=["regular", "standard"],
        data_format=CL,
    )
    assert error < 1e-5
    y = ops.convert_to_numpy(train(x))
    np.testing.assert_allclose(y[..., :4].mean(), 0.0, atol=1e-5)
    np.testing.assert_allclose(y[..., :4].var(), 1.0, atol=1e-2)
    np.testing.assert_allclose(np.mean(y[..., 4:] ** 2), 1.0, atol=1e-2)


def test_field_normalization_of_natural_fields(rng):
    """Several copies of `S3`'s natural representation: channels are
    element-major, so each field gathers one feature of the 3 set
    elements; its mean is invariant and is subtracted."""
    layer = FieldNormalization("S3", rep="natural")
    x = rng.normal(size=(16, 6)).astype("float32") * 2 + 3

    def train(v):
        return layer(v, training=True)

    error = equivariance_error(
        train, x, "S3", in_rep="natural", out_rep="natural"
    )
    assert error < 1e-5
    fields = ops.convert_to_numpy(train(x)).reshape(16, 3, 2)
    np.testing.assert_allclose(fields.mean((0, 1)), 0.0, atol=1e-5)
    np.testing.assert_allclose(fields.var((0, 1)), 1.0, atol=1e-2)


@pytest.mark.skipif(not FLOAT64, reason="JAX without JAX_ENABLE_X64")
def test_field_statistics_are_exact_in_float64(rng):
    """Statistics in the layer's dtype (`keras.ops.mean` computes float64
    in float32 on PyTorch and JAX)."""
    x = 3.0 + rng.normal(size=(3, 5, 5, 8))
    normalization = FieldNormalization(
        "C4", rep="regular", epsilon=0.0, data_format=CL, dtype="float64"
    )
    y = ops.convert_to_numpy(normalization(x, training=True))
    fields = x.reshape(3, 5, 5, 2, 4)
    centred = fields - fields.mean((0, 1, 2, 4), keepdims=True)
    variance = np.mean(centred**2, (0, 1, 2, 4), keepdims=True)
    expected = (centred / np.sqrt(variance)).reshape(x.shape)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-10)
    pooling = GroupPooling("C4", mode="mean", data_format=CL, dtype="float64")
    np.testing.assert_allclose(
        ops.convert_to_numpy(pooling(x)), fields.mean(-1), rtol=1e-13, atol=0
    )


def test_bad_layer_arguments_raise():
    with pytest.raises(ValueError, match="finite group"):
        GroupPooling("SO2")
    with pytest.raises(ValueError, match="'max' or 'mean'"):
        GroupPooling("C4", mode="sum")
    with pytest.raises(ValueError, match="multiple of 4.*6 channels"):
        GroupPooling("C4", data_format=CL)(np.zeros((1, 3, 3, 6), "float32"))
    with pytest.raises(ValueError, match="finite group"):
        GroupConv2D(2, 3, group="SO2")
    with pytest.raises(ValueError, match="positive int"):
        LiftingConv2D(0, 3)
    with pytest.raises(ValueError, match="num_filter_banks"):
        RelaxedGroupConv2D(2, 3, num_filter_banks=0)
    with pytest.raises(ValueError, match=r"rate.*\[0, 1\]"):
        ProjectionDecay("C4", rate=1.5)
    for bad in (0, -1e-3, float("inf"), "3e-3", True):
        with pytest.raises(ValueError, match="`learning_rate` to be None or"):
            ProjectionDecay("C4", learning_rate=bad)
    with pytest.raises(ValueError, match="num_samples"):
        SampledEquivariance(
            keras.Sequential([keras.Input((2,))]), "C4", num_samples=0
        )


def _sampled(**kwargs):
    return SampledEquivariance(
        keras.Sequential([keras.Input((2,))]), "C4", **kwargs
    )


BAD_LAYER_ARGUMENTS = [
    (lambda: GroupConv2D(True, 3), r"num_fields=True"),
    (lambda: RelaxedGroupConv2D(2.5, 3), r"positive int.*num_fields=2.5"),
    (lambda: RelaxedGroupConv2D(2, 3.0), r"kernel_size=3.0"),
    (lambda: RelaxedGroupConv2D(2, 3, norm="bogus"), r"Unknown norm 'bogus'"),
    (lambda: ResidualPathway(4, 3, rank=7), r"0 \(Dense\), 1, 2 or 3.*rank=7"),
    (lambda: ResidualPathway(0, 3), r"positive int.*filters=0"),
    (lambda: ResidualPathway(4, 3, free_decay=-1), r"free_decay=-1"),
    (lambda: FieldNormalization("C4", momentum="x"), r"momentum='x'"),
    (lambda: FieldNormalization("C4", epsilon=-1), r">= 0.*epsilon=-1"),
    (lambda: _sampled(weight="big"), r"finite number >= 0.*weight='big'"),
    (lambda: _sampled(pool_size=-3), r"pool_size=-3"),
    (lambda: _sampled(data_format="nchw"), r"data_format='nchw'"),
]


@pytest.mark.parametrize("make,message", BAD_LAYER_ARGUMENTS)
def test_bad_layer_arguments_raise_when_the_layer_is_made(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_numpy_integers_count_as_ints():
    layer = GroupConv2D(np.int64(2), 3, group="C4")
    assert layer.get_config()["num_fields"] == 2
    assert type(layer.get_config()["num_fields"]) is int
    assert RelaxedGroupConv2D(np.int32(1), np.int32(3)).kernel_size == (3, 3)


def test_relaxed_group_conv_breaks_symmetry_only_through_mixing_weights(rng):
    layer = RelaxedGroupConv2D(1, 3, padding="same", data_format=CL)
    x = rng.normal(size=(2, 7, 7, 4)).astype("float32")
    layer(x)
    # Zero up to float32 rounding (the residual of an equivariant kernel
    # comes out of a matrix product with 1 - P).
    assert float(ops.convert_to_numpy(layer.losses[0])) < 1e-7
    weights = np.array([[1.0, 0.5, 0.2, 0.0], [0.3, 0.3, 0.3, 0.3]], "float32")
    layer.mixing_weights.assign(weights)
    assert (
        equivariance_error(
            layer, x, "C4", in_rep="regular", out_rep="regular", data_format=CL
        )
        > 1e-2
    )
    deviation = weights - weights.mean(1, keepdims=True)
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer.losses[0]),
        1e-2 * np.linalg.norm(deviation),
        rtol=1e-5,
    )


def test_projected_initializer_keeps_the_scale_of_deep_networks(rng):
    """Projection keeps 1/4 of a C4 regular kernel's variance: after six
    projected layers a He-initialised stack's activations shrink by about
    (1/2)^6, the projected initializer's do not."""
    init = ProjectedInitializer(
        "C4", in_rep="regular", out_rep="regular", base="he_normal"
    )
    kernel = ops.convert_to_numpy(init((3, 3, 64, 64)))
    np.testing.assert_allclose(
        project(
            kernel.astype("float64"), "C4", in_rep="regular", out_rep="regular"
        ),
        kernel,
        atol=1e-5,
    )
    np.testing.assert_allclose(kernel.std(), np.sqrt(2 / (9 * 64)), rtol=0.05)
    x = rng.normal(size=(4, 16, 16, 32)).astype("float32")
    scales = {}
    for name, initializer in (
        ("he_normal", "he_normal"),
        ("projected", init),
    ):
        keras.utils.set_random_seed(0)
        stack = keras.Sequential(
            [keras.Input((16, 16, 32))]
            + [
                GroupConv2D(
                    8,
                    3,
                    padding="same",
                    activation="relu",
                    use_bias=False,
                    kernel_initializer=initializer,
                    data_format=CL,
                )
                for _ in range(6)
            ]
        )
        project_weights(stack)
        out = ops.convert_to_numpy(stack(x))
        scales[name] = float(np.sqrt(np.mean(out**2)))
    # He keeps a ReLU network's scale; projection costs (1/2)^6 of it.
    assert scales["projected"] > 0.1
    assert scales["he_normal"] < 0.1 * scales["projected"]


def test_projection_decay_shrinks_the_non_equivariant_part(rng):
    decay = ProjectionDecay(
        "C4", in_rep="regular", out_rep="regular", rate=0.25
    )
    kernel = rng.normal(size=(3, 3, 4, 4)).astype("float32")
    parallel = project(
        kernel.astype("float64"), "C4", in_rep="regular", out_rep="regular"
    )
    decayed = ops.convert_to_numpy(decay(kernel))
    np.testing.assert_allclose(
        decayed, parallel + 0.75 * (kernel - parallel), atol=1e-5
    )
    assert ProjectionDecay.from_config(decay.get_config()).rate == 0.25
    following = ProjectionDecay("C4", rate=0.25, learning_rate=3e-3)
    config = ProjectionDecay.from_config(following.get_config()).get_config()
    assert config == following.get_config()
    assert config["learning_rate"] == 3e-3
    # Called directly, outside an optimizer step, it removes `rate`.
    np.testing.assert_allclose(
        ops.convert_to_numpy(
            ProjectionDecay(
                "C4",
                in_rep="regular",
                out_rep="regular",
                rate=0.25,
                learning_rate=1e-3,
            )(kernel)
        ),
        decayed,
        atol=1e-6,
    )
    # As a kernel constraint, applied after every optimizer step.
    layer = keras.layers.Conv2D(
        4, 3, padding="same", kernel_constraint=decay, data_format=CL
    )
    model = keras.Sequential([keras.Input((7, 7, 4)), layer])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    x = rng.normal(size=(8, 7, 7, 4)).astype("float32")
    start = ops.convert_to_numpy(layer.kernel)
    before = np.linalg.norm(
        start
        - project(
            start.astype("float64"), "C4", in_rep="regular", out_rep="regular"
        )
    )
    model.fit(x, x, epochs=10, batch_size=8, verbose=0)
    end = ops.convert_to_numpy(layer.kernel)
    after = np.linalg.norm(
        end
        - project(
            end.astype("float64"), "C4", in_rep="regular", out_rep="regular"
        )
    )
    assert after < 0.1 * before  # 0.75 ** 10 ~ 0.06, plus the task's pull


def test_projection_decay_at_rate_0_leaves_the_weight_bit_for_bit(rng):
    """`P(K) + (K - P(K))` rounds away from `K`; rate 0 must not, so that
    the rate-0 candidate of `select_strength` is the plain model."""
    kernel = rng.normal(size=(3, 3, 4, 4)).astype("float32")
    for rate, same in ((0.0, True), (1e-30, False)):
        decay = ProjectionDecay(
            "C4", in_rep="regular", out_rep="regular", rate=rate
        )
        decayed = ops.convert_to_numpy(decay(kernel))
        assert np.array_equal(decayed, kernel) == same


def _c4_model(equivariant):
    model = keras.Sequential(
        [
            keras.Input((7, 7, 1)),
            keras.layers.Conv2D(4, 3, padding="same", data_format=CL),
        ]
    )
    if equivariant:
        layer = model.layers[0]
        layer.kernel.assign(
            project(
                ops.convert_to_numpy(layer.kernel),
                "C4",
                in_rep="trivial",
                out_rep="regular",
            )
        )
        layer.bias.assign(np.full(4, 0.1, "float32"))
    return model


@pytest.mark.parametrize("num_samples", [1, 4])
def test_sampled_equivariance_loss(num_samples, tmp_path, rng):
    x = rng.normal(size=(4, 7, 7, 1)).astype("float32")
    exact = SampledEquivariance(
        _c4_model(True),
        "C4",
        out_rep="regular",
        num_samples=num_samples,
        data_format=CL,
    )
    assert float(ops.convert_to_numpy(exact.sample_loss(x))) < 1e-10
    plain = SampledEquivariance(
        _c4_model(False),
        "C4",
        out_rep="regular",
        num_samples=num_samples,
        weight=0.5,
        data_format=CL,
    )
    assert float(ops.convert_to_numpy(plain.sample_loss(x))) > 1e-3
    plain.compile(optimizer=keras.optimizers.SGD(1e-2), loss="mse")
    history = plain.fit(x, np.zeros((4, 7, 7, 4)), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    path = tmp_path / "sampled.keras"
    plain.save(path)
    restored = keras.saving.load_model(path)
    assert restored.get_config()["num_samples"] == num_samples
    np.testing.assert_allclose(
        ops.convert_to_numpy(restored(x)),
        ops.convert_to_numpy(plain(x)),
        atol=1e-6,
    )


def test_sampled_equivariance_draws_rotations_of_continuous_groups(rng):
    x = rng.normal(size=(2, 9, 9, 1)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((9, 9, 1)),
            keras.layers.Conv2D(2, 3, padding="same", data_format=CL),
        ]
    )
    wrapped = SampledEquivariance(
        model, "SO2", num_samples=2, pool_size=4, data_format=CL
    )
    assert float(ops.convert_to_numpy(wrapped.sample_loss(x))) > 0
