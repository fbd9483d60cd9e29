"""
Title: Rotated handwritten digits with an orientation cue
Author: keras-approxeq developers
Date created: 2026/12/05
Last modified: 2026/12/05
Description: Real images that are almost rotation-invariant: scikit-learn's
    handwritten digits, each turned by a random quarter turn except the 6s
    and 9s, which stay upright. A CNN of 16 regular C4 fields per layer
    learns them from 300 images: plain, exactly invariant, with the
    paper's penalty and with the recipe.
Accelerator: None

Run it on any backend (the flags are described under "The run"):

```
KERAS_BACKEND=jax python examples/rotated_digits.py
KERAS_APPROXEQ_QUICK=1 python examples/rotated_digits.py     # a smoke run
python examples/rotated_digits.py --only plain --only exact --seed 1
```
"""

"""
## The data

The 1797 8x8 grey-scale digits that ship with scikit-learn (no download),
scaled to [0, 1]. Each image is turned by a random multiple of 90
degrees, except the 6s and the 9s, which stay upright. The label is the
digit, so the task is C4-invariant for eight classes, and orientation is
a cue for the other two: a 9 turned by a half turn looks like a 6, and
only the pose says which it is. An exactly invariant network sees one
orbit where the task has two classes; a plain network must learn each
of the eight other digits in four poses from a few hundred images. Each
seed draws its own turns and its own 300 training images; the other
1497 are the test set. The images come from `make_data(seed, n_train)`
in `examples/digits.py`.
"""

import argparse
import functools
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
from digits import make_data

from keras_approxeq import ProjectedInitializer
from keras_approxeq import ProjectionDecay
from keras_approxeq import ProjectionRegularizer
from keras_approxeq import equivariance_error
from keras_approxeq import select_strength
from keras_approxeq.layers import FieldNormalization

"""
## The models

Three 3x3 convolutions of 64 channels (16 regular fields of C4: blocks of
4 channels, one per rotation; the first maps the grey-scale image, a
trivial field, to regular fields), global average pooling and a linear
classifier to invariant logits. One builder makes every model:

- `rate`: a `ProjectionDecay` of this rate on every kernel and bias
  (`0`: plain, `1`: exactly invariant);
- `lambda_perp`: the paper's `ProjectionRegularizer` (norm `"fro"`) on
  every kernel and bias instead;
- `projected`: kernels drawn by `ProjectedInitializer` (exactly
  equivariant, at the variance per entry of Keras' default initializer)
  instead of Keras' default;
- `normalization`: `None` (the rows below), or a normalisation layer
  after each convolution: `"batch"` (Keras' `BatchNormalization`),
  `"layer"` (`LayerNormalization` over the channels) or `"field"`
  (`FieldNormalization`, statistics and affine shared per field). Keras'
  layers keep a scale and an offset per channel; under a `rate` they get
  its decay as the biases do (`layout="bias"`), which ties them per
  field. `docs/runs/rotated_digits/normalization.py` compares them.
"""


def normalization_layer(kind, rate):
    """The layer after each convolution (see `build_model`)."""
    if kind == "field":
        return FieldNormalization("C4", rep="regular")
    tied = {}
    if rate > 0:
        decay = ProjectionDecay(
            "C4", out_rep="regular", rate=rate, layout="bias"
        )
        tied = {"beta_constraint": decay, "gamma_constraint": decay}
    if kind == "batch":
        return keras.layers.BatchNormalization(**tied)
    if kind == "layer":
        return keras.layers.LayerNormalization(**tied)
    raise ValueError(
        "Expected `normalization` to be None, 'batch', 'layer' or 'field'. "
        f"Received: normalization={kind!r}."
    )


def build_model(
    seed, rate=0.0, lambda_perp=None, projected=False, normalization=None
):
    keras.utils.set_random_seed(seed)

    def options(in_rep, out_rep, bias=True):
        reps = {"in_rep": in_rep, "out_rep": out_rep}
        kwargs = {}
        if rate > 0:
            kwargs["kernel_constraint"] = ProjectionDecay(
                "C4", rate=rate, **reps
            )
            if bias:
                kwargs["bias_constraint"] = ProjectionDecay(
                    "C4", rate=rate, layout="bias", **reps
                )
        if lambda_perp is not None:
            penalty = ProjectionRegularizer(
                "C4", lambda_perp=lambda_perp, **reps
            )
            kwargs["kernel_regularizer"] = penalty
            if bias:
                kwargs["bias_regularizer"] = penalty
        if projected:
            kwargs["kernel_initializer"] = ProjectedInitializer("C4", **reps)
        return kwargs

    layers = [keras.Input((8, 8, 1))]
    in_rep = "trivial"
    for _ in range(3):
        layers += [
            keras.layers.Conv2D(
                64, 3, padding="same", **options(in_rep, "regular")
            ),
        ]
        if normalization is not None:
            layers.append(normalization_layer(normalization, rate))
        layers += [keras.layers.ReLU()]
        in_rep = "regular"
    layers += [
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(10, **options("regular", "trivial", bias=False)),
    ]
    model = keras.Sequential(layers)
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


"""
The rows:

- **plain**: no pull;
- **exact**: rate 1 from a projected start, an exactly invariant network;
- **penalty**: `lambda_perp = 1e-2` from a projected start, what
  [Choosing](../docs/choosing.md) recommends for a first try;
- **recipe**: `ProjectionDecay` at the rate that `select_strength`
  chooses from 0, 0.03, 0.1, 0.3 and 1 by 3-fold cross-validation
  (one-standard-error rule), every candidate from Keras' initializer (as
  `regularize(..., reinitialize="auto")` leaves C4's 3x3 kernels);
- **recipe, projected start**: the same, every candidate with a rate
  above 0 started from `ProjectedInitializer` (whose default base is
  Keras' default initializer), as
  `regularize(..., reinitialize=True)` starts a built model;
- **recipe, both starts**: the README's recipe, which chooses the start
  with the rate (`select_strength(starts=("own", "projected"))`: every
  rate above 0 from both starts, rate 0 once).

Each fit of a `k`-fold cross-validation sees `(k - 1) / k` of the
images, so it trains for `k / (k - 1)` times the epochs (1.5 for 3
folds) to take as many steps as the final fit.
"""


RECIPE_STARTS = {
    "recipe": ("own",),
    "recipe, projected start": ("projected",),
    "recipe, both starts": ("own", "projected"),
}


def chosen(seed, train, epochs, starts, search, normalization=None):
    """The rate and start `select_strength` chooses, every candidate above
    rate 0 from each of `starts` ("own": Keras' initializer)."""

    def build(rate, start):
        projected = start == "projected" and rate > 0
        return build_model(
            seed, rate=rate, projected=projected, normalization=normalization
        )

    folds = search["folds"]
    best, scores = select_strength(
        build,
        *train,
        starts=starts,
        verbose=False,
        epochs=int(epochs * folds / (folds - 1)),
        batch_size=32,
        **search,
    )
    losses = {key: round(score, 3) for key, score in scores.items()}
    print(
        f"(seed {seed}, starts {starts}: held-out loss per candidate "
        f"{losses}, chosen {best})"
    )
    return best


def run(name, seed, data, epochs, search, normalization=None):
    train, test = data
    build = functools.partial(build_model, normalization=normalization)
    if name == "plain":
        model = build(seed)
    elif name == "exact":
        model = build(seed, rate=1.0, projected=True)
    elif name == "penalty":
        model = build(seed, lambda_perp=1e-2, projected=True)
    elif name in RECIPE_STARTS:
        starts = RECIPE_STARTS[name]
        rate, start = chosen(seed, train, epochs, starts, search, normalization)
        projected = start == "projected" and rate > 0
        model = build(seed, rate=rate, projected=projected)
    else:
        raise ValueError(f"Unknown model {name!r}; expected one of {MODELS}.")
    model.fit(*train, batch_size=32, epochs=epochs, verbose=0)
    accuracy = model.evaluate(*test, verbose=0)[1]
    error = equivariance_error(model, test[0][:200], "C4")
    return float(accuracy), float(error)


"""
## The run

Flags when run as a script, the defaults in a notebook (whose own flags
`parse_known_args` ignores); `KERAS_APPROXEQ_QUICK=1` is `--quick`.
`results` holds each model's `(test accuracy, equivariance error)` per
seed; the equivariance error of the logits is `max_g max|f(g x) - f(x)| /
max|f(x)|` over the four rotations of 200 test images (0: invariant).
"""

MODELS = ("plain", "exact", "penalty", *RECIPE_STARTS)
parser = argparse.ArgumentParser(description="rotated digits under C4")
parser.add_argument("--quick", action="store_true", help="a tiny run")
parser.add_argument(
    "--only",
    action="append",
    choices=MODELS,
    help="run only this model (repeatable)",
)
parser.add_argument(
    "--seed", type=int, action="append", help="run this seed (repeatable)"
)
parser.add_argument("--epochs", type=int, help="training epochs (default 120)")
parser.add_argument(
    "--normalization",
    choices=("batch", "layer", "field"),
    help="a normalisation layer after each convolution (default none)",
)
args, _ = parser.parse_known_args()
QUICK = args.quick or os.environ.get("KERAS_APPROXEQ_QUICK") == "1"
if QUICK:
    n_train, epochs, seeds = 32, 1, [0]
    search = {"strengths": (0.0, 1.0), "folds": 2}
else:
    n_train, epochs, seeds = 300, 120, [0, 1, 2]
    search = {"folds": 3}
seeds = args.seed or seeds
epochs = args.epochs or epochs
print(
    f"backend {keras.backend.backend()}: {n_train} training images, "
    f"{epochs} epochs, seeds {seeds}, normalization {args.normalization}"
)
results = {}
for name in args.only or MODELS:
    runs = np.array(
        [
            run(
                name,
                s,
                make_data(s, n_train),
                epochs,
                search,
                args.normalization,
            )
            for s in seeds
        ]
    )
    results[name] = runs
    (accuracy, error), (accuracy_sd, error_sd) = runs.mean(0), runs.std(0)
    print(
        f"{name:>24}: test accuracy {accuracy:.3f} +- {accuracy_sd:.3f} "
        f"(per seed {np.round(runs[:, 0], 3).tolist()}), equivariance "
        f"error {error:.3f} +- {error_sd:.3f}"
    )
