"""The spectral and nuclear norms against explicitly built operators."""

import keras
import numpy as np
import pytest
from keras import ops
from utils import FLOAT64
from utils import value_and_grad

from keras_approxeq import ProjectionRegularizer
from keras_approxeq import project
from keras_approxeq.penalties import operator_norms


def _circulant(kernel, grid):
    """The convolution (correlation) on a periodic grid as a dense matrix
    `(points * out, points * in)`, built entry by entry."""
    spatial, (c_in, c_out) = kernel.shape[:-2], kernel.shape[-2:]
    points = np.indices(grid).reshape(len(grid), -1).T
    offsets = np.indices(spatial).reshape(len(spatial), -1).T
    flat = kernel.reshape(-1, c_in, c_out)
    matrix = np.zeros((len(points) * c_out, len(points) * c_in))
    for p, point in enumerate(points):
        for x, offset in enumerate(offsets):
            q = np.ravel_multi_index(tuple((point + offset) % grid), grid)
            rows = slice(p * c_out, (p + 1) * c_out)
            matrix[rows, q * c_in : (q + 1) * c_in] += flat[x].T
    return matrix


def _reference(kernel, grid, norm):
    singular = np.linalg.svd(_circulant(kernel, grid), compute_uv=False)
    return singular.max() if norm == "spectral" else singular.sum()


@pytest.mark.parametrize("norm", ["spectral", "nuclear"])
@pytest.mark.parametrize(
    "spatial,grid",
    [((3,), (7,)), ((3, 3), (5, 6)), ((2, 3), (4, 4)), ((2, 2, 2), (3, 4, 2))],
    ids=str,
)
def test_convolution_norms_equal_the_dense_operators(spatial, grid, norm, rng):
    kernel = rng.normal(size=(*spatial, 2, 3))
    value = operator_norms.evaluate(
        ops.convert_to_tensor(kernel.reshape(-1, 2, 3).astype("float32")),
        norm,
        spatial,
        grid,
    )
    expected = _reference(kernel, np.array(grid), norm)
    np.testing.assert_allclose(ops.convert_to_numpy(value), expected, rtol=1e-5)


@pytest.mark.parametrize("norm", ["spectral", "nuclear"])
def test_dense_and_depthwise_norms(norm, rng):
    matrix = rng.normal(size=(5, 3))
    singular = np.linalg.svd(matrix, compute_uv=False)
    value = operator_norms.evaluate(
        ops.convert_to_tensor(matrix[None].astype("float32")), norm, ()
    )
    expected = singular.max() if norm == "spectral" else singular.sum()
    np.testing.assert_allclose(ops.convert_to_numpy(value), expected, rtol=1e-5)
    # Depthwise: block diagonal over the input channels.
    kernel = rng.normal(size=(3, 3, 2, 3))
    grid = np.array((5, 5))
    blocks = [_circulant(kernel[:, :, c : c + 1], grid) for c in range(2)]
    singular = np.concatenate(
        [np.linalg.svd(b, compute_uv=False) for b in blocks]
    )
    value = operator_norms.evaluate(
        ops.convert_to_tensor(kernel.reshape(9, 2, 3).astype("float32")),
        norm,
        (3, 3),
        (5, 5),
        depthwise=True,
    )
    expected = singular.max() if norm == "spectral" else singular.sum()
    np.testing.assert_allclose(ops.convert_to_numpy(value), expected, rtol=1e-5)


@pytest.mark.skipif(not FLOAT64, reason="JAX without JAX_ENABLE_X64")
@pytest.mark.parametrize("norm", ["spectral", "nuclear"])
def test_norms_keep_float64(norm, rng):
    """float64 in, float64 out, as exact as float64 (on PyTorch the power
    iteration mixed in `keras.ops.norm`'s float32 and raised)."""
    kernel = rng.normal(size=(3, 3, 2, 3))
    value = operator_norms.evaluate(
        ops.convert_to_tensor(kernel.reshape(9, 2, 3)), norm, (3, 3), (5, 5)
    )
    assert keras.backend.standardize_dtype(value.dtype) == "float64"
    expected = _reference(kernel, np.array((5, 5)), norm)
    value = ops.convert_to_numpy(value)
    np.testing.assert_allclose(value, expected, rtol=1e-10)


@pytest.mark.parametrize("domain", ["spatial", "fourier"])
@pytest.mark.parametrize("norm", ["spectral", "nuclear"])
def test_regularizer_penalises_the_residual_operator(norm, domain, rng):
    kernel = rng.normal(size=(3, 3, 8, 8))
    reg = ProjectionRegularizer(
        "C8",
        in_rep="regular",
        out_rep="regular",
        norm=norm,
        lambda_perp=0.5,
        lambda_g=0.25,
        domain=domain,
        grid_size=6,
    )
    parallel = project(kernel, "C8", in_rep="regular", out_rep="regular")
    grid = np.array((6, 6))
    expected = 0.5 * _reference(kernel - parallel, grid, norm)
    expected += 0.25 * _reference(parallel, grid, norm)
    value = reg(ops.convert_to_tensor(kernel.astype("float32")))
    # The nuclear norm sums 288 float32 singular values (36 frequencies of
    # 8); TensorFlow 2.21's float32 SVD leaves 8e-5 of relative error.
    rtol = 2e-4 if norm == "nuclear" else 1e-5
    np.testing.assert_allclose(ops.convert_to_numpy(value), expected, rtol=rtol)


def test_transposed_convolution_has_the_singular_values_of_its_kernel(rng):
    kernel = rng.normal(size=(3, 3, 4, 4))
    reg = ProjectionRegularizer(
        "C4",
        in_rep="regular",
        out_rep="regular",
        norm="spectral",
        lambda_perp=1.0,
        layout="conv_transpose",
        grid_size=[8, 8],
    )
    swapped = np.swapaxes(kernel, -1, -2)
    residual = swapped - project(
        swapped, "C4", in_rep="regular", out_rep="regular"
    )
    expected = _reference(residual, np.array((8, 8)), "spectral")
    value = reg(ops.convert_to_tensor(kernel.astype("float32")))
    np.testing.assert_allclose(ops.convert_to_numpy(value), expected, rtol=1e-5)


def test_default_grid_and_bad_grids():
    assert operator_norms.default_grid((3, 3)) == (8, 8)
    assert operator_norms.default_grid((5, 9, 1)) == (10, 18, 8)
    reg = ProjectionRegularizer("C4", norm="spectral", grid_size=(8, 2))
    with pytest.raises(ValueError, match=r"at least the kernel's size"):
        reg(ops.ones((3, 3, 1, 1)))


@pytest.mark.parametrize("norm", ["spectral", "nuclear"])
def test_gradient_is_zero_at_an_equivariant_kernel_without_lambda_g(norm, rng):
    kernel = project(
        rng.normal(size=(3, 3, 4, 4)), "C4", in_rep="regular", out_rep="regular"
    )
    reg = ProjectionRegularizer(
        "C4", in_rep="regular", out_rep="regular", norm=norm
    )
    value, grad = value_and_grad(reg, kernel.astype("float32"))
    assert value == 0.0
    np.testing.assert_allclose(grad, 0.0)


def test_spectral_norm_picks_the_right_frequency_on_random_kernels():
    """The power iterations rank the frequencies right on random kernels
    (a check of the shortcut: the value is the exact maximum)."""
    rng = np.random.default_rng(7)
    for _ in range(20):
        kernel = rng.normal(size=(3, 3, 4, 4))
        value = operator_norms.evaluate(
            ops.convert_to_tensor(kernel.reshape(9, 4, 4).astype("float32")),
            "spectral",
            (3, 3),
            (8, 8),
        )
        expected = _reference(kernel, np.array((8, 8)), "spectral")
        np.testing.assert_allclose(
            ops.convert_to_numpy(value), expected, rtol=1e-5
        )


def test_spectral_norm_is_exact_with_nearly_equal_top_singular_values():
    """The Gram squarings resolve a top gap of 1e-3 (where 16 plain power
    iterations are off by 0.6 %)."""
    rng = np.random.default_rng(3)
    left, _ = np.linalg.qr(rng.normal(size=(24, 24)))
    right, _ = np.linalg.qr(rng.normal(size=(24, 24)))
    singular = np.concatenate([[1.001], np.linspace(1.0, 0.2, 23)])
    matrix = (left * singular) @ right.T
    value = operator_norms.evaluate(
        ops.convert_to_tensor(matrix[None].astype("float32")), "spectral", ()
    )
    np.testing.assert_allclose(ops.convert_to_numpy(value), 1.001, rtol=1e-6)


@pytest.mark.parametrize("shape", [(6, 5), (4, 9)], ids=["tall", "wide"])
def test_spectral_norm_gradient_is_the_top_singular_pair(shape, rng):
    """d sigma_max / dW = u v^T for the top singular vectors `u`, `v`."""
    matrix = rng.normal(size=shape).astype("float32")
    value, grad = value_and_grad(
        lambda w: operator_norms.evaluate(w[None], "spectral", ()), matrix
    )
    u, s, vt = np.linalg.svd(matrix.astype("float64"))
    np.testing.assert_allclose(value, s[0], rtol=1e-6)
    np.testing.assert_allclose(grad, np.outer(u[:, 0], vt[0]), atol=1e-5)
