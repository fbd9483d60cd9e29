"""
Title: Approximate equivariance for a model you already have
Author: keras-approxeq developers
Date created: 2026/12/01
Last modified: 2026/12/01
Description: A keras.applications backbone made approximately C4-invariant
    with one call, trained briefly, then projected to an exactly
    invariant network.
Accelerator: None

```
KERAS_BACKEND=jax python examples/existing_model.py     # about a minute
KERAS_APPROXEQ_QUICK=1 python examples/existing_model.py  # a smoke run
```
"""

"""
## Setup

`regularize(model, group)` puts a `ProjectionRegularizer` on every kernel
of a built model (Conv, transposed, depthwise, separable and Dense), with
the layout each layer needs, and returns a clone with the same weights.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np

from keras_approxeq import equivariance_error
from keras_approxeq import equivariance_report
from keras_approxeq import project_weights
from keras_approxeq import regularize

QUICK = os.environ.get("KERAS_APPROXEQ_QUICK") == "1"
SIZE = 33  # odd: see "What keeps a whole network equivariant" below
keras.utils.set_random_seed(0)

"""
## A task that is almost rotation invariant

Images of 2 or 3 Gaussian blobs; the label is the number of blobs, which
no rotation changes. One blob in ten is elongated along the rows, a cue
that a quarter turn does change but the label ignores.
"""


def make_data(count, seed):
    rng = np.random.default_rng(seed)
    grid = np.arange(SIZE) - SIZE // 2
    rows, cols = np.meshgrid(grid, grid, indexing="ij")
    images = np.zeros((count, SIZE, SIZE, 3), "float32")
    labels = rng.integers(0, 2, size=count)
    for image, label in zip(images, labels):
        for _ in range(label + 2):
            r, c = rng.uniform(-10, 10, size=2)
            stretch = 3.0 if rng.random() < 0.1 else 1.0
            blob = np.exp(
                -((rows - r) ** 2) / (8 * stretch) - (cols - c) ** 2 / 8
            )
            image += blob[..., None] * rng.uniform(0.5, 1.0, size=3)
    return images, labels


n_train = 128 if QUICK else 512
x_train, y_train = make_data(n_train, seed=0)
x_test, y_test = make_data(64 if QUICK else 256, seed=1)

"""
## The backbone, made approximately invariant in one call

MobileNetV2 from `keras.applications`, untrained (`weights=None`). With
trivial fields (RGB in, logits out, every hidden channel a scalar) a C4
equivariant kernel is one that a quarter turn leaves unchanged. A 1x1 or
Dense kernel between scalars already is: `regularize` leaves those alone
and lists them.
"""

backbone = keras.applications.MobileNetV2(
    weights=None,
    input_shape=(SIZE, SIZE, 3),
    alpha=0.35,
    classes=2,
    classifier_activation=None,
)
model = regularize(backbone, "C4", lambda_perp=1e-2)
# keras.applications' BatchNormalization keeps moving statistics with a
# momentum of 0.999, made for long training runs: after a few hundred
# steps they are still the initial ones and the model predicts a constant.
for layer in model.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
        layer.momentum = 0.5
# Start from the equivariant kernels (the projection of the random ones, as
# `ProjectedInitializer` does for new layers): the penalty then only has
# to keep the non-equivariant part small where the data wants some.
project_weights(model)
model.compile(
    keras.optimizers.Adam(1e-3),
    keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
model.fit(
    x_train,
    y_train,
    batch_size=32,
    epochs=2 if QUICK else 8,
    verbose=0 if QUICK else 2,
)

"""
## How equivariant is it?

`equivariance_report` lists every regularised weight with its relative
non-equivariant part `||T - P T|| / ||T||`; `equivariance_error` measures
the whole model's outputs under the four quarter turns.
"""

report = equivariance_report(model)
print("\n".join(str(report).splitlines()[:6]), "\n...")
before = equivariance_error(model, x_test[:16], "C4")
accuracy_before = model.evaluate(x_test, y_test, verbose=0)[1]

"""
## Exactly invariant for deployment

`project_weights` replaces every regularised kernel by its projection.
Because the backbone was built to be equivariant end to end (next
section), the projected model is invariant up to float32 rounding; the
accuracy it gives up is what the non-equivariant parts had learned (one
full run on JAX: error 1.06 trained, 4.9e-6 projected; accuracy 0.711
trained, 0.648 projected).
"""

project_weights(model)
after = equivariance_error(model, x_test[:16], "C4")
accuracy_after = model.evaluate(x_test, y_test, verbose=0)[1]
print(f"equivariance error: {before:.3g} trained, {after:.3g} projected")
print(f"test accuracy: {accuracy_before:.3f} trained, {accuracy_after:.3f}")

"""
## What keeps a whole network equivariant

Equivariant kernels make each convolution commute with quarter turns
about the centre of its grid. The network as a whole does when nothing
else picks a direction:

* **Strided layers sample a symmetric grid**: a stride-2 layer with
  "valid" padding on a size `n` keeps the pixels `0, 2, ..., n - k`,
  symmetric about the centre only if `n - k` is even; "same" padding of an
  odd kernel is symmetric on odd sizes only (Keras pads the extra pixel at
  the end). An input of 33 keeps every stride-2 layer of MobileNetV2,
  ResNet50 and EfficientNetB0 on odd sizes (33, 17, 9, 5, 3); 32 does
  not, and there the projected model stays a few percent off.
* **Pooling** over whole windows on those grids, or global pooling.
* **Normalisation** per channel (BatchNormalization, LayerNormalization
  over channels) is equivariant for trivial fields; for regular fields
  every channel of a field must share its statistics
  (`keras_approxeq.layers.FieldNormalization`).
* **The head**: global pooling then Dense gives invariant logits.

The same trained and projected weights on 32x32 inputs (the layers do not
depend on the input size) leave the model visibly non-invariant:
"""

even = keras.applications.MobileNetV2(
    weights=None,
    input_shape=(32, 32, 3),
    alpha=0.35,
    classes=2,
    classifier_activation=None,
)
even.set_weights(model.get_weights())
even_error = equivariance_error(even, x_test[:16, :32, :32], "C4")
print(f"32x32 input, same weights: equivariance error {even_error:.3g}")
