"""
Title: How much symmetry? A study with a dial
Author: keras-approxeq developers
Date created: 2026/12/01
Last modified: 2026/12/07
Description: A teacher network whose symmetry is broken by a dial, from
    exactly C4-equivariant to not at all, learnt from three training-set
    sizes by a plain CNN, an exactly equivariant one, the recipe
    (`ProjectionDecay` at a strength and from a start chosen by
    `select_strength`), the
    paper's penalty at a fixed lambda, residual pathways and the
    sample-based regulariser.
Accelerator: None

```
KERAS_BACKEND=jax python examples/symmetry_breaking.py  # ~10 h, one core (est.)
KERAS_APPROXEQ_QUICK=1 python examples/symmetry_breaking.py  # a smoke run
KERAS_BACKEND=jax python examples/symmetry_breaking.py --sizes 32 --dials 0.1
KERAS_BACKEND=jax python examples/symmetry_breaking.py --noise 0.5  # noisier
```
"""

"""
## The task

Image-to-image regression on `16 x 16` smooth random images. The target
is a fixed random *teacher*, a two-layer CNN

    y = conv(tanh(2 conv(x, k1)), k2) + noise,

whose kernels are mixed from their equivariant and non-equivariant parts
by the dial `s`:

    k = P(k0) + s (k0 - P(k0)),

with `P` the projection onto the C4-equivariant kernels (trivial input
and output fields, two regular hidden fields). At `s = 0` the task is
exactly C4-equivariant; at `s = 1` its kernels are generic random ones,
with no symmetry at all. The targets are scaled to unit variance, so a
score is the test mean squared error relative to the target's variance.
The training targets carry Gaussian noise, 0.1 of their standard
deviation (a variance of 0.01; `--noise` sets it), the test targets
none. With 128 such images a plain student learns the teacher nearly
as well as any other model; with `--noise 0.5`, 128 images leave room
between the plain and the exact model too (`docs/results.md`).
"""

import argparse
import ast
import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np

from keras_approxeq import ProjectedInitializer
from keras_approxeq import ProjectionDecay
from keras_approxeq import ProjectionRegularizer
from keras_approxeq import SampledEquivariance
from keras_approxeq import project
from keras_approxeq import select_strength
from keras_approxeq.layers import ResidualPathway

"""
Flags when run as a script (a notebook's own flags are ignored):
`--steps` (optimizer steps per training, default 1600), `--folds`
(the recipe's cross-validation folds, default 3), `--sizes` and
`--dials` (comma-separated subsets, to split the study over processes),
`--noise` (the training targets' noise, default 0.1),
`--merge LOG...` (the table and figure from the split runs' output);
`KERAS_APPROXEQ_QUICK=1` is `--quick`.
"""

parser = argparse.ArgumentParser(description="The symmetry-breaking study")
parser.add_argument("--quick", action="store_true", help="a smoke run")
parser.add_argument("--steps", type=int, default=1600)
parser.add_argument("--folds", type=int, default=3)
parser.add_argument("--sizes", help="training-set sizes, e.g. 8,32,128")
parser.add_argument("--dials", help="dials, e.g. 0,0.03,0.1,0.3,1")
parser.add_argument(
    "--noise",
    type=float,
    default=0.1,
    help="the training targets' noise, relative to their standard deviation",
)
parser.add_argument(
    "--merge",
    nargs="+",
    metavar="LOG",
    help="train nothing: the table and figure from the output of runs "
    "split with --dials/--sizes",
)
args, _ = parser.parse_known_args()
QUICK = args.quick or os.environ.get("KERAS_APPROXEQ_QUICK") == "1"
SIZE, KERNEL, FIELDS = 16, 5, 4  # image side, kernel side, hidden fields
NOISE = args.noise
TEST = 32 if QUICK else 256
DIALS = (0.1,) if QUICK else (0.0, 0.03, 0.1, 0.3, 1.0)
TRAIN_SIZES = (8,) if QUICK else (8, 32, 128)
if args.dials and not QUICK:
    DIALS = tuple(float(d) for d in args.dials.split(","))
if args.sizes and not QUICK:
    TRAIN_SIZES = tuple(int(n) for n in args.sizes.split(","))
SEEDS = 1 if QUICK else 3
STEPS = 20 if QUICK else args.steps  # optimizer steps per training
RATES = (0.0, 1.0) if QUICK else (0.0, 0.03, 0.1, 0.3, 1.0)  # candidates
FOLDS = 2 if QUICK else args.folds
LEARNING_RATE = 3e-3


def smooth_images(count, rng):
    """White noise low-passed by a Gaussian, unit variance."""
    noise = rng.normal(size=(count, SIZE, SIZE))
    f = np.fft.fftfreq(SIZE)
    gain = np.exp(-2 * (1.2 * np.pi) ** 2 * (f[:, None] ** 2 + f[None] ** 2))
    images = np.real(np.fft.ifft2(np.fft.fft2(noise) * gain))
    return (images / images.std())[..., None].astype("float32")


def teacher(dial):
    rng = np.random.default_rng(1000)  # one teacher, every seed and dial
    kernels = []
    for shape, in_rep, out_rep in (
        ((KERNEL, KERNEL, 1, 8), "trivial", "regular"),
        ((KERNEL, KERNEL, 8, 1), "regular", "trivial"),
    ):
        k0 = rng.normal(size=shape) / (KERNEL * np.sqrt(shape[2]))
        equivariant = project(k0, "C4", in_rep=in_rep, out_rep=out_rep)
        kernels.append(
            (equivariant + dial * (k0 - equivariant)).astype("float32")
        )

    def target(x):
        hidden = np.tanh(
            2
            * keras.ops.conv(
                x, kernels[0], padding="same", data_format="channels_last"
            )
        )
        return keras.ops.convert_to_numpy(
            keras.ops.conv(
                hidden, kernels[1], padding="same", data_format="channels_last"
            )
        )

    return target


def make_data(dial, count, seed):
    """`count` noisy training pairs and `TEST` clean test pairs."""
    rng = np.random.default_rng(seed)
    x = smooth_images(count + TEST, rng)
    y = teacher(dial)(x)
    y = (y / y[count:].std()).astype("float32")
    noisy = y[:count] + NOISE * rng.normal(size=y[:count].shape)
    return (x[:count], noisy.astype("float32")), (x[count:], y[count:])


"""
## The models

One architecture for all: three `5 x 5` convolutions, trivial -> 4
regular C4 fields (16 channels) -> 4 regular fields -> trivial, ReLU
between. Only what pulls it towards equivariance, and where the pulled
kernels start, differ:

- plain: Keras' defaults;
- exact: the same with `ProjectionDecay(rate=1)`, projected after every
  step;
- recipe: the same with `ProjectionDecay(rate)`, the rate and the start
  of the pulled kernels (Keras' own or `ProjectedInitializer`'s) chosen
  by `select_strength(starts=("own", "projected"))` by cross-validation
  on the training set (`--folds`, default 3);
- penalty: `ProjectedInitializer` and the paper's
  `ProjectionRegularizer(norm="fro", lambda_perp=1e-2)`;
- residual pathway: `ResidualPathway` layers (kernel `P(A) + B`, `B`
  under L2);
- sampled: the plain CNN under `SampledEquivariance` (one rotation per
  step).
"""

FIELD_TYPES = (
    ("trivial", "regular"),
    ("regular", "regular"),
    ("regular", "trivial"),
)


def conv(kind, in_rep, out_rep, rate=None, projected=False):
    filters = 1 if out_rep == "trivial" else 4 * FIELDS
    activation = None if out_rep == "trivial" else "relu"
    common = dict(
        padding="same", activation=activation, data_format="channels_last"
    )
    if kind == "residual pathway":
        return ResidualPathway(
            filters,
            KERNEL,
            group="C4",
            in_rep=in_rep,
            out_rep=out_rep,
            **common,
        )
    if kind == "sampled" or (kind == "decay" and rate == 0):
        return keras.layers.Conv2D(filters, KERNEL, **common)
    if kind == "penalty":
        penalty = dict(group="C4", in_rep=in_rep, out_rep=out_rep)
        return keras.layers.Conv2D(
            filters,
            KERNEL,
            kernel_initializer=ProjectedInitializer(**penalty),
            kernel_regularizer=ProjectionRegularizer(**penalty),
            bias_regularizer=ProjectionRegularizer(**penalty, layout="bias"),
            **common,
        )
    start = {}
    if projected:
        start["kernel_initializer"] = ProjectedInitializer(
            "C4", in_rep=in_rep, out_rep=out_rep
        )
    return keras.layers.Conv2D(
        filters,
        KERNEL,
        **start,
        kernel_constraint=ProjectionDecay(
            "C4", in_rep=in_rep, out_rep=out_rep, rate=rate
        ),
        bias_constraint=ProjectionDecay(
            "C4", in_rep=in_rep, out_rep=out_rep, rate=rate, layout="bias"
        ),
        **common,
    )


def build_model(kind, seed, rate=None, projected=False):
    """`projected`: a `"decay"` model's kernels start from
    `ProjectedInitializer` (one of the recipe's two starts) instead of
    Keras' default, which the plain and exact rows keep."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 1))
    x = inputs
    for in_rep, out_rep in FIELD_TYPES:
        x = conv(kind, in_rep, out_rep, rate, projected)(x)
    model = keras.Model(inputs, x)
    if kind == "sampled":
        model = SampledEquivariance(model, "C4", data_format="channels_last")
    model.compile(keras.optimizers.Adam(LEARNING_RATE), "mse")
    return model


def fit_kwargs(count):
    """`STEPS` optimizer steps on `count` images, in batches of 16 at most.

    Steps, not epochs, are held fixed: a `ProjectionDecay` acts once per
    step, so the cross-validation fits on two thirds of the images must
    take as many steps as the final fit for their rates to mean the same.
    """
    batch = min(count, 16)
    steps_per_epoch = -(-count // batch)
    return dict(batch_size=batch, epochs=max(1, round(STEPS / steps_per_epoch)))


def relative_error(model, x, y):
    return float(np.mean((model.predict(x, verbose=0) - y) ** 2))


"""
## The recipe

The README's recipe: `select_strength` trains one model per
`ProjectionDecay` rate (0, 0.03, 0.1, 0.3, 1: from the plain model to
the exact one), every rate above 0 from two starts (Keras' default
kernels, `"own"`, and kernels drawn by `ProjectedInitializer`,
`"projected"`), three times each, each time on two thirds of the
training set, and scores it on the third left out (eight images leave
two or three per held-out part: one held-out part would be too noisy
to choose by). It keeps the start of the lowest mean held-out error,
and with `rule="1se"` returns that start's largest rate whose mean is
within one standard error of the lowest (that of the mean of the
per-image differences); `rule="min"` would return the lowest's. The
final model trains on all of the training set.

The plain model is the rate-0 model and the exact one the rate-1 model
from Keras' start, so every candidate is trained on the full training
set once and tested: the study reports the recipe under both rules, and
the plain and exact models, from the same runs.
"""

STARTS = ("own", "projected")


def study_cell(data, seed):
    """Test errors of every model on one training set."""
    (x, y), (x_test, y_test) = data

    def tested(kind, rate=None, start="own"):
        projected = start == "projected" and rate > 0
        model = build_model(kind, seed, rate, projected)
        model.fit(x, y, verbose=0, **fit_kwargs(len(x)))
        return relative_error(model, x_test, y_test)

    choice, cv_scores = select_strength(
        lambda rate, start: build_model(
            "decay", seed, rate, start == "projected" and rate > 0
        ),
        x,
        y,
        strengths=RATES,
        starts=STARTS,
        folds=FOLDS,
        rule="1se",
        verbose=False,
        **fit_kwargs(len(x) - len(x) // FOLDS),
    )
    min_choice = min(cv_scores, key=cv_scores.get)
    by_candidate = {c: tested("decay", *c) for c in cv_scores}
    errors = {
        "plain": by_candidate[0.0, "own"],
        "exact": by_candidate[1.0, "own"],
        "recipe": by_candidate[choice],
        "recipe, min rule": by_candidate[min_choice],
        "best rate, in hindsight": min(by_candidate.values()),
    }
    for kind in ("penalty", "residual pathway", "sampled"):
        errors[kind] = tested(kind)
    return errors, (choice, min_choice)


"""
## The study
"""

MODELS = (
    "plain",
    "exact",
    "recipe",
    "recipe, min rule",
    "best rate, in hindsight",
    "penalty",
    "residual pathway",
    "sampled",
)
scores = {}  # (dial, size, model) -> one error per seed
rates = {}  # (dial, size) -> the recipe's (1se, min) choices per seed


def print_row(dial, size):
    row = " | ".join(
        f"{np.mean(scores[dial, size, k]):.3f} +- "
        f"{np.std(scores[dial, size, k]):.3f}"
        for k in MODELS
    )
    print(f"| {dial} | {size} | {row} | {rates[dial, size]} |", flush=True)


def read_logs(paths):
    """`scores` and `rates` from earlier runs' output (a study split over
    processes with `--dials`/`--sizes`): the `seeds` lines and the rates
    column of the table rows."""
    for path in paths:
        with open(path) as f:
            for line in f:
                if line.startswith("seeds "):
                    _, dial, size, cell = line.split(" ", 3)
                    cell = json.loads(cell)
                    for kind in MODELS:
                        scores[float(dial), int(size), kind] = cell[kind]
                elif line.startswith("| ") and line.split()[1][0].isdigit():
                    cells = line.strip().strip("|").split(" | ")
                    key = (float(cells[0]), int(cells[1]))
                    rates[key] = ast.literal_eval(cells[-1])
    cells = {key[:2] for key in scores}
    return tuple(sorted({d for d, _ in cells})), tuple(
        sorted({n for _, n in cells})
    )


print(f"| dial | images | {' | '.join(MODELS)} | chosen (1se, min) |")
print("|---" * (len(MODELS) + 3) + "|")
if args.merge:
    DIALS, TRAIN_SIZES = read_logs(args.merge)
    for dial in DIALS:
        for size in TRAIN_SIZES:
            if (dial, size) in rates:
                print_row(dial, size)
else:
    for dial in DIALS:
        for size in TRAIN_SIZES:
            for seed in range(SEEDS):
                errors, chosen = study_cell(make_data(dial, size, seed), seed)
                for kind in MODELS:
                    scores.setdefault((dial, size, kind), []).append(
                        errors[kind]
                    )
                rates.setdefault((dial, size), []).append(chosen)
            print_row(dial, size)
            cell = {k: scores[dial, size, k] for k in MODELS}
            print(f"seeds {dial} {size} {json.dumps(cell)}", flush=True)

"""
## Against the better of plain and exact

Per cell, the recipe's error minus the lower of the plain and the exact
model's errors (negative: the recipe wins), and the spread: the largest
standard deviation over the seeds of the three. Every model of a seed
learns from the same images, so the paired spread, the standard
deviation over the seeds of the difference itself, is printed and drawn
too. A cell that `--merge` finds no run for is left blank.
"""

gain = np.full((len(DIALS), len(TRAIN_SIZES)), np.nan)  # nan: not run
spread = np.full_like(gain, np.nan)
paired = np.full_like(gain, np.nan)
for i, dial in enumerate(DIALS):
    for j, size in enumerate(TRAIN_SIZES):
        if (dial, size) not in rates:
            continue
        means = {k: np.mean(scores[dial, size, k]) for k in MODELS}
        gain[i, j] = means["recipe"] - min(means["plain"], means["exact"])
        spread[i, j] = max(
            np.std(scores[dial, size, k]) for k in ("plain", "exact", "recipe")
        )
        better = min(("plain", "exact"), key=means.get)
        recipe = scores[dial, size, "recipe"]
        paired[i, j] = np.std(np.subtract(recipe, scores[dial, size, better]))
        print(
            f"dial {dial}, {size} images: recipe - best of plain and exact "
            f"= {gain[i, j]:+.4f} (spread {spread[i, j]:.4f}, paired "
            f"{paired[i, j]:.4f})"
        )

if not QUICK:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6))
    limit = np.nanmax(np.abs(gain))
    image = ax.imshow(gain, cmap="RdBu_r", vmin=-limit, vmax=limit)
    for i in range(len(DIALS)):
        for j in range(len(TRAIN_SIZES)):
            label = (
                f"{gain[i, j]:+.3f}\n+-{spread[i, j]:.3f}"
                f"\npaired {paired[i, j]:.3f}"
            )
            ax.text(
                j,
                i,
                "not run" if np.isnan(gain[i, j]) else label,
                ha="center",
                va="center",
                fontsize=9,
                color="white" if abs(gain[i, j]) > 0.6 * limit else "black",
            )
    ax.set_xticks(range(len(TRAIN_SIZES)), [str(n) for n in TRAIN_SIZES])
    ax.set_yticks(range(len(DIALS)), [str(d) for d in DIALS])
    ax.set_xlabel("training images")
    ax.set_ylabel("symmetry breaking (0: exact, 1: none)")
    ax.set_title(
        "recipe - best of plain and exact\n(relative MSE; < 0: recipe better)"
    )
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    name = "symmetry_breaking"
    if STEPS != 1600:
        name += f"_{STEPS}_steps"
    if NOISE != 0.1:
        name += f"_noise_{NOISE:g}"
    name += ".png"
    fig.savefig(name, dpi=120)
    print(f"wrote {name}")
