"""Each rate's test error from Keras' start, without the recipe's
cross-validation: the room any choice of rate has, on variants of the
study's task.

    KERAS_BACKEND=jax python docs/runs/symmetry_breaking/hindsight.py \
        --dials 0.003,0.01 --images 128 [--hidden 32] [--noise 0.3] \
        [--augment]

runs `examples/symmetry_breaking.py` up to its section "The recipe" (its
data, teacher, models and fits; `--hidden` widens the teacher's hidden
layer from its 8 channels, `--noise` sets the training targets' noise,
relative to the targets' standard deviation, instead of its 0.1;
`--augment` trains on the four rotations of every training pair, image
and target, the same number of steps on four times the images), trains
the decay model at every candidate rate on each seed's training set and
prints one line per fit, `dial
<d> seed <s> rate <r> test <error>`; then, per dial, the mean test error
of each rate and, over the seeds, the best rate's error minus the better
(by the mean) of the rate-0 (plain) and rate-1 (exact) models, with the
standard deviation of that difference (the paired spread): a bound on
what the recipe's choice among these rates could gain, not a method.
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np
from cv_record import load_example


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dials", required=True)
    parser.add_argument("--images", type=int, required=True)
    parser.add_argument("--hidden", type=int, default=8)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--augment", action="store_true")
    args = parser.parse_args()
    example = load_example(
        [
            ("(KERNEL, KERNEL, 1, 8)", f"(KERNEL, KERNEL, 1, {args.hidden})"),
            ("(KERNEL, KERNEL, 8, 1)", f"(KERNEL, KERNEL, {args.hidden}, 1)"),
        ],
        ["--noise", str(args.noise)],
    )
    seeds = [int(s) for s in args.seeds.split(",")]
    rates = example["RATES"]  # the recipe's candidates, 0 (plain) to 1
    print(
        f"# teacher hidden channels {args.hidden}, {args.images} images, "
        f"noise {args.noise:g}" + (", rotations added" if args.augment else "")
    )
    for dial in (float(d) for d in args.dials.split(",")):
        errors = np.zeros((len(seeds), len(rates)))
        for i, seed in enumerate(seeds):
            (x, y), (x_test, y_test) = example["make_data"](
                dial, args.images, seed
            )
            if args.augment:
                x, y = _rotations(x), _rotations(y)
            for j, rate in enumerate(rates):
                model = example["build_model"]("decay", seed, rate)
                model.fit(x, y, verbose=0, **example["fit_kwargs"](len(x)))
                errors[i, j] = example["relative_error"](model, x_test, y_test)
                print(
                    f"dial {dial:g} seed {seed} rate {rate:g} test "
                    f"{errors[i, j]:.4f}",
                    flush=True,
                )
        means = errors.mean(axis=0)
        better = 0 if means[0] <= means[-1] else len(rates) - 1
        bound = errors.min(axis=1) - errors[:, better]
        print(
            f"dial {dial:g}: mean test error per rate "
            + ", ".join(f"{r:g}: {m:.4f}" for r, m in zip(rates, means))
            + f"; better of plain and exact: "
            f"{'plain' if better == 0 else 'exact'}; best rate per seed "
            f"minus it {bound.mean():+.4f} (paired spread "
            f"{bound.std():.4f})"
        )


def _rotations(images):
    """The four quarter-turn rotations of every image, `(4 N, H, W, C)`:
    the C4 action on the study's trivial inputs and targets."""
    return np.concatenate([np.rot90(images, k, axes=(1, 2)) for k in range(4)])


if __name__ == "__main__":
    main()
