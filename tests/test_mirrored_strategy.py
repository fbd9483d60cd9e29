"""The penalty under TensorFlow's MirroredStrategy: counted once a step.

TensorFlow fixes its logical devices when it starts, so the check runs in
a fresh process with two logical CPU devices.
"""

import os
import subprocess
import sys

import keras
import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="tf.distribute is TensorFlow's",
    ),
]

SCRIPT = r"""
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)
import keras
from keras_approxeq import ProjectionRegularizer
from keras_approxeq import project


def model():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(
                4,
                3,
                use_bias=False,
                kernel_regularizer=ProjectionRegularizer(
                    "C4", norm="fro2", lambda_perp=1.0
                ),
            ),
            keras.layers.GlobalAveragePooling2D(),
        ]
    )


def step(strategy):
    # A loss of zero: the only gradient is the penalty's.
    with strategy.scope():
        m = model()
        m.compile(
            keras.optimizers.SGD(0.1),
            lambda y, p: keras.ops.sum(p) * 0.0,
        )
    before = m.get_weights()[0]
    x = np.ones((4, 6, 6, 1), "float32")
    m.fit(x, np.zeros((4, 4)), batch_size=4, epochs=1, verbose=0)
    return before, m.get_weights()[0]


strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
before, mirrored = step(strategy)
_, single = step(tf.distribute.get_strategy())
# One SGD step on lambda * ||K - P K||^2: K - 0.1 * 2 (K - P K).
residual = before - project(before, "C4")
expected = before - 0.1 * 2.0 * residual
np.testing.assert_allclose(single, expected, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(mirrored, expected, rtol=1e-5, atol=1e-6)
assert np.abs(residual).max() > 1e-2  # the penalty did move the kernel
print("ok")
"""


def test_penalty_counted_once_per_step_under_mirrored_strategy():
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
