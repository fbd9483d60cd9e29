r"""The gradient of an orthogonal projection is the projection itself.

Every projector here is an orthogonal projection, `P = Q Q^T` with
orthonormal `Q`, so `P^T = P`: the vector-Jacobian product of
`K -> P(K)` with a cotangent `G` is `P(G)`. Automatic differentiation
would instead transpose each step of the apply (gathers become
scatters, an einsum another einsum with its operands laid out anew),
and that transpose can cost several forward passes: on JAX, one core,
the forward and backward passes through the apply of a regular C4 3x3
256 -> 256 kernel took 6.5 times the forward pass alone, of an SO(3)
7x7x7 kernel 4 times (`benchmarks/projector_apply.py`). `self_adjoint`
gives an apply method that gradient, so a gradient through `P` (residual
pathways, relaxed group convolutions, the non-Euclidean penalties) costs
one more apply.
"""

import functools

from keras import ops

from keras_approxeq._ops import needs_gradient
from keras_approxeq._ops import read

__all__ = ["self_adjoint"]


def self_adjoint(apply):
    """Decorates `apply(self, kernel)`, an orthogonal projection, so that
    its gradient is `apply(self, cotangent)`.

    Example:

    ```python
    class FirstCoordinate:  # an orthogonal projection
        @self_adjoint
        def apply(self, kernel):
            return kernel * ops.convert_to_tensor([1.0, 0.0])
    ```
    """

    @functools.wraps(apply)
    def wrapped(self, kernel):
        kernel = read(kernel)
        if not needs_gradient(kernel):
            # A PyTorch tensor that no gradient will reach (the penalty's
            # stopped projection, a constraint inside the optimizer's
            # `no_grad`): skip the autograd function's overhead, about
            # 0.1 ms a call.
            return apply(self, kernel)

        @ops.custom_gradient
        def projected(x):
            def gradient(*args, upstream=None):
                # JAX and TensorFlow pass the cotangent by position,
                # PyTorch by keyword (after the inputs).
                return apply(self, args[0] if upstream is None else upstream)

            return apply(self, x), gradient

        return projected(kernel)

    return wrapped
