"""Caches for NumPy precomputations that compiled code can look up.

Regularizers run inside `jax.jit`, `tf.function` and `torch.compile`.
TorchDynamo ignores `functools.lru_cache` and traces the NumPy code inside
it, and it cannot read NumPy arrays handed to tensor ops. So here:

* `memoize`: a cache hit is a plain dict lookup, which every tracer sees
  through, and a miss runs eagerly, outside Dynamo.
* `Constants`: NumPy arrays that become backend tensors once per dtype
  (and torch device), made eagerly (outside Dynamo, and in TensorFlow's
  eager context), so a trace only captures them as constants. Keras
  builds models symbolically on torch's "meta" device; keying by device
  keeps those placeholders apart from the real tensors.
* `compiled_when_eager`: an eager call on JAX through one `jax.jit` per
  configuration, instead of one compilation per operation.
"""

import functools

import keras
from keras import ops

__all__ = ["Constants", "clear_caches", "compiled_when_eager", "memoize"]

_CACHES = []


def memoize(fn):
    """Caches `fn(*args)` by its (hashable, plain Python) arguments."""
    cache = {}
    _CACHES.append(cache)

    @functools.wraps(fn)
    def wrapper(*args):
        if args not in cache:
            _eager(_fill)(cache, args, fn, args)
        return cache[args]

    wrapper.cache = cache
    return wrapper


def clear_caches():
    """Empties every `memoize` cache (to time a precomputation afresh)."""
    for cache in _CACHES:
        cache.clear()


class Constants:
    """Read-only NumPy arrays, and their backend tensors made once.

    Args:
        *arrays: The arrays, in the order `like` returns them.
        **named: Or the arrays by name: `like` then returns a dict.

    Integer arrays become int32 tensors, the others tensors of the dtype
    of the tensor they are combined with, on its device.

    Example:

    >>> import numpy as np
    >>> c = Constants(np.arange(3), np.ones(3))
    >>> index, weight = c.like(keras.ops.zeros(2))
    >>> c.nbytes
    48
    """

    def __init__(self, *arrays, **named):
        if arrays and named:
            raise ValueError("Pass the arrays by position or by name.")
        self.names = None if arrays else tuple(named)  # by name, if empty
        self.arrays = arrays or tuple(named.values())
        for array in self.arrays:
            array.setflags(write=False)
        self._tensors = {}  # (dtype, device) -> the arrays as tensors

    @property
    def nbytes(self):
        return sum(a.nbytes for a in self.arrays)

    def like(self, tensor):
        """The arrays as tensors to combine with `tensor` (a tuple, or a
        dict if they were named)."""
        dtype = keras.backend.standardize_dtype(tensor.dtype)
        device = None
        if keras.backend.backend() == "torch":
            device = tensor.device
        key = (dtype, str(device))
        if key not in self._tensors:
            _eager(_fill)(
                self._tensors, key, _to_tensors, (self.arrays, dtype, device)
            )
        tensors = self._tensors[key]
        if self.names is None:
            return tensors
        return dict(zip(self.names, tensors))


def _fill(cache, key, fn, args):
    cache[key] = fn(*args)


def _to_tensors(arrays, dtype, device):
    def convert():
        return tuple(
            ops.convert_to_tensor(a, "int32" if a.dtype.kind in "iu" else dtype)
            for a in arrays
        )

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.init_scope():
            return convert()
    if backend == "jax":
        import jax

        with jax.ensure_compile_time_eval():  # concrete arrays, not tracers
            return convert()
    if backend == "torch":
        return tuple(tensor.to(device) for tensor in convert())
    return convert()


def compiled_when_eager(fn, x, key):
    """`fn(x)`, compiled once per `key()` and shape when called eagerly on
    JAX.

    Eager JAX compiles every operation for every new shape; `fn` through
    `jax.jit` is one compilation instead. Inside a trace (a compiled train
    step, `jax.grad`) and on the other backends `fn` runs as it is.
    `key` (a function, called only when needed) must return a hashable
    value that fixes what `fn` computes.
    """
    if keras.backend.backend() != "jax":
        return fn(x)
    import jax

    if isinstance(x, jax.core.Tracer):
        return fn(x)
    key = key()
    if key not in _COMPILED:
        # A new function for every key: JAX caches traces by the function
        # compiled, and bound methods of one object compare equal, so
        # `jax.jit(obj.method)` for a changed configuration of `obj` would
        # reuse the trace of its old one.
        _COMPILED[key] = jax.jit(lambda x: fn(x))
    return _COMPILED[key](x)


_COMPILED = {}
_CACHES.append(_COMPILED)


def _eager(fn):
    if keras.backend.backend() == "torch":
        import torch

        return torch.compiler.disable(fn)
    return fn
