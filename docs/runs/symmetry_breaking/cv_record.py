"""Records what the recipe's cross-validation saw, for one cell of the study.

    KERAS_BACKEND=jax python docs/runs/symmetry_breaking/cv_record.py \
        DIAL IMAGES OUT.json [FOLDS] [--projected]

For each seed (0, 1, 2) and each candidate rate of
`examples/symmetry_breaking.py`, it makes the same fits as the study's
`select_strength(folds=FOLDS)` (default: the study's 3) and writes
the held-out loss of every training image (one list per rate, the
folds in order), and the test error of the rate's final fit on all the
images. Selection rules can then be compared on these records without
training again. The data, models and fits are the example's own: the
script runs the example's code up to its section "The recipe". With
`--projected`, every candidate above rate 0 starts from
`ProjectedInitializer` (the README's recipe) instead of Keras' default.

    python docs/runs/symmetry_breaking/cv_record.py --compare OUT.json...

prints, per record, the rate each rule picks on each seed (`min`: the
lowest mean held-out loss; `1se`: `select_strength`'s default, the
largest rate within one standard error of the lowest, that of the
per-image differences) and the mean test
error of the picks, with the test error of every rate.

    python docs/runs/symmetry_breaking/cv_record.py \
        --starts OWN.json PROJECTED.json

replays `select_strength(starts=("own", "projected"))` from a record
of each start of one cell (rate 0 from the first): each rule's picks,
their test error and its paired difference from the best of the plain
model and the two exact ones.
"""

import json
import pathlib
import sys

import numpy as np

from keras_approxeq.penalties.selection import _chosen
from keras_approxeq.penalties.selection import _chosen_with_start

EXAMPLE = (
    pathlib.Path(__file__).parents[3] / "examples" / "symmetry_breaking.py"
)


def choose(held_out, rule):
    """The rate `select_strength(rule=rule)` picks from these losses."""
    return _chosen({float(r): np.asarray(v) for r, v in held_out.items()}, rule)


def compare(paths):
    for path in paths:
        with open(path) as f:
            record = json.load(f)
        seeds = record["seeds"]
        start = record.get("start", "Keras'")
        print(
            f"dial {record['dial']}, {record['images']} images, "
            f"{record['folds']} folds, {start} start"
        )
        for rule in ("min", "1se"):
            picks = [choose(s["held_out"], rule) for s in seeds]
            errors = [s["test"][str(r)] for s, r in zip(seeds, picks)]
            print(
                f"  {rule}: rates {picks}, test error "
                f"{np.mean(errors):.4f} +- {np.std(errors):.4f}"
            )
        for rate in seeds[0]["test"]:
            errors = [s["test"][rate] for s in seeds]
            print(
                f"  rate {rate}: test error {np.mean(errors):.4f} +- "
                f"{np.std(errors):.4f}"
            )


def compare_starts(own_path, projected_path):
    records = {}
    for start, path in (("own", own_path), ("projected", projected_path)):
        with open(path) as f:
            records[start] = json.load(f)
    print(
        f"dial {records['own']['dial']}, {records['own']['images']} images, "
        f"{records['own']['folds']} folds, both starts"
    )
    pairs = list(zip(records["own"]["seeds"], records["projected"]["seeds"]))
    for rule in ("min", "1se"):
        picks, margins, errors = [], [], []
        for pair in pairs:
            seeds = dict(zip(("own", "projected"), pair))
            test = {
                (float(rate), start): error
                for start, seed in seeds.items()
                for rate, error in seed["test"].items()
            }
            losses = {
                (float(rate), start): np.asarray(values)
                for start, seed in seeds.items()
                for rate, values in seed["held_out"].items()
                if float(rate) or start == "own"
            }
            pick = _chosen_with_start(losses, ("own", "projected"), rule)
            picks.append(pick)
            errors.append(test[pick])
            better = min(
                test[0.0, "own"], test[1.0, "own"], test[1.0, "projected"]
            )
            margins.append(test[pick] - better)
        print(
            f"  {rule}: {picks}, test error {np.mean(errors):.4f} +- "
            f"{np.std(errors):.4f}; minus the best of plain and exact "
            f"{np.mean(margins):+.4f} +- {np.std(margins):.4f}"
        )


def main():
    if sys.argv[1] == "--compare":
        return compare(sys.argv[2:])
    if sys.argv[1] == "--starts":
        return compare_starts(*sys.argv[2:4])
    projected = "--projected" in sys.argv
    arguments = [a for a in sys.argv[1:] if a != "--projected"]
    dial, size, out = float(arguments[0]), int(arguments[1]), arguments[2]
    folds = int(arguments[3]) if len(arguments) > 3 else None
    source = EXAMPLE.read_text()
    source = source[: source.index('"""\n## The recipe')]
    sys.argv = [str(EXAMPLE)]
    study = {"__name__": "symmetry_breaking"}
    exec(compile(source, str(EXAMPLE), "exec"), study)
    folds = folds or study["FOLDS"]
    build, fit_kwargs = study["build_model"], study["fit_kwargs"]
    start = "projected" if projected else "Keras'"
    record = {
        "dial": dial,
        "images": size,
        "folds": folds,
        "start": start,
        "seeds": [],
    }
    for seed in range(3):
        (x, y), (x_test, y_test) = study["make_data"](dial, size, seed)
        parts = np.array_split(np.arange(size), folds)
        held_out, test = {}, {}
        for rate in study["RATES"]:
            losses = []
            for part in parts:
                fit_on = np.setdiff1d(np.arange(size), part)
                model = build("decay", seed, rate, projected and rate > 0)
                model.fit(
                    x[fit_on],
                    y[fit_on],
                    verbose=0,
                    **fit_kwargs(size - size // folds),
                )
                predicted = model.predict(x[part], verbose=0)
                errors = np.mean((predicted - y[part]) ** 2, axis=(1, 2, 3))
                losses += errors.tolist()
            held_out[rate] = losses
            model = build("decay", seed, rate, projected and rate > 0)
            model.fit(x, y, verbose=0, **fit_kwargs(size))
            test[rate] = study["relative_error"](model, x_test, y_test)
            print(seed, rate, np.mean(losses), test[rate], flush=True)
        record["seeds"].append({"held_out": held_out, "test": test})
        with open(out, "w") as f:
            json.dump(record, f)


if __name__ == "__main__":
    main()
