"""Exactly equivariant weights for deployment: `project_weights`."""

import numpy as np
from keras import ops

from keras_approxeq.diagnostics.report import no_regularized_weights
from keras_approxeq.diagnostics.report import regularized_weights
from keras_approxeq.diagnostics.report import weight_and_projection

__all__ = ["project_weights"]


def project_weights(model, x=None):
    """Replaces every regularised weight `T` of `model` by `P(T)`.

    After training with `ProjectionRegularizer`, the non-equivariant parts
    are small but not zero; projecting them away gives a model whose
    layers are exactly equivariant (for the groups that permute grid
    points, the whole model is, if its other layers are too: pointwise
    activations, pooling over whole fields, ...). The projection is
    computed in float64 and cast to each weight's dtype.

    Args:
        model: A built Keras model (or layer).
        x: Optional batch of inputs: the outputs before and after are
            compared on it.

    Raises:
        ValueError: if the model has no weight with a
            `ProjectionRegularizer` (nothing would be projected).

    Returns:
        A dict: `"weights"` (how many were projected),
        `"relative_change"` (`||T - P T|| / ||T||` over all of them
        together) and, with `x`, `"max_output_change"` (the largest
        absolute change of the outputs) and `"relative_output_change"`
        (that over the largest absolute output).

    Example:

    >>> import keras
    >>> from keras_approxeq import ProjectionRegularizer
    >>> reg = ProjectionRegularizer("C4")
    >>> model = keras.Sequential([
    ...     keras.Input((8, 8, 1)),
    ...     keras.layers.Conv2D(4, 3, kernel_regularizer=reg),
    ... ])
    >>> project_weights(model)["weights"]
    1
    >>> penalty = reg(model.layers[0].kernel)
    >>> float(keras.ops.convert_to_numpy(penalty)) < 1e-6  # equivariant now
    True

    With data, it also returns how much the outputs moved:
    `project_weights(model, x_val[:64])["relative_output_change"]`.
    """
    pairs = regularized_weights(model)
    if not pairs:
        raise ValueError(no_regularized_weights(model, "project_weights"))
    before = None if x is None else ops.convert_to_numpy(model(x))
    changed = total = 0.0
    for variable, regularizer in pairs:
        kernel, projected = weight_and_projection(variable, regularizer)
        changed += np.sum((kernel - projected) ** 2)
        total += np.sum(kernel**2)
        variable.assign(ops.cast(projected, variable.dtype))
    summary = {
        "weights": len(pairs),
        "relative_change": float(np.sqrt(changed / total) if total else 0.0),
    }
    if x is not None:
        after = ops.convert_to_numpy(model(x))
        change = float(np.max(np.abs(after - before)))
        scale = float(np.max(np.abs(before)))
        summary["max_output_change"] = change
        summary["relative_output_change"] = change / scale if scale else change
    return summary
