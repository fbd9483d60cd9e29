"""The exact orthogonal projection `P` onto the equivariant kernels.

Every projector is `P = Q Q^T` for an orthonormal basis `Q` of the
equivariant kernels of one signature (group, representations, shape,
layout), built once in NumPy and applied with `keras.ops`:

- `interface`: what every projector offers (`apply`, `residual`,
  `coefficients`, `expand`, ...);
- `orbit`: orbit averages, for groups and representations that act by
  signed permutations;
- `kronecker`: the same projection on one copy of the fields, applied to
  every copy by dense contractions (the default for grid groups);
- `steerable`: sampled bases (`keras_approxeq.kernels`) for the other
  rotation groups;
- `spectral`: per irrep after a group Fourier transform
  (`domain="fourier"`, and regular fields of `C<N>`, `D<N>`);
- `weight_views`: biases and transposed kernels seen as kernels;
- `projectors`: `get_projector`, which picks one of these, and `project`;
- `target`: `ProjectionTarget`, the validated options that the penalties
  share.
"""

from keras_approxeq.projection.kronecker import KroneckerProjector
from keras_approxeq.projection.orbit import OrbitProjector
from keras_approxeq.projection.projectors import get_projector
from keras_approxeq.projection.projectors import project
from keras_approxeq.projection.spectral import SpectralProjector
from keras_approxeq.projection.steerable import SteerableProjector
from keras_approxeq.projection.target import ProjectionTarget

__all__ = [
    "KroneckerProjector",
    "OrbitProjector",
    "ProjectionTarget",
    "SpectralProjector",
    "SteerableProjector",
    "get_projector",
    "project",
]
