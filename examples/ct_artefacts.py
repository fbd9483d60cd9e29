"""
Title: CT metal-artefact reduction under C4
Author: keras-approxeq developers
Date created: 2026/11/27
Last modified: 2026/12/06
Description: A CNN removes the streaks that metal inserts leave in
    filtered back-projections of sparse, damaged sinograms; the projection
    penalty against a plain CNN, the sample-based regulariser, residual
    pathways, a model projected after training and the recipe
    (`ProjectionDecay` at a rate and from a start chosen from the data),
    with the paper's norm and lambda ablations.
Accelerator: None

Run it on any backend; the flags (see "The run" below) choose the models,
the seeds and the matched-equivariance search:

```
KERAS_BACKEND=jax python examples/ct_artefacts.py
KERAS_APPROXEQ_QUICK=1 python examples/ct_artefacts.py     # a smoke run
python examples/ct_artefacts.py --only plain --only recipe --seeds 3
python examples/ct_artefacts.py --matched fro --matched 2,1
```
"""

"""
## The data

Phantoms are sums of random ellipses inside an elliptic body, plus small
discs of metal (attenuation 2, against at most 1 for tissue). Their
sinograms (`skimage.transform.radon`, 60 views over 180 degrees) are
damaged the way metal damages a real scan: every ray through metal is
*photon-starved*, its line integral clipped at a ceiling, and noise is
added. Filtered back-projection (`iradon`, ramp filter) of the damaged
sinogram gives an image with dark and bright streaks between the metal
inserts; the network learns to map it back to the phantom.

Reconstruction nearly commutes with quarter turns (the 60 views map onto
themselves; scikit-image's interpolations leave about 7 % of difference,
more around the metal), so the artefacts are almost C4-equivariant; the
*anatomy* is not C4-invariant: bodies are wider than tall and lie on a
horizontal table, as patients do. The symmetry is approximate.

The test set is 40 random phantoms and the Shepp-Logan phantom of
scikit-image, with metal. Quality is measured by PSNR and SSIM
(`skimage.metrics`) against the phantom. The phantoms, the damaged
reconstructions and the two measures are in `examples/ct_data.py`.
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
from ct_data import make_data
from ct_data import quality

from keras_approxeq import ProjectedInitializer
from keras_approxeq import ProjectionDecay
from keras_approxeq import ProjectionRegularizer
from keras_approxeq import SampledEquivariance
from keras_approxeq import equivariance_error
from keras_approxeq import equivariance_report
from keras_approxeq import project_weights
from keras_approxeq import select_strength
from keras_approxeq.diagnostics.report import regularized_weights
from keras_approxeq.layers import ResidualPathway

"""
## The models

One residual CNN, `output = input + f(input)`: five 3 x 3 convolutions,
the hidden ones with 8 C4 regular fields (32 channels, ReLU), the last
back to one trivial channel. Treatments:

- *plain*: no regularizer;
- *sampled*: `SampledEquivariance` with `k = 1` rotation per step;
- *residual pathway*: `ResidualPathway` layers;
- *equivariant*: exactly C4-equivariant from start to end
  (`ProjectedInitializer`, and `ProjectionDecay(rate=1)` projects every
  kernel and bias after each step): what the symmetry alone allows;
- *penalty, <norm>, lambda*: `ProjectionRegularizer` on every kernel
  and bias (the norm ablation at `lambda_perp = 0.1`, the lambda ablation
  with `"fro"`);
- *projected*: the penalty model (`"fro"`, `0.1`) after
  `project_weights`, exactly C4-equivariant;
- *recipe*: the README's recipe. `ProjectionDecay(rate)` on every
  kernel and bias, the rate chosen from (0, 0.03, 0.1, 0.3, 1) and the
  start of the kernels of a rate above 0 (Keras' default, or
  `ProjectedInitializer` at its scale, as
  `regularize(..., reinitialize=True)` draws them; rate 0 is the plain
  model) by `select_strength(starts=("own", "projected"))` (3-fold
  cross-validation on the training set, one-standard-error rule), then
  one model trained on all of it.
"""

FIELDS = 8
LAYERS = 5
RATES = (0.0, 0.03, 0.1, 0.3, 1.0)  # the recipe's candidates
FOLDS = 3
# The recipe's models by the start of their pulled kernels.
DECAY_KINDS = {"decay": "projected", "decay, own start": "own"}


def _reps(i):
    in_rep = "trivial" if i == 0 else "regular"
    out_rep = "trivial" if i == LAYERS - 1 else "regular"
    return in_rep, out_rep


def conv(i, kind, norm, lambda_perp):
    in_rep, out_rep = _reps(i)
    filters = 1 if out_rep == "trivial" else 4 * FIELDS
    activation = None if i == LAYERS - 1 else "relu"
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
    args = {}
    if kind == "penalty":
        args["kernel_regularizer"] = ProjectionRegularizer(
            "C4",
            in_rep=in_rep,
            out_rep=out_rep,
            norm=norm,
            lambda_perp=lambda_perp,
        )
        args["bias_regularizer"] = ProjectionRegularizer(
            "C4",
            out_rep=out_rep,
            norm=norm,
            lambda_perp=lambda_perp,
            layout="bias",
        )
    elif kind in DECAY_KINDS:  # the recipe: lambda_perp is the decay rate
        if lambda_perp > 0 and DECAY_KINDS[kind] == "projected":
            args["kernel_initializer"] = ProjectedInitializer(
                "C4", in_rep=in_rep, out_rep=out_rep, base="glorot_uniform"
            )
        args["kernel_constraint"] = ProjectionDecay(
            "C4", in_rep=in_rep, out_rep=out_rep, rate=lambda_perp
        )
        args["bias_constraint"] = ProjectionDecay(
            "C4", out_rep=out_rep, rate=lambda_perp, layout="bias"
        )
    elif kind == "equivariant":
        args["kernel_initializer"] = ProjectedInitializer(
            "C4", in_rep=in_rep, out_rep=out_rep, base="glorot_uniform"
        )
        args["kernel_constraint"] = ProjectionDecay(
            "C4", in_rep=in_rep, out_rep=out_rep, rate=1.0
        )
        args["bias_constraint"] = ProjectionDecay(
            "C4", in_rep="trivial", out_rep=out_rep, rate=1.0, layout="bias"
        )
    return keras.layers.Conv2D(filters, 3, **common, **args)


def build_model(kind, size, norm="fro", lambda_perp=0.1):
    inputs = keras.Input((size, size, 1))
    x = inputs
    for i in range(LAYERS):
        x = conv(i, kind, norm, lambda_perp)(x)
    model = keras.Model(inputs, keras.layers.Add()([inputs, x]))
    if kind == "sampled":
        model = SampledEquivariance(
            model, "C4", num_samples=1, weight=1.0, data_format="channels_last"
        )
    return model


"""
## Training and metrics

Adam (`1e-3`), mean squared error, batch 16. PSNR and SSIM over the
test images, with the phantom's range (0 to 2) as data range; the
equivariance error (relative, over the three quarter turns) on test
images; for penalised models, the mean `||T - P T|| / ||T||` of their
kernels.
"""


def evaluate(model, test):
    psnr, ssim = quality(model.predict(test[0], verbose=0), test[1])
    error = equivariance_error(
        model, test[0][:16], "C4", data_format="channels_last"
    )
    kernels = [
        r["relative_residual"]
        for r in (
            equivariance_report(model) if regularized_weights(model) else []
        )
        if "kernel" in r["weight"]
    ]
    # No penalty (plain, decays, baselines): the column does not apply.
    residual = float(np.mean(kernels)) if kernels else float("nan")
    return psnr, ssim, error, residual


def compiled(kind, size, norm="fro", lambda_perp=0.1):
    model = build_model(kind, size, norm, lambda_perp)
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    return model


def train(
    kind,
    train_data,
    size,
    epochs,
    seed,
    norm="fro",
    lambda_perp=0.1,
    callbacks=None,
):
    keras.utils.set_random_seed(seed)
    model = compiled(kind, size, norm, lambda_perp)
    model.fit(
        *train_data,
        batch_size=16,
        epochs=epochs,
        verbose=0,
        callbacks=callbacks,
    )
    return model


class StepTimer(keras.callbacks.Callback):
    """Seconds per training step after the first (which compiles)."""

    def on_train_begin(self, logs=None):
        self.start, self.steps = None, 0

    def on_train_batch_end(self, batch, logs=None):
        if self.start is None:
            self.start = time.perf_counter()
        else:
            self.steps += 1

    def on_train_end(self, logs=None):
        elapsed = time.perf_counter() - self.start
        self.step_time = elapsed / max(self.steps, 1)


def recipe_choice(train_data, size, epochs, seed, rates=RATES, folds=FOLDS):
    """The recipe's model kind and `ProjectionDecay` rate, as
    `select_strength` chooses them."""
    kinds = {start: kind for kind, start in DECAY_KINDS.items()}
    keras.utils.set_random_seed(seed)
    (rate, start), scores = select_strength(
        lambda r, start: compiled(kinds[start], size, lambda_perp=r),
        *train_data,
        strengths=rates,
        starts=("own", "projected"),
        folds=folds,
        verbose=False,
        batch_size=16,
        epochs=epochs,
    )
    held_out = ", ".join(f"{r} {at}: {v:.4g}" for (r, at), v in scores.items())
    print(f"(recipe, seed {seed}: held-out loss {held_out})")
    return kinds[start], rate


"""
## The norm ablation at matched equivariance

At one `lambda_perp` the norms pull with strengths that differ by orders
of magnitude, so a comparison there says more about their scale than
their quality. `--matched` compares them at the same equivariance
instead: for each norm it trains the penalised model at `lambda_perp`
1e-4, 1e-3, 1e-2, 0.1 and 1 (and, at most twice, 100 times below or
above that, where these do not reach a residual above 0.2 or below 0.05:
the nuclear norm pulls so hard that 1e-4 already gives 0.002),
interpolates `log lambda` against `log` of the mean relative residual
`||T - P T|| / ||T||` of the kernels, trains at the `lambda_perp` that
should reach each target residual (0.05 and 0.2), and, once, at a second
interpolation where the first missed by more than a factor of 1.5. It
reports the run closest to each target with its PSNR, SSIM, the residual
reached and the training step time (after the first step, which
compiles).
"""

MATCHED_LEVELS = (0.05, 0.2)
MATCHED_SWEEP = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
MATCHED_WIDENINGS = 2  # extra runs, each 100 times beyond the sweep


def interpolated_lambda(runs, level):
    """`lambda` where `log residual` crosses `log level`, linearly in
    `log lambda` between the nearest runs around it (or the end runs)."""
    points = sorted(runs.items())
    lams = np.log([lam for lam, _ in points])
    logs = np.log([max(run["residual"], 1e-12) for _, run in points])
    target = np.log(level)
    for i in range(len(points) - 1):
        a, b = logs[i], logs[i + 1]
        if (a - target) * (b - target) <= 0 and a != b:
            t = (target - a) / (b - a)
            return float(np.exp(lams[i] + t * (lams[i + 1] - lams[i])))
    # Not bracketed: the end whose residual is nearest the level.
    return points[int(np.argmin(np.abs(logs - target)))][0]


def widened_lambda(runs):
    """The `lambda` 100 times below (or above) the runs, if their residuals
    do not bracket both levels; else `None`."""
    low, high = min(runs), max(runs)
    if runs[low]["residual"] < max(MATCHED_LEVELS):
        return low / 100
    if runs[high]["residual"] > min(MATCHED_LEVELS):
        return high * 100
    return None


def matched_run(norm, train_data, test, size, epochs, seed, lam):
    timer = StepTimer()
    model = train("penalty", train_data, size, epochs, seed, norm, lam, [timer])
    psnr, ssim, _, residual = evaluate(model, test)
    return {
        "psnr": psnr,
        "ssim": ssim,
        "residual": residual,
        "step": timer.step_time,
    }


def matched_equivariance(norms, train_data, test, size, epochs, seed, sweep):
    """`{norm: {level: (lambda, run)}}` and every run, per norm."""
    chosen, runs = {}, {}

    def train_at(norm, lam):
        if lam not in runs[norm]:
            runs[norm][lam] = matched_run(
                norm, train_data, test, size, epochs, seed, lam
            )
        return runs[norm][lam]

    for norm in norms:
        runs[norm] = {}
        for lam in sweep:
            train_at(norm, lam)
        # Widen the sweep until it brackets both levels: some norms pull
        # orders of magnitude harder than others at the same lambda.
        for _ in range(MATCHED_WIDENINGS):
            lam = widened_lambda(runs[norm])
            if lam is None:
                break
            train_at(norm, lam)
        chosen[norm] = {}
        for level in MATCHED_LEVELS:
            for _ in range(2):
                lam = interpolated_lambda(runs[norm], level)
                ratio = train_at(norm, lam)["residual"] / level
                if 1 / 1.5 <= ratio <= 1.5:
                    break
            best = min(
                runs[norm],
                key=lambda x: abs(np.log(runs[norm][x]["residual"] / level)),
            )
            chosen[norm][level] = best, runs[norm][best]
    return chosen, runs


def configurations(quick):
    """Name -> (kind, norm, lambda_perp), and which are headline ones."""
    headline = {
        "plain": ("plain", "fro", 0.0),
        "sampled (k = 1)": ("sampled", "fro", 0.0),
        "residual pathway": ("residual pathway", "fro", 0.0),
        "equivariant": ("equivariant", "fro", 0.0),
        "penalty fro 0.1": ("penalty", "fro", 0.1),
        "recipe": ("decay", "fro", None),
    }
    norms = (
        ["spectral"]
        if quick
        else ["fro2", "l1", "linf", (2, 1), "spectral", "nuclear"]
    )
    lambdas = [1.0] if quick else [1e-3, 1e-2, 1.0]
    ablation = {f"penalty {_name(n)} 0.1": ("penalty", n, 0.1) for n in norms}
    ablation.update(
        {f"penalty fro {lam:g}": ("penalty", "fro", lam) for lam in lambdas}
    )
    return headline, ablation


def _parse_norm(text):
    """`"fro"` -> `"fro"`, `"2,1"` -> `(2, 1)`."""
    if "," in text:
        return tuple(int(p) for p in text.split(","))
    return text


def report_matched(result):
    chosen, runs = result
    print("\nEvery run of the search (norm, lambda: PSNR, residual):")
    for norm, by_lambda in runs.items():
        cells = [
            f"{lam:.3g}: {run['psnr']:.2f} dB, {run['residual']:.3g}"
            for lam, run in sorted(by_lambda.items())
        ]
        print(f"- {_name(norm)}: " + "; ".join(cells))
    print(
        "\n| norm | target `‖T-PT‖/‖T‖` | lambda_perp | reached | PSNR (dB) "
        "| SSIM | step (ms) |"
    )
    print("|---|---|---|---|---|---|---|")
    for norm, levels in chosen.items():
        for level, (lam, run) in levels.items():
            print(
                f"| {_name(norm)} | {level:g} | {lam:.3g} | "
                f"{run['residual']:.3g} | {run['psnr']:.2f} | "
                f"{run['ssim']:.4f} | {1e3 * run['step']:.1f} |"
            )
    return result


def _name(norm):
    return norm if isinstance(norm, str) else f"mixed{norm}".replace(" ", "")


"""
## The run

Flags when run as a script, the defaults in a notebook (whose own flags
`parse_known_args` ignores); `KERAS_APPROXEQ_QUICK=1` is `--quick`.
"""

parser = argparse.ArgumentParser(description="CT artefact reduction")
parser.add_argument("--quick", action="store_true", help="a tiny run")
parser.add_argument(
    "--only",
    action="append",
    help="run only this model (repeatable), e.g. --only plain",
)
parser.add_argument(
    "--train-images", type=int, help="training images (default 480)"
)
parser.add_argument(
    "--seeds",
    type=int,
    help="seeds for every model (default 3 for "
    "the headline models, 1 for the ablations)",
)
parser.add_argument(
    "--seed",
    type=int,
    action="append",
    help="run this seed only (repeatable; splits the seeds over processes)",
)
parser.add_argument(
    "--matched",
    action="append",
    help="compare this norm at matched equivariance (repeatable), e.g. "
    "--matched fro --matched l1 --matched 2,1",
)
args, _ = parser.parse_known_args()
QUICK = args.quick or os.environ.get("KERAS_APPROXEQ_QUICK") == "1"
if QUICK:
    size, n_train, n_test, epochs = 32, 32, 8, 1
    seeds, ablation_seeds = [0], [0]
    search = {"rates": (0.0, 1.0), "folds": None}
else:
    size, n_train, n_test, epochs = 64, 480, 40, 12
    seeds, ablation_seeds = [0, 1, 2], [0]
    search = {}
if args.seeds:
    seeds = ablation_seeds = list(range(args.seeds))
if args.seed:
    seeds = ablation_seeds = args.seed
n_train = args.train_images or n_train
# The epochs follow the data so that every run takes as many steps.
epochs = epochs if QUICK else max(1, epochs * 480 // n_train)
train_data = make_data(n_train, size, seed=100)
test = make_data(n_test, size, seed=200, shepp=True)
print(
    f"backend {keras.backend.backend()}: {n_train} training images of "
    f"{size}x{size}, {epochs} epochs"
)
fbp_psnr, fbp_ssim = quality(*test)
print(f"FBP without a network: PSNR {fbp_psnr:.2f} dB, SSIM {fbp_ssim:.3f}")

"""
With `--matched`, the norm ablation at matched equivariance runs instead
of the tables below.
"""

matched = None
if args.matched:
    norms = [_parse_norm(n) for n in args.matched]
    sweep = (1e-3, 1.0) if QUICK else MATCHED_SWEEP
    matched = report_matched(
        matched_equivariance(
            norms, train_data, test, size, epochs, seeds[0], sweep
        )
    )

"""
Otherwise, the headline models (3 seeds), then the ablations (1 seed);
`results` holds each model's `(PSNR, SSIM, equivariance error,
residual)` per seed.
"""

results = {}


def report(name, runs):
    runs = np.array(runs)
    results[name] = runs
    mean, sd = runs.mean(0), runs.std(0)
    cells = [
        "-" if np.isnan(m) else f"{m:.4g} +- {s:.2g}" for m, s in zip(mean, sd)
    ]
    print(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")


def run_table(configs, seed_list):
    """Trains and reports every configuration `--only` keeps."""
    for name, (kind, norm, lam) in configs.items():
        if args.only and name not in args.only:
            continue
        runs, rates, projected = [], [], []
        for seed in seed_list:
            trained = kind
            if name == "recipe":
                trained, lam = recipe_choice(
                    train_data, size, epochs, seed, **search
                )
                rates.append((lam, DECAY_KINDS[trained]))
            model = train(trained, train_data, size, epochs, seed, norm, lam)
            runs.append(evaluate(model, test))
            if name == "penalty fro 0.1":
                project_weights(model)
                projected.append(evaluate(model, test))
        report(name, runs)
        if rates:
            print(f"(recipe: (rate, start) chosen per seed {rates})")
        if projected:
            report("projected after training", projected)


if not args.matched:
    print("| model | seeds | PSNR (dB) | SSIM | equiv. error | `‖T-PT‖/‖T‖` |")
    print("|---|---|---|---|---|---|")
    headline, ablation = configurations(QUICK)
    run_table(headline, seeds)
    run_table(ablation, ablation_seeds)
