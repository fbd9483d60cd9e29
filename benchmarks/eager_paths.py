"""Eager (outside `fit`) costs on a real model: ResNet50, C4 and D4.

Times, on `keras.applications.ResNet50(weights=None)` with 32x32x3 inputs:
`regularize` (cloning included), the first and a second evaluation of
`sum(model.losses)` (first: the projectors' constants are made), and
`equivariance_report` and `project_weights` (with a batch of 8).

    KERAS_BACKEND=jax python benchmarks/eager_paths.py

prints `seconds <group> <what> <value>`.
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
from keras import ops

from keras_approxeq import equivariance_report
from keras_approxeq import project_weights
from keras_approxeq import regularize
from keras_approxeq._memo import clear_caches


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def measure(group, model, x):
    clear_caches()  # the NumPy precomputation is timed too
    model, seconds = _timed(lambda: regularize(model, group, verbose=False))
    print(f"seconds {group} regularize {seconds:.2f}")
    for what in ("losses_first", "losses_again"):
        _, seconds = _timed(
            lambda: ops.convert_to_numpy(ops.sum(ops.stack(model.losses)))
        )
        print(f"seconds {group} {what} {seconds:.2f}")
    _, seconds = _timed(lambda: equivariance_report(model))
    print(f"seconds {group} equivariance_report {seconds:.2f}")
    _, seconds = _timed(lambda: project_weights(model, x))
    print(f"seconds {group} project_weights {seconds:.2f}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", nargs="+", default=["C4", "D4"])
    args = parser.parse_args(argv)
    model = keras.applications.ResNet50(
        weights=None, input_shape=(32, 32, 3), classes=10
    )
    x = np.random.default_rng(0).normal(size=(8, 32, 32, 3))
    model(x)  # the plain forward pass, compiled or traced once
    print(f"# backend {keras.backend.backend()}, ResNet50, 32x32x3")
    for group in args.groups:
        measure(group, model, x)


if __name__ == "__main__":
    main()
