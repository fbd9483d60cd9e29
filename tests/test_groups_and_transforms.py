"""Group conventions, representations and `transform`."""

import itertools

import keras
import numpy as np
import pytest
from keras import ops

from keras_approxeq import transform
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry.representations import Representation

ALL = [
    (n, d) for n in groups.names() for d in (1, 2, 3) if n in groups.names(d)
]


@pytest.mark.parametrize("name,ndim", ALL)
def test_group_axioms(name, ndim):
    group = groups.get(name, ndim)
    assert group.ndim == ndim and group.name == name
    np.testing.assert_array_equal(group.matrices[0], np.eye(ndim))
    assert list(group.elements) == list(range(group.order))
    for a, b in itertools.product(group.elements, repeat=2):
        np.testing.assert_allclose(
            group.matrices[a] @ group.matrices[b],
            group.matrices[group.multiply(a, b)],
        )
    for g in group.elements:
        assert group.multiply(g, group.inverses[g]) == 0
        m = group.matrices[g]
        np.testing.assert_allclose(m @ m.T, np.eye(ndim), atol=1e-12)
    assert group.is_grid_exact


def test_orders():
    orders = {n: groups.get(n).order for n in groups.names()}
    assert orders == {
        "C1": 1,
        "C2": 2,
        "C4": 4,
        "D1": 2,
        "D2": 4,
        "D4": 8,
        "O": 24,
        "Oh": 48,
    }
    o, oh = groups.get("O"), groups.get("Oh")
    assert np.all(np.linalg.det(o.matrices) > 0)
    np.testing.assert_array_equal(oh.matrices[:24], o.matrices)
    np.testing.assert_array_equal(oh.matrices[24:], -o.matrices)


def test_names_are_case_insensitive():
    assert groups.get("oh") is groups.get("Oh")
    assert groups.get(groups.get("C4")) is groups.get("C4")


@pytest.mark.parametrize("name,ndim", ALL)
@pytest.mark.parametrize("rep", ["trivial", "regular", "standard"])
def test_representations_are_orthogonal_homomorphisms(name, ndim, rep):
    group = groups.get(name, ndim)
    rho = Representation(group, [rep, "trivial"]).matrices(
        2 * (Representation(group, rep).size + 1)
    )
    for a, b in itertools.product(group.elements, repeat=2):
        np.testing.assert_array_equal(
            rho[a] @ rho[b], rho[group.multiply(a, b)]
        )
    eye = np.eye(rho.shape[1])
    np.testing.assert_array_equal(rho[0], eye)
    for r in rho:
        np.testing.assert_array_equal(r @ r.T, eye)


def _image(rng, size=5, channels=1):
    return rng.normal(size=(1, size, size, channels)).astype("float32")


def _transform(x, *args, **kwargs):
    kwargs.setdefault("data_format", "channels_last")
    return ops.convert_to_numpy(transform(x, *args, **kwargs))


def test_c4_element_1_is_numpy_rot90(rng):
    x = _image(rng)
    np.testing.assert_array_equal(
        _transform(x, "C4", 1), np.rot90(x, 1, axes=(1, 2))
    )
    # C2 is the half turn; C4's elements are powers of element 1.
    np.testing.assert_array_equal(
        _transform(x, "C2", 1), np.rot90(x, 2, axes=(1, 2))
    )


@pytest.mark.parametrize("k", range(4))
def test_dihedral_mirror_flips_columns(k, rng):
    x = _image(rng)
    expected = np.rot90(x[:, :, ::-1], k, axes=(1, 2))
    np.testing.assert_array_equal(_transform(x, "D4", 4 + k), expected)
    np.testing.assert_array_equal(_transform(x, "D1", 1), x[:, :, ::-1])


def test_flip_on_1d_grids(rng):
    x = rng.normal(size=(2, 7, 3)).astype("float32")
    np.testing.assert_array_equal(_transform(x, "D1", 1), x[:, ::-1])


def test_regular_channels_shift_with_the_rotation(rng):
    x = _image(rng, channels=4)
    y = _transform(x, "C4", 1, rep="regular")
    # Channel h moves to channel h + 1 (mod 4): rho(g) e_h = e_{gh}.
    expected = np.roll(np.rot90(x, 1, axes=(1, 2)), 1, axis=-1)
    np.testing.assert_array_equal(y, expected)


def test_standard_vectors_rotate_with_the_grid(rng):
    # A vector (v_row, v_col) = (1, 0) points down; a quarter turn
    # counter-clockwise makes it point right: (0, 1).
    x = np.zeros((1, 3, 3, 2), "float32")
    x[0, 1, 1] = (1.0, 0.0)
    y = _transform(x, "C4", 1, rep="standard")
    np.testing.assert_array_equal(y[0, 1, 1], (0.0, 1.0))


@pytest.mark.parametrize("name", ["D4", "Oh"])
@pytest.mark.parametrize("rep", ["regular", "standard"])
def test_transform_is_a_group_action(name, rep, rng):
    group = groups.get(name)
    spatial = (4,) * group.ndim
    channels = Representation(group, rep).size
    x = rng.normal(size=(2, *spatial, channels)).astype("float32")
    for a, b in [(1, 2), (3, group.order - 1), (group.order - 2, 5)]:
        ab = _transform(_transform(x, group, b, rep=rep), group, a, rep=rep)
        np.testing.assert_array_equal(
            ab, _transform(x, group, group.multiply(a, b), rep=rep)
        )
    np.testing.assert_array_equal(_transform(x, group, 0, rep=rep), x)


def test_channels_first_matches_channels_last(rng):
    x = _image(rng, size=6, channels=8)
    last = _transform(x, "D4", 5, rep="regular")
    first = _transform(
        np.moveaxis(x, -1, 1),
        "D4",
        5,
        rep="regular",
        data_format="channels_first",
    )
    np.testing.assert_array_equal(np.moveaxis(first, 1, -1), last)


def test_dense_features(rng):
    x = rng.normal(size=(3, 8)).astype("float32")
    y = _transform(x, "C4", 1, rep=["standard", "standard", "regular"])
    np.testing.assert_array_equal(y[:, :2], x[:, [1, 0]] * [-1, 1])
    np.testing.assert_array_equal(y[:, 4:], np.roll(x[:, 4:], 1, axis=-1))


def test_transform_keeps_dtype():
    x = ops.ones((1, 3, 3, 4), dtype="bfloat16")
    y = transform(x, "C4", 2, rep="regular", data_format="channels_last")
    assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"element": 4}, r"element.*\[0, 4\).*Received: element=4"),
        ({"element": -1}, r"Received: element=-1"),
        ({"element": 1.0}, r"Received: element=1.0"),
        ({"group": "O"}, r"Group 'O' acts on 3D grids.*2 spatial"),
        ({"rep": "regular"}, r"multiple of 4.*3 channels"),
        ({"data_format": "NHWC"}, r"channels_last.*NHWC"),
        ({"x": np.zeros((1, 4, 5, 3))}, r"spatial shape \(4, 5\).*square"),
        ({"x": np.zeros((3,))}, r"Received: shape \(3,\)"),
    ],
)
def test_bad_transform_arguments(kwargs, message):
    arguments = {
        "x": np.zeros((1, 4, 4, 3), "float32"),
        "group": "C4",
        "element": 1,
        "rep": "trivial",
        "data_format": "channels_last",
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        transform(**arguments)


def test_unknown_group_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Known groups: C1, C2, C4, D1, D2"):
        groups.get("SO4")


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_symmetric_group_elements(n):
    group = groups.get(f"S{n}")
    assert group.order == np.prod(range(1, n + 1)) and group.ndim == 0
    perms = [tuple(group.permutation(k)) for k in group.elements]
    assert perms == sorted(itertools.permutations(range(n)))
    assert all(group.index(p) == k for k, p in enumerate(perms))
    for a, b in [(1 % group.order, group.order - 1), (0, 0)]:
        product = group.permutation(group.multiply(a, b))
        np.testing.assert_array_equal(
            product, group.permutation(a)[group.permutation(b)]
        )
        assert group.multiply(a, group.inverse(a)) == 0


def test_natural_representation_moves_set_elements(rng):
    group = groups.get("S4")
    x = rng.normal(size=(2, 4, 3)).astype("float32")  # 4 elements, 3 features
    k = 17
    perm = group.permutation(k)
    y = _transform(x.reshape(2, 12), group, k, rep="natural").reshape(2, 4, 3)
    np.testing.assert_array_equal(y[:, perm], x)


@pytest.mark.parametrize(
    "name,ndim,rep",
    [
        ("S3", 0, "natural"),
        ("S4", 0, ["trivial", "natural"]),
        ("C4", 2, ["trivial", "regular", "standard"]),
        ("D4", 2, "regular"),
        ("Oh", 3, ["standard", "trivial"]),
    ],
)
def test_field_channels_are_the_blocks_the_group_keeps(name, ndim, rep):
    """Every element maps each field's channels onto that field's own
    channels (as a set): the fields are the blocks of `signed_permutation`,
    whatever the layout of the channels."""
    representation = Representation(groups.get(name, ndim or None), rep)
    channels = 3 * representation.size
    perm, _ = representation.signed_permutation(channels)
    index = representation.field_channels(channels)
    covered = np.sort(np.concatenate([v.ravel() for v in index.values()]))
    np.testing.assert_array_equal(covered, np.arange(channels))
    for rows in index.values():
        for row in rows:
            for moved in perm[:, row]:
                assert set(moved.tolist()) == set(row.tolist())


def test_symmetric_group_rejects_grids_and_grid_representations():
    with pytest.raises(ValueError, match=r"acts on no grid.*Dense"):
        groups.get("S4", ndim=2)
    with pytest.raises(ValueError, match=r"'regular' is not defined.*S4"):
        Representation(groups.get("S4"), "regular")
    with pytest.raises(ValueError, match=r"'natural' is not defined.*C4"):
        Representation(groups.get("C4"), "natural")


def test_dense_features_of_continuous_groups_mix_only_channels(rng):
    """Rank-2 features (e.g. logits) of SO2/SO3: rho(g) on the channels."""
    x = rng.normal(size=(3, 3)).astype("float32")
    quarter = transform(x, "SO2", np.pi / 2, rep=["irrep0", "irrep1"])
    expected = np.stack([x[:, 0], -x[:, 2], x[:, 1]], axis=1)
    np.testing.assert_allclose(
        ops.convert_to_numpy(quarter), expected, atol=1e-6
    )
    flip = np.diag([1.0, -1.0, -1.0])
    turned = transform(x, "SO3", flip, rep="standard")
    np.testing.assert_allclose(
        ops.convert_to_numpy(turned), x @ flip, atol=1e-6
    )


@pytest.mark.parametrize(
    "name,ndim,finite,grid_exact,reflections",
    [
        ("C4", 2, True, True, False),
        ("D4", 2, True, True, True),
        ("C8", 2, True, False, False),
        ("D6", 2, True, False, True),
        ("SO2", 2, False, False, False),
        ("O2", 2, False, False, True),
        ("O", 3, True, True, False),
        ("Oh", 3, True, True, True),
        ("SO3", 3, False, False, False),
        ("O3", 3, False, False, True),
        ("S4", None, True, True, False),
    ],
)
def test_every_group_has_the_same_interface(
    name, ndim, finite, grid_exact, reflections
):
    group = groups.get(name, ndim)
    assert isinstance(group, groups.BaseGroup)
    assert group.is_finite == finite
    assert (group.order is not None) == finite
    assert group.is_grid_exact == grid_exact
    assert group.reflections == reflections
    assert len(group.generators) >= 1
    sample = list(group.sample(5, seed=3))
    assert len(sample) == min(5, group.order - 1 if finite else 5)
    again = list(group.sample(5, seed=3))
    assert repr(sample) == repr(again)  # seeded
    if finite:
        assert 0 not in sample and len(set(sample)) == len(sample)
    elif group.ndim == 3:
        for matrix in sample:
            np.testing.assert_allclose(matrix @ matrix.T, np.eye(3), atol=1e-12)
            assert reflections or np.linalg.det(matrix) > 0
    with pytest.raises(ValueError, match="positive integer"):
        group.sample(0)


@pytest.mark.parametrize(
    "name, cls",
    [
        ("C4", groups.FiniteGroup),
        ("C8", groups.FiniteGroup),
        ("SO2", groups.SO2),
        ("O2", groups.O2),
        ("SO3", groups.SO3),
        ("O3", groups.O3),
        ("S3", groups.SymmetricGroup),
    ],
)
def test_each_group_is_an_instance_of_the_class_named_after_it(name, cls):
    group = groups.get(name)
    assert type(group) is cls and groups.get(group) is group
    assert name in repr(group)


def test_the_class_names_of_0_1_0_still_work():
    assert groups.Group is groups.FiniteGroup
    with pytest.warns(DeprecationWarning, match=r"get\('SO2'\)"):
        assert groups.RotationGroup2D(reflections=True) is groups.get("O2")
    with pytest.warns(DeprecationWarning, match=r"get\('SO3'\)"):
        assert groups.RotationGroup3D(False) is groups.get("SO3")
