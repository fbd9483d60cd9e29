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

    python docs/runs/symmetry_breaking/others.py --table DIR

reads the logs `DIR/others_*.log` of such runs and, for every cell that
`cv_record.py` also recorded from both starts in DIR, prints each
model's mean test error and its mean difference from the better (by the
mean) of the plain and the exact models, with the paired spread (the
standard deviation over the seeds of the per-seed difference; the seeds'
data and initial weights are the same in both scripts), and the same
for the recipe, replayed from the records.
"""

import argparse
import os
import pathlib
import re
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np
from cv_record import _difference
from cv_record import _load
from cv_record import load_example
from cv_record import plain_and_exact
from cv_record import replay_starts

MODELS = ("penalty", "residual pathway", "sampled")


def table(directory):
    directory = pathlib.Path(directory)
    line = re.compile(r"dial (\S+) images (\d+) seed (\d+) (.+): test (\S+)$")
    errors = {}
    for log in directory.glob("others_*.log"):
        for text in log.read_text().splitlines():
            if match := line.match(text):
                dial, size, seed, kind, error = match.groups()
                cell = errors.setdefault((int(size), float(dial)), {})
                cell.setdefault(kind, {})[int(seed)] = float(error)
    print(
        "| dial | images | "
        + " | ".join(MODELS)
        + " | recipe |\n|---|---|"
        + "---|" * (len(MODELS) + 1)
    )
    for size, dial in sorted(errors):
        own = directory / f"cv_{size}_images_dial_{dial:g}_folds_3.json"
        projected = own.with_name(own.stem + "_projected.json")
        if not projected.exists():
            continue
        rows = list(replay_starts([_load(own), _load(projected)], "1se"))
        logged = errors[size, dial]
        if any(len(logged.get(kind, ())) < len(rows) for kind in MODELS):
            continue  # a run still under way
        better = min(*plain_and_exact(rows), key=np.mean)
        columns = [
            np.array([logged[kind][s] for s in range(len(rows))])
            for kind in MODELS
        ]
        columns.append(np.array([test[pick] for pick, test in rows]))
        cells = [f"{c.mean():.3f}; {_difference(c, better)}" for c in columns]
        print(f"| {dial:g} | {size} | " + " | ".join(cells) + " |")


def main():
    if sys.argv[1:2] == ["--table"]:
        return table(sys.argv[2])
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
