"""`select_and_fit` on one cell of the study, against the replay.

    cd docs/runs/symmetry_breaking
    KERAS_BACKEND=jax python select_and_fit_check.py DIAL IMAGES \
        [--seeds 0,1,2] [the example's flags: --noise NOISE, --steps N]

For each seed, runs `select_and_fit` on the example's plain model with
`weight_decays` at the `--shrink` records' per-step shrinks
(`weight_decay = shrink / learning_rate`), 3 folds, the example's steps
and batch size, and prints its pick and the chosen model's test error
next to the pick that `cv_record.py --joint` replays for that seed from
the records (in `noise_NOISE/`, or here for the example's noise 0.1).

The candidates are the replay's but for the projected start's random
draw: `regularize(..., reinitialize=True)` re-draws the kernels of a
built model, where the example draws them when it builds one. The
own, weight-decay and `rates on` candidates train as the records'
did, so the two picks should agree unless the projected family is
chosen.
"""

import pathlib
import sys
import time

import cv_record
import numpy as np

from keras_approxeq import select_and_fit


def main():
    arguments, seeds = sys.argv[1:], (0, 1, 2)
    if "--seeds" in arguments:
        at = arguments.index("--seeds")
        seeds = tuple(int(s) for s in arguments[at + 1].split(","))
        del arguments[at : at + 2]
    dial, size = float(arguments[0]), int(arguments[1])
    study = cv_record.load_example(argv=arguments[2:])
    learning_rate = study["LEARNING_RATE"]
    keras = study["keras"]
    replayed = _replayed(study["NOISE"], dial, size)
    steps = study["fit_kwargs"](size)

    def representation(axis):
        def rep(layer):
            channels = layer.kernel.shape[axis]
            return "trivial" if channels == 1 else "regular"

        return rep

    for seed in seeds:
        (x, y), (x_test, y_test) = study["make_data"](dial, size, seed)
        began = time.perf_counter()
        model, best, _ = select_and_fit(
            lambda seed=seed: study["build_model"]("decay", seed, 0.0),
            "C4",
            x,
            y,
            loss="mse",
            optimizer=keras.optimizers.Adam(learning_rate),
            weight_decays=[s / learning_rate for s in cv_record.SHRINKS],
            in_rep=representation(-2),
            out_rep=representation(-1),
            folds=3,
            verbose=False,
            **steps,
        )
        error = study["relative_error"](model, x_test, y_test)
        pick, test = replayed[seed]
        print(
            f"seed {seed}: select_and_fit {_in_shrinks(best, learning_rate)}"
            f", test error {error:.3f}; replay {pick[1]} {pick[0]:g}, "
            f"{test[pick]:.3f} ({time.perf_counter() - began:.0f} s)",
            flush=True,
        )


def _in_shrinks(best, learning_rate):
    """`select_and_fit`'s pick named as the replay names it: a weight
    decay by its per-step shrink."""
    strength, family = best
    if family == "weight decay":
        return f"weight decay {strength * learning_rate:.3g}"
    if family.startswith("rates on weight decay "):
        decay = float(family.rsplit(" ", 1)[1])
        return f"rates on {decay * learning_rate:.3g} {strength:g}"
    return f"{family} {strength:g}"


def _replayed(noise, dial, size):
    """Per seed, `cv_record.joint`'s pick and every candidate's test
    error, from the records of the cell."""
    here = pathlib.Path(__file__).parent
    directory = here if noise == 0.1 else here / f"noise_{noise:g}"
    own = directory / f"cv_{size}_images_dial_{dial:g}_folds_3.json"
    by_family = cv_record.joint_records(str(own))
    return list(
        cv_record.replay_starts(
            list(by_family.values()), "1se", tuple(by_family), cv_record.STARTS
        )
    )


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
