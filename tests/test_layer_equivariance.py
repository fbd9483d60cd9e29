"""Projected kernels make real Keras layers equivariant: f(g x) == g f(x)."""

import keras
import numpy as np
import pytest
from utils import full_precision_convolutions
from utils import needs_channels_first_convolutions

from keras_approxeq import equivariance_error
from keras_approxeq import project
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry.representations import Representation

REPS = ["trivial", "regular", "standard", ["trivial", "standard"]]
FORMATS = [
    "channels_last",
    pytest.param("channels_first", marks=needs_channels_first_convolutions),
]


def _channels(group, rep, copies=2):
    return Representation(group, rep).size * copies


def _project_layer(layer, group, in_rep, out_rep, layout):
    layer.kernel.assign(
        project(
            layer.kernel, group, in_rep=in_rep, out_rep=out_rep, layout=layout
        )
    )
    if layer.bias is not None:
        layer.bias.assign(project(layer.bias, group, out_rep=out_rep))


def _check(layer, x, group, in_rep, out_rep, layout, data_format=None):
    """Not equivariant before projection, equivariant after."""
    layer(x)
    _randomise_bias(layer)
    before = equivariance_error(
        layer, x, group, in_rep=in_rep, out_rep=out_rep, data_format=data_format
    )
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    _project_layer(layer, group, in_rep, out_rep, layout)
    with full_precision_convolutions():
        after = equivariance_error(
            layer,
            x,
            group,
            in_rep=in_rep,
            out_rep=out_rep,
            data_format=data_format,
        )
    assert after < 1e-5, after
    # Dense maps between trivial features are equivariant from the start.
    if not np.allclose(keras.ops.convert_to_numpy(layer.kernel), kernel):
        assert before > 1e-2, before


def _randomise_bias(layer):
    if layer.bias is not None:
        rng = np.random.default_rng(1)
        layer.bias.assign(rng.normal(size=layer.bias.shape))


def _inputs(rng, batch, spatial, channels, data_format):
    # Keras 3.15 on TensorFlow adds a channels_first Conv2DTranspose bias
    # along the wrong axis when the output's width equals its channel count,
    # so the tests keep spatial sizes apart from channel counts.
    assert channels not in spatial
    shape = (batch, *spatial, channels)
    if data_format == "channels_first":
        shape = (batch, channels, *spatial)
    return rng.normal(size=shape).astype("float32")


def _check_conv(conv, group, kernel_size, spatial, reps, data_format, rng):
    """A `conv` layer between `reps`, before and after projection."""
    in_rep, out_rep = reps
    copies = 1 if group.ndim == 3 else 2
    layer = conv(
        _channels(group, out_rep, copies),
        kernel_size,
        padding="same",
        data_format=data_format,
    )
    x = _inputs(rng, 2, spatial, _channels(group, in_rep, copies), data_format)
    layout = "conv_transpose" if "Transpose" in conv.__name__ else "conv"
    _check(layer, x, group, in_rep, out_rep, layout, data_format)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("out_rep", REPS, ids=str)
@pytest.mark.parametrize("in_rep", REPS, ids=str)
@pytest.mark.parametrize("name", ["C4", "D4"])
def test_conv2d(name, in_rep, out_rep, data_format, rng):
    _check_conv(
        keras.layers.Conv2D,
        groups.get(name),
        3,
        (7, 7),
        (in_rep, out_rep),
        data_format,
        rng,
    )


# (layer, group, grid ndim, kernel size, spatial shape, in_rep, out_rep)
OTHER_CONVOLUTIONS = [
    ("Conv2D", "C2", 2, 5, (9, 9), "regular", "standard"),
    ("Conv2D", "D1", 2, 5, (9, 9), "standard", "regular"),
    ("Conv2D", "D2", 2, 5, (9, 9), ["trivial", "standard"], "regular"),
    ("Conv1D", "D1", 1, 3, (9,), "regular", "standard"),
    ("Conv1D", "D1", 1, 3, (9,), "standard", "regular"),
    ("Conv1D", "D1", 1, 3, (9,), "trivial", "trivial"),
    ("Conv3D", "O", 3, 3, (5, 5, 5), "trivial", "standard"),
    ("Conv3D", "O", 3, 3, (5, 5, 5), "standard", "regular"),
    ("Conv3D", "Oh", 3, 3, (5, 5, 5), ["trivial", "standard"], "standard"),
    ("Conv3D", "Oh", 3, 3, (5, 5, 5), "regular", "trivial"),
]


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("case", OTHER_CONVOLUTIONS, ids=str)
def test_convolutions_of_other_groups(case, data_format, rng):
    conv, name, ndim, kernel_size, spatial, in_rep, out_rep = case
    _check_conv(
        getattr(keras.layers, conv),
        groups.get(name, ndim),
        kernel_size,
        spatial,
        (in_rep, out_rep),
        data_format,
        rng,
    )


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("out_rep", REPS, ids=str)
@pytest.mark.parametrize("in_rep", REPS, ids=str)
def test_conv2d_transpose(in_rep, out_rep, data_format, rng):
    _check_conv(
        keras.layers.Conv2DTranspose,
        groups.get("D4"),
        3,
        (7, 7),
        (in_rep, out_rep),
        data_format,
        rng,
    )


@pytest.mark.parametrize("out_rep", REPS, ids=str)
@pytest.mark.parametrize("in_rep", REPS, ids=str)
@pytest.mark.parametrize("name", ["C4", "D4", "Oh"])
def test_dense(name, in_rep, out_rep, rng):
    group = groups.get(name)
    layer = keras.layers.Dense(_channels(group, out_rep))
    x = rng.normal(size=(4, _channels(group, in_rep))).astype("float32")
    _check(layer, x, name, in_rep, out_rep, "dense")


@pytest.mark.parametrize(
    "name,in_rep,out_rep,num_elements",
    [
        ("S5", "natural", "natural", None),
        ("S4", ["trivial", "natural"], "trivial", None),
        ("S9", "natural", ["natural", "trivial"], 20),
    ],
)
def test_dense_set_layers(name, in_rep, out_rep, num_elements, rng):
    group = groups.get(name)
    layer = keras.layers.Dense(_channels(group, out_rep))
    x = rng.normal(size=(4, _channels(group, in_rep))).astype("float32")
    layer(x)
    _randomise_bias(layer)

    def error():
        with full_precision_convolutions():
            return equivariance_error(
                layer,
                x,
                name,
                in_rep=in_rep,
                out_rep=out_rep,
                num_elements=num_elements,
            )

    before = error()
    _project_layer(layer, name, in_rep, out_rep, "dense")
    assert error() < 1e-5 < 1e-2 < before


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("rep", ["regular", "standard", "trivial"])
def test_depthwise_conv2d(rep, data_format, rng):
    group = groups.get("C4")
    channels = _channels(group, rep)
    layer = keras.layers.DepthwiseConv2D(
        3, padding="same", data_format=data_format, use_bias=False
    )
    x = _inputs(rng, 2, (7, 7), channels, data_format)
    layer(x)
    before = equivariance_error(
        layer, x, "C4", in_rep=rep, out_rep=rep, data_format=data_format
    )
    layer.kernel.assign(
        project(layer.kernel, "C4", in_rep=rep, layout="depthwise")
    )
    with full_precision_convolutions():
        after = equivariance_error(
            layer, x, "C4", in_rep=rep, out_rep=rep, data_format=data_format
        )
    assert after < 1e-5 < 1e-2 < before


def test_invariant_model_output(rng):
    """A projected conv, then global pooling, gives an invariant model."""
    reg_in, reg_out = "trivial", "regular"
    conv = keras.layers.Conv2D(
        8, 3, padding="same", data_format="channels_last"
    )
    model = keras.Sequential(
        [conv, keras.layers.GlobalAveragePooling2D("channels_last")]
    )
    x = rng.normal(size=(2, 9, 9, 1)).astype("float32")
    model(x)
    _project_layer(conv, "C4", reg_in, reg_out, "conv")
    # Pooling over space keeps the regular field: the output transforms by
    # the regular representation, with no spatial axes left.
    with full_precision_convolutions():
        error = equivariance_error(
            model,
            x,
            "C4",
            in_rep=reg_in,
            out_rep=reg_out,
            data_format="channels_last",
        )
    assert error < 1e-5
