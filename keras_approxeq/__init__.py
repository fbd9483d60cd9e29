"""keras-approxeq: approximate equivariance for Keras 3 by projection.

Penalise the non-equivariant part `T - P(T)` of every layer, exactly:

```python
import keras
from keras_approxeq import ProjectionRegularizer

reg = ProjectionRegularizer("C4", in_rep="regular", out_rep="regular")
layer = keras.layers.Conv2D(32, 3, padding="same", kernel_regularizer=reg)
```

The subpackages follow the maths, each depending only on those above it:
`symmetry` (groups, representations) <- `actions` (on feature maps and
kernels) <- `kernels` (steerable bases) <- `projection` (`P`) <-
`penalties` (regularizer, decay, initializer, strength) <- `diagnostics`,
`baselines` and `layers`. The names below are the everyday surface.
"""

from keras_approxeq import _legacy_paths
from keras_approxeq import actions
from keras_approxeq import baselines
from keras_approxeq import diagnostics
from keras_approxeq import kernels
from keras_approxeq import layers
from keras_approxeq import penalties
from keras_approxeq import projection
from keras_approxeq import symmetry
from keras_approxeq.actions import transform
from keras_approxeq.baselines import SampledEquivariance
from keras_approxeq.diagnostics import EquivarianceMonitor
from keras_approxeq.diagnostics import equivariance_error
from keras_approxeq.diagnostics import equivariance_report
from keras_approxeq.diagnostics import plot_equivariance
from keras_approxeq.diagnostics import project_weights
from keras_approxeq.penalties import ProjectedInitializer
from keras_approxeq.penalties import ProjectionDecay
from keras_approxeq.penalties import ProjectionRegularizer
from keras_approxeq.penalties import regularize
from keras_approxeq.penalties import rescale_kernels
from keras_approxeq.penalties import select_and_fit
from keras_approxeq.penalties import select_strength
from keras_approxeq.projection import project
from keras_approxeq.version import __version__

__all__ = [
    "EquivarianceMonitor",
    "ProjectedInitializer",
    "ProjectionDecay",
    "ProjectionRegularizer",
    "SampledEquivariance",
    "__version__",
    "actions",
    "baselines",
    "diagnostics",
    "equivariance_error",
    "equivariance_report",
    "kernels",
    "layers",
    "penalties",
    "plot_equivariance",
    "project",
    "project_weights",
    "projection",
    "regularize",
    "rescale_kernels",
    "select_and_fit",
    "select_strength",
    "symmetry",
    "transform",
]

_legacy_paths.install(__name__)
