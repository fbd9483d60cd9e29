"""Training-step cost of the penalty on `keras.applications` models.

ResNet50, MobileNetV2 and EfficientNetB0 (`weights=None`, 32x32x3 inputs,
batch 8, Adam, 10 classes), each trained with:

* `none`: no regularizer;
* `keras_l2`: `keras.regularizers.L2(1e-2)` on every kernel;
* `projection_c4`, `projection_d4`: `ProjectionRegularizer` (`fro`,
  trivial fields) on every kernel, attached by `regularize`;
* `projection_c4_regular`: regular C4 fields wherever a channel count is
  a multiple of 4 (trivial RGB input, logits and EfficientNet's
  squeeze-and-excitation bottlenecks), the regular-field model, its
  kernels and biases;
* `projection_c4_regular_tied`: the same as `regularize` makes it by
  default, with the scale and offset of every `BatchNormalization`
  tied per field too;
* `sampled_k1`: the sample-based baseline `SampledEquivariance` with one
  group element per step;
* `decay_c4`, `decay_d4`, `decay_c4_regular`: the README's recipe,
  `regularize(model, group, penalty=False, decay=0.1)`, which puts a
  `ProjectionDecay` as every kernel's constraint (trivial fields; regular
  C4 fields as in `projection_c4_regular`, kernels and biases) and no
  penalty;
* `keras_weight_decay`: the decoupled decay Keras itself offers, Adam's
  `weight_decay=1e-2` (as AdamW), on the kernels only, as `keras_l2`:
  the baseline of the `decay_*` cases.

Each case trains with `train_on_batch`, timed in interleaved rounds, in
a new random order each round, each call after one untimed step of the
same model, and the median over rounds is reported:

    KERAS_BACKEND=jax python benchmarks/real_models.py [--models ResNet50]

prints `ratio <model> <case> <step time / step time without a
regularizer>` per case (`--cases` times only some, with `none` and
`keras_l2`), `per_round <model> <case> <baseline> <median> <first
quartile> <third quartile>` of the ratios to `none`'s or `keras_l2`'s
step in the same round (how much the ratios move from round to round),
and `first_step <model> <case> <first step / L2's first step>`
(compilation or tracing included; `--first-steps N` makes every model
`N` times, in a new order each time, and compares medians).
`--jit-compile true` compiles every model's step (on PyTorch with
`torch.compile`; Keras' default, `auto`, compiles on JAX and TensorFlow
only).

`--xla-cost` (JAX) times nothing: it prints XLA's own cost analysis of
each case's compiled training step, `xla_bytes <model> <case> <bytes
accessed / those without a regularizer>` and `xla_flops ...`, the work
the step does, free of the timings' noise and of the order in which
XLA's runtime happens to execute it.
"""

import argparse
import functools
import gc
import os
import time
import warnings

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
from xla_cost import cost

from keras_approxeq import SampledEquivariance
from keras_approxeq import regularize
from keras_approxeq.penalties.regularize import NORMALIZATION_LAYERS

MODELS = {
    "ResNet50": keras.applications.ResNet50,
    "MobileNetV2": keras.applications.MobileNetV2,
    "EfficientNetB0": keras.applications.EfficientNetB0,
}
INPUT_SHAPE = (32, 32, 3)
# Always timed: the ratios' denominators.
BASELINES = ("none", "keras_l2")
BATCH = 8
DECAY_RATE = 0.1
# Optimizer options per case (Adam's, besides its learning rate).
OPTIMIZER_OPTIONS = {"keras_weight_decay": {"weight_decay": 1e-2}}
# The variables Adam's weight decay leaves alone in `keras_weight_decay`
# (matched against variable names): all but the kernels.
NOT_KERNELS = ("bias", "gamma", "beta")


def backbone(name):
    keras.utils.set_random_seed(0)
    return MODELS[name](
        weights=None,
        input_shape=INPUT_SHAPE,
        classes=10,
        classifier_activation=None,  # logits, as the loss expects
    )


def regular_fields(model):
    """`(in_rep, out_rep)` functions: regular C4 fields wherever a channel
    count is a multiple of 4, trivial ones elsewhere (the RGB input, the
    logits, EfficientNet's squeeze-and-excitation bottlenecks)."""
    first = next(
        layer.name for layer in model.layers if hasattr(layer, "kernel_size")
    )

    def channels(layer, axis):
        if isinstance(layer, NORMALIZATION_LAYERS):
            return (layer.gamma if layer.scale else layer.beta).shape[-1]
        kernel = getattr(layer, "depthwise_kernel", None)
        return (layer.kernel if kernel is None else kernel).shape[axis]

    def in_rep(layer):
        fits = channels(layer, -2) % 4 == 0 and layer.name != first
        return "regular" if fits else "trivial"

    def out_rep(layer):
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            return in_rep(layer)
        return "regular" if channels(layer, -1) % 4 == 0 else "trivial"

    return in_rep, out_rep


def l2(model):
    for layer in model._flatten_layers(include_self=False):
        for name in ("kernel", "depthwise_kernel"):
            variable = getattr(layer, name, None)
            if variable is not None:
                variable.regularizer = keras.regularizers.L2(1e-2)
    return model


def cases(name):
    """Case name -> function returning the (uncompiled) model `name`
    (the models are made only when the functions are called)."""

    def projection(group, regular=False, normalization=False, **options):
        options = options or {"lambda_perp": 1e-2}

        def make():
            model = backbone(name)
            reps = {}
            if regular:
                in_rep, out_rep = regular_fields(model)
                reps = {"in_rep": in_rep, "out_rep": out_rep}
            if regular and not normalization:
                # Kernels only, as measured before `regularize` tied the
                # normalisation layers (whose batch statistics break
                # equivariance between regular fields anyway).
                reps["layers"] = lambda layer: (
                    not isinstance(layer, NORMALIZATION_LAYERS)
                )
            with warnings.catch_warnings():
                # The batch statistics' warning, once per model built.
                warnings.simplefilter("ignore", UserWarning)
                return regularize(
                    model, group, verbose=False, **reps, **options
                )

        return make

    recipe = {"penalty": False, "decay": DECAY_RATE}

    def sampled():
        return SampledEquivariance(
            backbone(name), "C4", num_samples=1, weight=1e-2
        )

    return {
        "none": lambda: backbone(name),
        "keras_l2": lambda: l2(backbone(name)),
        "projection_c4": projection("C4"),
        "projection_d4": projection("D4"),
        "projection_c4_regular": projection("C4", regular=True),
        "projection_c4_regular_tied": projection(
            "C4", regular=True, normalization=True
        ),
        "sampled_k1": sampled,
        "decay_c4": projection("C4", **recipe),
        "decay_d4": projection("D4", **recipe),
        "decay_c4_regular": projection("C4", regular=True, **recipe),
        "keras_weight_decay": lambda: backbone(name),
    }


def interleaved(runs, rounds, rng, repeats=1, per_call=1, prepare=None):
    """`{case: [seconds per unit, one per round]}` for `runs`, functions of
    no arguments, each called `repeats` times per round, in a new random
    order each round; `per_call` units (steps) per call. `prepare`, if
    given, maps each case to a function called untimed just before it."""
    times = {case: [] for case in runs}
    order = list(runs)
    for _ in range(rounds):
        rng.shuffle(order)
        for case in order:
            if prepare is not None:
                prepare[case]()
            start = time.perf_counter()
            for _ in range(repeats):
                runs[case]()
            elapsed = time.perf_counter() - start
            times[case].append(elapsed / (repeats * per_call))
    return times


def train(model, x, y):
    """One optimizer step per batch of `x`, `y`, with `train_on_batch`
    (the step `fit` runs, without its data pipeline and callbacks)."""
    for start in range(0, len(x), BATCH):
        model.train_on_batch(x[start : start + BATCH], y[start : start + BATCH])


def compiled_models(name, only=None, jit_compile="auto", rng=None):
    """`(case, compiled model)` for `none`, `keras_l2` and the cases in
    `only` (every case if `None`), each model made when it is reached:
    `none` first, the others in a random order if `rng` is given."""
    makers = {
        case: make
        for case, make in cases(name).items()
        if not only or case in (*BASELINES, *only)
    }
    order = [case for case in makers if case != "none"]
    if rng is not None:
        rng.shuffle(order)
    for case in ("none", *order):
        model = makers[case]()
        optimizer = keras.optimizers.Adam(
            1e-4, **OPTIMIZER_OPTIONS.get(case, {})
        )
        if optimizer.weight_decay:
            optimizer.exclude_from_weight_decay(var_names=NOT_KERNELS)
        model.compile(
            optimizer,
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=jit_compile,
        )
        yield case, model


def measure(
    name, steps, rounds, rng, jit_compile="auto", only=None, first_steps=1
):
    x = rng.normal(size=(BATCH * steps, *INPUT_SHAPE)).astype("float32")
    y = rng.integers(0, 10, size=BATCH * steps)
    first = {}
    # Each repeat makes every model afresh, in a new order (after `none`,
    # which pays for what a process does once); the last ones are timed.
    for _ in range(first_steps):
        models = {}
        for case, model in compiled_models(name, only, jit_compile, rng):
            # Untimed: the models of the last repeat, now garbage, would
            # be collected within some case's first step.
            gc.collect()
            start = time.perf_counter()
            model.train_on_batch(x[:BATCH], y[:BATCH])
            first.setdefault(case, []).append(time.perf_counter() - start)
            models[case] = model
    first = {case: np.median(seconds) for case, seconds in first.items()}
    runs = {
        case: functools.partial(train, model, x, y)
        for case, model in models.items()
    }
    # One untimed step before each timed call. On TensorFlow the first
    # call of a model's step after other models ran could take a one-off
    # 10-15 s on ResNet50 (one thread), whatever the model carried, and
    # `fit`, timed over 10 steps, read 1, 1.4 or 2 times a plain step for
    # any case, sampled included: a constant per call, not the step.
    prepare = {
        case: functools.partial(train, model, x[:BATCH], y[:BATCH])
        for case, model in models.items()
    }
    times = interleaved(runs, rounds, rng, per_call=steps, prepare=prepare)
    base = np.median(times["none"])
    print(
        f"# {name}, backend {keras.backend.backend()}, {steps} steps x "
        f"{rounds} rounds, jit_compile={jit_compile}, median step without "
        "regularizer "
        f"{1e3 * base:.1f} ms, first step with L2 {first['keras_l2']:.1f} s",
        flush=True,
    )
    for case, values in times.items():
        print(f"ratio {name} {case} {np.median(values) / base:.3f}")
    # Round by round, against the baselines timed in the same round: how
    # far the ratios move between rounds.
    for case, values in times.items():
        for baseline in BASELINES:
            paired = np.divide(values, times[baseline])
            low, middle, high = np.percentile(paired, [25, 50, 75])
            print(
                f"per_round {name} {case} {baseline} {middle:.3f} "
                f"{low:.3f} {high:.3f}"
            )
    for case, seconds in first.items():
        print(f"first_step {name} {case} {seconds / first['keras_l2']:.3f}")


def static_costs(name, only=None):
    """XLA's cost analysis of each case's compiled training step (JAX)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, *INPUT_SHAPE)).astype("float32")
    y = rng.integers(0, 10, size=BATCH)
    costs = {}
    for case, model in compiled_models(name, only):
        if not model.built:  # `SampledEquivariance`, a wrapping model
            model(x)
        model.optimizer.build(model.trainable_variables)
        state = tuple(
            [variable.value for variable in variables]
            for variables in (
                model.trainable_variables,
                model.non_trainable_variables,
                model.optimizer.variables,
                model.metrics_variables,
            )
        )
        costs[case] = cost(model.train_step, state, (x, y, None))
    base_bytes, base_flops = costs["none"]
    print(
        f"# {name}, XLA cost analysis of one training step without "
        f"regularizer: {base_bytes / 1e6:.0f} MB accessed, "
        f"{base_flops / 1e9:.2f} GFLOP",
        flush=True,
    )
    for case, (size, flops) in costs.items():
        print(f"xla_bytes {name} {case} {size / base_bytes:.3f}")
        print(f"xla_flops {name} {case} {flops / base_flops:.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--jit-compile", choices=("auto", "true", "false"), default="auto"
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        choices=[case for case in cases(None) if case not in BASELINES],
        help="the cases to time besides `none` and `keras_l2` (default: all)",
    )
    parser.add_argument(
        "--xla-cost",
        action="store_true",
        help="print XLA's cost analysis of each step instead (JAX)",
    )
    parser.add_argument(
        "--first-steps",
        type=int,
        default=1,
        help="how many times each case's first step is timed, on models "
        "made afresh each time (the median is reported)",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args(argv)
    if args.xla_cost:
        if keras.backend.backend() != "jax":
            parser.error(
                "--xla-cost reads XLA's cost analysis of the compiled step, "
                f"so it needs KERAS_BACKEND=jax (got "
                f"{keras.backend.backend()!r})"
            )
        for name in args.models:
            static_costs(name, args.cases)
        return
    jit_compile = {"true": True, "false": False}.get(args.jit_compile, "auto")
    if args.quick:
        args.steps, args.rounds = 1, 1
    rng = np.random.default_rng(0)
    for name in args.models:
        measure(
            name,
            args.steps,
            args.rounds,
            rng,
            jit_compile,
            args.cases,
            args.first_steps,
        )


if __name__ == "__main__":
    main()
