"""
Title: An almost rotation-invariant classifier in the plane (SO(2) toy)
Author: keras-approxeq developers
Date created: 2026/11/27
Last modified: 2026/12/06
Description: The paper's SO(2) toy: a harmonic network whose two linear
    layers are penalised towards SO(2) equivariance in the spectral
    domain, on a non-invariant task and on rings with a tunable amount of
    symmetry breaking, against a plain MLP and the recipe
    (`ProjectionDecay` at a rate chosen by `select_strength`).
Accelerator: None

Run it on any backend (the flags are described under "The run"):

```
KERAS_BACKEND=jax python examples/so2_toy.py --out-dir docs/img
KERAS_APPROXEQ_QUICK=1 python examples/so2_toy.py     # a smoke run
```
"""

"""
## The setting

Points `x` in the plane get a label. A classifier `f` is *rotation
invariant* if `f(R x) = f(x)` for every rotation `R`. The model here is
invariant exactly when its two linear layers are SO(2)-equivariant, so the
projection penalty decides how invariant it is:

- `lambda_perp` weighs `||W - P W||` (the non-equivariant part), which
  pulls the model towards invariance;
- `lambda_g` weighs `||P W||` (the equivariant part), which limits the
  invariant model's capacity.

The invariance error `E(f)` is the largest change of the predicted
probability, `max |p(R x) - p(x)|`, over the data points and 40 random
rotations: 0 for an invariant model, up to 1 for one that ignores the
symmetry.
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
from keras import ops

from keras_approxeq import ProjectionDecay
from keras_approxeq import ProjectionRegularizer
from keras_approxeq import select_strength
from keras_approxeq.symmetry.groups import get as get_group
from keras_approxeq.symmetry.representations import Representation

"""
## Data

*Disc against wedge* (deliberately not invariant): class 1 is uniform in
the unit disc, class 0 lies in the wedge of angles `[-pi/4, pi/4]` and
radii `[2.3, 3.0]`; 100 points each.

*Wavy rings*: two rings of radii `1.1 + a sin(5 theta)` (band `+-0.15`)
and `2.2 + a sin(5 theta)` (band `+-0.22`), 350 points each. The wave
amplitude `a` is the amount of symmetry breaking: at `a = 0` the classes
are rotation invariant, at `a = 1` the rings interlock.
"""


def disc_and_wedge(n=100, seed=3):
    rng = np.random.default_rng(seed)
    radius = np.sqrt(rng.uniform(size=n))
    angle = rng.uniform(0, 2 * np.pi, size=n)
    disc = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
    radius = rng.uniform(2.3, 3.0, size=n)
    angle = rng.uniform(-np.pi / 4, np.pi / 4, size=n)
    wedge = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
    points = np.concatenate([disc, wedge]).astype("float32")
    labels = np.concatenate([np.ones(n), np.zeros(n)]).astype("float32")
    return points, labels


def wavy_rings(amplitude, n=350, seed=0):
    rng = np.random.default_rng(seed)
    points, labels = [], []
    for label, (centre, band) in enumerate([(1.1, 0.15), (2.2, 0.22)]):
        angle = rng.uniform(0, 2 * np.pi, size=n)
        radius = centre + amplitude * np.sin(5 * angle)
        radius = np.clip(radius + rng.uniform(-band, band, size=n), 0.8, 3.4)
        points.append(
            np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
        )
        labels.append(np.full(n, label))
    points = np.concatenate(points).astype("float32")
    labels = np.concatenate(labels).astype("float32")
    order = rng.permutation(len(points))
    return points[order], labels[order]


"""
## The harmonic model

A point `(r, theta)` is embedded in the irreps of SO(2): for each of 4
Gaussian rings `g_c(r)` (centres `0, 4/3, 8/3, 4`, width 0.5) and each
frequency `m = 0..4`, the field `g_c(r) (cos m theta, sin m theta)` (one
channel for `m = 0`). Rotating the point by `alpha` rotates frequency
`m`'s field by `m alpha`: the embedding is a direct sum of 4 copies of
`irrep0 + ... + irrep4` (36 channels).

Two bias-free `Dense` layers map it to 8 copies of the same field types,
with no nonlinearity between them, each with a `ProjectionRegularizer` in
the spectral domain: its projection keeps, per frequency, the blocks
`[[a, -b], [b, a]]` that commute with rotations, and zeroes every block
that mixes two frequencies. Then an exactly invariant contraction: for
each frequency, the dot products of every pair of its fields (`5 * 8^2`
features), and a linear head.
"""

FREQUENCIES = 4
RINGS = 4
HIDDEN = 8
FIELDS = [f"irrep{m}" for m in range(FREQUENCIES + 1)]
BLOCK = 2 * FREQUENCIES + 1  # channels of one copy of FIELDS


def embed(points):
    """`(N, 2)` points -> `(N, RINGS * BLOCK)` harmonic features."""
    radius = np.hypot(points[:, 0], points[:, 1])
    angle = np.arctan2(points[:, 1], points[:, 0])
    centres = np.linspace(0, 4, RINGS)
    rings = np.exp(-((radius[:, None] - centres) ** 2) / (2 * 0.5**2))
    columns = [np.ones_like(angle)]
    for m in range(1, FREQUENCIES + 1):
        columns += [np.cos(m * angle), np.sin(m * angle)]
    harmonics = np.stack(columns, 1)
    return (rings[:, :, None] * harmonics[:, None, :]).reshape(len(points), -1)


class InvariantContraction(keras.layers.Layer):
    """Per frequency, the dot products of every pair of its fields: an
    SO(2)-invariant `(N, (FREQUENCIES + 1) * HIDDEN^2)` output."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        rep = Representation(get_group("SO2"), FIELDS)
        self.channels = rep.field_channels(HIDDEN * BLOCK)

    def call(self, x):
        products = []
        for field in FIELDS:
            fields = ops.take(x, self.channels[field].reshape(-1), axis=1)
            fields = ops.reshape(
                fields, (-1, HIDDEN, self.channels[field].shape[1])
            )
            gram = ops.einsum("nia,nja->nij", fields, fields)
            products.append(ops.reshape(gram, (-1, HIDDEN * HIDDEN)))
        return ops.concatenate(products, axis=1)


def harmonic_model(lambda_g, lambda_perp, rate=None):
    """The harmonic network under the penalty, or, given a `rate`, under
    `ProjectionDecay(rate)` instead (the recipe)."""

    def dense():
        if rate is None:
            symmetry = dict(
                kernel_regularizer=ProjectionRegularizer(
                    "SO2",
                    in_rep=FIELDS,
                    out_rep=FIELDS,
                    lambda_perp=lambda_perp,
                    lambda_g=lambda_g,
                    domain="fourier",
                )
            )
        else:
            symmetry = dict(
                kernel_constraint=ProjectionDecay(
                    "SO2",
                    in_rep=FIELDS,
                    out_rep=FIELDS,
                    rate=rate,
                    domain="fourier",
                )
            )
        return keras.layers.Dense(
            HIDDEN * BLOCK,
            use_bias=False,
            kernel_initializer=keras.initializers.RandomNormal(
                stddev=1 / np.sqrt(RINGS * BLOCK)
            ),
            **symmetry,
        )

    return keras.Sequential(
        [
            keras.Input((RINGS * BLOCK,)),
            dense(),
            dense(),
            InvariantContraction(),
            keras.layers.Dense(1),
        ]
    )


def plain_mlp():
    """The paper's baseline: 2 -> 96, four layers, GELU."""
    layers = [keras.Input((2,))]
    layers += [keras.layers.Dense(96, activation="gelu") for _ in range(4)]
    return keras.Sequential(layers + [keras.layers.Dense(1)])


"""
## Training and the invariance error

Full-batch Adam (learning rate `3e-3`), binary cross-entropy, 200 epochs,
as in the paper. The harmonic model sees `embed(x)`, the MLP sees `x`.
"""


def compiled(model):
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
    )
    return model


class Classifier:
    """A model with its input map: `probability(points)`."""

    def __init__(self, model, harmonic):
        self.model, self.harmonic = model, harmonic
        self.rate = None  # the recipe's ProjectionDecay rate

    def inputs(self, points):
        return embed(points).astype("float32") if self.harmonic else points

    def fit(self, points, labels, epochs):
        compiled(self.model)
        x = self.inputs(points)
        self.model.fit(x, labels, batch_size=len(x), epochs=epochs, verbose=0)
        return self

    def probability(self, points):
        logits = self.model.predict(
            self.inputs(points), verbose=0, batch_size=4096
        )
        return 1 / (1 + np.exp(-logits[:, 0]))

    def accuracy(self, points, labels):
        return float(np.mean((self.probability(points) > 0.5) == labels))

    def invariance_error(self, points, rotations=40, seed=0):
        angles = np.random.default_rng(seed).uniform(0, 2 * np.pi, rotations)
        reference = self.probability(points)
        worst = 0.0
        for a in angles:
            rotation = np.array(
                [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
            )
            rotated = (points @ rotation.T).astype("float32")
            worst = max(
                worst,
                float(np.max(np.abs(self.probability(rotated) - reference))),
            )
        return worst


RATES = (0.0, 0.03, 0.1, 0.3, 1.0)  # the recipe's candidates
FOLDS = 3


def recipe_rate(points, labels, epochs, seed, rates=RATES, folds=FOLDS):
    """The `ProjectionDecay` rate `select_strength` chooses (3-fold
    cross-validation, full-batch fits, one-standard-error rule)."""
    keras.utils.set_random_seed(seed)
    x = embed(points).astype("float32")
    rate, _ = select_strength(
        lambda r: compiled(harmonic_model(0.0, 0.0, r)),
        x,
        labels,
        strengths=rates,
        folds=folds,
        verbose=False,
        batch_size=len(x),  # full batch: every fit's batch is its data
        epochs=epochs,
    )
    return rate


def train(
    kind,
    points,
    labels,
    epochs,
    seed,
    lambda_g=0.0,
    lambda_perp=0.0,
    search=None,
):
    """A fitted `Classifier`; `search` (`rates` and `folds`) is the
    recipe's."""
    keras.utils.set_random_seed(seed)
    if kind == "recipe":
        rate = recipe_rate(points, labels, epochs, seed, **(search or {}))
        classifier = Classifier(harmonic_model(0.0, 0.0, rate), True)
        classifier.rate = rate
        return classifier.fit(points, labels, epochs)
    if kind == "harmonic":
        return Classifier(harmonic_model(lambda_g, lambda_perp), True).fit(
            points, labels, epochs
        )
    return Classifier(plain_mlp(), False).fit(points, labels, epochs)


"""
## The lambda_G x lambda_perp grid on the disc and wedge

Rows: `lambda_g` from strong to none; columns: `lambda_perp` from none to
strong. With no `lambda_perp` the model fits the wedge freely (large
invariance error); as `lambda_perp` grows the boundary becomes a circle
(error near 0) and the wedge is lost; `lambda_g` shrinks the whole model.
"""

LAMBDAS_G = [1e-1, 1e-2, 1e-3, 0.0]
LAMBDAS_PERP = [0.0, 1e-3, 1e-2, 1e-1]


def lambda_grid(epochs, lambdas_g, lambdas_perp, seed=42):
    points, labels = disc_and_wedge()
    results = {}
    for lambda_g in lambdas_g:
        for lambda_perp in lambdas_perp:
            model = train(
                "harmonic", points, labels, epochs, seed, lambda_g, lambda_perp
            )
            results[lambda_g, lambda_perp] = (
                model,
                model.accuracy(points, labels),
                model.invariance_error(points),
            )
    return (points, labels), results


def plot_grid(data, results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lambdas_g = sorted({k[0] for k in results}, reverse=True)
    lambdas_perp = sorted({k[1] for k in results})
    fig, axes = plt.subplots(
        len(lambdas_g),
        len(lambdas_perp),
        figsize=(2.4 * len(lambdas_perp), 2.6 * len(lambdas_g)),
        squeeze=False,
    )
    side = np.linspace(-3.5, 3.5, 141)
    grid = (
        np.stack(np.meshgrid(side, side), -1).reshape(-1, 2).astype("float32")
    )
    points, labels = data
    for i, lambda_g in enumerate(lambdas_g):
        for j, lambda_perp in enumerate(lambdas_perp):
            model, accuracy, error = results[lambda_g, lambda_perp]
            ax = axes[i, j]
            p = model.probability(grid).reshape(len(side), len(side))
            ax.contourf(
                side, side, p, levels=[0, 0.5, 1], colors=["#f4c7a1", "#a9cce3"]
            )
            ax.contour(side, side, p, levels=[0.5], colors="k", linewidths=0.8)
            ax.scatter(*points[labels == 1].T, s=3, c="#1f618d")
            ax.scatter(*points[labels == 0].T, s=3, c="#ba4a00")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal")
            ax.set_title(
                f"$\\lambda_G$={lambda_g:g}, $\\lambda_\\perp$={lambda_perp:g}",
                fontsize=12,
            )
            ax.set_xlabel(f"E = {error:.3f}, acc {accuracy:.2f}", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


"""
## Wavy rings against a plain MLP

The harmonic model with `lambda_perp = 1`, `lambda_g = 1e-2` (the paper's
setting) against the recipe (the same harmonic model under
`ProjectionDecay`, its rate chosen on the training split) and the plain
MLP, over the five wave amplitudes: 80/20
split, test accuracy and invariance error (on the test points), mean and
spread over seeds.
"""

AMPLITUDES = [0.0, 0.25, 0.5, 0.75, 1.0]


KINDS = ("harmonic", "recipe", "mlp")


def wavy_rings_table(epochs, amplitudes, seeds, search=None):
    """`(rows, rates)`: `(accuracy, E)` per seed for each `(amplitude,
    kind)`, and the recipe's chosen rates per amplitude."""
    rows, rates = {}, {}
    for amplitude in amplitudes:
        for kind in KINDS:
            runs = []
            for seed in seeds:
                points, labels = wavy_rings(amplitude, seed=seed)
                split = int(0.8 * len(points))
                model = train(
                    kind,
                    points[:split],
                    labels[:split],
                    epochs,
                    seed,
                    lambda_g=1e-2,
                    lambda_perp=1.0,
                    search=search,
                )
                test = points[split:], labels[split:]
                runs.append(
                    (model.accuracy(*test), model.invariance_error(test[0]))
                )
                if model.rate is not None:
                    rates.setdefault(amplitude, []).append(model.rate)
            rows[amplitude, kind] = np.array(runs)
    return rows, rates


"""
## The run

Flags when run as a script, the defaults in a notebook (whose own flags
`parse_known_args` ignores); `KERAS_APPROXEQ_QUICK=1` is `--quick`.
"""

parser = argparse.ArgumentParser(description="The SO(2) toy")
parser.add_argument("--quick", action="store_true", help="a tiny run")
parser.add_argument("--out-dir", help="write the figure of the grid here")
args, _ = parser.parse_known_args()
QUICK = args.quick or os.environ.get("KERAS_APPROXEQ_QUICK") == "1"
if QUICK:
    epochs, lambdas_g, lambdas_perp = 5, [1e-2, 0.0], [0.0, 1e-1]
    amplitudes, seeds = [0.0, 1.0], [0]
    search = {"rates": (0.0, 1.0), "folds": None}
else:
    epochs, lambdas_g, lambdas_perp = 200, LAMBDAS_G, LAMBDAS_PERP
    amplitudes, seeds = AMPLITUDES, [0, 1, 2]
    search = None
print(f"backend {keras.backend.backend()}, {epochs} epochs")

"""
The grid on the disc and wedge: `grid[lambda_g, lambda_perp]` holds the
trained classifier, its training accuracy and its invariance error.
"""

data, grid = lambda_grid(epochs, lambdas_g, lambdas_perp)
print("\nDisc and wedge: training accuracy / invariance error E")
print(
    "| lambda_g \\ lambda_perp | "
    + " | ".join(f"{x:g}" for x in lambdas_perp)
    + " |"
)
print("|---" * (len(lambdas_perp) + 1) + "|")
for lambda_g in lambdas_g:
    cells = [
        f"{grid[lambda_g, p][1]:.2f} / {grid[lambda_g, p][2]:.3f}"
        for p in lambdas_perp
    ]
    print(f"| {lambda_g:g} | " + " | ".join(cells) + " |")
if args.out_dir:
    path = os.path.join(args.out_dir, "so2_toy_grid.png")
    plot_grid(data, grid, path)
    print(f"wrote {path}")

"""
The wavy rings: `rings[amplitude, kind]` holds `(test accuracy,
invariance error)` per seed, `rates[amplitude]` the recipe's choices.
"""

rings, rates = wavy_rings_table(epochs, amplitudes, seeds, search)
print(f"\nWavy rings: test accuracy and E, {len(seeds)} seed(s)")
print(
    "| amplitude | harmonic + penalty | E | recipe | E | plain MLP | E "
    "| recipe's rates |"
)
print("|---|---|---|---|---|---|---|---|")
for amplitude in amplitudes:
    cells = []
    for kind in KINDS:
        mean, sd = rings[amplitude, kind].mean(0), rings[amplitude, kind].std(0)
        cells += [
            f"{mean[0]:.3f} +- {sd[0]:.3f}",
            f"{mean[1]:.3f} +- {sd[1]:.3f}",
        ]
    cells.append(", ".join(f"{r:g}" for r in rates[amplitude]))
    print(f"| {amplitude:g} | " + " | ".join(cells) + " |")
