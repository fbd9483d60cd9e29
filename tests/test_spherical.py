"""SO3 and O3 on 3D grids: harmonics, Wigner matrices, steerable bases."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_approxeq import ProjectionRegularizer
from keras_approxeq import equivariance_error
from keras_approxeq import project
from keras_approxeq import transform
from keras_approxeq.projection.projectors import get_projector
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry import spherical
from keras_approxeq.symmetry.irreps import field_matrix
from keras_approxeq.symmetry.representations import Representation

CUBE = groups.get("O").matrices
CUBE_WITH_INVERSION = groups.get("Oh").matrices


def _random_rotations(rng, count):
    rotations = []
    for _ in range(count):
        q, r = np.linalg.qr(rng.normal(size=(3, 3)))
        q = q * np.sign(np.diag(r))
        rotations.append(q * np.sign(np.linalg.det(q)))
    return rotations


@pytest.mark.parametrize("degree", range(6))
def test_harmonics_are_orthonormal_on_the_sphere(degree, rng):
    """Monte-Carlo-free check: a spherical t-design is not needed, the
    Gram matrix of the polynomials is exact; here, a fine quadrature in
    (cos theta, phi) integrates degree <= 2 * 5 polynomials exactly."""
    nodes, weights = np.polynomial.legendre.leggauss(12)
    phi = np.arange(24) * 2 * np.pi / 24
    z = np.repeat(nodes, len(phi))
    w = np.repeat(weights, len(phi)) * 2 * np.pi / len(phi)
    s = np.sqrt(1 - z**2)
    points = np.stack(
        [z, s * np.cos(np.tile(phi, 12)), s * np.sin(np.tile(phi, 12))], 1
    )
    y = spherical.harmonics(degree, points)
    gram = np.einsum("p,pi,pj->ij", w, y, y)
    np.testing.assert_allclose(gram, np.eye(2 * degree + 1), atol=1e-12)


def test_degree_one_harmonics_are_the_coordinates():
    y = spherical.harmonics(1, np.eye(3) * 2.5)
    np.testing.assert_allclose(y, np.sqrt(3 / (4 * np.pi)) * np.eye(3))


@pytest.mark.parametrize("degree", range(5))
def test_wigner_matrices_form_an_orthogonal_representation(degree, rng):
    a, b = _random_rotations(rng, 2)
    da, db = spherical.wigner_d(degree, a), spherical.wigner_d(degree, b)
    np.testing.assert_allclose(
        spherical.wigner_d(degree, a @ b), da @ db, atol=1e-12
    )
    np.testing.assert_allclose(da @ da.T, np.eye(2 * degree + 1), atol=1e-12)
    points = rng.normal(size=(5, 3))
    np.testing.assert_allclose(
        spherical.harmonics(degree, points @ a.T),
        spherical.harmonics(degree, points) @ da.T,
        atol=1e-12,
    )
    if degree == 1:
        np.testing.assert_allclose(da, a, atol=1e-12)


def test_o3_field_matrices_carry_parity():
    group = groups.get("O3")
    inversion = -np.eye(3)
    expected = {"irrep0e": 1, "irrep0o": -1, "irrep1e": 1, "irrep1o": -1}
    for field, sign in expected.items():
        size = 2 * int(field[5]) + 1
        np.testing.assert_allclose(
            field_matrix(group, field, inversion),
            sign * np.eye(size),
            atol=1e-12,
        )
    reflection = np.diag([1.0, 1.0, -1.0])
    np.testing.assert_allclose(
        field_matrix(group, "standard", reflection), reflection, atol=1e-12
    )
    np.testing.assert_allclose(
        field_matrix(group, "irrep1e", reflection), -reflection, atol=1e-12
    )


def _check_pointwise_equivariance(
    kernel, group, in_fields, out_fields, elements
):
    """K(g x) = rho_out(g) K(x) rho_in(g)^T at every grid point (in the
    Keras (in, out) layout: rho_in(g) K(x) rho_out(g)^T)."""
    spatial = kernel.shape[:3]
    cube = groups.get("Oh")
    perms = cube.grid_permutations(spatial)
    flat = kernel.reshape(-1, *kernel.shape[-2:])
    worst = 0.0
    for matrix in elements:
        g = next(
            i for i, m in enumerate(cube.matrices) if np.allclose(m, matrix)
        )
        rho_in = _block(group, in_fields, matrix, kernel.shape[-2])
        rho_out = _block(group, out_fields, matrix, kernel.shape[-1])
        expected = np.einsum("ai,xij,bj->xab", rho_in, flat, rho_out)
        worst = max(worst, np.abs(flat[perms[g]] - expected).max())
    return worst


def _block(group, fields, matrix, channels):
    rep = Representation(group, fields)
    out = np.zeros((channels, channels))
    for field, index in rep.field_channels(channels).items():
        for rows in index:
            out[np.ix_(rows, rows)] = field_matrix(group, field, matrix)
    return out


SIGNATURES = [
    ("SO3", "trivial", "standard", 3),
    ("SO3", "standard", ["trivial", "irrep2"], 3),
    ("SO3", "irrep2", "irrep3", 5),
    ("SO3", ["irrep1", "irrep2"], "irrep1", 5),
    ("O3", "irrep0e", ["irrep1o", "irrep1e"], 3),
    ("O3", "irrep1e", "irrep2o", 5),
    ("O3", ["irrep0o", "irrep2e"], "irrep0e", 5),
    ("SO3", "irrep6", ["irrep5", "irrep8"], 9),  # high degrees
    ("O3", "irrep7o", "irrep6e", 7),
]


@pytest.mark.parametrize("name,in_rep,out_rep,size", SIGNATURES, ids=str)
def test_continuous_projection_is_exact_on_the_cube_group(
    name, in_rep, out_rep, size, rng
):
    """An SO3-projected kernel is exactly O-equivariant on the grid, an
    O3-projected one Oh-equivariant, for every field type."""
    group = groups.get(name)
    shape = (
        size,
        size,
        size,
        Representation(group, in_rep).size,
        2 * Representation(group, out_rep).size,
    )
    projector = get_projector(name, in_rep, out_rep, shape)
    kernel = rng.normal(size=shape)
    projected = projector.apply_numpy(kernel)
    assert 0 < projector.dim < kernel.size
    np.testing.assert_allclose(
        projector.apply_numpy(projected), projected, atol=1e-12
    )
    other = rng.normal(size=shape)
    np.testing.assert_allclose(
        np.sum(projected * other),
        np.sum(kernel * projector.apply_numpy(other)),
        atol=1e-10,
    )
    elements = CUBE_WITH_INVERSION if group.reflections else CUBE
    fields = (in_rep,), (out_rep,)
    fields = [f if isinstance(f, list) else [f] for f in (in_rep, out_rep)]
    assert (
        _check_pointwise_equivariance(projected, group, *fields, elements)
        < 1e-12
    )
    assert _check_pointwise_equivariance(kernel, group, *fields, elements) > 0.1


@pytest.mark.parametrize(
    "continuous,finite,fields",
    [
        ("SO3", "O", ("trivial", "standard")),
        ("O3", "Oh", ("standard", "standard")),
    ],
)
def test_both_routes_agree_on_the_cube_group(continuous, finite, fields, rng):
    """P_finite P_continuous = P_continuous: the steerable subspace lies in
    the grid-equivariant one (fields that are signed permutations)."""
    shape = (5, 5, 5, 3, 6) if fields[0] == "standard" else (5, 5, 5, 1, 6)
    kernel = rng.normal(size=shape)
    steered = project(kernel, continuous, in_rep=fields[0], out_rep=fields[1])
    np.testing.assert_allclose(
        project(steered, finite, in_rep=fields[0], out_rep=fields[1]),
        steered,
        atol=1e-12,
    )


def test_dense_between_so3_irreps_is_schur(rng):
    """Degree l to l: a multiple of the identity; different degrees: 0."""
    kernel = rng.normal(size=(8, 8))
    projected = project(
        kernel, "SO3", in_rep=["irrep1", "irrep2"], out_rep=["irrep1", "irrep2"]
    )
    np.testing.assert_allclose(
        projected[:3, :3], np.trace(kernel[:3, :3]) / 3 * np.eye(3), atol=1e-12
    )
    np.testing.assert_allclose(
        projected[3:, 3:], np.trace(kernel[3:, 3:]) / 5 * np.eye(5), atol=1e-12
    )
    np.testing.assert_allclose(projected[:3, 3:], 0.0, atol=1e-12)


def test_projected_conv3d_is_equivariant_through_the_layer(rng):
    """Exactly for the 24 cube rotations, approximately for generic ones."""
    layer = keras.layers.Conv3D(
        5, 3, padding="same", use_bias=False, data_format="channels_last"
    )
    x = rng.normal(size=(2, 7, 7, 7, 3)).astype("float32")
    layer(x)
    kernel = ops.convert_to_numpy(layer.kernel)
    reps = ("standard", "irrep2")
    errors = []
    for weights in (
        kernel,
        project(kernel, "SO3", in_rep=reps[0], out_rep=reps[1]),
    ):
        layer.kernel.assign(weights)
        y = layer(x)
        errors.append(
            max(
                np.abs(
                    ops.convert_to_numpy(
                        layer(
                            transform(
                                x,
                                "SO3",
                                g,
                                rep=reps[0],
                                data_format="channels_last",
                            )
                        )
                        - transform(
                            y,
                            "SO3",
                            g,
                            rep=reps[1],
                            data_format="channels_last",
                        )
                    )
                ).max()
                for g in CUBE
            )
            / np.abs(ops.convert_to_numpy(y)).max()
        )
    assert errors[1] < 1e-5 < 0.1 < errors[0]


def _smooth_volume(rng, size, channels, scale):
    coords = np.indices((size,) * 3).reshape(3, -1).T - (size - 1) / 2
    x = np.zeros((len(coords), channels))
    for _ in range(4):
        centre = rng.uniform(-1.2, 1.2, 3) * scale
        bump = np.exp(
            -np.sum((coords - centre) ** 2, 1) / (2 * (0.5 * scale) ** 2)
        )
        x += bump[:, None] * rng.normal(size=channels)
    return x.reshape(1, size, size, size, channels).astype("float32")


def test_generic_rotations_are_approximately_equivariant(rng):
    """A smooth kernel and smooth inputs: a few % after projection, against
    O(1) before; the interpolation of `transform` accounts for most of it."""
    size, scale = 7, 3.0
    coords = np.indices((size,) * 3).reshape(3, -1).T / scale - 1
    kernel = np.zeros((size**3, 4, 4))
    for _ in range(6):
        centre = rng.uniform(-0.3, 0.3, 3)
        bump = np.exp(-np.sum((coords - centre) ** 2, 1) / (2 * 0.2**2))
        kernel += bump[:, None, None] * rng.normal(size=(4, 4))
    kernel = kernel.reshape(size, size, size, 4, 4).astype("float32")
    reps = (["trivial", "standard"], ["standard", "trivial"])
    layer = keras.layers.Conv3D(
        4, size, padding="same", use_bias=False, data_format="channels_last"
    )
    x = _smooth_volume(rng, 25, 4, scale)
    layer(x)
    inner = _ball(25)  # away from the corners that rotate out of the grid
    errors = []
    for weights in (
        kernel,
        project(kernel, "SO3", in_rep=reps[0], out_rep=reps[1]),
    ):
        layer.kernel.assign(weights)
        y = layer(x)
        worst = 0.0
        for g in _random_rotations(rng, 3):
            gx = transform(
                x, "SO3", g, rep=reps[0], data_format="channels_last"
            )
            gy = transform(
                y, "SO3", g, rep=reps[1], data_format="channels_last"
            )
            diff = ops.convert_to_numpy(layer(gx) - gy) * inner
            worst = max(worst, np.abs(diff).max())
        errors.append(worst / np.abs(ops.convert_to_numpy(y) * inner).max())
    assert errors[1] < 0.06
    assert errors[0] > 5 * errors[1]


def _ball(size):
    r = np.linalg.norm(np.indices((size,) * 3) - (size - 1) / 2, axis=0)
    return (r < size / 4)[None, ..., None]


def test_equivariance_error_draws_seeded_rotations():
    layer = keras.layers.Conv3D(
        1, 3, padding="same", use_bias=False, data_format="channels_last"
    )
    x = np.random.default_rng(0).normal(size=(1, 5, 5, 5, 1)).astype("float32")
    layer(x)

    def error(seed):
        return equivariance_error(
            layer,
            x,
            "O3",
            num_elements=3,
            seed=seed,
            data_format="channels_last",
        )

    assert error(1) == error(1) != error(2)


def test_regularizer_penalises_the_non_so3_part(rng):
    reg = ProjectionRegularizer("SO3", in_rep="standard", out_rep="irrep2")
    kernel = rng.normal(size=(3, 3, 3, 6, 10))
    projected = project(kernel, "SO3", in_rep="standard", out_rep="irrep2")
    value = ops.convert_to_numpy(
        reg(ops.convert_to_tensor(kernel.astype("float32")))
    )
    np.testing.assert_allclose(
        value, 1e-2 * np.linalg.norm(kernel - projected), rtol=1e-5
    )
    restored = ProjectionRegularizer.from_config(reg.get_config())
    assert restored.get_config() == reg.get_config()


@pytest.mark.parametrize(
    "group,in_rep,out_rep,shape,message",
    [
        ("SO3", "regular", "trivial", (3, 3, 3, 1, 1), "infinite"),
        (
            "SO3",
            "irrep1e",
            "trivial",
            (3, 3, 3, 3, 1),
            "Unknown representation 'irrep1e'",
        ),
        ("O3", "irrep1", "trivial", (3, 3, 3, 3, 1), "'irrep0e', 'irrep0o'"),
        ("SO3", "trivial", "trivial", (3, 3, 5, 1, 1), "cubic 3D"),
        ("SO3", "trivial", "irrep4", (3, 3, 3, 1, 9), "frequencies up to 2"),
        ("SO3", "trivial", "trivial", (3, 3, 1, 1), "acts on 3D grids"),
        ("SO3", "irrep2", "trivial", (3, 3, 3, 4, 1), "multiple of 5"),
    ],
    ids=str,
)
def test_bad_input_raises(group, in_rep, out_rep, shape, message):
    with pytest.raises(ValueError, match=message):
        get_projector(group, in_rep, out_rep, shape)


@pytest.mark.parametrize(
    "element,message",
    [
        (np.diag([1.0, 1.0, -1.0]), "det M = \\+1"),
        (np.ones((3, 3)), "3x3 rotation matrix"),
        (0.5, "3x3 rotation matrix"),
    ],
    ids=str,
)
def test_bad_elements_raise(element, message):
    x = np.zeros((1, 3, 3, 3, 1), "float32")
    with pytest.raises(ValueError, match=message):
        transform(x, "SO3", element, data_format="channels_last")
