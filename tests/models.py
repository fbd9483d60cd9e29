"""The small C4 CNN the tests share."""

import keras

from keras_approxeq import ProjectionRegularizer


def c4_cnn(input_shape=(9, 9, 1), lambda_perp=1e-2, outputs=3):
    """A lifting convolution to 2 regular C4 fields (`"lifting"`), one
    between them without a bias (`"hidden"`), a 1x1 convolution to
    `outputs` invariant channels (`"head"`) and global average pooling,
    with a `ProjectionRegularizer` on every kernel and bias (5 weights):
    exactly C4-invariant once projected.
    """

    def penalty(**reps):
        return ProjectionRegularizer("C4", lambda_perp=lambda_perp, **reps)

    lifting = penalty(out_rep="regular")
    head = penalty(in_rep="regular")
    common = dict(padding="same", data_format="channels_last")
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(
                8,
                3,
                activation="relu",
                kernel_regularizer=lifting,
                bias_regularizer=lifting,
                name="lifting",
                **common,
            ),
            keras.layers.Conv2D(
                8,
                3,
                activation="relu",
                use_bias=False,
                kernel_regularizer=penalty(in_rep="regular", out_rep="regular"),
                name="hidden",
                **common,
            ),
            keras.layers.Conv2D(
                outputs,
                1,
                kernel_regularizer=head,
                bias_regularizer=head,
                name="head",
                **common,
            ),
            keras.layers.GlobalAveragePooling2D("channels_last"),
        ]
    )
