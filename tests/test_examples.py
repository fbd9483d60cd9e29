"""The demo and the benchmark run end to end (in their quick modes)."""

import importlib.util
import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.slow


def _load(relative_path):
    path = os.path.join(ROOT, relative_path)
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_quick(capsys):
    results = _load("examples/demo.py").main(["--quick"])
    out = capsys.readouterr().out
    assert "ProjectionRegularizer: test accuracy" in out
    assert "penalty's share of the training step" in out
    for runs in results.values():
        accuracy, error, step = runs.mean(0)
        assert 0 <= accuracy <= 1 and np.isfinite(error) and step > 0


def test_demo_labels_break_the_symmetry_only_for_upright_ls():
    demo = _load("examples/demo.py")
    images, labels = demo.make_data(400, seed=0)
    assert images.shape == (400, 14, 14, 1)
    assert set(np.unique(labels)) == {0, 1, 2, 3}
    # About a quarter of the Ls stand upright.
    ls = np.sum((labels == 0) | (labels == 3))
    assert 0.15 < np.sum(labels == 3) / ls < 0.35


@pytest.mark.parametrize("group", ["C4", "SO2", "SO3"])
def test_benchmark_quick(group, capsys):
    _load("benchmarks/regularizer_cost.py").main(["--quick", "--group", group])
    lines = capsys.readouterr().out.splitlines()
    ratios = {
        line.split()[1]: float(line.split()[2])
        for line in lines
        if line.startswith("ratio ")
    }
    assert ratios["none"] == 1.0
    assert {"keras_l2", "projection_fro", "projection_spectral"} <= set(ratios)
    assert {"sampled_k1", "sampled_k4", "residual_pathway"} <= set(ratios)
    assert all(r > 0 for r in ratios.values())


def test_projector_memory_quick(capsys):
    _load("benchmarks/projector_memory.py").main(["--quick"])
    lines = capsys.readouterr().out.splitlines()
    ratios = {
        line.split()[1]: float(line.split()[2])
        for line in lines
        if line.startswith("ratio ")
    }
    assert set(ratios) == {
        "so3_conv3d_5x5x5_64to64",
        "c4_conv2d_3x3_regular_64to64",
    }
    assert all(0 < r < 0.01 for r in ratios.values())


def test_decay_vs_penalty_quick(capsys):
    results = _load("examples/decay_vs_penalty.py").main(["--quick"])
    assert len(results) == 4
    for runs in results.values():
        accuracy, error, residual = runs.mean(0)
        assert 0 <= accuracy <= 1 and np.isfinite(error) and residual >= 0
    # The decay of rate 0.1 leaves less non-equivariance than no pull.
    assert results["decay, rate 0.1"][0, 2] < results["plain"][0, 2]
