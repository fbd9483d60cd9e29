"""Steerable projections for C<N>, D<N>, SO2 and O2 on 2D grids."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_approxeq import ProjectionRegularizer
from keras_approxeq import equivariance_error
from keras_approxeq import project
from keras_approxeq import transform
from keras_approxeq.actions.layouts import KernelLayout
from keras_approxeq.projection.projectors import get_projector
from keras_approxeq.projection.steerable import get_steerable_projector
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry.irreps import field_matrix
from keras_approxeq.symmetry.representations import Representation

FIELDS = {
    "C2": ["trivial", "regular", "standard", "irrep1"],
    "C4": ["trivial", "regular", "standard", "irrep1", "irrep2"],
    "D2": ["regular", "irrep0-", "irrep1+", "irrep1-"],
    "D4": ["regular", "standard", "irrep0-", "irrep2+", "irrep2-"],
}
ROUTES = [
    (name, a, b, size)
    for name, fields in FIELDS.items()
    for a in fields
    for b in fields
    for size in (3, 4)
]


@pytest.mark.parametrize("name,a,b,size", ROUTES)
def test_steerable_route_equals_orbit_averaging(name, a, b, size, rng):
    """For grid-exact groups both routes project onto the same subspace."""
    group = groups.get(name)
    shape = (
        size,
        size,
        Representation(group, a).size,
        2 * Representation(group, b).size,
    )
    orbit = get_projector(name, a, b, shape)
    steerable = get_steerable_projector(
        group, (a,), (b,), shape, KernelLayout(shape)
    )
    assert steerable.dim == orbit.dim
    kernel = rng.normal(size=shape)
    np.testing.assert_allclose(
        steerable.apply_numpy(kernel), orbit.apply_numpy(kernel), atol=1e-12
    )


@pytest.mark.parametrize("name,exact", [("SO2", "C4"), ("O2", "D4")])
@pytest.mark.parametrize(
    "in_rep,out_rep",
    [
        ("trivial", "trivial"),
        ("irrep1", ["trivial", "irrep1"]),
        ("irrep2", "irrep1"),
        (["irrep0", "irrep1"], "irrep0"),
    ],
)
@pytest.mark.parametrize("size", [3, 5, 6])
def test_continuous_projection_is_exact_on_the_grid_subgroup(
    name, exact, in_rep, out_rep, size, rng
):
    if name == "O2" and "irrep2" in (in_rep, out_rep):
        in_rep, out_rep = "irrep0-", "irrep1"  # irrep2 of D4 is split
    group = groups.get(name)
    shape = (
        size,
        size,
        Representation(group, in_rep).size,
        Representation(group, out_rep).size * 2,
    )
    projected = project(
        rng.normal(size=shape), name, in_rep=in_rep, out_rep=out_rep
    )
    assert np.abs(projected).max() > 1e-3  # not trivially zero
    np.testing.assert_allclose(
        project(projected, exact, in_rep=in_rep, out_rep=out_rep),
        projected,
        atol=1e-12,
    )


@pytest.mark.parametrize(
    "name,in_rep,out_rep,shape,layout",
    [
        ("C8", "regular", "regular", (5, 5, 8, 16), None),
        ("D6", "irrep2", ["irrep0-", "regular"], (3, 3, 4, 26), None),
        ("SO2", ["irrep0", "irrep1"], "irrep2", (6, 6, 6, 2), None),
        ("O2", "irrep1", "irrep0-", (3, 3, 2, 4), "conv_transpose"),
        ("SO2", ["irrep0", "irrep2"], ["irrep1", "irrep2"], (), "dense"),
        ("C8", None, ["irrep0", "regular"], (), "bias"),
    ],
)
def test_projector_algebra_and_backend_apply(
    name, in_rep, out_rep, shape, layout, rng
):
    if layout == "dense":
        shape = (6, 4)
    if layout == "bias":
        shape = (18,)
    in_rep = in_rep or "trivial"
    projector = get_projector(name, in_rep, out_rep, shape, layout)
    a, b = rng.normal(size=(2, *shape))
    pa, pb = projector.apply_numpy(a), projector.apply_numpy(b)
    np.testing.assert_allclose(projector.apply_numpy(pa), pa, atol=1e-12)
    assert abs(np.sum(pa * (a - pa))) < 1e-10 * np.sum(a * a)
    np.testing.assert_allclose(np.sum(pa * b), np.sum(a * pb), atol=1e-10)
    assert 0 < projector.dim < a.size
    result = project(
        ops.convert_to_tensor(a.astype("float32")),
        name,
        in_rep=in_rep,
        out_rep=out_rep,
        layout=layout,
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(result), pa, atol=1e-5, rtol=1e-5
    )


def test_bias_of_a_regular_field_is_shared_and_of_a_vector_zero():
    bias = np.arange(10.0)
    projected = project(bias, "C8", out_rep=["regular", "irrep1"])
    np.testing.assert_allclose(projected[:8], np.full(8, 3.5))
    np.testing.assert_allclose(projected[8:], 0.0, atol=1e-12)


def test_so2_dense_between_irreps_is_schur():
    """Frequency m to m: the commutant [[a, -b], [b, a]]; m to m' != m: 0."""
    kernel = np.random.default_rng(1).normal(size=(4, 4))
    projected = project(
        kernel, "SO2", in_rep=["irrep1", "irrep2"], out_rep=["irrep1", "irrep2"]
    )
    for block in (projected[:2, :2], projected[2:, 2:]):
        np.testing.assert_allclose(block[0, 0], block[1, 1], atol=1e-12)
        np.testing.assert_allclose(block[0, 1], -block[1, 0], atol=1e-12)
    np.testing.assert_allclose(projected[:2, 2:], 0.0, atol=1e-12)


@pytest.mark.parametrize("name", ["C8", "D3", "SO2", "O2"])
def test_field_matrices_are_orthogonal_representations(name):
    group = groups.get(name)
    fields = ["trivial", "standard", "irrep1", "irrep2"]
    if group.order:
        fields.append("regular")
        elements = list(range(group.order))
        compose = group.multiply
    else:
        elements = [(0.3, False), (1.1, name == "O2"), (-2.0, False)]

        def compose(a, b):
            (ta, ma), (tb, mb) = a, b
            return (ta + (-tb if ma else tb), ma != mb)

    for field in fields:
        if name == "D3" and field == "irrep2":
            continue
        rho = {g: field_matrix(group, field, g) for g in elements}
        for g in elements:
            np.testing.assert_allclose(
                rho[g] @ rho[g].T, np.eye(len(rho[g])), atol=1e-12
            )
        for a in elements[:3]:
            for b in elements[:3]:
                np.testing.assert_allclose(
                    rho[a] @ rho[b],
                    field_matrix(group, field, compose(a, b)),
                    atol=1e-12,
                )


def test_regularizer_trains_with_c8_regular_fields(rng):
    reg = ProjectionRegularizer(
        "C8",
        in_rep="regular",
        out_rep="regular",
        lambda_perp=1.0,
        norm="fro2",
    )
    model = keras.Sequential(
        [
            keras.Input((9, 9, 8)),
            keras.layers.Conv2D(
                8,
                5,
                padding="same",
                data_format="channels_last",
                kernel_regularizer=reg,
                bias_regularizer=reg,
            ),
            keras.layers.GlobalAveragePooling2D("channels_last"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.SGD(0.05), "mse")
    kernel = model.layers[0].kernel

    def residual():
        k = ops.convert_to_numpy(kernel).astype("float64")
        return np.linalg.norm(
            k - project(k, "C8", in_rep="regular", out_rep="regular")
        )

    before = residual()
    x = rng.normal(size=(8, 9, 9, 8)).astype("float32")
    model.fit(x, np.zeros((8, 1)), epochs=10, batch_size=8, verbose=0)
    assert residual() < 0.5 * before


def test_so2_projected_layer_is_c4_equivariant(rng):
    layer = keras.layers.Conv2D(
        4, 5, padding="same", data_format="channels_last", use_bias=False
    )
    x = rng.normal(size=(2, 11, 11, 3)).astype("float32")
    layer(x)
    reps = (["trivial", "irrep1"], ["irrep1", "irrep1"])
    layer.kernel.assign(
        project(layer.kernel, "SO2", in_rep=reps[0], out_rep=reps[1])
    )
    error = equivariance_error(
        layer,
        x,
        "C4",
        in_rep=reps[0],
        out_rep=reps[1],
        data_format="channels_last",
    )
    assert error < 1e-5


def _transform(x, *args, **kwargs):
    kwargs.setdefault("data_format", "channels_last")
    return ops.convert_to_numpy(transform(x, *args, **kwargs))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_quarter_turns_of_continuous_groups_permute_pixels(data_format, rng):
    x = rng.normal(size=(2, 6, 6, 6)).astype("float32")
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 1)
    reps = ["irrep1", "trivial", "irrep1", "trivial"]
    for element, exact in [(np.pi / 2, 1), (np.pi, 2), (-np.pi / 2, 3)]:
        np.testing.assert_allclose(
            _transform(x, "SO2", element, reps, data_format=data_format),
            _transform(x, "C4", exact, reps, data_format=data_format),
            atol=1e-6,
        )
    np.testing.assert_allclose(
        _transform(
            x, "O2", (np.pi / 2, True), "standard", data_format=data_format
        ),
        _transform(x, "D4", 5, "standard", data_format=data_format),
        atol=1e-6,
    )
    np.testing.assert_allclose(
        _transform(x, "C8", 2, "irrep1", data_format=data_format),
        _transform(x, "C4", 1, "irrep1", data_format=data_format),
        atol=1e-6,
    )


def _smooth_bumps(rng, size, channels, batch=2):
    """Sums of Gaussians, zero towards the border: rotation keeps them."""
    coords = np.indices((size, size)) - (size - 1) / 2
    images = np.zeros((batch, size, size, channels), "float32")
    for b in range(batch):
        for c in range(channels):
            for _ in range(3):
                centre = rng.uniform(-size / 6, size / 6, 2)
                d2 = np.sum((coords - centre[:, None, None]) ** 2, axis=0)
                images[b, :, :, c] += rng.normal() * np.exp(-d2 / 18.0)
    return images


def test_off_grid_rotations_are_approximately_equivariant(rng):
    """30 and 45 degrees on smooth inputs: small after projection.

    What is left comes mostly from interpolating the input: 1-6 % for
    kernels of 3 to 13 pixels, against 10-100 % before projection.
    """
    size = 41
    x = _smooth_bumps(rng, size, 3)
    reps = (["trivial", "irrep1"], ["irrep1", "trivial"])
    errors = {}
    for kernel_size in (5, 9):
        layer = keras.layers.Conv2D(
            3,
            kernel_size,
            padding="same",
            data_format="channels_last",
            use_bias=False,
        )
        layer(x)
        smooth = _smooth_kernel(kernel_size, rng)
        layer.kernel.assign(smooth)
        raw = max(_rotation_error(layer, x, a, reps) for a in (30, 45))
        layer.kernel.assign(
            project(smooth, "SO2", in_rep=reps[0], out_rep=reps[1])
        )
        errors[kernel_size] = max(
            _rotation_error(layer, x, a, reps) for a in (30, 45)
        )
        assert errors[kernel_size] < 0.08
        assert raw > 5 * errors[kernel_size]


def test_off_grid_error_shrinks_as_the_kernel_grows(rng):
    """A smooth kernel sampled ever finer, on inputs at its own scale.

    The error left after projection is the sampling of continuous kernels
    (the rings of `keras_approxeq.kernels.radial`) and the interpolation in
    `transform`; both shrink with the resolution.
    """
    centres = rng.uniform(-0.3, 0.3, (6, 2))
    weights = rng.normal(size=(6, 3, 3))
    bumps = rng.uniform(-1.5, 1.5, (4, 2))
    values = rng.normal(size=(4, 3))
    reps = (["trivial", "irrep1"], ["irrep1", "trivial"])
    errors = []
    for kernel_size in (5, 9, 13):
        scale = (kernel_size - 1) / 2  # pixels per unit length
        points = _unit_grid(kernel_size, scale)
        kernel = sum(
            _gaussian(points, c, 0.2)[:, None, None] * w
            for c, w in zip(centres, weights)
        ).reshape(kernel_size, kernel_size, 3, 3)
        size = 8 * int(scale) + 1
        points = _unit_grid(size, scale)
        x = sum(
            _gaussian(points, c, 0.5)[:, None] * v
            for c, v in zip(bumps, values)
        ).reshape(1, size, size, 3)
        layer = keras.layers.Conv2D(
            3,
            kernel_size,
            padding="same",
            data_format="channels_last",
            use_bias=False,
        )
        layer(x)
        layer.kernel.assign(
            project(kernel, "SO2", in_rep=reps[0], out_rep=reps[1])
        )
        inner = (np.linalg.norm(points, axis=1) < 2).reshape(1, size, size, 1)
        errors.append(
            max(
                _rotation_error(layer, x.astype("float32"), a, reps, inner)
                for a in (30, 45)
            )
        )
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.012


def _unit_grid(size, scale):
    return (np.indices((size, size)).reshape(2, -1).T - (size - 1) / 2) / scale


def _gaussian(points, centre, width):
    return np.exp(-np.sum((points - centre) ** 2, 1) / (2 * width**2))


def _smooth_kernel(size, rng):
    """A random kernel with smooth radial profiles (a blurred noise)."""
    r = np.hypot(*(np.indices((size, size)) - (size - 1) / 2))
    envelope = np.exp(-((r / (size / 3)) ** 2))[:, :, None, None]
    return (rng.normal(size=(size, size, 3, 3)) * envelope).astype("float32")


def _rotation_error(layer, x, degrees, reps, inner=None):
    angle = np.deg2rad(degrees)
    gx = transform(x, "SO2", angle, rep=reps[0], data_format="channels_last")
    y = layer(x)
    gy = transform(y, "SO2", angle, rep=reps[1], data_format="channels_last")
    if inner is None:  # away from the corners that rotate out of the grid
        size = x.shape[1]
        r = np.hypot(*(np.indices((size, size)) - (size - 1) / 2))
        inner = (r < size / 3)[None, :, :, None]
    diff = ops.convert_to_numpy(layer(gx) - gy) * inner
    return np.abs(diff).max() / np.abs(ops.convert_to_numpy(y)).max()


def test_equivariance_error_samples_angles(rng):
    layer = keras.layers.Conv2D(
        1, 5, padding="same", data_format="channels_last", use_bias=False
    )
    x = _smooth_bumps(rng, 33, 1)
    layer(x)
    layer.kernel.assign(project(_smooth_kernel(5, rng)[:, :, :1, :1], "SO2"))
    error = equivariance_error(
        layer, x, "SO2", data_format="channels_last", num_elements=4, seed=1
    )
    assert error < 0.1  # the rotated corners of the output cost a little


def test_unavailable_transforms_and_bad_irreps_raise():
    with pytest.raises(ValueError, match=r"an angle in radians for group SO2"):
        transform(np.zeros((1, 5, 5, 1)), "SO2", "30deg")
    with pytest.raises(ValueError, match=r"\(angle, mirror\) pair.*O2"):
        transform(np.zeros((1, 5, 5, 1)), "O2", (1.0, True, 3))
    with pytest.raises(ValueError, match=r"integer in \[0, 8\).*C8"):
        transform(np.zeros((1, 5, 5, 1)), "C8", 0.5)
    with pytest.raises(
        ValueError, match=r"Unknown representation 'irrep3'.*C4"
    ):
        project(np.zeros((3, 3, 1, 2)), "C4", out_rep="irrep3")
    with pytest.raises(ValueError, match=r"'irrep0-'.*SO2"):
        project(np.zeros((3, 3, 1, 1)), "SO2", out_rep="irrep0-")
    with pytest.raises(ValueError, match=r"regular representation of SO2"):
        project(np.zeros((3, 3, 1, 1)), "SO2", out_rep="regular")
    with pytest.raises(ValueError, match=r"square 2D kernel"):
        project(np.zeros((3, 5, 1, 1)), "C8")
    with pytest.raises(ValueError, match=r"multiple of 2.*3 output"):
        project(np.zeros((3, 3, 1, 3)), "SO2", out_rep="irrep1")
    with pytest.raises(
        ValueError, match=r"3x3 kernel resolves.*up to 2.*6.*basis='grid'"
    ):
        project(np.zeros((3, 3, 1, 2)), "SO2", out_rep="irrep6")
    with pytest.raises(ValueError, match=r"Depthwise.*C8"):
        project(
            np.zeros((3, 3, 8, 1)), "C8", in_rep="regular", layout="depthwise"
        )
