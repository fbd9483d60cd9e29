"""Cost of one projection `P(K)` against one basis expansion `Q c`.

An equivariant layer library (escnn's `R2Conv`/`R3Conv`) expands its
coefficients into a kernel every step, `K = Q c`; the projection is an
analysis `c = Q^T K` and a synthesis, so twice an expansion is its
natural floor. Per case, with the projector's own basis, in one run:

* `apply`: `P(K)`, and `apply_grad`: `P(K)` with the gradient of
  `sum(P(K) * G)`;
* `expand`: `Q c`, and `expand_grad` likewise;
* `penalty_grad`: the `ProjectionRegularizer` (`"fro"`) of `K` with its
  gradient, what a training step computes for the kernel: one residual
  `K - P(K)` and a closed-form gradient, so no second projection;

in interleaved rounds (each round times each of them once), so the ratios,
medians over the rounds of each round's own, are measured side by side.

    KERAS_BACKEND=torch python benchmarks/projector_apply.py

prints `time <case> <what> <ms>` and `ratio <case> apply/expand <value>`
(and the same with gradients, and `penalty_grad/expand_grad`). On
PyTorch it also prints the number of operations one penalty evaluation
dispatches (`ops <case> <count>`, counted by the profiler). On JAX it
also prints XLA's cost analysis of the same pairs of compiled functions,
`xla_bytes <case> apply/expand <value>` and `xla_flops ...`: the work
each does, apart from the timings' noise.
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
from keras import ops
from xla_cost import cost

from keras_approxeq import ProjectionRegularizer

SO3_FIELDS = ["irrep0", "irrep1", "irrep2"]  # 9 channels a copy
# name -> (group, in_rep, out_rep, kernel shape, regularizer options)
CASES = {
    "so3_7x7x7_irreps012_63to63": (
        "SO3",
        SO3_FIELDS,
        SO3_FIELDS,
        (7, 7, 7, 63, 63),
        {},
    ),
    "d16_9x9_regular_64to64": (
        "D16",
        "regular",
        "regular",
        (9, 9, 64, 64),
        {},
    ),
    "c4_3x3_trivial_256to256": (
        "C4",
        "trivial",
        "trivial",
        (3, 3, 256, 256),
        {},
    ),
    "c4_3x3_regular_256to256": (
        "C4",
        "regular",
        "regular",
        (3, 3, 256, 256),
        {},
    ),
}

# The ratios printed: P against the expansion, alone and with gradients,
# and the penalty with its gradient against the expansion with its own.
PAIRS = (
    ("apply", "expand"),
    ("apply_grad", "expand_grad"),
    ("penalty_grad", "expand_grad"),
)


def _grad(fn, x, cotangent):
    """`fn(x)` and the gradient of `sum(fn(x) * cotangent)`."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        value, vjp = jax.vjp(fn, x)
        return value, vjp(cotangent)[0]
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            value = fn(x)
        return value, tape.gradient(value, x, output_gradients=cotangent)
    import torch

    x = x.detach().requires_grad_(True)
    value = fn(x)
    (grad,) = torch.autograd.grad(value, x, cotangent)
    return value, grad


def _compiled(fn):
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(fn)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=False)
    return fn  # PyTorch runs eagerly, as Keras trains by default


def _block(x):
    ops.convert_to_numpy(ops.sum(x))


def _time(fn, *args, repeats):
    _block(fn(*args)[0] if isinstance(fn(*args), tuple) else fn(*args))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(*args)
        _block(out[-1] if isinstance(out, tuple) else out)
        samples.append(time.perf_counter() - start)
    return 1e3 * float(np.median(samples))


def count_ops(regularizer, kernel):
    """Operations one penalty evaluation (with its gradient) dispatches."""
    import torch

    x = kernel.detach().requires_grad_(True)
    regularizer(x).backward()  # warm the caches
    with torch.profiler.profile() as profile:
        x = kernel.detach().requires_grad_(True)
        regularizer(x).backward()
    return sum(
        event.count
        for event in profile.key_averages()
        if event.key.startswith("aten::")
    )


def print_xla_costs(name, calls):
    """XLA's cost analysis of P against the expansion (JAX)."""
    costs = {what: cost(fn, *inputs) for what, (fn, *inputs) in calls.items()}
    for num, den in PAIRS:
        for i, kind in enumerate(("bytes", "flops")):
            value = costs[num][i] / costs[den][i]
            print(f"xla_{kind} {name} {num}/{den} {value:.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", nargs="+", default=list(CASES))
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(
        f"# backend {keras.backend.backend()}, medians of {args.rounds} "
        f"interleaved rounds of {args.repeats} calls"
    )
    for name in args.cases:
        group, in_rep, out_rep, shape, options = CASES[name]
        regularizer = ProjectionRegularizer(
            group, in_rep=in_rep, out_rep=out_rep, **options
        )
        projector = regularizer.projector(shape)
        kernel = ops.convert_to_tensor(rng.normal(size=shape), "float32")
        cotangent = ops.convert_to_tensor(rng.normal(size=shape), "float32")
        coefficients = projector.coefficients(kernel)
        dual = ops.convert_to_tensor(
            rng.normal(size=tuple(coefficients.shape)), "float32"
        )
        apply = _compiled(projector.apply)
        expand = _compiled(projector.expand)
        # The cotangent is an argument: closed over, it is a constant, and
        # XLA folds the backward pass of a linear map into one (JAX: the
        # expansion's gradient took 0.03 ms instead of 1.6).
        apply_grad = _compiled(lambda k, t: _grad(projector.apply, k, t))
        expand_grad = _compiled(lambda c, t: _grad(projector.expand, c, t))
        penalty_grad = _compiled(lambda k, t: _grad(regularizer, k, t))
        calls = {
            "apply": (apply, kernel),
            "expand": (expand, dual),
            "apply_grad": (apply_grad, kernel, cotangent),
            "expand_grad": (expand_grad, dual, cotangent),
            "penalty_grad": (penalty_grad, kernel, ops.ones((), "float32")),
        }
        # Interleaved rounds: a change of the machine's load hits each
        # round's timings alike, so each round gives its own ratios.
        rounds = {what: [] for what in calls}
        for _ in range(args.rounds):
            for what, (fn, *inputs) in calls.items():
                rounds[what].append(_time(fn, *inputs, repeats=args.repeats))
        for what, ms in rounds.items():
            print(f"time {name} {what} {np.median(ms):.3f}")
        for num, den in PAIRS:
            ratios = np.array(rounds[num]) / np.array(rounds[den])
            print(f"ratio {name} {num}/{den} {np.median(ratios):.2f}")
        if keras.backend.backend() == "torch":
            print(f"ops {name} {count_ops(regularizer, kernel)}", flush=True)
        if keras.backend.backend() == "jax":
            print_xla_costs(name, calls)


if __name__ == "__main__":
    main()
