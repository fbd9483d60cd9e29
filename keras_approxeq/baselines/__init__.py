"""What the projection penalty is compared with.

- `sampled`: `SampledEquivariance`, the sample-based regulariser
  `||f(g x) - g f(x)||^2` for random group elements, one extra forward
  pass per sample.

The relaxed and residual-pathway layers, the other baselines, are layers:
`keras_approxeq.layers.RelaxedGroupConv2D` and `ResidualPathway`.
"""

from keras_approxeq.baselines.sampled import SampledEquivariance

__all__ = ["SampledEquivariance"]
