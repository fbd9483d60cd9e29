"""The demo and the benchmark run end to end (in their quick modes)."""

import importlib.util
import os
import sys

import keras
import numpy as np
import pytest

import keras_approxeq
from keras_approxeq import project_weights
from keras_approxeq import rescale_kernels
from keras_approxeq import transform

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.slow

# The smoke runs that train many models run on one backend each, spread
# over the three (`one_backend` in conftest.py); the demo and the C4
# benchmark run on all three. KERAS_APPROXEQ_ALL_EXAMPLES=1 runs them all.
ONE_BACKEND = {
    name: pytest.mark.one_backend(name)
    for name in ("tensorflow", "jax", "torch")
}


def _load(relative_path):
    """Runs a script as `python <relative_path>` would (its folder on
    `sys.path`) and returns it as a module."""
    path = os.path.join(ROOT, relative_path)
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_quick(relative_path, monkeypatch, *flags):
    """Runs a tutobook top to bottom in its quick mode, with `flags` on its
    command line, and returns it as a module."""
    monkeypatch.setenv("KERAS_APPROXEQ_QUICK", "1")
    monkeypatch.setattr(sys, "argv", [relative_path, *flags])
    return _load(relative_path)


def test_demo_quick(monkeypatch):
    """The tutobook runs top to bottom."""
    monkeypatch.setenv("KERAS_APPROXEQ_QUICK", "1")
    demo = _load("examples/demo.py")
    assert set(demo.results) == {
        "plain CNN",
        "ProjectionRegularizer",
        "recipe",
    }
    for runs in demo.results.values():
        accuracy, error, step = runs.mean(0)
        assert 0 <= accuracy <= 1 and np.isfinite(error) and step > 0
    assert demo.ratio > 0


def test_demo_labels_break_the_symmetry_only_for_upright_ls():
    tetrominoes = _load("examples/tetrominoes.py")
    images, labels = tetrominoes.make_data(400, seed=0)
    assert images.shape == (400, 14, 14, 1)
    assert set(np.unique(labels)) == {0, 1, 2, 3}
    # About a quarter of the Ls stand upright.
    ls = np.sum((labels == 0) | (labels == 3))
    assert 0.15 < np.sum(labels == 3) / ls < 0.35


# Every case on C4; on the steerable groups the cases whose code differs
# (compiling each 3D model costs most of this test).
STEERABLE_CASES = (
    "keras_l2,projection_fro,projection_spectral,sampled_k1,residual_pathway"
)


@pytest.mark.parametrize(
    "group",
    [
        "C4",
        pytest.param("SO2", marks=ONE_BACKEND["jax"]),
        pytest.param("SO3", marks=ONE_BACKEND["tensorflow"]),
    ],
)
def test_benchmark_quick(group, capsys):
    argv = ["--quick", "--group", group]
    if group != "C4":
        argv += ["--cases", STEERABLE_CASES]
    _load("benchmarks/regularizer_cost.py").main(argv)
    lines = capsys.readouterr().out.splitlines()
    ratios = {
        line.split()[1]: float(line.split()[2])
        for line in lines
        if line.startswith("ratio ")
    }
    assert ratios["none"] == 1.0
    expected = {"keras_l2", "projection_fro", "projection_spectral"}
    expected |= {"sampled_k1", "residual_pathway"}
    if group == "C4":
        expected |= {"sampled_k4", "sampled_k16", "projection_nuclear"}
    assert expected <= set(ratios)
    if group != "C4":
        assert len(ratios) == 6
    assert all(r > 0 for r in ratios.values())


@ONE_BACKEND["torch"]
def test_model_penalties_quick(capsys):
    _load("benchmarks/model_penalties.py").main(["--quick"])
    lines = capsys.readouterr().out.splitlines()
    ratios = {
        line.split()[2]: float(line.split()[3])
        for line in lines
        if line.startswith("ratio_to_l2 ")
    }
    assert set(ratios) == {
        "keras_l2",
        "projection_c4",
        "projection_d4",
        "projection_c4_regular",
        "projection_c4_regular_tied",
    }
    assert ratios["keras_l2"] == 1.0
    assert all(r > 0 for r in ratios.values())


@ONE_BACKEND["torch"]
def test_real_models_quick(capsys):
    _load("benchmarks/real_models.py").main(
        [
            "--quick",
            "--models",
            "MobileNetV2",
            "--cases",
            "projection_c4",
            "projection_c4_regular_tied",
            "--first-steps",
            "2",
        ]
    )
    lines = capsys.readouterr().out.splitlines()
    ratios = {
        line.split()[2]: float(line.split()[3])
        for line in lines
        if line.startswith("ratio ")
    }
    firsts = {
        line.split()[2]: float(line.split()[3])
        for line in lines
        if line.startswith("first_step ")
    }
    assert set(ratios) == {
        "none",
        "keras_l2",
        "projection_c4",
        "projection_c4_regular_tied",
    }
    assert ratios["none"] == 1.0 and set(firsts) == set(ratios)
    assert firsts["keras_l2"] == 1.0
    assert all(r > 0 for r in ratios.values())
    per_round = [line.split() for line in lines if line.startswith("per_round")]
    assert len(per_round) == 8  # every case against both baselines
    for _, _, case, baseline, middle, low, high in per_round:
        assert 0 < float(low) <= float(middle) <= float(high)
        assert case != baseline or float(middle) == 1.0


def test_real_models_xla_cost(capsys):
    if keras.backend.backend() != "jax":
        with pytest.raises(SystemExit):
            _load("benchmarks/real_models.py").main(["--xla-cost"])
        assert "KERAS_BACKEND=jax" in capsys.readouterr().err
        return
    _load("benchmarks/real_models.py").main(
        ["--xla-cost", "--models", "MobileNetV2", "--cases", "projection_c4"]
    )
    lines = capsys.readouterr().out.splitlines()
    costs = {
        (line.split()[0], line.split()[2]): float(line.split()[3])
        for line in lines
        if line.startswith("xla_")
    }
    cases = ("none", "keras_l2", "projection_c4")
    assert set(costs) == {
        (k, c) for k in ("xla_bytes", "xla_flops") for c in cases
    }
    assert costs["xla_bytes", "none"] == costs["xla_flops", "none"] == 1.0
    # A penalty adds work to the step, never removes it.
    assert costs["xla_bytes", "projection_c4"] > 1.0
    assert costs["xla_flops", "keras_l2"] > 1.0


def test_projector_memory_quick(capsys):
    _load("benchmarks/projector_memory.py").main(["--quick"])
    lines = capsys.readouterr().out.splitlines()
    ratios = {
        line.split()[1]: float(line.split()[2])
        for line in lines
        if line.startswith("ratio ")
    }
    assert set(ratios) == {
        "so3_conv3d_5x5x5_63to63",
        "c4_conv2d_3x3_regular_64to64",
    }
    assert all(0 < r < 0.01 for r in ratios.values())


def test_projector_apply_quick(capsys):
    cases = ["c4_3x3_trivial_256to256", "c4_3x3_regular_256to256"]
    _load("benchmarks/projector_apply.py").main(
        ["--repeats", "2", "--rounds", "2", "--cases", *cases]
    )
    lines = capsys.readouterr().out.splitlines()
    ratios = {
        tuple(line.split()[1:3]): float(line.split()[3])
        for line in lines
        if line.startswith("ratio ")
    }
    assert set(ratios) == {
        (case, what)
        for case in cases
        for what in (
            "apply/expand",
            "apply_grad/expand_grad",
            "penalty_grad/expand_grad",
        )
    }
    assert all(0 < r < float("inf") for r in ratios.values())
    if keras.backend.backend() == "torch":
        counts = [int(line.split()[2]) for line in lines if "ops " in line]
        assert len(counts) == 2 and all(c > 0 for c in counts)
    if keras.backend.backend() == "jax":
        costs = [line.split() for line in lines if line.startswith("xla_")]
        assert len(costs) == 12 and all(float(c[3]) > 0 for c in costs)


@ONE_BACKEND["torch"]
def test_decay_vs_penalty_quick(monkeypatch):
    monkeypatch.setenv("KERAS_APPROXEQ_QUICK", "1")
    results = _load("examples/decay_vs_penalty.py").results
    assert len(results) == 4
    for runs in results.values():
        accuracy, error, residual = runs.mean(0)
        assert 0 <= accuracy <= 1 and np.isfinite(error) and residual >= 0
    # The decay of rate 0.1 leaves less non-equivariance than no pull.
    assert results["decay, rate 0.1"][0, 2] < results["plain"][0, 2]


@pytest.fixture(scope="session")
def so2_toy(tmp_path_factory):
    """The SO(2) toy, run once in its quick mode, its figure written to a
    temporary folder (`so2_toy.out_dir`). Session-scoped: under xdist a
    module-scoped one was set up twice (about 24 s each on PyTorch)."""
    out_dir = tmp_path_factory.mktemp("so2_toy")
    with pytest.MonkeyPatch.context() as monkeypatch:
        flags = ("--out-dir", str(out_dir))
        toy = _run_quick("examples/so2_toy.py", monkeypatch, *flags)
    toy.out_dir = out_dir
    return toy


@ONE_BACKEND["torch"]
@pytest.mark.xdist_group("so2_toy")
def test_so2_toy_quick(so2_toy):
    assert (so2_toy.out_dir / "so2_toy_grid.png").stat().st_size > 0
    for _, accuracy, error in so2_toy.grid.values():
        assert 0 <= accuracy <= 1 and 0 <= error <= 1
    assert {kind for _, kind in so2_toy.rings} == {"harmonic", "recipe", "mlp"}
    for runs in so2_toy.rings.values():
        assert runs.shape == (1, 2)


@ONE_BACKEND["torch"]
@pytest.mark.xdist_group("so2_toy")
def test_so2_toy_harmonic_model_is_invariant_once_projected(so2_toy):
    keras.utils.set_random_seed(0)
    model = so2_toy.harmonic_model(0.0, 1.0)
    classifier = so2_toy.Classifier(model, harmonic=True)
    points, _ = so2_toy.wavy_rings(0.5, n=50)
    assert classifier.invariance_error(points) > 1e-2
    project_weights(classifier.model)
    assert classifier.invariance_error(points) < 1e-5


@ONE_BACKEND["torch"]
@pytest.mark.xdist_group("so2_toy")
def test_so2_toy_data(so2_toy):
    points, labels = so2_toy.disc_and_wedge()
    assert points.shape == (200, 2) and labels.sum() == 100
    radius = np.hypot(*points.T)
    assert radius[labels == 1].max() <= 1 and radius[labels == 0].min() >= 2.3
    points, labels = so2_toy.wavy_rings(0.0)
    radius = np.hypot(*points.T)
    assert np.all(np.abs(radius[labels == 0] - 1.1) <= 0.15 + 1e-6)


@ONE_BACKEND["tensorflow"]
def test_smoke_plumes_quick(monkeypatch, capsys):
    flags = ("--lambda-perp", "0.1")
    smoke = _run_quick("examples/smoke_plumes.py", monkeypatch, *flags)
    results = smoke.results
    out = capsys.readouterr().out
    assert "| model | RMSE future" in out
    assert "(recipe: (rate, start) chosen per seed [(" in out
    assert {"penalty 0.1", "relaxed + penalty 0.1", "plain"} <= set(results)
    assert "recipe" in results and len(results) == 8
    for runs in results.values():
        assert runs.shape == (1, 3) and np.all(np.isfinite(runs))
    # Projected after every step: exactly equivariant.
    assert results["equivariant"][0, 2] < 1e-5


@ONE_BACKEND["tensorflow"]
def test_smoke_plumes_are_c4_symmetric_up_to_the_buoyancy():
    """A quarter turn maps the plume from one wall onto the plume from the
    next, for the same buoyancy strength."""
    plumes = _load("examples/plumes.py")
    bottom = plumes.simulate(0, 0.05, 16, 4)
    right = plumes.simulate(1, 0.05, 16, 4)
    turned = transform(
        bottom, "C4", 3, rep="standard", data_format="channels_last"
    )
    turned = keras.ops.convert_to_numpy(turned)
    np.testing.assert_allclose(turned, right, atol=1e-4 * np.abs(right).max())


@ONE_BACKEND["jax"]
def test_ct_artefacts_quick(monkeypatch, capsys):
    results = _run_quick("examples/ct_artefacts.py", monkeypatch).results
    out = capsys.readouterr().out
    assert "FBP without a network: PSNR" in out
    assert {"plain", "sampled (k = 1)", "residual pathway"} <= set(results)
    assert results["equivariant"][0, 2] < 1e-5
    assert {"penalty fro 0.1", "penalty spectral 0.1"} <= set(results)
    assert "(recipe: (rate, start) chosen per seed [(" in out
    for runs in results.values():
        psnr, ssim, error, _ = runs[0]
        assert np.isfinite(psnr) and -1 <= ssim <= 1 and error >= 0
    # project_weights leaves an exactly C4-equivariant network.
    assert results["projected after training"][0, 2] < 1e-5


@ONE_BACKEND["jax"]
def test_ct_artefacts_runs_only_the_chosen_models(monkeypatch):
    flags = ("--only", "plain", "--seeds", "2")
    ct = _run_quick("examples/ct_artefacts.py", monkeypatch, *flags)
    assert set(ct.results) == {"plain"} and ct.results["plain"].shape == (2, 4)


def test_ct_phantoms_have_metal_and_streaks():
    ct_data = _load("examples/ct_data.py")
    x, y = ct_data.make_data(4, 32, seed=0, shepp=True)
    assert x.shape == y.shape == (5, 32, 32, 1)
    assert np.all(np.max(y, axis=(1, 2, 3)) == ct_data.METAL)
    # The damaged reconstruction is far from the phantom.
    assert np.linalg.norm(x - y) > 0.3 * np.linalg.norm(y)


@ONE_BACKEND["torch"]
def test_volumes_so3_quick(monkeypatch, capsys):
    results = _run_quick("examples/volumes_so3.py", monkeypatch).results
    assert "| model | accuracy |" in capsys.readouterr().out
    assert {"plain", "projected", "penalty SO3", "penalty O3"} <= set(results)
    assert {"residual pathway", "sampled", "recipe"} <= set(results)
    for runs in results.values():
        assert runs.shape == (1, 5) and np.all(np.isfinite(runs))
    # Kernels projected after every step: invariant under the cube's
    # rotations, exactly, through gates, a strided layer and the pooling.
    assert results["projected"][0, 1] < 1e-5
    assert results["penalty SO3"][0, 4] > 0 and results["plain"][0, 4] == 0


@ONE_BACKEND["torch"]
def test_volumes_so3_recipe_at_a_fixed_rate_rescaled(monkeypatch, capsys):
    """`--rate` skips the selection; `--rescale` runs `rescale_kernels`
    on the re-drawn network, which then trains to finite values."""
    calls = []

    def recording(model, x, **kwargs):
        calls.append(len(x))
        return rescale_kernels(model, x, **kwargs)

    monkeypatch.setattr(keras_approxeq, "rescale_kernels", recording)
    module = _run_quick(
        "examples/volumes_so3.py",
        monkeypatch,
        *("--only", "recipe", "--rate", "1", "--rescale"),
    )
    assert "held-out loss per rate" not in capsys.readouterr().out
    assert calls == [16]  # the quick run's 16 training volumes
    assert set(module.results) == {"recipe"}
    assert np.all(np.isfinite(module.results["recipe"]))


def test_volumes_so3_classes_differ_by_shape_or_by_pose():
    volumes = _load("examples/volumes.py")
    x, labels = volumes.make_data(10, seed=0, size=9)
    assert x.shape == (10, 9, 9, 9, 1) and set(labels) <= set(range(5))
    rng = np.random.default_rng(0)
    for upright in (True, False):
        rotation = volumes.axis_rotation(rng, upright)
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        assert (abs(rotation[0, 0]) > 0.86) == upright


@ONE_BACKEND["jax"]
def test_rotated_digits_quick(monkeypatch, capsys):
    results = _run_quick("examples/rotated_digits.py", monkeypatch).results
    out = capsys.readouterr().out
    assert set(results) == {
        "plain",
        "exact",
        "penalty",
        "recipe",
        "recipe, projected start",
        "recipe, both starts",
    }
    assert out.count("held-out loss per candidate") == 3
    # Both starts: rate 0 once, rate 1 from each start.
    assert "(1.0, 'own'): " in out and "(1.0, 'projected'): " in out
    for runs in results.values():
        assert runs.shape == (1, 2) and np.all(np.isfinite(runs))
        assert 0 <= runs[0, 0] <= 1
    # Rate 1 from a projected start: an exactly invariant network.
    assert results["exact"][0, 1] < 1e-5
    assert results["plain"][0, 1] > 1e-3


@ONE_BACKEND["jax"]
@pytest.mark.parametrize("normalization", ["layer", "batch", "field"])
def test_rotated_digits_with_a_normalization_layer(monkeypatch, normalization):
    """`--normalization`: the layer after each convolution; the exact
    network stays invariant with `LayerNormalization` tied per field and
    with `FieldNormalization`, not with `BatchNormalization`'s per-channel
    statistics."""
    example = _run_quick(
        "examples/rotated_digits.py",
        monkeypatch,
        "--normalization",
        normalization,
        "--only",
        "exact",
    )
    kinds = {
        "layer": keras.layers.LayerNormalization,
        "batch": keras.layers.BatchNormalization,
        "field": example.FieldNormalization,
    }
    model = example.build_model(0, rate=1.0, normalization=normalization)
    assert (
        sum(isinstance(lay, kinds[normalization]) for lay in model.layers) == 3
    )
    error = example.results["exact"][0, 1]
    # One quick step moves the moving statistics only a little.
    assert (error > 2e-5) if normalization == "batch" else (error < 2e-6)


def test_rotated_digits_turn_every_class_but_6_and_9():
    digits = _load("examples/digits.py")
    (x, y), (x_test, y_test) = digits.make_data(seed=0, n_train=300)
    assert x.shape == (300, 8, 8, 1) and x_test.shape == (1497, 8, 8, 1)
    from sklearn.datasets import load_digits

    digits = load_digits()
    originals = digits.images.astype("float32") / 16.0
    # Each original in each pose, to its index.
    poses = [
        {a.tobytes(): i for i, a in enumerate(np.rot90(originals, k, (1, 2)))}
        for k in range(4)
    ]
    used = []
    turned = {k: 0 for k in range(4)}
    for image, label in zip(np.concatenate([x, x_test]), np.r_[y, y_test]):
        key = image[..., 0].tobytes()
        matches = {k: poses[k][key] for k in range(4) if key in poses[k]}
        assert matches, "every image is a turned original"
        assert any(digits.target[i] == label for i in matches.values())
        used.append(min(matches.values()))
        if label in (6, 9):
            assert 0 in matches
        else:
            turned[min(matches)] += 1
    # Training and test images together are the originals, each once.
    assert sorted(used) == list(range(len(originals)))
    # The other digits take every pose, each about a quarter of the time.
    assert min(turned.values()) > 0.2 * sum(turned.values())


@ONE_BACKEND["tensorflow"]
def test_existing_model_quick(monkeypatch, capsys):
    """The tutobook runs top to bottom: the projected 33x33 backbone is
    invariant to float32 rounding, the 32x32 one is not."""
    monkeypatch.setenv("KERAS_APPROXEQ_QUICK", "1")
    example = _load("examples/existing_model.py")
    out = capsys.readouterr().out
    assert "equivariance error" in out and "32x32 input" in out
    assert example.after < 1e-4
    assert example.even_error > 100 * example.after
    assert 0 <= example.accuracy_after <= 1


@ONE_BACKEND["tensorflow"]
def test_symmetry_breaking_quick(monkeypatch, capsys, tmp_path):
    """The tutobook runs top to bottom; its scores are relative errors; a
    split run's output merges back into the same table."""
    monkeypatch.setenv("KERAS_APPROXEQ_QUICK", "1")
    example = _load("examples/symmetry_breaking.py")
    out = capsys.readouterr().out
    log = tmp_path / "run.log"
    log.write_text(out)
    merged = _run_quick(
        "examples/symmetry_breaking.py",
        monkeypatch,
        "--merge",
        str(log),
        "--noise",
        "0.5",
    )
    assert (example.NOISE, merged.NOISE) == (0.1, 0.5)
    assert merged.scores == example.scores
    assert merged.rates == example.rates
    assert "recipe - best of plain and exact" in out
    assert set(example.MODELS) <= {key[2] for key in example.scores}
    assert all(0 < v < 10 for vs in example.scores.values() for v in vs)
    ((chosen,),) = example.rates.values()  # (1se, min) of the one seed
    for rate, start in chosen:
        assert rate in example.RATES and start in example.STARTS
    # At dial 0 the teacher is exactly C4-equivariant, above it is not.
    x = example.smooth_images(2, np.random.default_rng(0))
    for dial, equivariant in ((0.0, True), (0.3, False)):
        f = example.teacher(dial)
        turned = f(np.rot90(x, axes=(1, 2)).copy())
        error = np.abs(np.rot90(f(x), axes=(1, 2)) - turned).max()
        assert (error < 1e-5) == equivariant


@ONE_BACKEND["torch"]
def test_existing_models_page_runs():
    """The code blocks of `docs/existing_models.md` run top to bottom."""
    import re

    with open(os.path.join(ROOT, "docs", "existing_models.md")) as f:
        page = f.read()
    blocks = re.findall(r"```python\n(.*?)```", page, re.S)
    assert len(blocks) >= 2
    namespace = {}
    for block in blocks:
        exec(compile(block, "existing_models.md", "exec"), namespace)
    model = namespace["model"]
    assert model.losses  # regular fields after the first layer
    first = model.get_layer("conv1_conv").kernel.regularizer
    assert first.in_rep == "trivial" and first.out_rep == "regular"


def test_ct_matched_equivariance_interpolates_in_log_log(monkeypatch):
    ct = _run_quick("examples/ct_artefacts.py", monkeypatch, "--only", "-")
    assert ct.results == {}
    runs = {lam: {"residual": r} for lam, r in [(1e-3, 0.8), (1e-1, 0.008)]}
    # log residual falls by 2 per decade of lambda: 0.08 at lambda 1e-2.
    np.testing.assert_allclose(ct.interpolated_lambda(runs, 0.08), 1e-2)
    # Outside the runs: the end nearest the level.
    assert ct.interpolated_lambda(runs, 0.9) == 1e-3
    assert ct.interpolated_lambda(runs, 1e-4) == 1e-1
    # The sweep widens until its residuals bracket both levels (0.05, 0.2).
    assert ct.widened_lambda(runs) is None
    strong = {lam: {"residual": r} for lam, r in [(1e-4, 0.01), (1.0, 1e-3)]}
    np.testing.assert_allclose(ct.widened_lambda(strong), 1e-6)
    weak = {lam: {"residual": r} for lam, r in [(1e-4, 0.9), (1.0, 0.3)]}
    assert ct.widened_lambda(weak) == 100.0
