"""One projector, applied to a weight of another layout.

The steerable and group-Fourier projectors are built for Dense and
convolution kernels. A bias of `out` channels is projected as the
`(1, out)` Dense kernel it reshapes to (`Reshaped`), and a
transposed-convolution kernel `(..., out, in)` as the convolution kernel
with its last two axes swapped (`Transposed`). Each view forwards the
projector interface (`apply`, `apply_numpy`, `spectral`, `coefficients`,
`expand`, `dim`, `is_identity`, `nbytes`; `residual` from `apply`) to
the projector it wraps.
"""

import numpy as np
from keras import ops

from keras_approxeq._ops import reshape
from keras_approxeq._ops import transpose
from keras_approxeq.projection.interface import Projector

__all__ = ["Reshaped", "Transposed"]


class Reshaped(Projector):
    """A projector for a bias, through the `(1, out)` Dense projector."""

    def __init__(self, core, shape):
        self.core, self.shape, self.dim = core, tuple(shape), core.dim
        self.is_identity = core.is_identity

    @property
    def nbytes(self):
        return self.core.nbytes

    def apply(self, kernel):
        flat = reshape(ops.convert_to_tensor(kernel), self.core.shape)
        return reshape(self.core.apply(flat), self.shape)

    def apply_numpy(self, kernel):
        kernel = np.asarray(kernel)
        flat = self.core.apply_numpy(kernel.reshape(self.core.shape))
        return flat.reshape(kernel.shape)

    def spectral(self, kernel):
        flat = reshape(ops.convert_to_tensor(kernel), self.core.shape)
        return self.core.spectral(flat)

    def coefficients(self, kernel):
        flat = reshape(ops.convert_to_tensor(kernel), self.core.shape)
        return self.core.coefficients(flat)

    def expand(self, coefficients):
        return reshape(self.core.expand(coefficients), self.shape)


class Transposed(Projector):
    """A projector for a transposed-convolution kernel `(..., out, in)`."""

    def __init__(self, core, shape):
        self.core, self.shape, self.dim = core, tuple(shape), core.dim
        self.is_identity = core.is_identity
        rank = len(self.shape)
        self._axes = (*range(rank - 2), rank - 1, rank - 2)

    @property
    def nbytes(self):
        return self.core.nbytes

    def apply(self, kernel):
        swapped = transpose(ops.convert_to_tensor(kernel), self._axes)
        return transpose(self.core.apply(swapped), self._axes)

    def apply_numpy(self, kernel):
        swapped = np.swapaxes(np.asarray(kernel), -1, -2)
        return np.swapaxes(self.core.apply_numpy(swapped), -1, -2)

    def spectral(self, kernel):
        swapped = transpose(ops.convert_to_tensor(kernel), self._axes)
        return self.core.spectral(swapped)

    def coefficients(self, kernel):
        swapped = transpose(ops.convert_to_tensor(kernel), self._axes)
        return self.core.coefficients(swapped)

    def expand(self, coefficients):
        return transpose(self.core.expand(coefficients), self._axes)
