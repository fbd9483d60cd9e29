"""Records what the recipe's cross-validation saw on the rotated digits.

    KERAS_BACKEND=jax python docs/runs/rotated_digits/cv_record.py \
        [--normalization layer|batch|field] START OUT.json SEED...

START is `keras` (every candidate from Keras' initializer) or
`projected` (every candidate above rate 0 from `ProjectedInitializer`).
For each seed and each rate of `select_strength`'s defaults it makes the
fits of `examples/rotated_digits.py`'s 3-fold selection and writes every
training image's held-out cross-entropy and whether it was classified
right, and the test accuracy of the rate's final fit on all 300 images.
The data, models and fits are the example's own: the script runs the
example's code up to its section "The run". `--normalization` puts the
example's normalisation layer after each convolution (its
`build_model(..., normalization=...)`).

    python docs/runs/rotated_digits/cv_record.py --compare OUT.json...

prints, per record, the test accuracy of the rate each rule picks (by
held-out cross-entropy and by held-out error rate), every rate's, and
the picks' paired differences from the plain (rate 0) and the exact
(rate 1) model.

    python docs/runs/rotated_digits/cv_record.py \
        --starts KERAS.json PROJECTED.json

replays `select_strength(starts=("own", "projected"))` from a record of
each start (rate 0 from the first): the same, for each rule's picks,
also against the better of plain and exact on each seed, and each
seed's best candidate on the test set (hindsight: a bound on any
choice among the candidates, not a method).
"""

import json
import pathlib
import sys

import numpy as np

from keras_approxeq.penalties.selection import DEFAULT_RATES
from keras_approxeq.penalties.selection import _chosen
from keras_approxeq.penalties.selection import _chosen_with_start
from keras_approxeq.penalties.selection import _loss_of

EXAMPLE = pathlib.Path(__file__).parents[3] / "examples" / "rotated_digits.py"
FOLDS = 3
EPOCHS = 120
TRAIN_IMAGES = 300


def compare(paths):
    for path in paths:
        with open(path) as f:
            record = json.load(f)
        seeds = record["seeds"]
        test = np.array(
            [[s["test"][str(r)] for r in DEFAULT_RATES] for s in seeds]
        )
        print(f"{path}: {record['start']} start, {len(seeds)} seeds")
        for rate, column in zip(DEFAULT_RATES, test.T):
            print(f"  rate {rate:g}: {column.mean():.3f} +- {column.std():.3f}")
        for score in ("cross-entropy", "error"):
            for rule in ("min", "1se"):
                picks = [_pick(s, score, rule) for s in seeds]
                chosen = test[np.arange(len(seeds)), picks]
                print(
                    f"  {rule} by {score}: rates "
                    f"{[DEFAULT_RATES[p] for p in picks]}, accuracy "
                    f"{chosen.mean():.3f} +- {chosen.std():.3f}; against "
                    f"plain {_paired(chosen - test[:, 0])}, exact "
                    f"{_paired(chosen - test[:, -1])}"
                )


def _pick(seed_record, score, rule):
    key = "held_out" if score == "cross-entropy" else "wrong"
    losses = {
        i: np.asarray(seed_record[key][str(r)], "float64")
        for i, r in enumerate(DEFAULT_RATES)
    }
    # `_chosen` takes the largest key within reach: the index of the rate.
    return _chosen(losses, rule)


def compare_starts(own_path, projected_path):
    records = []
    for path in (own_path, projected_path):
        with open(path) as f:
            records.append(json.load(f)["seeds"])
    starts = ("own", "projected")
    print(f"both starts, {len(records[0])} seeds")
    for score in ("cross-entropy", "error"):
        key = "held_out" if score == "cross-entropy" else "wrong"
        for rule in ("min", "1se"):
            picks, chosen, plain, exact, best = [], [], [], [], []
            for pair in zip(*records):
                seeds = dict(zip(starts, pair))
                losses = {
                    (rate, start): np.asarray(seed[key][str(rate)], "float64")
                    for start, seed in seeds.items()
                    for rate in DEFAULT_RATES
                    if rate or start == "own"
                }
                rate, start = _chosen_with_start(losses, starts, rule)
                picks.append(f"{rate:g} {start}")
                chosen.append(seeds[start]["test"][str(rate)])
                plain.append(seeds["own"]["test"]["0.0"])
                exact.append(seeds["projected"]["test"]["1.0"])
                best.append(max(seeds[s]["test"][str(r)] for r, s in losses))
            chosen, better = np.array(chosen), np.maximum(plain, exact)
            print(
                f"  {rule} by {score}: {picks}, accuracy "
                f"{chosen.mean():.3f} +- {chosen.std():.3f}; against plain "
                f"{_paired(chosen - plain)}, exact (projected start) "
                f"{_paired(chosen - exact)}, the better of the two "
                f"{_paired(chosen - better)}"
            )
    print(
        "  hindsight (each seed's best candidate on the test set), against "
        f"the better of plain and exact {_paired(np.array(best) - better)}"
    )


def _paired(differences):
    return (
        f"{differences.mean():+.3f} +- {differences.std():.3f} "
        f"(higher on {int(np.sum(differences > 0))})"
    )


def load_example():
    """The example's definitions: its code up to its section "The run"."""
    sys.path.insert(0, str(EXAMPLE.parent))
    source = EXAMPLE.read_text()
    source = source[: source.index('"""\n## The run')]
    example = {"__name__": "rotated_digits"}
    exec(compile(source, str(EXAMPLE), "exec"), example)
    return example


def record(start, out, seeds, normalization=None):
    example = load_example()
    build_model, make_data = example["build_model"], example["make_data"]
    result = {
        "start": start,
        "normalization": normalization,
        "folds": FOLDS,
        "epochs": EPOCHS,
        "seeds": [],
    }
    for seed in seeds:
        (x, y), (x_test, y_test) = make_data(seed, TRAIN_IMAGES)
        parts = np.array_split(np.arange(len(x)), FOLDS)
        held_out, wrong, test = {}, {}, {}
        for rate in DEFAULT_RATES:

            def build(rate=rate):
                projected = start == "projected" and rate > 0
                return build_model(
                    seed,
                    rate=rate,
                    projected=projected,
                    normalization=normalization,
                )

            losses, mistakes = [], []
            for part in parts:
                fit_on = np.setdiff1d(np.arange(len(x)), part)
                model = build()
                model.fit(
                    x[fit_on],
                    y[fit_on],
                    verbose=0,
                    epochs=EPOCHS * FOLDS // (FOLDS - 1),
                    batch_size=32,
                )
                logits = model.predict(x[part], verbose=0)
                # Scored as `select_strength` scores: the compiled loss,
                # per image.
                per_image = _loss_of(model)(y[part], logits)
                losses += np.asarray(per_image).tolist()
                mistakes += (logits.argmax(-1) != y[part]).tolist()
            held_out[str(rate)] = [round(v, 5) for v in losses]
            wrong[str(rate)] = [int(v) for v in mistakes]
            model = build()
            model.fit(x, y, verbose=0, epochs=EPOCHS, batch_size=32)
            test[str(rate)] = float(
                model.evaluate(x_test, y_test, verbose=0)[1]
            )
            print(seed, rate, np.mean(losses), test[str(rate)], flush=True)
        result["seeds"].append(
            {"seed": seed, "held_out": held_out, "wrong": wrong, "test": test}
        )
        with open(out, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        compare(sys.argv[2:])
    elif sys.argv[1] == "--starts":
        compare_starts(*sys.argv[2:4])
    else:
        args, normalization = sys.argv[1:], None
        if args[0] == "--normalization":
            normalization, args = args[1], args[2:]
        record(args[0], args[1], [int(s) for s in args[2:]], normalization)
