"""Draws the diagnostics page's figure: `docs/img/equivariance_curves.png`.

    pip install matplotlib && python docs/scripts/equivariance_curves.py

Trains the demo's C4 CNN (`examples/demo.py`, 64 images, 40 epochs, the
penalty with `lambda_perp=0.1`) with an `EquivarianceMonitor` and plots
each regularised weight's `||T - P T|| / ||T||` with `plot_equivariance`.
"""

import importlib.util
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import matplotlib

matplotlib.use("Agg")

from keras_approxeq import EquivarianceMonitor
from keras_approxeq import plot_equivariance

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def main():
    spec = importlib.util.spec_from_file_location(
        "demo", os.path.join(ROOT, "examples", "demo.py")
    )
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    keras.utils.set_random_seed(0)
    model = demo.build_model(0.1)
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x, y = demo.make_data(64, seed=1)
    history = model.fit(
        x,
        y,
        batch_size=16,
        epochs=40,
        verbose=0,
        callbacks=[EquivarianceMonitor(x[:16], group="C4")],
    )
    ax = plot_equivariance(history)
    path = os.path.join(ROOT, "docs", "img", "equivariance_curves.png")
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=100)
    error = history.history["equivariance_error"]
    print(f"wrote {path}; equivariance_error {error[0]:.3f} -> {error[-1]:.3f}")


if __name__ == "__main__":
    main()
