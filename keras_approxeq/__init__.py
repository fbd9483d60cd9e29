"""keras-approxeq: approximate equivariance for Keras 3 by projection.

Penalise the non-equivariant part `T - P(T)` of every layer, exactly:

```python
import keras
from keras_approxeq import ProjectionRegularizer

reg = ProjectionRegularizer("C4", in_rep="regular", out_rep="regular")
layer = keras.layers.Conv2D(32, 3, padding="same", kernel_regularizer=reg)
```
"""

from keras_approxeq import groups
from keras_approxeq import irreps
from keras_approxeq import layers
from keras_approxeq import layouts
from keras_approxeq import norms
from keras_approxeq import operator_norms
from keras_approxeq import representations
from keras_approxeq import spectral
from keras_approxeq import spherical
from keras_approxeq import steerable
from keras_approxeq.callbacks import EquivarianceMonitor
from keras_approxeq.constraints import ProjectionDecay
from keras_approxeq.deploy import project_weights
from keras_approxeq.diagnostics import equivariance_error
from keras_approxeq.initializers import ProjectedInitializer
from keras_approxeq.plotting import plot_equivariance
from keras_approxeq.projectors import project
from keras_approxeq.regularize import regularize
from keras_approxeq.regularizer import ProjectionRegularizer
from keras_approxeq.report import equivariance_report
from keras_approxeq.sampled import SampledEquivariance
from keras_approxeq.selection import select_strength
from keras_approxeq.transforms import transform
from keras_approxeq.version import __version__

__all__ = [
    "EquivarianceMonitor",
    "ProjectedInitializer",
    "ProjectionDecay",
    "ProjectionRegularizer",
    "SampledEquivariance",
    "__version__",
    "equivariance_error",
    "equivariance_report",
    "groups",
    "irreps",
    "layers",
    "layouts",
    "norms",
    "operator_norms",
    "plot_equivariance",
    "project",
    "project_weights",
    "regularize",
    "representations",
    "select_strength",
    "spectral",
    "spherical",
    "steerable",
    "transform",
]
