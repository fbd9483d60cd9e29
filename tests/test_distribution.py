"""The penalty under JAX data parallelism (4 simulated CPU devices).

Run with `JAX_NUM_CPU_DEVICES=4 pytest -m multi_device` (the jax tox env
does); the variable must be set before JAX starts.
"""

import keras
import numpy as np
import pytest
from keras import ops
from models import c4_cnn

pytestmark = pytest.mark.multi_device


def _penalty(model):
    return sum(float(ops.convert_to_numpy(v)) for v in model.losses)


def test_penalty_is_the_same_under_data_parallelism():
    if keras.backend.backend() != "jax":
        pytest.fail("the multi-device test runs on the jax backend")
    devices = keras.distribution.list_devices("cpu")
    assert len(devices) == 4, "set JAX_NUM_CPU_DEVICES=4"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 8, 8, 1)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")

    keras.utils.set_random_seed(3)
    single = c4_cnn((8, 8, 1), lambda_perp=0.1, outputs=1)
    weights = single.get_weights()
    single.compile(keras.optimizers.SGD(0.1), "mse")
    single_penalty = _penalty(single)
    single.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)

    distribution = keras.distribution.DataParallel(devices=devices)
    with distribution.scope():
        parallel = c4_cnn((8, 8, 1), lambda_perp=0.1, outputs=1)
        parallel.set_weights(weights)
        parallel.compile(keras.optimizers.SGD(0.1), "mse")
        parallel_penalty = _penalty(parallel)
        parallel.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)

    kernel = parallel.layers[1].kernel.value
    assert len(kernel.sharding.device_set) == 4  # replicated on 4 devices
    np.testing.assert_allclose(parallel_penalty, single_penalty, rtol=1e-6)
    np.testing.assert_allclose(_penalty(parallel), _penalty(single), rtol=1e-4)
    for a, b in zip(parallel.get_weights(), single.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_penalty_and_gradients_are_the_same_under_model_parallelism():
    """Conv kernels sharded over their output channels on 4 devices."""
    if keras.backend.backend() != "jax":
        pytest.fail("the multi-device test runs on the jax backend")
    devices = keras.distribution.list_devices("cpu")
    assert len(devices) == 4, "set JAX_NUM_CPU_DEVICES=4"
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 8, 8, 1)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")

    keras.utils.set_random_seed(5)
    single = c4_cnn((8, 8, 1), lambda_perp=0.1, outputs=1)
    weights = single.get_weights()
    single.compile(keras.optimizers.SGD(0.1), "mse")
    single_penalty = _penalty(single)
    single.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)

    mesh = keras.distribution.DeviceMesh(
        shape=(1, 4), axis_names=["batch", "model"], devices=devices
    )
    layout_map = keras.distribution.LayoutMap(mesh)
    layout_map[".*/(lifting|hidden)/kernel"] = (None, None, None, "model")
    distribution = keras.distribution.ModelParallel(
        layout_map=layout_map, batch_dim_name="batch"
    )
    with distribution.scope():
        sharded = c4_cnn((8, 8, 1), lambda_perp=0.1, outputs=1)
        sharded.set_weights(weights)
        sharded.compile(keras.optimizers.SGD(0.1), "mse")
        sharded_penalty = _penalty(sharded)
        sharded.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)

    kernel = sharded.layers[1].kernel.value
    shard_shapes = {s.data.shape for s in kernel.addressable_shards}
    assert shard_shapes == {(3, 3, 8, 2)}  # output channels split in 4
    np.testing.assert_allclose(sharded_penalty, single_penalty, rtol=1e-6)
    np.testing.assert_allclose(_penalty(sharded), _penalty(single), rtol=1e-4)
    for a, b in zip(sharded.get_weights(), single.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
