"""Test helpers: references written independently of the package."""

import contextlib

import keras
import numpy as np
import pytest

from keras_approxeq.symmetry.representations import Representation

BACKEND = keras.backend.backend()
# JAX keeps float64 only with JAX_ENABLE_X64=1 (the jax tox env sets it).
FLOAT64 = (
    keras.backend.standardize_dtype(
        keras.ops.convert_to_tensor(np.zeros(1)).dtype
    )
    == "float64"
)


def _runs_channels_first_convolutions():
    """Keras 3.15 on TensorFlow sends a channels-first 2D convolution to
    TensorFlow's CPU kernel, which takes NHWC only: such layers cannot run
    on a CPU there, with or without this package. Probed, not assumed, so
    the tests run again once Keras or TensorFlow handles it."""
    try:
        keras.ops.conv(
            np.zeros((1, 1, 3, 3), "float32"),
            np.zeros((1, 1, 1, 1), "float32"),
            data_format="channels_first",
        )
    except Exception:  # the backend's own error type
        return False
    return True


CHANNELS_FIRST_CONVOLUTIONS = _runs_channels_first_convolutions()
needs_channels_first_convolutions = pytest.mark.skipif(
    not CHANNELS_FIRST_CONVOLUTIONS,
    reason=f"{BACKEND} cannot run channels-first convolutions on this device",
)


@contextlib.contextmanager
def full_precision_convolutions():
    """Runs JAX's float32 convolutions and matrix products at full precision.

    On a GPU, XLA computes them with TF32 tensor-core algorithms by default,
    whose rounding the group does not commute with: an exactly equivariant
    D4 kernel between regular fields read an equivariance error of 4-5e-5
    through a Conv2D on an H200. Checks of a layer's equivariance are about
    its kernel, not about the convolution's arithmetic, so they run the
    layer in this context; the projection itself stays outside it, where
    the package sets its own precision. On CPUs (and other backends) this
    changes nothing.
    """
    if BACKEND != "jax":
        yield
        return
    import jax

    with jax.default_matmul_precision("highest"):
        yield


def tolerance(dtype):
    return {"float64": 1e-10, "float32": 1e-5}[str(np.dtype(dtype))]


def rep_matrices(group, rep, channels):
    return Representation(group, rep).matrices(channels)


def group_average(kernel, group, in_rep, out_rep, layout):
    """P(K) = mean_g rho_in(g)^T K[g x] rho_out(g), by dense matrices."""
    kernel = np.asarray(kernel, np.float64)
    if layout == "bias":
        rho = rep_matrices(group, out_rep, kernel.shape[0])
        return np.einsum("gia,i->a", rho, kernel) / group.order
    if layout == "conv_transpose":
        swapped = np.swapaxes(kernel, -1, -2)
        out = group_average(swapped, group, in_rep, out_rep, "conv")
        return np.swapaxes(out, -1, -2)
    spatial = kernel.shape[:-2]
    flat = kernel.reshape(-1, *kernel.shape[-2:])
    if spatial:
        perms = group.grid_permutations(spatial)
    else:
        perms = np.zeros((group.order, 1), np.int64)
    rho_in = rep_matrices(group, in_rep, kernel.shape[-2])
    total = np.zeros_like(flat)
    for g in group.elements:
        moved = flat[perms[g]]
        if layout == "depthwise":
            total += np.einsum("ia,xim->xam", np.abs(rho_in[g]), moved)
        else:
            rho_out = rep_matrices(group, out_rep, kernel.shape[-1])[g]
            total += np.einsum("ia,xij,jb->xab", rho_in[g], moved, rho_out)
    return (total / group.order).reshape(kernel.shape)


def character_dimension(group, in_rep, out_rep, shape, layout):
    """dim Hom_G = 1/|G| sum_g chi_space(g) chi_in(g) chi_out(g)."""
    if layout == "bias":
        chi = Representation(group, out_rep).characters(shape[0])
        return chi.sum() / group.order
    if layout == "conv_transpose":
        shape = (*shape[:-2], shape[-1], shape[-2])
    spatial = shape[:-2]
    if spatial:
        perms = group.grid_permutations(spatial)
        chi_space = np.sum(perms == np.arange(perms.shape[1]), axis=1)
    else:
        chi_space = np.ones(group.order)
    in_matrices = rep_matrices(group, in_rep, shape[-2])
    if layout == "depthwise":
        chi_in = np.trace(np.abs(in_matrices), axis1=1, axis2=2)
        return np.sum(chi_space * chi_in) * shape[-1] / group.order
    chi_in = np.trace(in_matrices, axis1=1, axis2=2)
    chi_out = Representation(group, out_rep).characters(shape[-1])
    return np.sum(chi_space * chi_in * chi_out) / group.order


def value_and_grad(fn, x):
    """`fn(x)` and its gradient, as NumPy, on the current backend."""
    if BACKEND == "jax":
        import jax

        value, grad = jax.value_and_grad(fn)(keras.ops.convert_to_tensor(x))
    elif BACKEND == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = fn(x)
        grad = tape.gradient(value, x)
    else:
        import torch

        x = torch.tensor(np.asarray(x), requires_grad=True)
        value = fn(x)
        value.backward()
        grad = x.grad
    return (
        keras.ops.convert_to_numpy(value),
        keras.ops.convert_to_numpy(grad),
    )
