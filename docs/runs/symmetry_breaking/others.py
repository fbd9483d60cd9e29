"""The study's models other than the decay rates, on a variant of its task.

    KERAS_BACKEND=jax python docs/runs/symmetry_breaking/others.py \
        --dials 0.03,0.1 --images 32 [--noise 0.5]

runs `examples/symmetry_breaking.py` up to its section "The recipe" (its
data, teacher, models and fits; `--noise` sets the training targets'
noise, relative to the targets' standard deviation, instead of its 0.1)
and trains, on each seed's training set, the study's rows that
`cv_record.py` does not record: the paper's penalty at its fixed
lambda, residual pathways and the sample-based regulariser. It prints
one line per fit, `dial <d> images <n> seed <s> <model>: test <error>`,
then per cell and model the mean and the standard deviation over the
seeds.
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np
from cv_record import load_example

MODELS = ("penalty", "residual pathway", "sampled")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dials", required=True)
    parser.add_argument("--images", type=int, required=True)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    example = load_example(argv=["--noise", str(args.noise)])
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"# {args.images} images, noise {args.noise:g}")
    for dial in (float(d) for d in args.dials.split(",")):
        errors = {model: [] for model in MODELS}
        for seed in seeds:
            (x, y), (x_test, y_test) = example["make_data"](
                dial, args.images, seed
            )
            for kind in MODELS:
                model = example["build_model"](kind, seed)
                model.fit(x, y, verbose=0, **example["fit_kwargs"](len(x)))
                error = example["relative_error"](model, x_test, y_test)
                errors[kind].append(error)
                print(
                    f"dial {dial:g} images {args.images} seed {seed} "
                    f"{kind}: test {error:.4f}",
                    flush=True,
                )
        for kind, values in errors.items():
            print(
                f"cell dial {dial:g} images {args.images} {kind}: "
                f"{np.mean(values):.3f} +- {np.std(values):.3f}"
            )


if __name__ == "__main__":
    main()
