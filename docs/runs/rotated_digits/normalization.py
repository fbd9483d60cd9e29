"""Normalisation layers in the rotated digits' networks, measured.

    KERAS_BACKEND=jax python docs/runs/rotated_digits/normalization.py \
        NORMALIZATION SEED...

NORMALIZATION is `none`, `batch`, `layer` or `field` (the
`normalization` of `examples/rotated_digits.py`'s `build_model`, after
each convolution). For each seed it trains the example's plain network,
its exact one (rate 1 from the projected start) and a light pull (rate
0.03 from the projected start, the rate that scored best there) on the
example's 300 images for its 120 epochs, and prints one line per fit:

    fit NORMALIZATION MODEL SEED TEST_ACCURACY EQUIVARIANCE_ERROR

    python docs/runs/rotated_digits/normalization.py --summary LOG...

prints each normalisation's and model's mean and spread over the seeds,
and the paired difference from the same model without normalisation.
"""

import sys

import numpy as np
from cv_record import EPOCHS
from cv_record import TRAIN_IMAGES
from cv_record import load_example

MODELS = {
    "plain": (0.0, False),
    "exact": (1.0, True),
    "rate 0.03": (0.03, True),
}


def measure(normalization, seeds):
    example = load_example()
    for seed in seeds:
        train, (x_test, y_test) = example["make_data"](seed, TRAIN_IMAGES)
        for name, (rate, projected) in MODELS.items():
            model = example["build_model"](
                seed,
                rate=rate,
                projected=projected,
                normalization=None
                if normalization == "none"
                else normalization,
            )
            model.fit(*train, batch_size=32, epochs=EPOCHS, verbose=0)
            accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
            error = example["equivariance_error"](model, x_test[:200], "C4")
            print(
                f"fit {normalization} {name.replace(' ', '_')} {seed} "
                f"{accuracy:.4f} {float(error):.3g}",
                flush=True,
            )


def summary(paths):
    fits = {}  # (normalization, model) -> {seed: (accuracy, error)}
    for path in paths:
        with open(path) as f:
            for line in f:
                if line.startswith("fit "):
                    _, norm, model, seed, accuracy, error = line.split()
                    fits.setdefault((norm, model), {})[int(seed)] = (
                        float(accuracy),
                        float(error),
                    )
    for (norm, model), runs in sorted(fits.items()):
        seeds = sorted(runs)
        accuracy, error = np.array([runs[s] for s in seeds]).T
        row = (
            f"{norm:>6} {model:>10}: accuracy {accuracy.mean():.3f} +- "
            f"{accuracy.std():.3f}, equivariance error {error.mean():.2g} "
            f"(max {error.max():.2g}), seeds {seeds}"
        )
        plain = fits.get(("none", model), {})
        if norm != "none" and all(s in plain for s in seeds):
            paired = accuracy - np.array([plain[s][0] for s in seeds])
            row += f"; minus none {paired.mean():+.3f} +- {paired.std():.3f}"
        print(row)


if __name__ == "__main__":
    if sys.argv[1] == "--summary":
        summary(sys.argv[2:])
    else:
        measure(sys.argv[1], [int(s) for s in sys.argv[2:]])
