"""Every projector has one interface: apply, residual, coefficients,
expand, dim, is_identity; the structured (Kronecker) apply equals the
orbit average."""

import keras
import numpy as np
import pytest
from keras import ops
from utils import group_average
from utils import value_and_grad

from keras_approxeq.projection.kronecker import KroneckerProjector
from keras_approxeq.projection.projectors import get_projector
from keras_approxeq.symmetry import groups

# (group, in_rep, out_rep, shape, layout, domain)
CASES = [
    ("C4", "trivial", "trivial", (3, 3, 8, 6), None, "spatial"),
    ("C4", "trivial", "trivial", (7, 7, 2, 3), None, "spatial"),
    ("D4", "trivial", "trivial", (5, 5, 4, 4), None, "spatial"),
    # Large enough that JAX computes `residuals` two ways.
    ("C4", "trivial", "trivial", (3, 3, 64, 64), None, "spatial"),
    ("C4", "regular", "regular", (3, 3, 8, 12), None, "spatial"),
    ("D4", "regular", "regular", (3, 3, 16, 8), None, "spatial"),
    ("C4", "regular", "regular", (5, 5, 8, 8), None, "spatial"),
    ("D4", "regular", "trivial", (3, 3, 16, 2), None, "spatial"),
    ("C4", "regular", "regular", (3, 3, 8, 2), "depthwise", "spatial"),
    ("D4", ["trivial", "standard"], "regular", (3, 3, 6, 8), None, "spatial"),
    ("C4", "trivial", "regular", (3, 3, 12, 2), "conv_transpose", "spatial"),
    ("C4", "regular", "regular", (8, 12), None, "spatial"),
    ("D4", "regular", "regular", (16,), None, "spatial"),
    ("O", "trivial", "standard", (3, 3, 3, 2, 6), None, "spatial"),
    ("O", "regular", "regular", (3, 3, 3, 24, 24), None, "spatial"),
    ("S4", "natural", "natural", (8, 4), None, "spatial"),
    ("SO2", ["irrep0", "irrep1"], "irrep2", (5, 5, 6, 4), None, "spatial"),
    ("C8", "regular", "regular", (5, 5, 8, 16), None, "spatial"),
    ("D4", "regular", "regular", (3, 3, 8, 8), None, "fourier"),
    ("SO3", "irrep1", ["irrep0", "irrep1"], (3, 3, 3, 3, 8), None, "spatial"),
]
IDS = [f"{c[0]}-{c[3]}-{c[4]}-{c[5]}" for c in CASES]


@pytest.fixture(params=CASES, ids=IDS)
def projector(request):
    group, in_rep, out_rep, shape, layout, domain = request.param
    return get_projector(group, in_rep, out_rep, shape, layout, domain=domain)


def test_expand_of_coefficients_is_apply(projector, rng):
    kernel = rng.normal(size=projector.shape).astype("float32")
    coefficients = projector.coefficients(kernel)
    assert tuple(coefficients.shape) == (projector.dim,)
    expanded = ops.convert_to_numpy(projector.expand(coefficients))
    applied = ops.convert_to_numpy(projector.apply(kernel))
    np.testing.assert_allclose(expanded, applied, atol=1e-5)
    np.testing.assert_allclose(
        applied, projector.apply_numpy(kernel.astype("float64")), atol=1e-5
    )


def test_coordinates_are_orthonormal(projector, rng):
    c = rng.normal(size=projector.dim).astype("float32")
    kernel = projector.expand(c)
    np.testing.assert_allclose(
        ops.convert_to_numpy(projector.coefficients(kernel)), c, atol=1e-5
    )
    # ||Q c|| = ||c||: the coordinates are in an orthonormal basis.
    norm = np.linalg.norm(ops.convert_to_numpy(kernel))
    assert norm == pytest.approx(np.linalg.norm(c), rel=1e-5)


def test_gradient_is_the_projection_of_the_cotangent(projector, rng):
    """P is self-adjoint, so the gradient of <P(K), G> is P(G), and that of
    ||P(K)||^2 / 2 is P(K)."""
    kernel = rng.normal(size=projector.shape).astype("float32")
    cotangent = rng.normal(size=projector.shape).astype("float32")
    target = ops.convert_to_tensor(cotangent)
    _, grad = value_and_grad(
        lambda k: ops.sum(projector.apply(k) * target), kernel
    )
    expected = projector.apply_numpy(cotangent.astype("float64"))
    np.testing.assert_allclose(grad, expected, atol=1e-5)
    _, grad = value_and_grad(
        lambda k: ops.sum(ops.square(projector.apply(k))) / 2, kernel
    )
    expected = projector.apply_numpy(kernel.astype("float64"))
    np.testing.assert_allclose(grad, expected, atol=1e-5)


def test_residual_is_the_kernel_minus_its_projection(projector, rng):
    """`K - P(K)`, with `1 - P` (self-adjoint too) as its gradient."""
    kernel = rng.normal(size=projector.shape).astype("float32")
    cotangent = rng.normal(size=projector.shape).astype("float32")
    expected = kernel - projector.apply_numpy(kernel.astype("float64"))
    residual = ops.convert_to_numpy(projector.residual(kernel))
    np.testing.assert_allclose(residual, expected, atol=1e-5)
    for each in projector.residuals(kernel):  # for a value and a gradient
        np.testing.assert_allclose(
            ops.convert_to_numpy(each), expected, atol=1e-5
        )
    target = ops.convert_to_tensor(cotangent)
    _, grad = value_and_grad(
        lambda k: ops.sum(projector.residual(k) * target), kernel
    )
    expected = cotangent - projector.apply_numpy(cotangent.astype("float64"))
    np.testing.assert_allclose(grad, expected, atol=1e-5)


def test_is_identity_means_every_kernel_is_fixed(projector, rng):
    kernel = rng.normal(size=projector.shape)
    moved = np.abs(projector.apply_numpy(kernel) - kernel).max()
    assert projector.is_identity == (moved < 1e-12)
    assert projector.is_identity == (projector.dim == kernel.size)


@pytest.mark.parametrize(
    "group, in_rep, out_rep, shape, layout",
    [
        ("C4", "trivial", "trivial", (1, 1, 32, 64), None),
        ("D4", "trivial", "trivial", (1, 1, 8, 8), "depthwise"),
        ("C4", "trivial", "trivial", (32, 10), None),
        ("Oh", "trivial", "trivial", (1, 1, 1, 4, 4), None),
        ("C4", "trivial", "trivial", (16,), None),
    ],
)
def test_identity_projections_are_detected(
    group, in_rep, out_rep, shape, layout
):
    assert get_projector(group, in_rep, out_rep, shape, layout).is_identity


def _not_the_group_sum(self, kernel):
    raise AssertionError("the decay took the group sum")


def _block_product(projector):
    """How `projector` multiplies one copy's block, off the group sum."""
    if projector._mean_axes is not None:
        return "copy means"
    if projector._orbits is not None:
        return "orbit means"
    return "matrix" if projector._use_matrix else "basis twice"


@pytest.mark.parametrize(
    "group, in_rep, out_rep, shape, layout, product",
    [
        ("C4", "trivial", "trivial", (3, 3, 32, 64), None, "matrix"),  # (S, S)
        ("D4", "regular", "regular", (3, 3, 16, 24), None, "orbit means"),
        ("C4", "regular", "regular", (3, 3, 8, 12), None, "orbit means"),
        ("D4", "regular", "trivial", (3, 3, 16, 2), None, "orbit means"),
        ("Oh", "trivial", "trivial", (5, 5, 5, 1, 2), None, "basis twice"),
        ("C4", "regular", "trivial", (3, 3, 6, 8), "conv_transpose", "matrix"),
        ("D4", "regular", None, (3, 3, 16, 3), "depthwise", "orbit means"),
        ("D1", "regular", "standard", (5, 4, 2), None, "matrix"),
        ("C2", "regular", "regular", (9, 9, 4, 4), None, "matrix"),  # B > 256
        # One orbit per copy: averaged in the view, on every backend.
        ("D4", "regular", "trivial", (1, 1, 16, 3), None, "copy means"),
        ("C4", "regular", None, (1, 1, 16, 2), "depthwise", "copy means"),
    ],
)
@pytest.mark.parametrize("group_sum", [False, True])
def test_structured_apply_equals_the_group_average(
    group, in_rep, out_rep, shape, layout, product, group_sum, rng, monkeypatch
):
    """Every structured apply (the block products off the group sum, and
    the group sum, JAX's default) on every backend; the decay never
    takes the group sum."""
    backends = (keras.backend.backend(),) if group_sum else ()
    monkeypatch.setattr(KroneckerProjector, "group_sum_backends", backends)
    projector = get_projector(
        group, in_rep, out_rep or "trivial", shape, layout
    )
    assert isinstance(projector, KroneckerProjector)
    assert _block_product(projector) == product
    kernel = rng.normal(size=shape)
    spatial = len(shape) - 2
    expected = group_average(
        kernel,
        groups.get(group, ndim=spatial),
        in_rep,
        out_rep or "trivial",
        layout or "conv",
    )
    np.testing.assert_allclose(
        projector.apply_numpy(kernel), expected, atol=1e-12
    )
    applied = ops.convert_to_numpy(projector.apply(kernel.astype("float32")))
    np.testing.assert_allclose(applied, expected, atol=1e-5)
    residual = projector.residual(kernel.astype("float32"))
    np.testing.assert_allclose(
        ops.convert_to_numpy(residual), kernel - expected, atol=1e-5
    )
    for each in projector.residuals(kernel.astype("float32")):
        np.testing.assert_allclose(
            ops.convert_to_numpy(each), kernel - expected, atol=1e-5
        )
    # The decay, on the blocks: after the optimizer's update the group
    # sum was slow in XLA's compiled step.
    monkeypatch.setattr(KroneckerProjector, "_group_sum", _not_the_group_sum)
    for fraction in (0.25, 1.0):
        decayed = projector.decayed(kernel.astype("float32"), fraction)
        np.testing.assert_allclose(
            ops.convert_to_numpy(decayed),
            expected + (1 - fraction) * (kernel - expected),
            atol=1e-5,
        )


@pytest.mark.parametrize("fraction", [0.0, 0.25, 1.0, "tensor"])
def test_decayed_removes_a_fraction_of_the_residual(projector, fraction, rng):
    """`P(K) + (1 - f) (K - P(K))`, for a number and for a tensor (a
    decay that follows the learning rate); 1 gives `P(K)`."""
    kernel = rng.normal(size=projector.shape).astype("float32")
    parallel = projector.apply_numpy(kernel.astype("float64"))
    given = fraction
    if fraction == "tensor":
        fraction = 0.6
        given = ops.convert_to_tensor(fraction, "float32")
    decayed = ops.convert_to_numpy(projector.decayed(kernel, given))
    expected = parallel + (1 - fraction) * (kernel - parallel)
    np.testing.assert_allclose(decayed, expected, atol=1e-5)
    assert decayed.dtype == np.float32
