"""ProjectionRegularizer: values, gradients, dtypes, configs and errors."""

import math

import keras
import numpy as np
import pytest
from keras import ops
from utils import BACKEND
from utils import FLOAT64
from utils import group_average
from utils import value_and_grad

from keras_approxeq import ProjectedInitializer
from keras_approxeq import ProjectionDecay
from keras_approxeq import ProjectionRegularizer
from keras_approxeq import project
from keras_approxeq.symmetry import groups

NORMS = ["fro", "fro2", "l1", "linf", (2, 1), (1, 2), (2, "inf"), (3, 1.5)]


def _numpy_norm(x, norm, matrix):
    if norm == "fro":
        return np.sqrt(np.sum(x**2))
    if norm == "fro2":
        return np.sum(x**2)
    if norm == "l1":
        return np.sum(np.abs(x))
    if norm == "linf":
        return np.max(np.abs(x))
    p, q = (float(v) for v in norm)
    columns = np.linalg.norm(matrix(x), ord=p, axis=0)
    return np.linalg.norm(columns, ord=q)


# (shape, layout, in_rep, out_rep, (fan_in, out) matrix view)
LAYOUTS = [
    ((3, 3, 4, 8), None, "regular", "regular", lambda k: k.reshape(36, 8)),
    (
        (3, 3, 8, 4),
        "conv_transpose",
        "regular",
        "regular",
        lambda k: np.swapaxes(k, -1, -2).reshape(36, 8),
    ),
    ((8, 6), None, "regular", ["trivial", "standard"], lambda k: k),
    (
        (3, 3, 8, 2),
        "depthwise",
        "regular",
        "trivial",
        lambda k: k.reshape(9, 16),
    ),
    ((8,), None, "trivial", "regular", lambda k: k.reshape(1, 8)),
]


@pytest.mark.parametrize("norm", NORMS, ids=str)
@pytest.mark.parametrize(
    "shape,layout,in_rep,out_rep,matrix", LAYOUTS, ids=lambda v: str(v)[:24]
)
def test_value_matches_numpy_reference(
    shape, layout, in_rep, out_rep, matrix, norm, rng
):
    kernel = rng.normal(size=shape)
    reg = ProjectionRegularizer(
        "C4",
        in_rep=in_rep,
        out_rep=out_rep,
        norm=norm,
        lambda_perp=0.3,
        lambda_g=0.7,
        layout=layout,
    )
    resolved = layout or {1: "bias", 2: "dense"}.get(len(shape), "conv")
    parallel = group_average(
        kernel, groups.get("C4"), in_rep, out_rep, resolved
    )
    expected = 0.3 * _numpy_norm(kernel - parallel, norm, matrix)
    expected += 0.7 * _numpy_norm(parallel, norm, matrix)
    value = reg(ops.convert_to_tensor(kernel.astype("float32")))
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    assert tuple(value.shape) == ()
    np.testing.assert_allclose(ops.convert_to_numpy(value), expected, rtol=1e-5)


@pytest.mark.parametrize("norm", [*NORMS, "spectral", "nuclear"], ids=str)
@pytest.mark.parametrize("where", ["zero", "equivariant", "random"])
def test_gradients_are_finite(norm, where, rng):
    kernel = rng.normal(size=(3, 3, 4, 4))
    if where == "zero":
        kernel = np.zeros_like(kernel)
    elif where == "equivariant":
        kernel = project(kernel, "C4", in_rep="regular", out_rep="regular")
    reg = ProjectionRegularizer(
        "C4", in_rep="regular", out_rep="regular", norm=norm, lambda_g=0.1
    )
    value, grad = value_and_grad(reg, kernel.astype("float32"))
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    if where == "equivariant":
        # Only the lambda_g term acts: its gradient is equivariant itself.
        np.testing.assert_allclose(
            project(
                grad.astype("float64"),
                "C4",
                in_rep="regular",
                out_rep="regular",
            ),
            grad,
            atol=1e-6,
        )


def test_fro_gradient_is_the_normalised_residual(rng):
    kernel = rng.normal(size=(3, 3, 4, 4))
    reg = ProjectionRegularizer("C4", in_rep="regular", out_rep="regular")
    _, grad = value_and_grad(reg, kernel.astype("float32"))
    residual = kernel - project(
        kernel, "C4", in_rep="regular", out_rep="regular"
    )
    expected = 1e-2 * residual / np.linalg.norm(residual)
    np.testing.assert_allclose(grad, expected, atol=1e-7)


def test_fro2_with_equal_lambdas_is_l2_weight_decay(rng):
    kernel = rng.normal(size=(3, 3, 8, 8)).astype("float32")
    reg = ProjectionRegularizer(
        "D4",
        in_rep="regular",
        out_rep="regular",
        norm="fro2",
        lambda_perp=0.01,
        lambda_g=0.01,
    )
    expected = keras.regularizers.L2(0.01)(ops.convert_to_tensor(kernel))
    np.testing.assert_allclose(
        ops.convert_to_numpy(reg(kernel)),
        ops.convert_to_numpy(expected),
        rtol=1e-5,
    )


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_kernels_give_float32_penalty(dtype, rng):
    kernel = rng.normal(size=(3, 3, 4, 4)).astype("float32")
    reg = ProjectionRegularizer("C4", in_rep="regular", out_rep="regular")
    half = ops.cast(ops.convert_to_tensor(kernel), dtype)
    value = reg(half)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    rounded = ops.convert_to_numpy(ops.cast(half, "float32"))
    np.testing.assert_allclose(
        ops.convert_to_numpy(value),
        ops.convert_to_numpy(reg(rounded)),
        rtol=1e-6,
    )
    for zero_or_equivariant in (
        0 * rounded,
        project(rounded, "C4", in_rep="regular", out_rep="regular"),
    ):
        tensor = ops.cast(ops.convert_to_tensor(zero_or_equivariant), dtype)
        value = ops.convert_to_numpy(reg(tensor))
        assert np.isfinite(value)


# JAX keeps float64 only with JAX_ENABLE_X64=1 (a run of the jax tox env).
if FLOAT64:

    def test_float64_kernels_give_float64_penalty(rng):
        kernel = rng.normal(size=(3, 3, 4, 4))
        reg = ProjectionRegularizer("C4", in_rep="regular", out_rep="regular")
        value = reg(ops.convert_to_tensor(kernel))
        assert keras.backend.standardize_dtype(value.dtype) == "float64"
        residual = kernel - project(
            kernel, "C4", in_rep="regular", out_rep="regular"
        )
        np.testing.assert_allclose(
            ops.convert_to_numpy(value),
            1e-2 * np.linalg.norm(residual),
            rtol=1e-12,
        )


def test_accepts_a_keras_variable(rng):
    variable = keras.Variable(rng.normal(size=(3, 3, 1, 4)).astype("float32"))
    reg = ProjectionRegularizer("C4", out_rep="regular")
    assert float(ops.convert_to_numpy(reg(variable))) > 0


def test_layer_losses_read_the_kernel_as_keras_does(rng):
    """`layer.losses` hands the regularizer the layer's variable; on
    TensorFlow a variable read inside the custom gradient (here through
    `lambda_g`'s term) makes it raise unless it was converted first."""
    reg = ProjectionRegularizer("C4", out_rep="regular", lambda_g=1e-3)
    layer = keras.layers.Conv2D(4, 3, kernel_regularizer=reg)
    layer.build((None, 5, 5, 1))
    (loss,) = layer.losses
    kernel = ops.convert_to_numpy(layer.kernel)
    np.testing.assert_allclose(
        ops.convert_to_numpy(loss),
        ops.convert_to_numpy(reg(ops.convert_to_tensor(kernel))),
        rtol=1e-6,
    )


def test_zero_lambdas_give_a_zero_tensor(rng):
    reg = ProjectionRegularizer("C4", lambda_perp=0.0)
    value = reg(ops.convert_to_tensor(rng.normal(size=(3, 3, 1, 1))))
    assert float(ops.convert_to_numpy(value)) == 0.0
    assert hasattr(value, "dtype")


def test_keras_shape_pass_checks_the_kernel_but_skips_the_penalty(
    rng, monkeypatch
):
    """Keras' first train step evaluates every regularizer once more in a
    `keras.SymbolicScope`, for the loss's shape only: there the kernel is
    still checked, but the penalty is not computed."""
    # A configuration of its own: no cached compilation of another test's.
    reg = ProjectionRegularizer(
        "C4", in_rep="regular", out_rep="regular", lambda_perp=0.37
    )
    evaluations = []
    evaluate = reg._evaluate
    monkeypatch.setattr(
        reg,
        "_evaluate",
        lambda *args: evaluations.append(args[-1].shape) or evaluate(*args),
    )
    kernel = ops.convert_to_tensor(rng.normal(size=(3, 3, 4, 4)), "float32")
    with keras.SymbolicScope():
        value = reg(kernel)
        with pytest.raises(ValueError, match="multiple of 4"):
            reg(ops.zeros((3, 3, 4, 6)))
    assert evaluations == []
    assert tuple(value.shape) == ()
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    assert float(ops.convert_to_numpy(reg(kernel))) > 0
    assert len(evaluations) == 1


@pytest.mark.parametrize(
    "group,channels,domain",
    [("C4", 4, "spatial"), ("C8", 8, "spatial"), ("D4", 8, "fourier")],
)
def test_compiled_penalty_is_traced_once(group, channels, domain, rng):
    """The penalty runs inside jit/tf.function/torch.compile, no retrace."""
    reg = ProjectionRegularizer(
        group, in_rep="regular", out_rep="regular", domain=domain
    )
    shape = (3, 3, 3, channels, channels)
    kernels = rng.normal(size=shape).astype("float32")
    expected = [ops.convert_to_numpy(reg(k)) for k in kernels]
    traces = []
    if BACKEND == "jax":
        import jax

        def penalty(kernel):
            traces.append(1)
            return reg(kernel)

        compiled = jax.jit(penalty)
    elif BACKEND == "tensorflow":
        import tensorflow as tf

        def penalty(kernel):
            traces.append(1)
            return reg(kernel)

        compiled = tf.function(penalty, jit_compile=True)
    else:
        import torch

        def count_graphs(graph_module, example_inputs):
            traces.append(1)
            return graph_module.forward

        compiled = torch.compile(reg, backend=count_graphs, fullgraph=True)
    for kernel, value in zip(kernels, expected):
        result = compiled(ops.convert_to_tensor(kernel))
        np.testing.assert_allclose(
            ops.convert_to_numpy(result), value, rtol=1e-5
        )
    assert len(traces) == 1


def test_layout_and_projector_are_looked_up_once_per_signature():
    """A training step calls the penalty per weight: the layout and the
    projector come from a cache keyed by the shape and the options."""
    reg = ProjectionRegularizer("C4", out_rep="regular")
    layout, projector = reg.prepared((3, 3, 2, 8))
    assert layout.name == "conv" and projector.shape == (3, 3, 2, 8)
    again = ProjectionRegularizer("C4", out_rep=["regular"])
    assert again.prepared([3, 3, 2, 8])[1] is projector
    assert reg.projector((3, 3, 2, 8)) is projector
    other = ProjectionRegularizer("D4", out_rep="regular")
    assert other.prepared((3, 3, 2, 8))[1].dim < projector.dim
    transposed = ProjectionRegularizer("C4", layout="conv_transpose")
    assert transposed.prepared((3, 3, 2, 8))[0].in_axis == 3


def test_config_round_trip():
    reg = ProjectionRegularizer(
        "D4",
        in_rep=["trivial", "standard"],
        out_rep="regular",
        norm=(2, "inf"),
        lambda_perp=0.5,
        lambda_g=0.25,
        layout="conv_transpose",
        domain="fourier",
        max_frequency=2,
        grid_size=[12, 10],
    )
    config = reg.get_config()
    assert config == {
        "group": "D4",
        "in_rep": ["trivial", "standard"],
        "out_rep": "regular",
        "norm": [2.0, "inf"],
        "lambda_perp": 0.5,
        "lambda_g": 0.25,
        "layout": "conv_transpose",
        "domain": "fourier",
        "max_frequency": 2,
        "grid_size": [12, 10],
        "basis": "smooth",
    }
    revived = ProjectionRegularizer.from_config(config)
    assert revived.get_config() == config
    serialized = keras.saving.serialize_keras_object(reg)
    assert (
        serialized["registered_name"] == "keras_approxeq>ProjectionRegularizer"
    )
    import json

    revived = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(serialized))
    )
    assert isinstance(revived, ProjectionRegularizer)
    assert revived.get_config() == config
    assert set(dir(revived)) == set(dir(reg))
    assert "D4" in repr(reg)


def test_regularizers_get_accepts_the_serialized_dict():
    reg = ProjectionRegularizer("C4", norm="fro2")
    got = keras.regularizers.get(keras.saving.serialize_keras_object(reg))
    assert isinstance(got, ProjectionRegularizer)
    assert got.get_config() == reg.get_config()


BAD_ARGUMENTS = [
    ({"group": "P4"}, r"Unknown group 'P4'. Known groups: C1, C2, C4, D1"),
    ({"group": "C65"}, r"Unknown group 'C65'.*up to 64"),
    ({"group": 4}, "Expected a group name"),
    ({"in_rep": "vector"}, r"Unknown representation 'vector'.*trivial"),
    ({"out_rep": ["trivial", "spinor"]}, "Unknown representation 'spinor'"),
    ({"in_rep": []}, "non-empty list"),
    ({"norm": "l2"}, r"Unknown norm 'l2'.*'spectral', 'nuclear'"),
    ({"grid_size": 0}, r"positive int.*grid_size=0"),
    ({"grid_size": [8, "8"]}, r"grid_size=\[8, '8'\]"),
    ({"norm": (0.5, 1)}, r"Unknown norm \(0.5, 1\)"),
    ({"lambda_perp": -1.0}, r"lambda_perp.*finite number >= 0.*-1.0"),
    ({"lambda_g": float("nan")}, r"lambda_g.*Received: lambda_g=nan"),
    ({"lambda_perp": math.inf}, r"lambda_perp=inf"),
    ({"lambda_perp": "big"}, r"lambda_perp='big'"),
    ({"layout": "conv2d"}, r"Unknown layout 'conv2d'.*'conv_transpose'"),
    ({"domain": "frequency"}, r"'spatial' or 'fourier'.*domain='frequency'"),
    ({"max_frequency": -1}, r"integer >= 0.*max_frequency=-1"),
    ({"max_frequency": 2.5}, r"max_frequency=2.5"),
]

# Options that cannot go together, whatever the weight's shape.
BAD_TARGETS = [
    ({"group": "S4", "in_rep": "regular"}, r"'regular' is not defined"),
    ({"group": "SO2", "out_rep": "regular"}, r"regular.*SO2 is infinite"),
    ({"group": "O", "domain": "fourier"}, r"2D groups.*not for O"),
    ({"group": "S4", "domain": "fourier"}, r"domain='spatial'"),
    ({"group": "Oh", "max_frequency": 2}, r"not\s+to Oh"),
    ({"group": "C4", "layout": "convtranspose"}, r"Unknown layout"),
]


@pytest.mark.parametrize("kwargs,message", BAD_ARGUMENTS, ids=str)
def test_bad_arguments_raise_at_construction(kwargs, message):
    kwargs = {"group": "C4", **kwargs}
    with pytest.raises(ValueError, match=message):
        ProjectionRegularizer(**kwargs)


@pytest.mark.parametrize("kwargs,message", BAD_TARGETS, ids=str)
@pytest.mark.parametrize(
    "target", [ProjectionRegularizer, ProjectionDecay, ProjectedInitializer]
)
def test_options_that_do_not_go_together_raise_at_construction(
    target, kwargs, message
):
    with pytest.raises(ValueError, match=message):
        target(**kwargs)


def test_an_unknown_layout_is_refused_by_project():
    kernel = np.zeros((3, 3, 2, 2))
    with pytest.raises(ValueError, match=r"Unknown layout 'convtranspose'"):
        project(kernel, "C4", layout="convtranspose")


BAD_KERNELS = [
    ("C4", {}, (3, 2, 2), r"Group .C4. acts on 2D grids.*1 spatial dimension"),
    ("O", {}, (3, 3, 2, 2), r"Group 'O' acts on 3D grids.*2 spatial"),
    ("C4", {}, (3, 5, 2, 2), r"spatial shape \(3, 5\).*square"),
    ("Oh", {}, (3, 3, 5, 1, 1), r"spatial shape \(3, 3, 5\).*cubic"),
    ("C4", {"in_rep": "regular"}, (3, 3, 6, 4), r"multiple of 4.*6 input"),
    ("D4", {"out_rep": "standard"}, (3, 3, 1, 3), r"multiple of 2.*3 output"),
    ("C4", {"out_rep": "regular"}, (6,), r"multiple of 4.*6 output"),
    (
        "C4",
        {"layout": "dense"},
        (3, 3, 1, 1),
        r"layout 'dense' must have rank 2",
    ),
    ("C4", {"layout": "bias"}, (3, 3), r"layout 'bias' must have rank 1"),
    ("C4", {"layout": "conv"}, (3, 3), r"layout 'conv' must have rank 3 or 4"),
    ("S4", {}, (3, 3, 4, 4), r"'S4' permutes set elements.*Dense kernels"),
    ("S4", {"in_rep": "natural"}, (6, 4), r"multiple of 4.*6 input"),
    (
        "C8",
        {"domain": "fourier", "layout": "depthwise"},
        (3, 3, 8, 1),
        "does not support depthwise",
    ),
]


@pytest.mark.parametrize("group,kwargs,shape,message", BAD_KERNELS, ids=str)
def test_bad_kernels_raise_clear_errors(group, kwargs, shape, message):
    reg = ProjectionRegularizer(group, **kwargs)
    with pytest.raises(ValueError, match=message):
        reg(ops.zeros(shape))


def test_bad_kernel_errors_surface_when_the_model_is_built():
    layer = keras.layers.Conv1D(
        4,
        3,
        data_format="channels_last",
        kernel_regularizer=ProjectionRegularizer("C4"),
    )
    with pytest.raises(ValueError, match="acts on 2D grids"):
        layer.build((None, 8, 2))
        _ = layer.losses


@pytest.mark.parametrize(
    "group,in_rep,out_rep,shape",
    [
        ("Oh", "standard", "trivial", (3, 3, 3, 6, 5)),
        ("C8", "regular", ["irrep0", "irrep1"], (5, 5, 8, 6)),
        ("SO3", "standard", ["trivial", "irrep2"], (3, 3, 3, 3, 12)),
    ],
)
def test_first_call_inside_a_compiled_function_then_eagerly(
    group, in_rep, out_rep, shape, rng
):
    """A cold cache filled under tracing must not leak tracers or graphs."""
    reg = ProjectionRegularizer(group, in_rep=in_rep, out_rep=out_rep)
    kernel = rng.normal(size=shape).astype("float32")
    if BACKEND == "jax":
        import jax

        compiled = jax.jit(reg)
    elif BACKEND == "tensorflow":
        import tensorflow as tf

        compiled = tf.function(reg)
    else:
        import torch

        compiled = torch.compile(reg, backend="eager")
    first = ops.convert_to_numpy(compiled(ops.convert_to_tensor(kernel)))
    eager = ops.convert_to_numpy(reg(ops.convert_to_tensor(kernel)))
    again = ops.convert_to_numpy(compiled(ops.convert_to_tensor(2 * kernel)))
    parallel = project(
        kernel.astype("float64"), group, in_rep=in_rep, out_rep=out_rep
    )
    expected = 1e-2 * np.linalg.norm(kernel - parallel)
    np.testing.assert_allclose([first, eager, again / 2], expected, rtol=1e-5)


def test_eager_calls_follow_changes_of_the_regularizer(rng):
    """Eager calls (compiled once per configuration on JAX) see a changed
    weight, and two regularizers of one configuration agree."""
    kernel = ops.convert_to_tensor(rng.normal(size=(3, 3, 4, 4)), "float32")
    parallel = project(
        ops.convert_to_numpy(kernel).astype("float64"),
        "C4",
        in_rep="regular",
        out_rep="regular",
    )
    residual = np.linalg.norm(ops.convert_to_numpy(kernel) - parallel)
    reg = ProjectionRegularizer("C4", in_rep="regular", out_rep="regular")
    twin = ProjectionRegularizer.from_config(reg.get_config())
    values = [reg(kernel), twin(kernel)]
    reg.lambda_perp = 0.5
    values.append(reg(kernel))
    np.testing.assert_allclose(
        [float(ops.convert_to_numpy(v)) for v in values],
        [1e-2 * residual, 1e-2 * residual, 0.5 * residual],
        rtol=1e-5,
    )
