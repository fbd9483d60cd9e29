"""What every projector offers.

Every projector is the exact orthogonal projection `P = Q Q^T` onto the
equivariant kernels of one signature (group, representations, shape,
layout), with `Q` an orthonormal basis of them:

- `shape`, `dim` (the rank of `P`), `is_identity`, `nbytes`;
- `apply(K)`: `P(K)` with `keras.ops`, whose gradient is `P` of the
  cotangent (`keras_approxeq.projection.self_adjoint`);
- `residual(K)`: `K - P(K)`, the part of the kernel that breaks the
  symmetry, which the penalties measure; `residuals(K)`: the same twice,
  one for a penalty's value and one for its gradient;
- `decayed(K, fraction)`: `P(K) + (1 - fraction) (K - P(K))`, the
  kernel with `fraction` of its non-equivariant part removed
  (`ProjectionDecay`'s update, applied after the optimizer's, with no
  gradient);
- `apply_numpy(K)`: `P(K)` in NumPy, in float64;
- `coefficients(K)`: `Q^T K`, and `expand(c)`: `Q c`.

`Projector` computes `residual` from `apply`; a projector that has a
cheaper way (`KroneckerProjector`: one matrix product with `1 - P`)
overrides it.
"""

from keras import ops

__all__ = ["Projector"]


class Projector:
    """The interface above; subclasses define `apply` and the rest.

    Example:

    >>> import numpy as np
    >>> from keras_approxeq.projection import get_projector
    >>> p = get_projector("C4", "trivial", "trivial", (3, 3, 1, 1))
    >>> k = np.zeros((3, 3, 1, 1), "float32")
    >>> k[0, 0] = 4.0  # one corner: its orbit's mean is 1
    >>> r = p.residual(k)
    >>> float(ops.convert_to_numpy(r)[0, 0, 0, 0])
    3.0
    """

    def residual(self, kernel):
        """`K - P(K)` with `keras.ops`, same shape and dtype as `kernel`."""
        kernel = ops.convert_to_tensor(kernel)
        return kernel - self.apply(kernel)

    def decayed(self, kernel, fraction):
        """`P(K) + (1 - fraction) (K - P(K))`, same shape and dtype as
        `kernel`; `fraction` is a number in `[0, 1]` or a scalar tensor of
        the kernel's dtype, and a fraction of `1.0` (a number) gives `P(K)`
        itself."""
        kernel = ops.convert_to_tensor(kernel)
        parallel = self.apply(kernel)
        if self._removes_all(fraction):
            return parallel
        return parallel + (1.0 - fraction) * (kernel - parallel)

    @staticmethod
    def _removes_all(fraction):
        """Whether `fraction` is the number 1 (a tensor never is: its
        value is not known when a step is traced)."""
        return isinstance(fraction, (int, float)) and fraction == 1

    def residuals(self, kernel):
        """`(K - P(K), K - P(K))`: one for a penalty's value, one for its
        gradient. The same tensor here; a projector with two ways of
        computing it may return one of each, so that a compiler keeps them
        apart (see `KroneckerProjector.residuals`)."""
        residual = self.residual(kernel)
        return residual, residual
