"""Which layers of a model are how equivariant: `equivariance_report`."""

import warnings

import numpy as np
from keras import ops

__all__ = [
    "EquivarianceReport",
    "equivariance_report",
    "regularized_weights",
    "relative_residual",
    "weight_and_projection",
]


def regularized_weights(model):
    """The `(variable, ProjectionRegularizer)` pairs of a model, in order.

    Every weight built with a `ProjectionRegularizer` (as
    `kernel_regularizer`, `bias_regularizer`, `depthwise_regularizer`, or
    through `add_weight(regularizer=...)`) is found, in nested models and
    layers too.
    """
    from keras_approxeq.penalties.regularizer import ProjectionRegularizer

    pairs, seen = [], set()
    for variable in model.weights:
        regularizer = getattr(variable, "regularizer", None)
        if isinstance(regularizer, ProjectionRegularizer):
            if id(variable) not in seen:
                seen.add(id(variable))
                pairs.append((variable, regularizer))
    return pairs


def weight_and_projection(variable, regularizer):
    """`(T, P(T))` of a regularised weight, NumPy float64 arrays."""
    kernel = np.asarray(ops.convert_to_numpy(variable.value), np.float64)
    return kernel, regularizer.projector(kernel.shape).apply_numpy(kernel)


def relative_residual(kernel, projected):
    """`||T - P T||_F / ||T||_F`, and 0 for a zero weight."""
    norm = np.linalg.norm(kernel)
    return float(np.linalg.norm(kernel - projected) / norm) if norm else 0.0


def no_regularized_weights(model, action):
    """The message for a model that has no `ProjectionRegularizer`."""
    return (
        f"{action}: {getattr(model, 'name', model)!r} has no weight with a "
        "`ProjectionRegularizer`. Attach them with "
        "`keras_approxeq.regularize(model, group)` (setting "
        "`layer.kernel_regularizer` on a built layer adds no loss), or "
        "pass `kernel_regularizer=ProjectionRegularizer(...)` when the "
        "layers are created."
    )


class EquivarianceReport(list):
    """A list of one dict per regularised weight, printed as a table.

    Keys: `"weight"` (the variable's path), `"shape"`, `"group"`,
    `"in_rep"`, `"out_rep"`, `"norm"`, `"relative_residual"`
    (`||T - P T||_F / ||T||_F`, 0 for an exactly equivariant weight, about
    1 for one that ignores the symmetry), `"penalty"` (the
    regularizer's value, its lambdas included) and `"note"`: empty, or
    why the row is zero by construction (`"P = identity"`: every weight
    of this shape and these fields is equivariant, e.g. a 1x1 kernel
    between trivial fields).
    """

    def __str__(self):
        header = (
            "weight",
            "group",
            "in -> out",
            "||T-PT||/||T||",
            "penalty",
            "note",
        )
        rows = [
            (
                row["weight"],
                row["group"],
                f"{_short(row['in_rep'])} -> {_short(row['out_rep'])}",
                f"{row['relative_residual']:.3e}",
                f"{row['penalty']:.3e}",
                row["note"],
            )
            for row in self
        ]
        widths = [
            max(len(str(r[i])) for r in [header, *rows])
            for i in range(len(header))
        ]
        lines = [
            "  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip()
            for r in [header, *rows]
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def equivariance_report(model):
    """How far each regularised weight of `model` is from equivariance.

    Args:
        model: A built Keras model (or layer).

    Returns:
        An `EquivarianceReport`: a list of dicts, one per weight that has a
        `ProjectionRegularizer`, which prints as a table.

    Example:

    >>> import keras
    >>> from keras_approxeq import ProjectionRegularizer
    >>> model = keras.Sequential([
    ...     keras.Input((8, 8, 1)),
    ...     keras.layers.Conv2D(
    ...         4, 3, kernel_regularizer=ProjectionRegularizer("C4")
    ...     ),
    ... ])
    >>> report = equivariance_report(model)
    >>> len(report), report[0]["group"], report[0]["shape"]
    (1, 'C4', (3, 3, 1, 4))
    >>> 0 < report[0]["relative_residual"] <= 1
    True

    `print(report)` prints it as a table.
    """
    pairs = regularized_weights(model)
    if not pairs:
        warnings.warn(no_regularized_weights(model, "equivariance_report"))
    report = EquivarianceReport()
    for variable, regularizer in pairs:
        kernel, projected = weight_and_projection(variable, regularizer)
        identity = regularizer.projector(kernel.shape).is_identity
        penalty = regularizer(variable.value)
        report.append(
            {
                "weight": variable.path,
                "shape": tuple(kernel.shape),
                "group": regularizer.group,
                "in_rep": regularizer.in_rep,
                "out_rep": regularizer.out_rep,
                "norm": regularizer.norm,
                "relative_residual": relative_residual(kernel, projected),
                "penalty": float(ops.convert_to_numpy(penalty)),
                "note": "P = identity" if identity else "",
            }
        )
    return report


def _short(rep):
    return rep if isinstance(rep, str) else "+".join(rep)
