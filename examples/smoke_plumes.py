"""
Title: Imperfectly symmetric dynamics: smoke plumes whose buoyancy breaks C4
Author: keras-approxeq developers
Date created: 2026/11/27
Last modified: 2026/12/05
Description: Next-frame prediction of 2D smoke-plume velocity fields
    simulated with phiflow, where the buoyancy's strength depends on its
    direction; seven CNNs from plain to exactly C4-equivariant.
Accelerator: None

Run it on any backend (the flags are described under "The run"):

```
KERAS_BACKEND=jax python examples/smoke_plumes.py
KERAS_APPROXEQ_QUICK=1 python examples/smoke_plumes.py     # a smoke run
python examples/smoke_plumes.py --only recipe --epochs 60
```
"""

"""
## The data

Following Wang, Walters & Yu (ICML 2022), a smoke plume rises from an
inflow at the middle of one of the four walls of a square box; buoyancy
pushes the smoke away from that wall. Turning the box by 90 degrees
turns one simulation into another, so the dynamics are C4-symmetric,
except that the buoyancy's *strength* depends on the wall: plumes from
wall `s` get `0.04 * (1 + s / 3) * m` for the magnitudes `m` of the
training set. A model that insists on exact C4 symmetry cannot tell the
walls apart; one that ignores the symmetry must learn each wall
separately.

The simulator is `phiflow` (MacCormack smoke advection, semi-Lagrangian
velocity advection, a pressure projection per step) on a 32 x 32 grid
(the paper's 64 x 64 and its 36 simulations are scaled down so that the
whole example runs on a CPU in minutes). The task: from the velocity
fields at `t - 1` and `t`, predict the field at `t + 1`. It is measured
by the RMSE on

- *future*: later frames of the training simulations,
- *domain*: simulations with a buoyancy magnitude never seen in training.

The simulations and the pairs are made in `examples/plumes.py`.
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
from plumes import HISTORY
from plumes import make_data

from keras_approxeq import ProjectedInitializer
from keras_approxeq import ProjectionDecay
from keras_approxeq import ProjectionRegularizer
from keras_approxeq import SampledEquivariance
from keras_approxeq import equivariance_error
from keras_approxeq import select_strength
from keras_approxeq.layers import RelaxedGroupConv2D
from keras_approxeq.layers import ResidualPathway

"""
## The models

Every model is the same CNN: four 3 x 3 convolutions with 8 C4 regular
fields each (32 channels, ReLU), then a 3 x 3 convolution to the velocity
(a `"standard"` field). The input is `HISTORY` velocity fields. What
differs is how each treats the symmetry:

| model | symmetry |
|---|---|
| plain | none |
| equivariant | exact: `ProjectionDecay(rate=1)` after each step |
| relaxed | `RelaxedGroupConv2D` (2 filter banks, mixing weights free) |
| relaxed + penalty | the same, projection penalty on the mixing weights |
| residual pathway | `ResidualPathway` layers (equivariant + free branch) |
| sampled (k = 4) | `SampledEquivariance`, 4 rotations per step |
| penalty | `Conv2D`s with `ProjectionRegularizer`, `ProjectedInitializer` |
| recipe | `ProjectionDecay(rate)`, rate and start chosen by `select_strength` |

The recipe is the README's: `ProjectionDecay(rate)` on every kernel and
bias, with the rate chosen from (0, 0.03, 0.1, 0.3, 1) and the start of
the kernels of a rate above 0 (Keras' default, or `ProjectedInitializer`
at its scale, as `regularize(..., reinitialize=True)` draws them; rate
0 is the plain model) by 3-fold cross-validation on the training pairs
(`select_strength(starts=("own", "projected"))`, one-standard-error
rule), then one model trained on all of them.
Neighbouring frames are nearly equal, so the folds are blocks of time
(each holds the same third of every simulation's frames) rather than
shuffled pairs, which would let a model score on frames it has almost
seen.
"""

FIELDS = 8
LAYERS = 4
RATES = (0.0, 0.03, 0.1, 0.3, 1.0)  # the recipe's candidates
FOLDS = 3


def _rep(i):
    return ["standard"] if i == 0 else "regular"


def convolution(kind, i, filters, out_rep, activation, lambda_perp):
    in_rep = _rep(i)
    common = dict(
        padding="same", activation=activation, data_format="channels_last"
    )
    if kind == "residual pathway":
        return ResidualPathway(
            filters,
            3,
            group="C4",
            in_rep=in_rep,
            out_rep=out_rep,
            kernel_initializer="he_normal",
            **common,
        )
    if kind.startswith("relaxed") and out_rep == "regular":
        return RelaxedGroupConv2D(
            FIELDS,
            3,
            group="C4",
            in_rep=in_rep,
            num_filter_banks=2,
            kernel_initializer="he_normal",
            lambda_perp=lambda_perp if kind == "relaxed + penalty" else 0.0,
            **common,
        )
    # An equivariant bias is constant over each regular field and zero on
    # a vector field: only the regular outputs keep one.
    use_bias = out_rep == "regular"
    args = {}
    if kind == "penalty":
        # Starts equivariant, with the variance of a plain initializer (a
        # plain kernel's projection keeps a quarter of it, and the penalty
        # soon removes the rest).
        args["kernel_initializer"] = ProjectedInitializer(
            "C4", in_rep=in_rep, out_rep=out_rep, base="glorot_uniform"
        )
        args["kernel_regularizer"] = ProjectionRegularizer(
            "C4", in_rep=in_rep, out_rep=out_rep, lambda_perp=lambda_perp
        )
        if use_bias:
            args["bias_regularizer"] = ProjectionRegularizer(
                "C4", out_rep=out_rep, lambda_perp=lambda_perp, layout="bias"
            )
    elif kind.startswith("recipe"):  # lambda_perp is the decay rate
        if lambda_perp > 0 and kind == "recipe, projected start":
            args["kernel_initializer"] = ProjectedInitializer(
                "C4", in_rep=in_rep, out_rep=out_rep, base="glorot_uniform"
            )
        args["kernel_constraint"] = ProjectionDecay(
            "C4", in_rep=in_rep, out_rep=out_rep, rate=lambda_perp
        )
        if use_bias:
            args["bias_constraint"] = ProjectionDecay(
                "C4", out_rep=out_rep, rate=lambda_perp, layout="bias"
            )
    elif kind in ("equivariant", "relaxed", "relaxed + penalty"):
        args["kernel_initializer"] = ProjectedInitializer(
            "C4", in_rep=in_rep, out_rep=out_rep, base="glorot_uniform"
        )
        args["kernel_constraint"] = ProjectionDecay(
            "C4", in_rep=in_rep, out_rep=out_rep, rate=1.0
        )
        if use_bias:
            args["bias_constraint"] = ProjectionDecay(
                "C4", in_rep="trivial", out_rep=out_rep, rate=1.0, layout="bias"
            )
    return keras.layers.Conv2D(filters, 3, use_bias=use_bias, **common, **args)


def build_model(kind, size, lambda_perp=1e-2):
    layers = [keras.Input((size, size, 2 * HISTORY))]
    for i in range(LAYERS):
        layers.append(
            convolution(kind, i, 4 * FIELDS, "regular", "relu", lambda_perp)
        )
    layers.append(convolution(kind, LAYERS, 2, ["standard"], None, lambda_perp))
    model = keras.Sequential(layers)
    if kind.startswith("sampled"):
        model = SampledEquivariance(
            model,
            "C4",
            in_rep="standard",
            out_rep="standard",
            num_samples=4,
            weight=1.0,
            data_format="channels_last",
        )
    return model


KINDS = [
    "plain",
    "equivariant",
    "relaxed",
    "relaxed + penalty",
    "residual pathway",
    "sampled (k = 4)",
    "penalty",
    "recipe",
]

"""
## Training and evaluation

Adam (`1e-3`), mean squared error, batch 16; each model with several
seeds. Besides the RMSEs, each model's equivariance error on the future
frames (`equivariance_error`, relative, over the 3 non-trivial rotations)
shows how much of the symmetry it kept.
"""


def rmse(model, data):
    prediction = model.predict(data[0], verbose=0, batch_size=64)
    return float(np.sqrt(np.mean((prediction - data[1]) ** 2)))


def compiled(kind, size, lambda_perp):
    model = build_model(kind, size, lambda_perp)
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    return model


def time_blocks(pairs, simulations, blocks):
    """The pairs reordered so that `blocks` contiguous parts each hold the
    same block of time of every simulation (the training pairs are stored
    simulation by simulation, in time order)."""
    x, y = pairs
    per_simulation = len(x) // simulations
    block = np.arange(per_simulation) * blocks // per_simulation
    order = np.lexsort(
        (
            np.tile(np.arange(per_simulation), simulations),
            np.repeat(np.arange(simulations), per_simulation),
            np.tile(block, simulations),
        )
    )
    return x[order], y[order]


def recipe_choice(train, size, epochs, seed, simulations, rates, folds):
    """The `ProjectionDecay` rate and start `select_strength` chooses."""
    keras.utils.set_random_seed(seed)
    choice, _ = select_strength(
        lambda r, start: compiled(f"recipe, {start} start", size, r),
        # Without folds, select_strength holds out the last quarter.
        *time_blocks(train, simulations, folds or 4),
        strengths=rates,
        starts=("own", "projected"),
        folds=folds,
        verbose=False,
        batch_size=16,
        epochs=epochs,
    )
    return choice


def run(kind, data, size, epochs, seed, lambda_perp=1e-2):
    train, future, domain = data
    keras.utils.set_random_seed(seed)
    model = compiled(kind, size, lambda_perp)
    model.fit(*train, batch_size=16, epochs=epochs, verbose=0)
    error = equivariance_error(
        model,
        future[0][:32],
        "C4",
        in_rep="standard",
        out_rep="standard",
        data_format="channels_last",
    )
    return rmse(model, future), rmse(model, domain), error


"""
## The run

Flags when run as a script, the defaults in a notebook (whose own flags
`parse_known_args` ignores); `KERAS_APPROXEQ_QUICK=1` is `--quick`.
`results` holds each model's `(RMSE future, RMSE domain, equivariance
error)` per seed.
"""

parser = argparse.ArgumentParser(description="Smoke plumes under C4")
parser.add_argument("--quick", action="store_true", help="a tiny run")
parser.add_argument(
    "--only", action="append", help="run only this model (repeatable)"
)
parser.add_argument(
    "--lambda-perp",
    type=float,
    action="append",
    help="lambda_perp of the penalised models (repeatable; default 0.01)",
)
parser.add_argument(
    "--epochs", type=int, help="training epochs of every model (default 20)"
)
args, _ = parser.parse_known_args()
QUICK = args.quick or os.environ.get("KERAS_APPROXEQ_QUICK") == "1"
if QUICK:
    size, frames, train_frames, magnitudes, unseen = 16, 8, 6, [1], 2
    epochs, seeds, warmup = 1, [0], 2
    rates, folds = (0.0, 1.0), None
else:
    size, frames, train_frames, magnitudes, unseen = 32, 40, 30, [1, 2, 3], 2.5
    epochs, seeds, warmup = 20, [0, 1, 2], 8
    rates, folds = RATES, FOLDS
epochs = args.epochs or epochs
data = make_data(size, frames, train_frames, magnitudes, unseen, warmup)
print(
    f"backend {keras.backend.backend()}: {len(data[0][0])} training "
    f"pairs of {size}x{size}, {epochs} epochs, {len(seeds)} seed(s)"
)

cases = []  # (name, kind, lambda_perp)
for kind in KINDS:
    if args.only and kind not in args.only:
        continue
    if "penalty" in kind:
        for lam in args.lambda_perp or [1e-2]:
            name = f"{kind} {lam:g}" if args.lambda_perp else kind
            cases.append((name, kind, lam))
    else:
        cases.append((kind, kind, 0.0))

print("| model | RMSE future | RMSE domain | equivariance error |")
print("|---|---|---|---|")
results = {}
simulations = 4 * len(magnitudes)
for name, kind, lam in cases:
    runs, chosen = [], []
    for seed in seeds:
        trained = kind
        if kind == "recipe":
            lam, start = recipe_choice(
                data[0], size, epochs, seed, simulations, rates, folds
            )
            chosen.append((lam, start))
            trained = f"recipe, {start} start"
        runs.append(run(trained, data, size, epochs, seed, lam))
    runs = np.array(runs)
    results[name] = runs
    mean, sd = runs.mean(0), runs.std(0)
    print(
        f"| {name} | "
        + " | ".join(f"{m:.4f} +- {s:.4f}" for m, s in zip(mean, sd))
        + " |"
    )
    if chosen:
        print(f"(recipe: (rate, start) chosen per seed {chosen})")
