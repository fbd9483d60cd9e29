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

The last line is the mean and standard deviation over the seeds of each.
"""

import pathlib
import sys

import keras
import numpy as np

from keras_approxeq import ProjectionDecay

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


def main(dial, images, rate, seeds):
    source = EXAMPLE.read_text()
    source = source[: source.index('"""\n## The recipe')]
    sys.argv = [str(EXAMPLE)]
    study = {"__name__": "symmetry_breaking"}
    exec(compile(source, str(EXAMPLE), "exec"), study)
    peak, steps = study["LEARNING_RATE"], study["STEPS"]
    errors = {case: [] for case in CASES}
    for seed in seeds:
        (x, y), test = study["make_data"](dial, images, seed)
        for case in CASES:
            _, case_rate, schedule, following = case
            model = study["build_model"](
                "decay", seed, rate if case_rate is None else case_rate
            )
            if following:
                follow_the_learning_rate(model, peak)
            if schedule == "cosine":
                learning_rate = keras.optimizers.schedules.CosineDecay(
                    peak, steps
                )
                model.compile(keras.optimizers.Adam(learning_rate), "mse")
            model.fit(x, y, verbose=0, **study["fit_kwargs"](images))
            errors[case].append(study["relative_error"](model, *test))
            print(f"seed {seed} {label(case, rate)}: {errors[case][-1]:.4f}")
    for case, values in errors.items():
        print(
            f"mean {label(case, rate)}: {np.mean(values):.4f} +- "
            f"{np.std(values):.4f}"
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
    seeds = sys.argv[4] if len(sys.argv) > 4 else "0,1,2"
    main(
        float(sys.argv[1]),
        int(sys.argv[2]),
        float(sys.argv[3]),
        [int(s) for s in seeds.split(",")],
    )
