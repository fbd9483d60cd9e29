"""The penalties of a whole `keras.applications` model, with their gradient.

The part of a training step that a regularizer adds, without the rest of
the step: for each case of `benchmarks/real_models.py` (Keras' `L2`, the
projection penalty for C4 and D4 with trivial fields and C4 with regular
fields, with and without the normalisation layers tied), the sum of
every weight's penalty and its gradient with respect to every weight,
as a training step computes them (eagerly on PyTorch,
in a `tf.function` on TensorFlow, in `jax.jit` on JAX). A model's step
time varies by several percent from run to run on a small machine, which
hides differences of that order between the cases; this does not. The
cases are timed in interleaved rounds, in a new random order each round:

    KERAS_BACKEND=torch python benchmarks/model_penalties.py [--models ResNet50]

prints `ms <model> <case> <milliseconds per evaluation>` and
`ratio_to_l2 <model> <case> <time / L2's time>`, medians over rounds.
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from real_models import MODELS  # noqa: E402
from real_models import cases  # noqa: E402
from real_models import interleaved  # noqa: E402

CASES = (
    "keras_l2",
    "projection_c4",
    "projection_d4",
    "projection_c4_regular",
    "projection_c4_regular_tied",
)


def penalised(model):
    """`(variables, regularizers)`: the weights that carry a penalty."""
    pairs = [
        (v, v.regularizer)
        for v in model.trainable_weights
        if getattr(v, "regularizer", None) is not None
    ]
    return [v for v, _ in pairs], [r for _, r in pairs]


def evaluation(variables, regularizers):
    """A function of no arguments that computes the penalties and their
    gradients, the way a training step of the backend at hand does."""
    backend = keras.backend.backend()
    if backend == "torch":
        values = [v.value for v in variables]

        def run():
            for value in values:
                value.grad = None
            total = sum(r(v) for r, v in zip(regularizers, values))
            total.backward()
            return total

        return run
    if backend == "tensorflow":
        import tensorflow as tf

        values = [v.value for v in variables]

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                total = tf.add_n([r(v) for r, v in zip(regularizers, values)])
            return total, tape.gradient(total, values)

        return lambda: step()[0].numpy()
    import jax

    values = [v.value for v in variables]

    def total(values):
        return sum(r(v) for r, v in zip(regularizers, values))

    step = jax.jit(jax.value_and_grad(total))
    return lambda: jax.block_until_ready(step(values))


def measure(name, repeats, rounds, rng):
    makers = cases(name)
    runs, counts = {}, {}
    for case in CASES:
        variables, regularizers = penalised(makers[case]())
        runs[case] = evaluation(variables, regularizers)
        runs[case]()  # compile, trace, fill the caches
        counts[case] = len(variables)
    times = interleaved(runs, rounds, rng, repeats=repeats)
    print(
        f"# {name}, backend {keras.backend.backend()}, {repeats} calls x "
        f"{rounds} rounds; penalised weights: "
        + ", ".join(f"{case} {n}" for case, n in counts.items()),
        flush=True,
    )
    base = np.median(times["keras_l2"])
    for case, values in times.items():
        print(f"ms {name} {case} {1e3 * np.median(values):.2f}")
    for case, values in times.items():
        print(f"ratio_to_l2 {name} {case} {np.median(values) / base:.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.repeats, args.rounds = ["MobileNetV2"], 1, 1
    rng = np.random.default_rng(0)
    for name in args.models:
        measure(name, args.repeats, args.rounds, rng)


if __name__ == "__main__":
    main()
