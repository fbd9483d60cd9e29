"""How equivariant a model is, and making it exactly so.

- `error`: `equivariance_error(fn, x, group)`, measured on data;
- `report`: `equivariance_report(model)`, the relative residual
  `||T - P(T)|| / ||T||` of every regularised weight;
- `callbacks`: `EquivarianceMonitor`, both during training;
- `plotting`: `plot_equivariance`, the monitor's history as a figure;
- `deploy`: `project_weights(model)`, every regularised weight replaced by
  its projection.
"""

from keras_approxeq.diagnostics.callbacks import EquivarianceMonitor
from keras_approxeq.diagnostics.deploy import project_weights
from keras_approxeq.diagnostics.error import equivariance_error
from keras_approxeq.diagnostics.plotting import plot_equivariance
from keras_approxeq.diagnostics.report import equivariance_report

__all__ = [
    "EquivarianceMonitor",
    "equivariance_error",
    "equivariance_report",
    "plot_equivariance",
    "project_weights",
]
