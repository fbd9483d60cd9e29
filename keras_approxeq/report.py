"""Which layers of a model are how equivariant: `equivariance_report`."""

import numpy as np
from keras import ops

__all__ = ["EquivarianceReport", "equivariance_report", "regularized_weights"]


def regularized_weights(model):
    """The `(variable, ProjectionRegularizer)` pairs of a model, in order.

    Every weight built with a `ProjectionRegularizer` (as
    `kernel_regularizer`, `bias_regularizer`, `depthwise_regularizer`, or
    through `add_weight(regularizer=...)`) is found, in nested models and
    layers too.
    """
    from keras_approxeq.regularizer import ProjectionRegularizer

    pairs, seen = [], set()
    for variable in model.weights:
        regularizer = getattr(variable, "regularizer", None)
        if isinstance(regularizer, ProjectionRegularizer):
            if id(variable) not in seen:
                seen.add(id(variable))
                pairs.append((variable, regularizer))
    return pairs


class EquivarianceReport(list):
    """A list of one dict per regularised weight, printed as a table.

    Keys: `"weight"` (the variable's path), `"shape"`, `"group"`,
    `"in_rep"`, `"out_rep"`, `"norm"`, `"relative_residual"`
    (`||T - P T||_F / ||T||_F`, 0 for an exactly equivariant weight, about
    1 for one that ignores the symmetry) and `"penalty"` (the
    regularizer's value, its lambdas included).
    """

    def __str__(self):
        header = ("weight", "group", "in -> out", "||T-PT||/||T||", "penalty")
        rows = [
            (
                row["weight"],
                row["group"],
                f"{_short(row['in_rep'])} -> {_short(row['out_rep'])}",
                f"{row['relative_residual']:.3e}",
                f"{row['penalty']:.3e}",
            )
            for row in self
        ]
        widths = [
            max(len(str(r[i])) for r in [header, *rows])
            for i in range(len(header))
        ]
        lines = [
            "  ".join(str(v).ljust(w) for v, w in zip(r, widths))
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

    ```python
    report = equivariance_report(model)
    print(report)                       # a table
    report[0]["relative_residual"]      # the data
    ```
    """
    report = EquivarianceReport()
    for variable, regularizer in regularized_weights(model):
        kernel = np.asarray(ops.convert_to_numpy(variable), np.float64)
        projector = regularizer.projector(kernel.shape)
        residual = kernel - projector.apply_numpy(kernel)
        norm = np.linalg.norm(kernel)
        report.append(
            {
                "weight": variable.path,
                "shape": tuple(kernel.shape),
                "group": regularizer.group,
                "in_rep": regularizer.in_rep,
                "out_rep": regularizer.out_rep,
                "norm": regularizer.norm,
                "relative_residual": float(
                    np.linalg.norm(residual) / norm if norm > 0 else 0.0
                ),
                "penalty": float(ops.convert_to_numpy(regularizer(variable))),
            }
        )
    return report


def _short(rep):
    return rep if isinstance(rep, str) else "+".join(rep)
