"""`.keras` round trips: in a fresh process, and across backends."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from saved_model_fixture import HERE
from saved_model_fixture import build_model
from saved_model_fixture import inputs
from saved_model_fixture import penalties
from utils import BACKEND

from keras_approxeq import ProjectionRegularizer

pytestmark = pytest.mark.slow

LOAD_AND_REPORT = """
import json, sys
import keras
import numpy as np
import keras_approxeq  # registers the package's classes

model = keras.saving.load_model(sys.argv[1])
x = np.load(sys.argv[2])
configs = [
    keras.saving.serialize_keras_object(v.regularizer)
    for v in model.trainable_weights if v.regularizer is not None
]
print(json.dumps({
    "outputs": model.predict(x, verbose=0).tolist(),
    "penalties": [float(keras.ops.convert_to_numpy(l)) for l in model.losses],
    "configs": configs,
}))
"""


def _regularizer_configs(model):
    return [
        keras.saving.serialize_keras_object(v.regularizer)
        for v in model.trainable_weights
        if v.regularizer is not None
    ]


def test_save_and_reload_in_a_fresh_process(tmp_path):
    model = build_model()
    model.compile("adam", "mse")
    x = inputs()
    model.fit(x, np.zeros((4, 3)), epochs=1, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    np.save(tmp_path / "x.npy", x)
    script = tmp_path / "load.py"
    script.write_text(LOAD_AND_REPORT)
    result = subprocess.run(
        [sys.executable, str(script), path, str(tmp_path / "x.npy")],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": BACKEND},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(
        report["outputs"], model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(report["penalties"], penalties(model), rtol=1e-5)
    assert report["configs"] == json.loads(
        json.dumps(_regularizer_configs(model))
    )
    assert all(
        c["registered_name"] == "keras_approxeq>ProjectionRegularizer"
        for c in report["configs"]
    )


@pytest.mark.parametrize("saved_on", ["jax", "tensorflow", "torch"])
def test_models_saved_on_each_backend_load_here(saved_on):
    model = keras.saving.load_model(
        os.path.join(HERE, "data", f"saved_{saved_on}.keras")
    )
    expected = np.load(os.path.join(HERE, "data", f"saved_{saved_on}.npz"))
    np.testing.assert_allclose(
        model.predict(inputs(), verbose=0),
        expected["outputs"],
        rtol=1e-4,
        atol=1e-5,
    )
    np.testing.assert_allclose(
        penalties(model), expected["penalties"], rtol=1e-5
    )
    regs = [v.regularizer for v in model.trainable_weights if v.regularizer]
    assert len(regs) == 5
    assert all(isinstance(r, ProjectionRegularizer) for r in regs)
    assert regs[2].get_config()["norm"] == [2.0, 1.0]
