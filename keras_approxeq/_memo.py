"""Caches for NumPy precomputations that compiled code can look up.

Regularizers run inside `jax.jit`, `tf.function` and `torch.compile`.
TorchDynamo ignores `functools.lru_cache` and traces the NumPy code inside
it, and it cannot read NumPy arrays handed to tensor ops. So here:

* `memoize`: a cache hit is a plain dict lookup, which every tracer sees
  through, and a miss runs eagerly, outside Dynamo.
* `constants`: NumPy arrays become backend tensors once per dtype (and
  torch device), made eagerly (outside Dynamo, and in TensorFlow's eager
  context), so a trace only captures them as constants. Keras builds
  models symbolically on torch's "meta" device; keying by device keeps
  those placeholders apart from the real tensors.
"""

import functools

import keras
from keras import ops

__all__ = ["clear_caches", "constants", "memoize"]

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


def constants(cache, like, arrays):
    """Backend tensors of `arrays` (a tuple) to combine with tensor `like`.

    Integer arrays become int32 tensors, the others tensors of `like`'s
    dtype, on `like`'s device; cached in the dict `cache`.
    """
    dtype = keras.backend.standardize_dtype(like.dtype)
    device = None
    if keras.backend.backend() == "torch":
        device = like.device
    key = (dtype, str(device))
    if key not in cache:
        _eager(_fill)(cache, key, _to_tensors, (arrays, dtype, device))
    return cache[key]


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


def _eager(fn):
    if keras.backend.backend() == "torch":
        import torch

        return torch.compiler.disable(fn)
    return fn
