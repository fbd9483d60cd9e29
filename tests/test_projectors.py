"""The projector's algebra: checked against dense, brute-force references."""

import numpy as np
import pytest
from keras import ops
from utils import FLOAT64
from utils import character_dimension
from utils import group_average
from utils import rep_matrices

from keras_approxeq import project
from keras_approxeq.projection.projectors import get_projector
from keras_approxeq.symmetry import groups

# (group, spatial shape, in_rep, out_rep, in channels, out channels, layout)
CASES = [
    ("C1", (3, 3), "trivial", "trivial", 2, 3, "conv"),
    ("C2", (3, 5), "regular", "trivial", 4, 2, "conv"),
    ("C4", (3, 3), "trivial", "trivial", 2, 3, "conv"),
    ("C4", (3, 3), "regular", "regular", 8, 8, "conv"),
    ("C4", (5, 5), "trivial", "regular", 1, 8, "conv"),
    ("C4", (4, 4), "standard", ["trivial", "standard"], 4, 6, "conv"),
    ("C4", (3, 3), "trivial", "regular", 2, 4, "conv_transpose"),
    ("C4", (), "regular", "standard", 8, 4, "dense"),
    ("C4", (), None, "regular", None, 8, "bias"),
    ("D1", (3, 3), "regular", "standard", 2, 2, "conv"),
    ("D1", (5,), "regular", "standard", 2, 3, "conv"),
    ("D2", (2, 2), "trivial", "trivial", 1, 1, "conv"),
    ("D4", (3, 3), "regular", "standard", 8, 4, "conv"),
    ("D4", (3, 3), ["trivial", "standard"], "regular", 3, 8, "conv"),
    ("D4", (3, 3), "regular", None, 8, 2, "depthwise"),
    ("D4", (), None, ["trivial", "standard"], None, 6, "bias"),
    ("O", (3, 3, 3), "trivial", "standard", 1, 3, "conv"),
    ("O", (3, 3, 3), "regular", "regular", 24, 24, "conv"),
    ("Oh", (3, 3, 3), "regular", "trivial", 48, 2, "conv"),
    ("Oh", (), "standard", "standard", 3, 6, "dense"),
    ("Oh", (2, 2, 2), "standard", "regular", 3, 48, "conv_transpose"),
    ("S4", (), "natural", "natural", 8, 4, "dense"),
    ("S3", (), ["trivial", "natural"], "natural", 8, 6, "dense"),
    ("S4", (), "trivial", "natural", 2, 8, "dense"),
    ("S4", (), None, "natural", None, 8, "bias"),
]
IDS = [f"{c[0]}-{c[6]}-{c[2]}-{c[3]}-{c[1]}" for c in CASES]


def _shape(case):
    _, spatial, _, _, cin, cout, layout = case
    if layout == "bias":
        return (cout,)
    if layout == "conv_transpose":
        return (*spatial, cout, cin)
    return (*spatial, cin, cout)


def _setup(case):
    name, spatial, in_rep, out_rep, _, _, layout = case
    group = groups.get(name, ndim=len(spatial) or None)
    in_rep = in_rep or "trivial"
    out_rep = out_rep or "trivial"
    projector = get_projector(group, in_rep, out_rep, _shape(case), layout)
    return group, in_rep, out_rep, projector


@pytest.fixture(params=CASES, ids=IDS)
def case(request):
    return request.param


def test_equals_brute_force_group_average(case, rng):
    group, in_rep, out_rep, projector = _setup(case)
    kernel = rng.normal(size=_shape(case))
    expected = group_average(kernel, group, in_rep, out_rep, case[6])
    np.testing.assert_allclose(
        projector.apply_numpy(kernel), expected, atol=1e-12
    )


def test_idempotent_and_orthogonal(case, rng):
    _, _, _, projector = _setup(case)
    a, b = rng.normal(size=(2, *_shape(case)))
    pa, pb = projector.apply_numpy(a), projector.apply_numpy(b)
    np.testing.assert_allclose(projector.apply_numpy(pa), pa, atol=1e-12)
    # Orthogonal: the residual is orthogonal to the image, P is symmetric.
    assert abs(np.sum(pa * (a - pa))) < 1e-10 * np.sum(a * a)
    np.testing.assert_allclose(np.sum(pa * b), np.sum(a * pb), atol=1e-10)


def test_trace_equals_character_formula(case):
    group, in_rep, out_rep, projector = _setup(case)
    expected = character_dimension(
        group, in_rep, out_rep, _shape(case), case[6]
    )
    assert projector.dim == round(expected)
    assert abs(expected - round(expected)) < 1e-9
    # The trace of the projection as applied (not as counted) agrees.
    shape = _shape(case)
    size = int(np.prod(shape))
    if size <= 4096:
        units = np.eye(size).reshape(size, *shape)
        trace = sum(
            np.vdot(unit, projector.apply_numpy(unit)) for unit in units
        )
        assert trace == pytest.approx(projector.dim)


def test_fixed_points_are_the_equivariant_kernels(case, rng):
    group, in_rep, out_rep, projector = _setup(case)
    equivariant = projector.apply_numpy(rng.normal(size=_shape(case)))
    # The projection's image is fixed ...
    np.testing.assert_allclose(
        projector.apply_numpy(equivariant), equivariant, atol=1e-12
    )
    # ... and invariant under every group element.
    if case[6] not in ("depthwise", "bias"):
        for g in group.elements:
            moved = _act(equivariant, group, g, in_rep, out_rep, case[6])
            np.testing.assert_allclose(moved, equivariant, atol=1e-12)
    # A kernel that is not equivariant moves.
    kernel = rng.normal(size=_shape(case))
    if projector.dim < kernel.size:
        assert np.abs(projector.apply_numpy(kernel) - kernel).max() > 1e-3


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c[6] not in ("depthwise", "bias")],
    ids=[i for c, i in zip(CASES, IDS) if c[6] not in ("depthwise", "bias")],
)
def test_defect_bound(case, rng):
    """||T - P T|| <= sup_g ||g T - T|| <= 2 ||T - P T|| (Frobenius)."""
    group, in_rep, out_rep, projector = _setup(case)
    kernel = rng.normal(size=_shape(case))
    residual = np.linalg.norm(kernel - projector.apply_numpy(kernel))
    defect = max(
        np.linalg.norm(
            _act(kernel, group, g, in_rep, out_rep, case[6]) - kernel
        )
        for g in group.elements
    )
    assert residual <= defect * (1 + 1e-12)
    assert defect <= 2 * residual * (1 + 1e-12)


def _act(kernel, group, g, in_rep, out_rep, layout):
    if layout == "conv_transpose":
        swapped = np.swapaxes(kernel, -1, -2)
        return np.swapaxes(
            _act(swapped, group, g, in_rep, out_rep, "conv"), -1, -2
        )
    spatial = kernel.shape[:-2]
    flat = kernel.reshape(-1, *kernel.shape[-2:])
    if spatial:
        flat = flat[group.grid_permutations(spatial)[g]]
    rho_in = rep_matrices(group, in_rep, kernel.shape[-2])[g]
    rho_out = rep_matrices(group, out_rep, kernel.shape[-1])[g]
    moved = np.einsum("ia,xij,jb->xab", rho_in, flat, rho_out)
    return moved.reshape(kernel.shape)


# JAX has float64 only with JAX_ENABLE_X64=1, which the jax tox env sets.
@pytest.mark.parametrize("dtype", ["float32"] + ["float64"] * FLOAT64)
def test_backend_apply_matches_numpy(case, dtype, rng):
    _, in_rep, out_rep, projector = _setup(case)
    kernel = rng.normal(size=_shape(case)).astype(dtype)
    expected = projector.apply_numpy(kernel.astype("float64"))
    tensor = ops.convert_to_tensor(kernel)
    result = project(
        tensor, case[0], in_rep=in_rep, out_rep=out_rep, layout=case[6]
    )
    assert ops.convert_to_numpy(result).dtype == np.dtype(dtype)
    tol = {"float32": 1e-5, "float64": 1e-10}[dtype]
    np.testing.assert_allclose(
        ops.convert_to_numpy(result), expected, atol=tol, rtol=tol
    )


def test_project_keeps_numpy_float64_exact(rng):
    kernel = rng.normal(size=(3, 3, 8, 8))
    once = project(kernel, "C4", in_rep="regular", out_rep="regular")
    assert isinstance(once, np.ndarray) and once.dtype == np.float64
    np.testing.assert_allclose(
        project(once, "C4", in_rep="regular", out_rep="regular"),
        once,
        atol=1e-14,
    )


def test_regular_to_regular_1x1_identity_is_equivariant():
    kernel = np.eye(8).reshape(1, 1, 8, 8)
    np.testing.assert_array_equal(
        project(kernel, "C4", in_rep="regular", out_rep="regular"), kernel
    )


def test_c1_projection_is_identity(rng):
    kernel = rng.normal(size=(3, 3, 2, 2))
    np.testing.assert_allclose(project(kernel, "C1"), kernel, atol=1e-15)


def test_trivial_to_standard_dense_has_no_equivariant_part(rng):
    kernel = rng.normal(size=(3, 2))
    np.testing.assert_array_equal(
        project(kernel, "C4", in_rep="trivial", out_rep="standard"),
        np.zeros((3, 2)),
    )
    tensor = ops.convert_to_tensor(kernel.astype("float32"))
    out = project(tensor, "C4", in_rep="trivial", out_rep="standard")
    np.testing.assert_array_equal(ops.convert_to_numpy(out), 0.0)


@pytest.mark.parametrize("n,d_in,d_out", [(2, 1, 1), (5, 3, 2), (9, 2, 2)])
def test_symmetric_group_projection_is_the_deepsets_form(n, d_in, d_out, rng):
    """Per feature pair, an S_n-equivariant map is `a I + b 11^T`."""
    kernel = rng.normal(size=(n * d_in, n * d_out))
    blocks = kernel.reshape(n, d_in, n, d_out)
    diagonal = np.einsum("ifih->fh", blocks) / n
    off = (blocks.sum(axis=(0, 2)) - n * diagonal) / max(n * (n - 1), 1)
    eye = np.eye(n)[:, None, :, None]
    expected = eye * diagonal[None, :, None, :]
    expected = expected + (1 - eye) * off[None, :, None, :]
    np.testing.assert_allclose(
        project(kernel, f"S{n}", in_rep="natural", out_rep="natural"),
        expected.reshape(kernel.shape),
        atol=1e-12,
    )


def test_large_symmetric_groups_use_generators_only(rng):
    """S_12 has 479001600 elements; its projector never lists them."""
    kernel = rng.normal(size=(24, 12))
    projected = project(kernel, "S12", in_rep="natural", out_rep="natural")
    assert get_projector("S12", "natural", "natural", (24, 12)).dim == 4
    np.testing.assert_allclose(
        project(projected, "S12", in_rep="natural", out_rep="natural"),
        projected,
        atol=1e-12,
    )


def test_projector_is_cached():
    a = get_projector("C4", "regular", "regular", (3, 3, 8, 8))
    b = get_projector("C4", ["regular"], "regular", (3, 3, 8, 8), "conv")
    assert a is b
