"""The spectral domain, band limits, and the irreps of C<N> and D<N>."""

import json

import keras
import numpy as np
import pytest
from keras import ops
from utils import BACKEND

from keras_approxeq import ProjectionRegularizer
from keras_approxeq import project
from keras_approxeq.kernels.plane_basis import plane_pair_basis
from keras_approxeq.layers import GroupConv2D
from keras_approxeq.projection.projectors import get_projector
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry import irreps
from keras_approxeq.symmetry.irreps import field_matrix
from keras_approxeq.symmetry.irreps import regular_decomposition
from keras_approxeq.symmetry.representations import Representation

FINITE = [
    "C1",
    "C2",
    "C3",
    "C4",
    "C5",
    "C8",
    "D1",
    "D2",
    "D3",
    "D4",
    "D6",
    "D8",
]


def _block_diagonal(blocks):
    size = sum(b.shape[0] for b in blocks)
    out, start = np.zeros((size, size)), 0
    for block in blocks:
        stop = start + block.shape[0]
        out[start:stop, start:stop] = block
        start = stop
    return out


@pytest.mark.parametrize("name", FINITE)
def test_regular_decomposition_block_diagonalises(name):
    """F is orthogonal and F^T rho_regular(g) F = (+) irreps(g), all g."""
    group = groups.get(name)
    fields, f = regular_decomposition(group)
    np.testing.assert_allclose(f.T @ f, np.eye(group.order), atol=1e-12)
    assert sum(irreps.field_size(group, x) for x in fields) == group.order
    for g in group.elements:
        blocks = [field_matrix(group, x, g) for x in fields]
        np.testing.assert_allclose(
            f.T @ field_matrix(group, "regular", g) @ f,
            _block_diagonal(blocks),
            atol=1e-12,
        )


def test_regular_decomposition_of_c_n_is_the_real_dft():
    _, f = regular_decomposition(groups.get("C8"))
    h = np.arange(8)
    np.testing.assert_allclose(f[:, 0], np.full(8, 8**-0.5))
    np.testing.assert_allclose(f[:, 1], np.cos(np.pi * h / 4) / 2, atol=1e-15)
    np.testing.assert_allclose(f[:, 2], np.sin(np.pi * h / 4) / 2, atol=1e-15)
    np.testing.assert_allclose(f[:, -1], (-1.0) ** h * 8**-0.5)


SIGNATURES = [
    ("C2", "regular", ["trivial", "regular"], (3, 3), "conv"),
    ("C4", "regular", "regular", (3, 3), "conv"),
    ("C4", ["trivial", "regular"], ["standard", "irrep2"], (4, 4), "conv"),
    ("D2", "regular", ["irrep0-", "regular"], (3, 3), "conv"),
    ("D4", "regular", ["regular", "standard"], (5, 5), "conv"),
    ("D4", "regular", "regular", (3, 3), "conv_transpose"),
    ("C3", "regular", "regular", (5, 5), "conv"),
    ("C8", ["irrep0", "regular"], ["regular", "irrep3"], (5, 5), "conv"),
    ("D5", "regular", ["irrep0-", "regular"], (5, 5), "conv"),
    ("D8", "regular", "regular", (), "dense"),
    ("C8", None, ["regular", "irrep1"], (), "bias"),
    ("SO2", ["irrep0", "irrep1"], ["irrep1", "irrep2"], (5, 5), "conv"),
    ("O2", ["irrep0", "irrep0-"], "irrep1", (), "dense"),
    ("SO3", ["trivial", "standard"], "irrep2", (3, 3, 3), "conv"),
]


def _shape(name, in_rep, out_rep, spatial, layout):
    group = groups.get(name)
    c_in = Representation(group, in_rep or "trivial").size
    c_out = 2 * Representation(group, out_rep).size
    if layout == "bias":
        return (c_out,)
    if layout == "conv_transpose":
        return (*spatial, c_out, c_in)
    return (*spatial, c_in, c_out)


@pytest.mark.parametrize("name,in_rep,out_rep,spatial,layout", SIGNATURES)
def test_spectral_projection_equals_the_spatial_one(
    name, in_rep, out_rep, spatial, layout, rng
):
    in_rep = in_rep or "trivial"
    shape = _shape(name, in_rep, out_rep, spatial, layout)
    args = (name, in_rep, out_rep, shape, layout)
    spectral = get_projector(*args, domain="fourier")
    spatial_projector = get_projector(*args)
    kernel = rng.normal(size=shape)
    expected = spatial_projector.apply_numpy(kernel)
    assert spectral.dim == spatial_projector.dim
    np.testing.assert_allclose(
        spectral.apply_numpy(kernel), expected, atol=1e-12
    )
    result = spectral.apply(ops.convert_to_tensor(kernel.astype("float32")))
    np.testing.assert_allclose(
        ops.convert_to_numpy(result), expected, atol=1e-5
    )


NORMS = ["fro", "fro2", "l1", "linf", (2, 1), (1, "inf")]


@pytest.mark.parametrize("norm", NORMS, ids=str)
@pytest.mark.parametrize(
    "name,in_rep,out_rep,spatial,layout",
    [SIGNATURES[i] for i in (1, 4, 5, 7, 9, 10)],
)
def test_spectral_penalty_equals_the_spatial_one(
    name, in_rep, out_rep, spatial, layout, norm, rng
):
    in_rep = in_rep or "trivial"
    shape = _shape(name, in_rep, out_rep, spatial, layout)
    kernel = ops.convert_to_tensor(rng.normal(size=shape).astype("float32"))
    values = []
    for domain in ("spatial", "fourier"):
        reg = ProjectionRegularizer(
            name,
            in_rep=in_rep,
            out_rep=out_rep,
            norm=norm,
            lambda_g=0.5,
            layout=layout,
            domain=domain,
        )
        values.append(float(ops.convert_to_numpy(reg(kernel))))
    np.testing.assert_allclose(values[1], values[0], rtol=1e-5)


def test_spectral_penalty_gradient_is_finite_at_equivariant_kernels(rng):
    """The spectral Frobenius path keeps the guarded square root."""
    reg = ProjectionRegularizer(
        "C8", in_rep="regular", out_rep="regular", domain="fourier"
    )
    kernel = project(
        rng.normal(size=(3, 3, 8, 8)), "C8", in_rep="regular", out_rep="regular"
    )
    for value in (np.zeros_like(kernel), kernel):
        variable = keras.Variable(value.astype("float32"))
        gradient = _gradient(reg, variable)
        assert np.all(np.isfinite(gradient))
    np.testing.assert_allclose(
        _gradient(reg, keras.Variable(np.zeros((3, 3, 8, 8), "float32"))),
        0.0,
    )


def _gradient(fn, variable):
    if BACKEND == "jax":
        import jax

        return np.asarray(jax.grad(lambda v: fn(v))(variable.value))
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = fn(variable.value)
        return tape.gradient(value, variable.value).numpy()
    import torch

    value = torch.tensor(
        ops.convert_to_numpy(variable.value), requires_grad=True
    )
    fn(value).backward()
    return value.grad.numpy()


def test_harmonic_so2_mlp_trains_with_the_spectral_penalty(rng):
    """The paper's harmonic MLP: Dense layers between SO(2) irreps. The
    projection keeps same-frequency blocks in the commutant form
    [[a, -b], [b, a]] and masks the others."""
    fields = ["irrep0", "irrep1", "irrep2"]
    reg = ProjectionRegularizer(
        "SO2",
        in_rep=fields,
        out_rep=fields,
        norm="fro",
        lambda_perp=1.0,
        domain="fourier",
    )
    model = keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(10, use_bias=False, kernel_regularizer=reg),
        ]
    )
    kernel = ops.convert_to_numpy(model.layers[0].kernel)
    projected = project(
        kernel, "SO2", in_rep=fields, out_rep=fields, domain="fourier"
    )
    copy = projected[:5, :5]
    np.testing.assert_allclose(copy[0, 1:], 0.0, atol=1e-7)
    np.testing.assert_allclose(copy[1:3, 3:5], 0.0, atol=1e-7)
    for block in (copy[1:3, 1:3], copy[3:5, 3:5]):
        np.testing.assert_allclose(block[0, 0], block[1, 1], atol=1e-7)
        np.testing.assert_allclose(block[0, 1], -block[1, 0], atol=1e-7)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = rng.normal(size=(32, 10)).astype("float32")
    before = float(ops.convert_to_numpy(model.losses[0]))
    model.fit(x, np.zeros_like(x), epochs=3, verbose=0)
    assert float(ops.convert_to_numpy(model.losses[0])) < before


def test_fourier_domain_regularizer_survives_a_keras_round_trip(tmp_path, rng):
    reg = ProjectionRegularizer(
        "C8", in_rep="regular", out_rep="regular", domain="fourier"
    )
    model = keras.Sequential(
        [
            keras.Input((9, 9, 8)),
            keras.layers.Conv2D(
                8,
                5,
                padding="same",
                kernel_regularizer=reg,
                data_format="channels_last",
            ),
        ]
    )
    path = tmp_path / "spectral.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    config = restored.layers[0].kernel_regularizer.get_config()
    assert config["domain"] == "fourier"
    np.testing.assert_allclose(
        ops.convert_to_numpy(restored.losses[0]),
        ops.convert_to_numpy(model.losses[0]),
        rtol=1e-6,
    )
    assert json.loads(json.dumps(config)) == config


def test_regular_fields_are_projected_as_their_direct_basis_would(rng):
    """Routing regular fields of C8/D6 through their irreps gives the
    projection onto the basis solved for the regular fields directly."""
    for name in ("C8", "D6"):
        order = groups.get(name).order
        q = plane_pair_basis(name, "regular", "regular", (5, 5), None, "smooth")
        kernel = rng.normal(size=(5, 5, order, order))
        flat = kernel.reshape(25, order, order)
        direct = np.einsum(
            "nxij,n->xij", q, np.einsum("nxij,xij->n", q, flat)
        ).reshape(kernel.shape)
        routed = project(kernel, name, in_rep="regular", out_rep="regular")
        np.testing.assert_allclose(routed, direct, atol=1e-12)


def test_max_frequency_band_limits_the_kernels(rng):
    kernel = rng.normal(size=(7, 7, 3, 2))
    reps = (["trivial", "irrep1"], "irrep1")
    full = get_projector("SO2", *reps, kernel.shape)
    limited = get_projector("SO2", *reps, kernel.shape, max_frequency=1)
    assert 0 < limited.dim < full.dim
    projected = limited.apply_numpy(kernel)
    # A subspace of the full one, still exactly C4-equivariant on the grid.
    np.testing.assert_allclose(
        full.apply_numpy(projected), projected, atol=1e-12
    )
    np.testing.assert_allclose(
        project(projected, "C4", in_rep=reps[0], out_rep=reps[1]),
        projected,
        atol=1e-12,
    )
    # Angular frequencies above 1 are gone: trivial -> irrep1 needs k = 1
    # only, so projecting again with max_frequency=0 removes that block.
    zero = project(
        projected, "SO2", in_rep=reps[0], out_rep=reps[1], max_frequency=0
    )
    np.testing.assert_allclose(zero[:, :, 0, :], 0.0, atol=1e-12)
    # For C4 it selects the band-limited steerable subspace.
    c4 = project(kernel, "C4", in_rep=reps[0], out_rep=reps[1], max_frequency=1)
    np.testing.assert_allclose(
        project(c4, "C4", in_rep=reps[0], out_rep=reps[1]), c4, atol=1e-12
    )
    assert np.linalg.norm(c4) < np.linalg.norm(
        project(kernel, "C4", in_rep=reps[0], out_rep=reps[1])
    )
    so3 = get_projector("SO3", "trivial", "trivial", (5, 5, 5, 1, 1))
    assert (
        so3.dim
        == get_projector(
            "SO3", "trivial", "trivial", (5, 5, 5, 1, 1), max_frequency=0
        ).dim
    )


def test_spectral_is_a_deprecated_alias_of_the_fourier_domain():
    """`domain="spectral"` (the old name, easily read as the spectral
    norm's) still works, warns, and is stored as `"fourier"`."""
    with pytest.warns(DeprecationWarning, match="domain='fourier'"):
        reg = ProjectionRegularizer("D4", in_rep="regular", domain="spectral")
    assert reg.domain == "fourier"
    assert reg.get_config()["domain"] == "fourier"
    with pytest.warns(DeprecationWarning, match="domain='fourier'"):
        layer = GroupConv2D(2, 3, group="D4", domain="spectral")
    assert layer.get_config()["domain"] == "fourier"
