import os

import keras
import numpy as np
import pytest


def pytest_report_header(config):
    return (
        f"keras {keras.__version__}, backend {keras.backend.backend()}, "
        f"image_data_format {keras.config.image_data_format()}"
    )


def pytest_runtest_setup(item):
    """Skips a `one_backend` test on the other backends.

    The examples' smoke runs that train many models run on one backend
    each (their code is the same on all three; what differs per backend is
    what the rest of the suite tests), so that CI fits in its time.
    `KERAS_APPROXEQ_ALL_EXAMPLES=1` runs them all on any backend.
    """
    marker = item.get_closest_marker("one_backend")
    if marker is None or os.environ.get("KERAS_APPROXEQ_ALL_EXAMPLES") == "1":
        return
    (home,) = marker.args
    if keras.backend.backend() != home:
        pytest.skip(
            f"an example's smoke run, run on {home} "
            "(KERAS_APPROXEQ_ALL_EXAMPLES=1 runs it here)"
        )


@pytest.fixture(autouse=True)
def _seed_and_reset():
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
