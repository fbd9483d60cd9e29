"""
Title: Penalty or decoupled decay: two ways to pull towards equivariance
Author: keras-approxeq developers
Date created: 2026/11/27
Last modified: 2026/11/27
Description: ProjectionRegularizer against ProjectionDecay under Adam, on
    the demo's almost rotation-invariant tetrominoes.
Accelerator: None

```
KERAS_BACKEND=jax python examples/decay_vs_penalty.py
KERAS_APPROXEQ_QUICK=1 python examples/decay_vs_penalty.py  # a smoke run
```
"""

"""
## Why compare them

A penalty's gradient goes through the optimizer. Adam divides every
coordinate's gradient by its running scale, so the penalty's pull and the
task's are mixed per coordinate, and the non-equivariant part of a kernel
settles at a floor that the learning rate sets more than `lambda_perp`
does. `ProjectionDecay` shrinks the non-equivariant part after each step,
outside the optimizer, as AdamW decays weights. Both train the demo's
C4 CNN (`examples/demo.py`); we compare test accuracy, the model's
equivariance error and the layers' mean relative non-equivariant part
`||T - P T|| / ||T||`.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
from tetrominoes import CLASSES
from tetrominoes import SIZE
from tetrominoes import make_data

from keras_approxeq import ProjectionDecay
from keras_approxeq import ProjectionRegularizer
from keras_approxeq import equivariance_error
from keras_approxeq import equivariance_report

QUICK = os.environ.get("KERAS_APPROXEQ_QUICK") == "1" or "--quick" in sys.argv

"""
## The model

The demo's three C4 regular-field convolutions and linear classifier. Each
weight gets a `ProjectionRegularizer`; with `mode="decay"` its `lambda` is
0, so it only labels the weight for `equivariance_report`, and a
`ProjectionDecay` constraint does the work.
"""


def build_model(mode, strength):
    def parts(in_rep, out_rep, layout=None):
        lam = strength if mode == "penalty" else 0.0
        reg = ProjectionRegularizer(
            "C4", in_rep=in_rep, out_rep=out_rep, lambda_perp=lam, layout=layout
        )
        decay = None
        if mode == "decay":
            decay = ProjectionDecay(
                "C4", in_rep=in_rep, out_rep=out_rep, rate=strength
            )
        return reg, decay

    layers = [keras.Input((SIZE, SIZE, 1))]
    in_rep = "trivial"
    for filters in (16, 16, 32):
        reg, decay = parts(in_rep, "regular")
        bias_reg, bias_decay = parts("trivial", "regular", "bias")
        layers += [
            keras.layers.Conv2D(
                filters,
                3,
                padding="same",
                kernel_regularizer=reg,
                kernel_constraint=decay,
                bias_regularizer=bias_reg,
                bias_constraint=bias_decay,
                data_format="channels_last",
            ),
            keras.layers.ReLU(),
        ]
        in_rep = "regular"
    reg, decay = parts("regular", "trivial")
    layers += [
        keras.layers.GlobalMaxPooling2D("channels_last"),
        keras.layers.Dense(
            len(CLASSES), kernel_regularizer=reg, kernel_constraint=decay
        ),
    ]
    return keras.Sequential(layers)


def run(mode, strength, train, test, epochs):
    keras.utils.set_random_seed(0)
    model = build_model(mode, strength)
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(*train, batch_size=16, epochs=epochs, verbose=0)
    _, accuracy = model.evaluate(*test, verbose=0)
    error = equivariance_error(model, test[0][:200], "C4")
    kernels = [r for r in equivariance_report(model) if "kernel" in r["weight"]]
    residual = float(np.mean([r["relative_residual"] for r in kernels]))
    return accuracy, error, residual


"""
## The comparison

The same 64 training images (three seeds), 2000 test images; the penalty
with `lambda_perp` 0.1 (`"fro"`), the decay with rates 0.01 and 0.1 per
step.
"""

CASES = [
    ("plain", "none", 0.0),
    ("penalty fro, lambda 0.1", "penalty", 0.1),
    ("decay, rate 0.01", "decay", 0.01),
    ("decay, rate 0.1", "decay", 0.1),
]


n_train, epochs, seeds = (32, 2, [1]) if QUICK else (64, 60, [1, 2, 3])
test = make_data(2000, seed=0)
print(
    f"backend {keras.backend.backend()}: {n_train} training images, "
    f"{epochs} epochs, {len(seeds)} seed(s)"
)
results = {}
for name, mode, strength in CASES:
    runs = np.array(
        [
            run(mode, strength, make_data(n_train, s), test, epochs)
            for s in seeds
        ]
    )
    results[name] = runs
    mean, sd = runs.mean(0), runs.std(0)
    print(
        f"{name:>24}: accuracy {mean[0]:.3f} +- {sd[0]:.3f}, "
        f"equivariance error {mean[1]:.3f} +- {sd[1]:.3f}, "
        f"||T-PT||/||T|| {mean[2]:.4f} +- {sd[2]:.4f}"
    )
