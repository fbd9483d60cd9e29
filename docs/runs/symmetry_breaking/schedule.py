"""`ProjectionDecay` under a learning-rate schedule, on the study's task.

    KERAS_BACKEND=jax python docs/runs/symmetry_breaking/schedule.py \
        DIAL IMAGES RATE [SEEDS]

For each seed (default `0,1,2`) it trains the study's student on one
cell's training images, as `examples/symmetry_breaking.py` does (its
data, models and number of steps; the script runs the example's code up
to its section "The recipe"), and prints the test error of:

* the plain model and the decay of rate `RATE`, at the example's constant
  learning rate;
* the same under Adam with `CosineDecay` from that learning rate to 0
  over the training's steps: the plain model, the decay at its fixed
  rate, the decay following the learning rate
  (`ProjectionDecay(learning_rate=...)`, the schedule's peak), and the
  exact model (rate 1).

The last lines are the mean and standard deviation over the seeds of each.

    KERAS_BACKEND=jax python docs/runs/symmetry_breaking/schedule.py \
        --recipe DIAL IMAGES [SEEDS]

runs the study's recipe under the cosine schedule instead, its decays at
fixed rates and then following the learning rate: the rate that
`select_strength(folds=3, rule="1se")` picks from the example's rates
(from Keras' start only, which the study's recipe keeps on 44 of 45
seed-cells), and the test error of the final fit at that rate.
"""

import pathlib
import sys

import keras
import numpy as np

from keras_approxeq import ProjectionDecay
from keras_approxeq import select_strength

EXAMPLE = (
    pathlib.Path(__file__).parents[3] / "examples" / "symmetry_breaking.py"
)

CASES = (
    ("plain", 0.0, "constant", False),
    ("decay", None, "constant", False),
    ("plain", 0.0, "cosine", False),
    ("decay", None, "cosine", False),
    ("decay, following the learning rate", None, "cosine", True),
    ("exact", 1.0, "cosine", False),
)


def load_study():
    """The example's namespace, run up to its section "The recipe"."""
    source = EXAMPLE.read_text()
    source = source[: source.index('"""\n## The recipe')]
    sys.argv = [str(EXAMPLE)]
    study = {"__name__": "symmetry_breaking"}
    exec(compile(source, str(EXAMPLE), "exec"), study)
    return study


def build(study, seed, rate, schedule, following):
    """The study's student with decays of `rate`, compiled with Adam at
    the example's learning rate, constant or under `CosineDecay`."""
    peak = study["LEARNING_RATE"]
    model = study["build_model"]("decay", seed, rate)
    if following:
        follow_the_learning_rate(model, peak)
    if schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(
            peak, study["STEPS"]
        )
        model.compile(keras.optimizers.Adam(learning_rate), "mse")
    return model


def main(dial, images, rate, seeds):
    study = load_study()
    errors = {case: [] for case in CASES}
    for seed in seeds:
        (x, y), test = study["make_data"](dial, images, seed)
        for case in CASES:
            _, case_rate, schedule, following = case
            case_rate = rate if case_rate is None else case_rate
            model = build(study, seed, case_rate, schedule, following)
            model.fit(x, y, verbose=0, **study["fit_kwargs"](images))
            errors[case].append(study["relative_error"](model, *test))
            print(f"seed {seed} {label(case, rate)}: {errors[case][-1]:.4f}")
    for case, values in errors.items():
        print(
            f"mean {label(case, rate)}: {np.mean(values):.4f} +- "
            f"{np.std(values):.4f}"
        )


def recipe(dial, images, seeds):
    study = load_study()
    folds = study["FOLDS"]
    errors = {False: [], True: []}
    for seed in seeds:
        (x, y), test = study["make_data"](dial, images, seed)
        for following in (False, True):
            best, _ = select_strength(
                lambda rate: build(study, seed, rate, "cosine", following),
                x,
                y,
                strengths=study["RATES"],
                folds=folds,
                rule="1se",
                verbose=False,
                **study["fit_kwargs"](images - images // folds),
            )
            model = build(study, seed, best, "cosine", following)
            model.fit(x, y, verbose=0, **study["fit_kwargs"](images))
            errors[following].append(study["relative_error"](model, *test))
            print(
                f"seed {seed} recipe, cosine, decays "
                f"{'following the learning rate' if following else 'fixed'}"
                f": rate {best:g}, test error {errors[following][-1]:.4f}",
                flush=True,
            )
    for following, values in errors.items():
        print(
            f"mean recipe, cosine, decays "
            f"{'following the learning rate' if following else 'fixed'}: "
            f"{np.mean(values):.4f} +- {np.std(values):.4f}"
        )


def follow_the_learning_rate(model, peak):
    """Gives every `ProjectionDecay` of `model` `learning_rate=peak`."""
    for variable in model.trainable_weights:
        if isinstance(variable.constraint, ProjectionDecay):
            config = dict(variable.constraint.get_config(), learning_rate=peak)
            variable.constraint = ProjectionDecay.from_config(config)


def label(case, rate):
    name, case_rate, schedule, _ = case
    case_rate = rate if case_rate is None else case_rate
    return f"{name} (rate {case_rate:g}), {schedule} learning rate"


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[0] == "--recipe":
        seeds = args[3] if len(args) > 3 else "0,1,2"
        recipe(float(args[1]), int(args[2]), [int(s) for s in seeds.split(",")])
    else:
        seeds = args[3] if len(args) > 3 else "0,1,2"
        main(
            float(args[0]),
            int(args[1]),
            float(args[2]),
            [int(s) for s in seeds.split(",")],
        )
