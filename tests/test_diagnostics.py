"""equivariance_report, EquivarianceMonitor, plot_equivariance and
project_weights on a small C4 CNN."""

import keras
import numpy as np
import pytest
from keras import ops
from models import c4_cnn

from keras_approxeq import EquivarianceMonitor
from keras_approxeq import equivariance_error
from keras_approxeq import equivariance_report
from keras_approxeq import plot_equivariance
from keras_approxeq import project
from keras_approxeq import project_weights


def test_report_lists_every_regularised_weight(rng):
    model = c4_cnn()
    report = equivariance_report(model)
    assert len(report) == 5  # 3 kernels, 2 biases
    first = model.layers[0].kernel
    kernel = ops.convert_to_numpy(first).astype("float64")
    residual = kernel - project(
        kernel, "C4", in_rep="trivial", out_rep="regular"
    )
    assert report[0]["weight"] == first.path
    assert report[0]["group"] == "C4"
    assert report[0]["out_rep"] == "regular"
    np.testing.assert_allclose(
        report[0]["relative_residual"],
        np.linalg.norm(residual) / np.linalg.norm(kernel),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        report[0]["penalty"], 1e-2 * np.linalg.norm(residual), rtol=1e-5
    )
    table = str(report)
    assert "||T-PT||/||T||" in table and first.path in table
    assert len(table.splitlines()) == 2 + len(report)


def test_project_weights_makes_the_model_exactly_invariant(rng):
    model = c4_cnn()
    x = rng.normal(size=(4, 9, 9, 1)).astype("float32")
    assert (
        equivariance_error(model, x, "C4", data_format="channels_last") > 1e-2
    )
    summary = project_weights(model, x)
    assert summary["weights"] == 5
    assert 0 < summary["relative_change"] < 1
    assert summary["max_output_change"] > 0
    assert (
        equivariance_error(model, x, "C4", data_format="channels_last") < 1e-5
    )
    assert (
        max(r["relative_residual"] for r in equivariance_report(model)) < 1e-6
    )
    # Projecting again changes nothing.
    assert project_weights(model)["relative_change"] < 1e-6


def test_monitor_writes_the_ratios_into_the_history(rng):
    model = c4_cnn()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    x = rng.normal(size=(16, 9, 9, 1)).astype("float32")
    y = rng.normal(size=(16, 3)).astype("float32")
    monitor = EquivarianceMonitor(
        x[:4], group="C4", data_format="channels_last"
    )
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[monitor])
    paths = [row["weight"] for row in equivariance_report(model)]
    for path in paths:
        values = history.history[f"equivariance/{path}"]
        assert len(values) == 2 and all(0 <= v < 2 for v in values)
    assert len(history.history["equivariance_error"]) == 2
    last = {
        row["weight"]: row["relative_residual"]
        for row in equivariance_report(model)
    }
    for path in paths:
        np.testing.assert_allclose(
            history.history[f"equivariance/{path}"][-1], last[path], rtol=1e-6
        )
    assert EquivarianceMonitor(prefix="eq").get_config()["prefix"] == "eq"
    with pytest.raises(ValueError, match="both `x` and `group`"):
        EquivarianceMonitor(x[:4])


def test_the_monitor_round_trips_through_keras_serialization():
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 1)).astype("float32")
    monitor = EquivarianceMonitor(x, group="C4", num_elements=2, prefix="eq")
    config = keras.saving.serialize_keras_object(monitor)
    again = keras.saving.deserialize_keras_object(config)
    assert isinstance(again, EquivarianceMonitor)
    np.testing.assert_array_equal(again.x, x)
    assert again.get_config().keys() == monitor.get_config().keys()
    assert (again.group, again.num_elements, again.prefix) == ("C4", 2, "eq")


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"data_format": "nchw"}, r"data_format='nchw'"),
        ({"num_elements": 0}, r"positive integer.*num_elements=0"),
        ({"num_elements": True}, r"num_elements=True"),
    ],
    ids=str,
)
def test_the_monitor_checks_its_arguments_when_made(kwargs, message):
    x = np.zeros((2, 5, 5, 1), "float32")
    with pytest.raises(ValueError, match=message):
        EquivarianceMonitor(x, group="C4", **kwargs)


def test_plot_draws_one_curve_per_weight():
    import matplotlib

    matplotlib.use("Agg")
    logs = {
        "loss": [1.0, 0.5],
        "equivariance/a/kernel": [0.9, 0.1],
        "equivariance/b/kernel": [0.5, 0.0],
    }
    ax = plot_equivariance(logs)
    assert [line.get_label() for line in ax.get_lines()] == [
        "a/kernel",
        "b/kernel",
    ]
    with pytest.raises(ValueError, match="EquivarianceMonitor"):
        plot_equivariance({"loss": [1.0]})
