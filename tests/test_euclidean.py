"""The Frobenius penalties' closed-form gradient against autodiff."""

import numpy as np
import pytest
from keras import ops
from utils import value_and_grad

from keras_approxeq import ProjectionRegularizer
from keras_approxeq.penalties import euclidean
from keras_approxeq.penalties import norms

CASES = [
    ("C4", "regular", "regular", (3, 3, 8, 8)),
    # Large enough that JAX computes the value's and the gradient's
    # residuals two ways (`KroneckerProjector.residuals`).
    ("D4", "trivial", "trivial", (3, 3, 64, 64)),
    ("D4", "trivial", "regular", (5, 5, 2, 16)),
    (
        "SO2",
        ["irrep0", "irrep1", "irrep2"],
        ["irrep0", "irrep1"],
        (5, 5, 10, 6),
    ),
]


def _autodiff_penalty(projector, norm, a, b):
    """The same penalty with the gradient taken through `P` itself."""

    def penalty(x):
        parallel = projector.apply(x)
        total = a * norms.evaluate(x - parallel, norm)
        return total + b * norms.evaluate(parallel, norm)

    return penalty


@pytest.mark.parametrize("norm", ["fro", "fro2"])
@pytest.mark.parametrize("b", [0.0, 0.7])
@pytest.mark.parametrize("group,in_rep,out_rep,shape", CASES, ids=str)
def test_closed_form_gradient_equals_autodiff_through_p(
    group, in_rep, out_rep, shape, norm, b, rng
):
    kernel = rng.normal(size=shape).astype("float32")
    reg = ProjectionRegularizer(
        group,
        in_rep=in_rep,
        out_rep=out_rep,
        norm=norm,
        lambda_perp=0.3,
        lambda_g=b,
    )
    projector = reg.projector(shape)  # a conv kernel: its layout's shape
    value, grad = value_and_grad(reg, kernel)
    expected_value, expected_grad = value_and_grad(
        _autodiff_penalty(projector, norm, 0.3, b), kernel
    )
    np.testing.assert_allclose(value, expected_value, rtol=1e-5)
    scale = np.abs(expected_grad).max()
    np.testing.assert_allclose(grad, expected_grad, atol=1e-5 * scale)


def test_the_upstream_gradient_scales_the_gradient(rng):
    kernel = rng.normal(size=(3, 3, 4, 4)).astype("float32")
    reg = ProjectionRegularizer("C4", in_rep="regular", out_rep="regular")
    _, grad = value_and_grad(reg, kernel)
    _, tripled = value_and_grad(lambda x: 3.0 * reg(x), kernel)
    np.testing.assert_allclose(tripled, 3.0 * grad, rtol=1e-6)


@pytest.mark.parametrize("norm", ["fro", "fro2"])
def test_zero_parts_give_zero_finite_gradients(norm):
    x = np.array([3.0, 0.0], "float32")  # all of it parallel, no residual
    second = ops.convert_to_tensor([0.0, 1.0])  # 1 - P, P onto the first
    value, grad = value_and_grad(
        lambda t: euclidean.penalty(t, t * second, norm, 1.0), x
    )
    assert value == 0.0
    np.testing.assert_array_equal(grad, [0.0, 0.0])
    value, grad = value_and_grad(
        lambda t: euclidean.penalty(t, ops.zeros_like(t), norm, 1.0, 2.0),
        np.zeros(2, "float32"),
    )
    assert value == 0.0 and np.all(np.isfinite(grad))


def test_the_gradient_reads_the_gradient_residual():
    """`gradient_residual` (the same `x - P x` computed another way) enters
    the gradient only; a different one here shows which is read."""
    x = np.array([3.0, 4.0], "float32")
    residual = ops.convert_to_tensor([0.0, 4.0])
    other = ops.convert_to_tensor([0.0, 8.0])
    value, grad = value_and_grad(
        lambda t: euclidean.penalty(
            t, residual, "fro2", 1.0, gradient_residual=other
        ),
        x,
    )
    assert value == pytest.approx(16.0)
    np.testing.assert_allclose(grad, [0.0, 16.0])


def test_other_norms_raise():
    x = ops.ones((2,))
    with pytest.raises(ValueError, match="Expected norm 'fro' or 'fro2'"):
        euclidean.penalty(x, x, "l1", 1.0)
