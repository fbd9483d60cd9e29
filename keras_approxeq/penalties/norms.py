"""Norms of a kernel (or of its parts), written with `keras.ops`.

| norm         | value                                                    |
|--------------|----------------------------------------------------------|
| `"fro"`      | `sqrt(sum K^2)`, the Frobenius norm (unsquared)          |
| `"fro2"`     | `sum K^2`, the squared Frobenius norm                    |
| `"l1"`       | `sum abs(K)`                                             |
| `"linf"`     | `max abs(K)`                                             |
| `(p, q)`     | the mixed norm of the kernel as a `(fan_in, out)` matrix |
| `"spectral"` | the largest singular value of the layer as an operator   |
| `"nuclear"`  | the sum of the operator's singular values                |

The mixed `(p, q)` norm takes the `p`-norm of each output channel's column
(its `fan_in` weights), then the `q`-norm of those: `(2, 1)` is the
group-lasso norm that sums the columns' Euclidean norms, `(2, 2)` is
`"fro"`, `(1, 1)` is `"l1"`. `p` and `q` are numbers `>= 1` or `"inf"`.

The operator norms are those of the layer's linear map (for a convolution,
on a periodic grid): see `keras_approxeq.penalties.operator_norms`.

Every norm has a finite gradient everywhere, also at a zero kernel: square
roots and `1/p` powers are guarded so that their (sub)gradient at zero is
zero instead of `NaN`.
"""

import math

from keras import ops

__all__ = [
    "ENTRYWISE_NORMS",
    "OPERATOR_NORMS",
    "evaluate",
    "normalize",
    "safe_root",
]

ENTRYWISE_NORMS = ("fro", "fro2", "l1", "linf")
OPERATOR_NORMS = ("spectral", "nuclear")


def normalize(norm):
    """Validates a user-given norm; returns a string or a `(p, q)` tuple.

    Example:

    >>> normalize("fro")
    'fro'
    >>> normalize([2, "inf"])
    (2.0, inf)
    """
    if isinstance(norm, str):
        if norm in ENTRYWISE_NORMS + OPERATOR_NORMS:
            return norm
    elif isinstance(norm, (tuple, list)) and len(norm) == 2:
        try:
            p, q = (float(v) for v in norm)
        except (TypeError, ValueError):
            p = q = float("nan")
        if p >= 1 and q >= 1:
            return (p, q)
    raise ValueError(
        f"Unknown norm {norm!r}. Expected one of "
        f"{list(ENTRYWISE_NORMS + OPERATOR_NORMS)} or a mixed norm (p, q) "
        "with numbers p, q >= 1 or 'inf' (e.g. (2, 1))."
    )


def to_config(norm):
    """A JSON-friendly form of a normalised norm (`inf` as `"inf"`)."""
    if isinstance(norm, str):
        return norm
    return [v if math.isfinite(v) else "inf" for v in norm]


def evaluate(x, norm, matrix_shape=None):
    """The norm of tensor `x`.

    Args:
        x: A float tensor.
        norm: A normalised norm (see `normalize`).
        matrix_shape: `(fan_in, out)`, the matrix view of `x` (needed for
            mixed norms; `x` must already be ordered so that a reshape gives
            it).

    Returns:
        A scalar tensor of `x`'s dtype.

    Example:

    >>> x = ops.convert_to_tensor([[3.0, 0.0], [4.0, 1.0]])
    >>> float(evaluate(x, "fro2")), float(evaluate(x, "l1"))
    (26.0, 8.0)
    >>> float(evaluate(x, (2.0, 1.0), (2, 2)))  # column norms 5 and 1, summed
    6.0
    """
    if norm == "fro2":
        return ops.sum(ops.square(x))
    if norm == "fro":
        return safe_root(ops.sum(ops.square(x)), 2.0)
    if norm == "l1":
        return ops.sum(ops.abs(x))
    if norm == "linf":
        return ops.max(ops.abs(x))
    p, q = norm
    columns = _vector_norm(ops.reshape(x, matrix_shape), p, axis=0)
    return _vector_norm(columns, q, axis=0)


def _vector_norm(x, p, axis):
    if math.isinf(p):
        return ops.max(ops.abs(x), axis=axis)
    if p == 1:
        return ops.sum(ops.abs(x), axis=axis)
    if p == 2:
        return safe_root(ops.sum(ops.square(x), axis=axis), 2.0)
    return safe_root(ops.sum(ops.power(ops.abs(x), p), axis=axis), p)


def safe_root(s, p):
    """`s ** (1 / p)` for `s >= 0`, with a zero gradient at `s == 0`.

    Example:

    >>> float(safe_root(ops.convert_to_tensor(16.0), 2))
    4.0
    """
    positive = s > 0
    safe = ops.where(positive, s, ops.ones_like(s))
    root = ops.sqrt(safe) if p == 2 else ops.power(safe, 1.0 / p)
    return ops.where(positive, root, ops.zeros_like(s))
