"""
Title: Approximate rotation equivariance in one line
Author: keras-approxeq developers
Date created: 2026/11/27
Last modified: 2026/12/05
Description: A small CNN, plain, with ProjectionRegularizer and with the
    recipe (ProjectionDecay at a rate and from a start chosen from the
    data), on almost
    rotation-invariant data.
Accelerator: None

Run it on any backend:

```
KERAS_BACKEND=jax python examples/demo.py          # or tensorflow, torch
KERAS_APPROXEQ_QUICK=1 python examples/demo.py     # a smoke run
```
"""

"""
## The data: almost, but not exactly, rotation-invariant

Each 14x14 image holds one noisy tetromino (an L, a T or an S), drawn at a
random position and turned by a random multiple of 90 degrees. The label is
the shape, which does not depend on the rotation, with one exception that
breaks the symmetry: an L standing upright (not turned) is a class of its
own. An exactly invariant network cannot tell that class from the other
Ls; a plain CNN must learn every orientation from few examples. An
approximately equivariant CNN gets the best of both. The images come from
`make_data(n, seed)` in `examples/tetrominoes.py`, which
`decay_vs_penalty.py` shares.
"""

import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
from tetrominoes import CLASSES
from tetrominoes import SIZE
from tetrominoes import make_data

from keras_approxeq import ProjectedInitializer
from keras_approxeq import ProjectionDecay
from keras_approxeq import ProjectionRegularizer
from keras_approxeq import equivariance_error
from keras_approxeq import select_strength

QUICK = os.environ.get("KERAS_APPROXEQ_QUICK") == "1" or "--quick" in sys.argv

"""
## The model

Three convolutions whose channels are regular fields of the rotation group
C4 (blocks of 4 channels, one per rotation), global pooling and a linear
classifier, pulled towards equivariance in one of two ways:

- the paper's penalty: `regularizer(...)` returns a
  `ProjectionRegularizer` for each layer. The same object regularises the
  kernel and the bias: a regular field's four channels must share one
  bias. The squared Frobenius norm (`"fro2"`) is smooth at zero, so Adam
  settles instead of jittering around an exactly equivariant kernel;
- the recipe: `constraint(...)` returns a `ProjectionDecay`, which
  removes a fraction `rate` of each kernel's non-equivariant part after
  every step, at a rate that `select_strength` chooses from the
  training data, together with where the pulled kernels start: from
  Keras' default initializer (`"own"`) or exactly equivariant at its
  variance (`"projected"`: `initializer(...)` returns a
  `ProjectedInitializer`; `regularize(..., reinitialize=True)` does the
  same to a built model).

Neither (strength and rate 0) is the plain CNN.
"""


def regularizer(in_rep, out_rep, strength):
    if strength == 0:
        return None
    return ProjectionRegularizer(
        "C4", in_rep=in_rep, out_rep=out_rep, norm="fro2", lambda_perp=strength
    )


def constraint(in_rep, out_rep, rate, layout=None):
    if rate == 0:
        return None
    return ProjectionDecay(
        "C4", in_rep=in_rep, out_rep=out_rep, rate=rate, layout=layout
    )


def initializer(in_rep, out_rep, rate, start):
    if rate == 0 or start == "own":
        return "glorot_uniform"
    return ProjectedInitializer("C4", in_rep=in_rep, out_rep=out_rep)


def build_model(strength=0.0, rate=0.0, start="own"):
    # Before the layers: an initializer without a seed draws one when it
    # is made.
    keras.utils.set_random_seed(0)
    layers = [keras.Input((SIZE, SIZE, 1))]
    in_rep = "trivial"
    for filters in (16, 16, 32):
        reg = regularizer(in_rep, "regular", strength)
        layers += [
            keras.layers.Conv2D(
                filters,
                3,
                padding="same",
                kernel_initializer=initializer(in_rep, "regular", rate, start),
                kernel_regularizer=reg,
                bias_regularizer=reg,
                kernel_constraint=constraint(in_rep, "regular", rate),
                bias_constraint=constraint(in_rep, "regular", rate, "bias"),
                data_format="channels_last",
            ),
            keras.layers.ReLU(),
        ]
        in_rep = "regular"
    layers += [
        keras.layers.GlobalMaxPooling2D("channels_last"),
        keras.layers.Dense(
            len(CLASSES),
            kernel_initializer=initializer("regular", "trivial", rate, start),
            kernel_regularizer=regularizer("regular", "trivial", strength),
            kernel_constraint=constraint("regular", "trivial", rate),
        ),
    ]
    model = keras.Sequential(layers)
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


"""
## Training and evaluation

The models train on the same 64 images and are tested on 2000 new ones,
for three training sets (seeds). The recipe first chooses its rate and
start on each training set: `select_strength` trains the model at each
of the rates 0.03, 0.1, 0.3 and 1 from each start, and at rate 0, three
times each, on two thirds of the images, scores it on the third left
out, keeps the start of the best score and, of that start's rates and
0, the largest within one standard error of the best score
(`rule="1se"`). The equivariance error
of the logits is `max_g max|f(g x) - f(x)| / max|f(x)|` over the four
rotations: 0 for an invariant network. The step time is the median over
all steps after the first epoch (which includes compilation).
"""


class StepTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def run(name, train, test, epochs, batch_size=16):
    if name == "plain CNN":
        model = build_model()
    elif name == "ProjectionRegularizer":
        model = build_model(strength=0.1)
    else:
        (rate, start), _ = select_strength(
            lambda rate, start: build_model(rate=rate, start=start),
            *train,
            starts=("own", "projected"),
            **SEARCH,
            rule="1se",
            verbose=False,
            epochs=epochs,
            batch_size=batch_size,
        )
        model = build_model(rate=rate, start=start)
        print(f"  recipe: rate {rate:g}, {start} start")
    timer = StepTimer()
    model.fit(*train, batch_size, epochs, verbose=0, callbacks=[timer])
    steps_per_epoch = -(-len(train[0]) // batch_size)
    step_time = float(np.median(timer.times[steps_per_epoch:]))
    _, accuracy = model.evaluate(*test, verbose=0)
    error = equivariance_error(model, test[0][:200], "C4")
    return accuracy, error, step_time


"""
## The run
"""

n_train, epochs, seeds = (32, 2, [1]) if QUICK else (64, 60, [1, 2, 3])
# select_strength's default rates (0 to 1) on 3 folds; a smoke run, 2 rates.
SEARCH = dict(strengths=(0.0, 1.0), folds=2) if QUICK else dict(folds=3)
test = make_data(2000, seed=0)
print(
    f"backend {keras.backend.backend()}: {n_train} training images, "
    f"{len(seeds)} seed(s), classes {CLASSES}"
)
results = {}
for name in ("plain CNN", "ProjectionRegularizer", "recipe"):
    runs = np.array(
        [run(name, make_data(n_train, s), test, epochs) for s in seeds]
    )
    results[name] = runs
    (acc, err, step), (acc_sd, err_sd, _) = runs.mean(0), runs.std(0)
    print(
        f"{name:>22}: test accuracy {acc:.3f} +- {acc_sd:.3f}, "
        f"equivariance error {err:.3f} +- {err_sd:.3f}, "
        f"step {1e3 * step:.2f} ms"
    )
ratio = (
    results["ProjectionRegularizer"][:, 2].mean()
    / results["plain CNN"][:, 2].mean()
)
print(
    f"penalty's share of the training step: {100 * (1 - 1 / ratio):.1f}% "
    f"(step-time ratio {ratio:.3f}; see benchmarks/regularizer_cost.py)"
)
