"""Tensor operations that `keras.ops` does not do as needed here.

`einsum` and `matmul` compute at the full precision of their inputs on
every backend.
On GPUs JAX multiplies float32 matrices in TF32 by default (a 10-bit
mantissa, errors of about 1e-3), which would break the projections'
float32 exactness (about 1e-5), so on JAX the precision is set to
`HIGHEST` per call. PyTorch does not use TF32 for matrix products unless
`torch.backends.cuda.matmul.allow_tf32` is set. TensorFlow uses TF32 on
Ampere and newer GPUs unless
`tf.config.experimental.enable_tensor_float_32_execution(False)` is
called; it has no per-call switch.

`split` cuts a tensor into pieces of static sizes with each backend's own
split, whose gradient is one concatenation: `ops.split` takes split
indices, which on PyTorch it turns into a device tensor and back (a host
sync per call, and a graph break under `torch.compile`).

`norm` is the Euclidean norm of all entries in the input's dtype:
`keras.ops.norm` computes a float64 tensor in float32 on PyTorch, and
`sum(square(x))` writes the squares before summing them, a pass over
memory that XLA fuses away but eager PyTorch and TensorFlow's graphs
pay: 1.5 of the 8 ms of a (3, 3, 256, 256) kernel's penalty on
PyTorch; on TensorFlow, for ResNet50's 3x3 kernels (11M entries, in a
`tf.function`), 4.4 ms against 2.3 for `tf.nn.l2_loss`, which reads
each entry once, and 10.4 against 8.4 ms for the C4 penalties with
their gradients.

`mean` averages in the input's dtype: `keras.ops.mean` returns float64
for float64 input but computes it in float32 on PyTorch and on JAX
(errors of about 1e-8; keras-team/keras#23223).

`reshape`, `transpose` and `take` are `keras.ops`' own, without its
per-call overhead on eager PyTorch: `keras.ops.reshape` flattens its
arguments, the new shape included, to look for symbolic tensors, 16 us a
call against 1.3 us for the tensor's own reshape (`transpose`: 2.8
against 1.4 us; one CPU core; `keras.ops.take` also casts the indices to
int64 and wraps negative ones, two more operations a call). A projector
with a few hundred reshapes (a D16 kernel between regular fields: 560 a
penalty) paid that on every step, on a GPU's launch-bound step too. On
JAX `take` gathers in `"clip"` mode: `keras.ops.take`'s default,
`"fill"`, masks every entry that an index out of bounds would reach,
which XLA compiles as more code; ResNet50's 107 penalties between
regular C4 fields with their gradients compiled in 1.14 s instead of
1.42 (3785 lines of HLO instead of 4755) and ran as fast.

`stop_gradient`, `positive_or_one` (the Frobenius gradient's guard at
a zero norm) and `mean`'s sum call a PyTorch tensor's own
methods for the same reason: a penalty of a small weight (a bias, a
normalisation layer's scale) costs what its calls cost, and
`keras.ops` converted and checked their arguments on every call (a
`(256,)` regular-field bias's penalty with its gradient: 148 to 156
us before, 128 after). `needs_gradient` says whether autograd will
differentiate through a PyTorch tensor, so that a projection outside
one (the penalty's stopped residual, a constraint inside the
optimizer's `no_grad`) skips the autograd function around it.

`torch_compiling` says whether `torch.compile` is tracing the caller, for
Python-side checks that would break its graph (a warning).

`read` turns a variable into a tensor of its value: on TensorFlow
`ops.convert_to_tensor` returns a variable as it is, and a variable read
inside `ops.custom_gradient` makes TensorFlow ask for its gradient
separately.
"""

import math

import keras
import numpy as np
from keras import ops

__all__ = [
    "einsum",
    "matmul",
    "mean",
    "needs_gradient",
    "norm",
    "positive_or_one",
    "read",
    "reshape",
    "split",
    "stop_gradient",
    "take",
    "torch_compiling",
    "transpose",
]


def _is_torch_tensor(x):
    """Whether `x` is a concrete PyTorch tensor (not a `KerasTensor`, a
    variable or a NumPy array)."""
    if keras.backend.backend() != "torch":
        return False
    import torch

    return isinstance(x, torch.Tensor)


def _on_backend(name, x):
    """Whether `name` is the backend and `x` is not a `KerasTensor`."""
    return keras.backend.backend() == name and not isinstance(
        x, keras.KerasTensor
    )


def einsum(subscripts, *operands):
    """`keras.ops.einsum`, at full precision on JAX."""
    symbolic = any(isinstance(x, keras.KerasTensor) for x in operands)
    if keras.backend.backend() != "jax" or symbolic:
        return ops.einsum(subscripts, *operands)
    import jax

    return jax.numpy.einsum(
        subscripts, *operands, precision=jax.lax.Precision.HIGHEST
    )


def matmul(a, b):
    """`keras.ops.matmul`, at full precision on JAX and in float64 on
    PyTorch (whose `keras.ops.matmul` computes float64 in float32)."""
    backend = keras.backend.backend()
    if any(isinstance(x, keras.KerasTensor) for x in (a, b)):
        return ops.matmul(a, b)
    if backend == "jax":
        import jax

        return jax.numpy.matmul(a, b, precision=jax.lax.Precision.HIGHEST)
    if backend == "torch":
        import torch

        return torch.matmul(a, b)
    return ops.matmul(a, b)


def norm(x):
    """`sqrt(sum(x ** 2))` over every entry of `x`, a scalar of its dtype."""
    if _is_torch_tensor(x):
        import torch

        return torch.linalg.vector_norm(x)
    if _on_backend("tensorflow", x):
        import tensorflow as tf

        # `l2_loss` is `sum(x ** 2) / 2`; doubling it is exact.
        return ops.sqrt(2 * tf.nn.l2_loss(x))
    return ops.sqrt(ops.sum(ops.square(x)))


def mean(x, axis, keepdims=False):
    """`keras.ops.mean(x, axis, keepdims)` as a sum times `1 / n`, in the
    dtype of `x`; `axis` an int or a tuple of ints."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    sizes = [x.shape[a] for a in axes]
    if None in sizes:  # symbolic, or TensorFlow's unknown batch: exact there
        return ops.mean(x, axis=axis, keepdims=keepdims)
    if axes and _is_torch_tensor(x):
        total = x.sum(dim=axes, keepdim=keepdims)
    else:
        total = ops.sum(x, axis=axis, keepdims=keepdims)
    return total * (1.0 / math.prod(sizes))


def stop_gradient(x):
    """`keras.ops.stop_gradient(x)`."""
    if _is_torch_tensor(x):
        return x.detach()
    return ops.stop_gradient(x)


def positive_or_one(x):
    """`x` where it is positive, else 1 (same shape and dtype)."""
    if _is_torch_tensor(x):
        import torch

        return torch.where(x > 0, x, 1.0)
    return ops.where(x > 0, x, ops.ones_like(x))


def reshape(x, shape):
    """`keras.ops.reshape(x, shape)`, `shape` a tuple of ints."""
    if _is_torch_tensor(x):
        return x.reshape(shape)
    return ops.reshape(x, shape)


def transpose(x, axes=None):
    """`keras.ops.transpose(x, axes)`."""
    if _is_torch_tensor(x):
        return x.permute(
            tuple(reversed(range(x.ndim))) if axes is None else axes
        )
    return ops.transpose(x, axes)


def needs_gradient(x):
    """Whether a gradient may flow back through `x`: on PyTorch, whether
    it requires one and autograd is recording; elsewhere always (JAX and
    TensorFlow decide when they differentiate)."""
    if _is_torch_tensor(x):
        import torch

        return x.requires_grad and torch.is_grad_enabled()
    return True


def torch_compiling():
    """Whether `torch.compile` is tracing the caller (never on JAX or
    TensorFlow, whose tracing runs Python as eager code does)."""
    if keras.backend.backend() != "torch":
        return False
    import torch

    return torch.compiler.is_compiling()


def take(x, indices, axis):
    """`keras.ops.take(x, indices, axis)` for non-negative int `indices`
    within bounds."""
    if _is_torch_tensor(x):
        import torch

        return torch.index_select(x, axis, indices)
    if _on_backend("jax", x):
        import jax

        return jax.numpy.take(x, indices, axis=axis, mode="clip")
    return ops.take(x, indices, axis=axis)


def read(x):
    """`x` as a tensor; a variable as a tensor of its value."""
    if isinstance(x, keras.Variable):
        x = x.value  # autocast where a layer reads it in lower precision
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            return tf.convert_to_tensor(x)
    return ops.convert_to_tensor(x)


def split(x, sizes, axis):
    """`x` cut along `axis` into consecutive pieces of `sizes` (ints).

    The backends' own split, whose gradient is one concatenation; the
    gradient of each slice taken apart would be a pad to the full shape,
    summed over the pieces (a pass over the whole tensor per piece).
    """
    sizes = [int(size) for size in sizes]
    if len(sizes) <= 1:
        return [x][: len(sizes)]
    backend = keras.backend.backend()
    if isinstance(x, keras.KerasTensor) or backend == "numpy":
        return _sliced(x, sizes, axis)
    if backend == "jax":
        import jax

        return jax.numpy.split(x, np.cumsum(sizes[:-1]).tolist(), axis)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.split(x, sizes, axis)
    if backend == "torch":
        import torch

        return list(torch.split(x, sizes, dim=axis))
    return _sliced(x, sizes, axis)


def _sliced(x, sizes, axis):
    pieces, start = [], 0
    for size in sizes:
        index = (slice(None),) * axis + (slice(start, start + size),)
        pieces.append(x[index])
        start += size
    return pieces
