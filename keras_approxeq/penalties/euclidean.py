r"""The Frobenius penalties of a projection, with their gradient in closed
form.

For an orthogonal projection `P` of a kernel `x`, with `p = P x` and the
residual `r = x - p`,

    f(x) = a N(r) + b N(p)       N = ||.|| ("fro") or ||.||^2 ("fro2"),

has the gradient

    "fro":   a r / ||r|| + b p / ||p||     (a zero part contributes 0)
    "fro2":  2 a r + 2 b p,

because `r / ||r||` already lies in the range of `1 - P` and `p / ||p||`
in the range of `P`: the chain rule's `(1 - P)^T` and `P^T` leave them
as they are. `penalty` computes `f` from `x` and `r` (the projector's
`residual`, see `keras_approxeq.projection.interface`) and hands the
gradient to the backend as a custom gradient, so the backward pass is
one scaled copy of `r` (and of `p` for `b > 0`), not automatic
differentiation's chain back through the norm (the square, the
difference, the sum: on PyTorch, which dispatches each operation on its
own, three to four passes over the kernel). Side by side on one CPU
core, one C4 penalty with its gradient, the previous stop-gradient form
against the closed form when it was introduced (before the projector's
`residual`, which took a (3, 3, 256, 256) regular-field penalty on
PyTorch to about 7.8 ms), ms: a (3, 3, 256, 256) kernel with regular fields
10.5 -> 8.7 on PyTorch and 7.7 -> 7.2 on TensorFlow, with trivial fields
5.8 -> 4.2 and 3.8 -> 3.2 (Keras' `L2`: 3.1 and 2.0 to 2.3); JAX, whose
XLA fuses the chain, is unchanged.

The gradient is exact; the penalty's second derivative is not
(`p` enters as a constant, as it did when `P` was held constant under
a stop-gradient).
"""

from keras import ops

from keras_approxeq import _ops

__all__ = ["NORMS", "penalty"]

NORMS = ("fro", "fro2")


def penalty(x, residual, norm, a, b=0.0, gradient_residual=None):
    """`a N(residual) + b N(x - residual)`, differentiable in `x`.

    Args:
        x: A float tensor, the kernel (or its coordinates in an orthogonal
            basis).
        residual: `x - P x`, same shape and dtype; no gradient flows into
            it.
        norm: `"fro"` or `"fro2"`.
        a: Weight of the residual's norm, a Python number.
        b: Weight of the projection's norm, a Python number.
        gradient_residual: `x - P x` again, computed another way, for the
            gradient only (see `Projector.residuals`); by default
            `residual`.

    Returns:
        A scalar tensor of `x`'s dtype.

    Example:

    >>> x = ops.convert_to_tensor([3.0, 4.0])
    >>> r = ops.convert_to_tensor([0.0, 4.0])  # P: onto the first axis
    >>> float(penalty(x, r, "fro", 0.5))
    2.0
    """
    if norm not in NORMS:
        raise ValueError(
            f"Expected norm 'fro' or 'fro2'. Received: norm={norm!r}. "
            "Other norms go through `keras_approxeq.penalties.norms`."
        )
    shared = gradient_residual is None or gradient_residual is residual
    residual = _ops.stop_gradient(residual)
    if shared:
        gradient_residual = residual
    else:
        gradient_residual = _ops.stop_gradient(gradient_residual)

    @ops.custom_gradient
    def evaluate(x):
        value, scale = _term(residual, norm, a)
        if b:
            parallel = _ops.stop_gradient(x) - residual
            value_g, scale_g = _term(parallel, norm, b)
            value = value + value_g

        def gradient(*args, upstream=None):
            # JAX and TensorFlow pass the cotangent by position, PyTorch
            # by keyword (after the inputs).
            upstream = args[0] if upstream is None else upstream
            if upstream.dtype != x.dtype:
                upstream = ops.cast(upstream, x.dtype)
            total = gradient_residual * (scale * upstream)
            if b:
                along = parallel
                if not shared:
                    along = _ops.stop_gradient(x) - gradient_residual
                total = total + along * (scale_g * upstream)
            return total

        return value, gradient

    return evaluate(x)


def _term(x, norm, weight):
    """`weight N(x)` and the scalar `s` with `s x` its gradient."""
    root = _ops.norm(x)
    if norm == "fro2":
        scale = 2.0 * weight  # a number: no tensor, on no device
        return weight * ops.square(root), scale
    # At x = 0 the gradient `s x` is 0 whatever `s` is; only a finite `s`
    # is needed.
    nonzero = _ops.positive_or_one(root)
    return weight * root, weight / nonzero
