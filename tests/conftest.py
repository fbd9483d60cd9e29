import keras
import numpy as np
import pytest


def pytest_report_header(config):
    return (
        f"keras {keras.__version__}, backend {keras.backend.backend()}, "
        f"image_data_format {keras.config.image_data_format()}"
    )


@pytest.fixture(autouse=True)
def _seed_and_reset():
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
