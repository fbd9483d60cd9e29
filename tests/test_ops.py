"""The package's own tensor helpers (`keras_approxeq._ops`)."""

import keras
import numpy as np
import pytest
from keras import ops
from utils import FLOAT64
from utils import value_and_grad

from keras_approxeq._ops import einsum
from keras_approxeq._ops import matmul
from keras_approxeq._ops import mean
from keras_approxeq._ops import needs_gradient
from keras_approxeq._ops import positive_or_one
from keras_approxeq._ops import reshape
from keras_approxeq._ops import split
from keras_approxeq._ops import stop_gradient
from keras_approxeq._ops import take
from keras_approxeq._ops import transpose


@pytest.mark.parametrize("dtype", ["float32"] + ["float64"] * FLOAT64)
def test_products_keep_dtype_and_precision(dtype, rng):
    a, b = rng.normal(size=(5, 7)), rng.normal(size=(7, 3))
    x, y = ops.convert_to_tensor(a, dtype), ops.convert_to_tensor(b, dtype)
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    for result in (matmul(x, y), einsum("ij,jk->ik", x, y)):
        assert ops.convert_to_numpy(result).dtype == np.dtype(dtype)
        np.testing.assert_allclose(
            ops.convert_to_numpy(result), a @ b, rtol=tolerance, atol=tolerance
        )


def test_split_cuts_static_sizes(rng):
    x = rng.normal(size=(2, 9)).astype("float32")
    pieces = split(ops.convert_to_tensor(x), [1, 3, 5], axis=1)
    assert [tuple(p.shape) for p in pieces] == [(2, 1), (2, 3), (2, 5)]
    np.testing.assert_array_equal(
        np.concatenate([ops.convert_to_numpy(p) for p in pieces], 1), x
    )


def test_reshape_and_transpose_match_numpy(rng):
    """On tensors, variables and symbolic tensors alike."""
    x = rng.normal(size=(2, 3, 4)).astype("float32")
    for value in (ops.convert_to_tensor(x), keras.Variable(x)):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(reshape(value, (6, -1))), x.reshape(6, -1)
        )
        np.testing.assert_array_equal(
            ops.convert_to_numpy(transpose(value, (2, 0, 1))),
            x.transpose(2, 0, 1),
        )
        np.testing.assert_array_equal(
            ops.convert_to_numpy(transpose(value)), x.transpose()
        )
    symbolic = keras.KerasTensor((2, 3, 4))
    assert reshape(symbolic, (6, 4)).shape == (6, 4)
    assert transpose(symbolic, (2, 0, 1)).shape == (4, 2, 3)
    assert transpose(symbolic).shape == (4, 3, 2)


def test_take_gathers_along_an_axis(rng):
    x = rng.normal(size=(4, 3)).astype("float32")
    indices = np.array([2, 0, 2], "int32")
    for axis in (0, 1):
        taken = take(
            ops.convert_to_tensor(x), ops.convert_to_tensor(indices), axis
        )
        np.testing.assert_array_equal(
            ops.convert_to_numpy(taken), np.take(x, indices, axis)
        )


@pytest.mark.parametrize("dtype", ["float32"] + ["float64"] * FLOAT64)
def test_mean_computes_in_the_input_dtype(dtype, rng):
    """`keras.ops.mean` computes float64 in float32 on PyTorch and JAX."""
    x = 1.0 + 1e-9 * rng.normal(size=(6, 5, 4))
    tensor = ops.convert_to_tensor(x, dtype)
    tolerance = 1e-6 if dtype == "float32" else 1e-13
    for axis, keepdims in ((1, False), ((0, 2), True)):
        result = ops.convert_to_numpy(mean(tensor, axis, keepdims))
        assert result.dtype == np.dtype(dtype)
        np.testing.assert_allclose(
            result, x.mean(axis, keepdims=keepdims), rtol=tolerance, atol=0
        )
    np.testing.assert_array_equal(
        ops.convert_to_numpy(mean(tensor, ())), x.astype(dtype)
    )


@pytest.mark.parametrize("dtype", ["float32"] + ["float64"] * FLOAT64)
def test_positive_or_one_and_stop_gradient(dtype):
    x = np.array([2.0, 0.0, -1.0])
    guarded = ops.convert_to_numpy(
        positive_or_one(ops.convert_to_tensor(x, dtype))
    )
    assert guarded.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(guarded, [2.0, 1.0, 1.0])
    # d/dt sum(t * stop(t)) = stop(t): the value passes, no gradient does.
    value, grad = value_and_grad(
        lambda t: ops.sum(t * stop_gradient(t)), x.astype(dtype)
    )
    np.testing.assert_allclose(value, np.sum(x * x))
    np.testing.assert_allclose(grad, x)


def test_needs_gradient_follows_autograd():
    x = ops.convert_to_tensor(np.ones(3, "float32"))
    if keras.backend.backend() != "torch":
        assert needs_gradient(x)  # JAX and TensorFlow decide later
        return
    import torch

    assert not needs_gradient(x)
    x.requires_grad_(True)
    assert needs_gradient(x)
    with torch.no_grad():
        assert not needs_gradient(x)
