"""A small regularised model, saved on each backend for cross-backend tests.

Run `KERAS_BACKEND=<backend> python tests/saved_model_fixture.py` to
(re)write `tests/data/saved_<backend>.keras` and its expected outputs.
"""

import os

import keras
import numpy as np

from keras_approxeq import ProjectionRegularizer

HERE = os.path.dirname(os.path.abspath(__file__))


def build_model():
    kernel_reg = ProjectionRegularizer(
        "D4", in_rep="regular", out_rep="regular", norm=(2, 1)
    )
    return keras.Sequential(
        [
            keras.Input((9, 9, 2)),
            keras.layers.Conv2D(
                8,
                3,
                padding="same",
                data_format="channels_last",
                kernel_regularizer=ProjectionRegularizer(
                    "D4", out_rep="regular", lambda_g=1e-3
                ),
                bias_regularizer=ProjectionRegularizer("D4", out_rep="regular"),
            ),
            keras.layers.Conv2D(
                16,
                3,
                padding="same",
                data_format="channels_last",
                kernel_regularizer=kernel_reg,
                bias_regularizer=kernel_reg,
            ),
            keras.layers.GlobalMaxPooling2D("channels_last"),
            keras.layers.Dense(
                3,
                kernel_regularizer=ProjectionRegularizer(
                    "D4", in_rep="regular", norm="fro2"
                ),
            ),
        ]
    )


def inputs():
    return np.random.default_rng(7).normal(size=(4, 9, 9, 2)).astype("float32")


def penalties(model):
    return np.array(
        [float(keras.ops.convert_to_numpy(v)) for v in model.losses]
    )


def main():
    keras.utils.set_random_seed(1)
    model = build_model()
    backend = keras.backend.backend()
    model.save(os.path.join(HERE, "data", f"saved_{backend}.keras"))
    np.savez(
        os.path.join(HERE, "data", f"saved_{backend}.npz"),
        outputs=model.predict(inputs(), verbose=0),
        penalties=penalties(model),
    )


if __name__ == "__main__":
    main()
