"""What training does with the projection: penalties, decay, starts.

- `norms` and `operator_norms`: the norm of the residual `T - P(T)`;
- `euclidean`: the Frobenius penalties, with their gradient in closed
  form;
- `regularizer`: `ProjectionRegularizer`, `lambda_perp ||T - P(T)||`
  added to the loss;
- `decay`: `ProjectionDecay`, a constraint that shrinks `T - P(T)` by a
  rate after every step;
- `initializers`: `ProjectedInitializer`, a start inside the equivariant
  subspace;
- `regularize`: `regularize(model, group)`, all of these on an existing
  model;
- `selection`: `select_strength`, the strength chosen by cross-validation;
- `recipe`: `select_and_fit`, a model's rate, start (and weight decay)
  chosen and the chosen model fitted, in one call;
- `calibration`: `rescale_kernels`, an equivariant start rescaled to unit
  scale on a batch of data.
"""

from keras_approxeq.penalties import norms
from keras_approxeq.penalties import operator_norms
from keras_approxeq.penalties.calibration import rescale_kernels
from keras_approxeq.penalties.decay import ProjectionDecay
from keras_approxeq.penalties.initializers import ProjectedInitializer
from keras_approxeq.penalties.recipe import select_and_fit
from keras_approxeq.penalties.regularize import regularize
from keras_approxeq.penalties.regularizer import ProjectionRegularizer
from keras_approxeq.penalties.selection import select_strength

__all__ = [
    "ProjectedInitializer",
    "ProjectionDecay",
    "ProjectionRegularizer",
    "norms",
    "operator_norms",
    "regularize",
    "rescale_kernels",
    "select_and_fit",
    "select_strength",
]
