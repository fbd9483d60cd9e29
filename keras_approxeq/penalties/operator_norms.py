r"""Operator norms of a layer: `"spectral"` and `"nuclear"`.

A Dense kernel `W` (`fan_in x out`) is the operator; its singular values
are those of `W`. A convolution is the operator on feature maps; on a
periodic grid of `n_1 x ... x n_d` points it is block-circulant, and the
DFT block-diagonalises it: its singular values are, over the grid's
spatial frequencies `w`, those of the `in x out` matrices

    K^(w) = sum_x K[x] exp(-i w . x).

So `"spectral"` is `max_w sigma_max(K^(w))` (the Lipschitz constant of
the layer, as in Sedghi et al., 2019) and `"nuclear"` is
`sum_w sum sigma(K^(w))`, the operator's trace norm. The complex
`K^(w) = A + i B` is handled through its real form `[[A, -B], [B, A]]`,
which has each singular value of `K^(w)` twice; `K^(-w)` is the conjugate
of `K^(w)` (a real kernel), so only half of the frequencies are
decomposed. The DFT is a product with a cosine and a sine table computed
once in NumPy.

The grid defaults to `max(8, 2 k)` points along an axis of kernel size
`k`: `K^(w)` is a trigonometric polynomial of degree `(k - 1) / 2` in
`w`, so this sampling finds its maximum to within a few %, and the layer's
real inputs are at least that large. A depthwise kernel's operator is
block diagonal over the input channels, each block the `1 x multiplier`
row `K^(w)[c]`, whose one singular value is that row's norm.

`"nuclear"` takes the singular values from `ops.svd(...,
compute_uv=False)`, which has finite gradients on every backend (also at
a zero matrix). `"spectral"` needs no SVD. 16 power iterations on every
frequency (no gradient) pick the one with the largest estimate. On that
frequency's matrix `M` (`a x b`, `b <= a`, else its transpose), 16
repeated squarings of the Gram matrix, `G <- G G / ||G G||` starting from
`G = M^T M`, give `G ~ v v^T` for the top right singular vector `v` (as
`2^16` power iterations would, resolving relative gaps of `1e-4`) in 16
`b x b` matrix products. Then `sigma_max = ||M v||`, with `v` held
constant: its gradient is `u v^T`, the exact gradient of `sigma_max`. The
value's error is quadratic in `v`'s, below float32's resolution in tests.
It is exact unless two frequencies' largest singular values are so close
that the iterations rank them wrongly, and then short of the exact one by
less than the iterations' error. The iterations run at the backend's
default matmul precision (TF32 on recent GPUs) and only the last product
at full precision: the value's error stays quadratic in theirs. The
squarings cost
`32 b^3` flops, against about `10 b^3` for an SVD: cheaper for the
layers of tens to a few hundred channels that they are run on here (the
real form doubles `b`), not for thousands.

Example:

>>> import numpy as np
>>> w = np.diag([3.0, 1.0]).astype("float32")
>>> float(evaluate(w[None], "spectral", ()))
3.0
>>> float(evaluate(w[None], "nuclear", ()))
4.0
"""

import math

import numpy as np
from keras import ops

from keras_approxeq._memo import Constants
from keras_approxeq._memo import memoize
from keras_approxeq._ops import einsum
from keras_approxeq._ops import matmul
from keras_approxeq.penalties.norms import safe_root

__all__ = ["default_grid", "evaluate"]

# Power iterations that pick the spectral norm's frequency, and squarings
# of that frequency's Gram matrix (2^16 power iterations' worth).
_ITERATIONS = 16
_SQUARINGS = 16


def default_grid(spatial_shape):
    """The periodic grid the operator acts on, by default.

    Example:

    >>> default_grid((3, 3))
    (8, 8)
    """
    return tuple(max(8, 2 * k) for k in spatial_shape)


def evaluate(x, norm, spatial_shape, grid_size=None, depthwise=False):
    """The operator norm of a kernel given as `(X, in, out)`.

    Args:
        x: A float tensor `(X, a, b)`: the kernel's `X` spatial offsets (1
            for a Dense kernel or a bias), each an `a x b` matrix (for a
            depthwise kernel, `in x multiplier`).
        norm: `"spectral"` or `"nuclear"`.
        spatial_shape: The kernel's spatial shape (`()` for Dense).
        grid_size: The periodic grid, a tuple as long as `spatial_shape`,
            or `None` for `default_grid`.
        depthwise: Whether `x` is a depthwise kernel.

    Returns:
        A scalar tensor of `x`'s dtype.

    Example:

    >>> import numpy as np
    >>> w = ops.convert_to_tensor(np.array([[[2.0, 0.0], [0.0, 1.0]]]))
    >>> float(evaluate(w, "spectral", ())), float(evaluate(w, "nuclear", ()))
    (2.0, 3.0)
    """
    # 0 with a zero gradient at a zero kernel, as for the other norms (the
    # singular values' subgradient there is not unique).
    x = ops.convert_to_tensor(x)
    nonzero = ops.sum(ops.square(x)) > 0
    return ops.where(
        nonzero, _norm(x, norm, spatial_shape, grid_size, depthwise), 0.0
    )


def _norm(x, norm, spatial_shape, grid_size, depthwise):
    if not spatial_shape:
        matrices, weights = x, None
    else:
        grid = tuple(grid_size or default_grid(spatial_shape))
        cos, sin, weights = _dft(tuple(spatial_shape), grid).like(x)
        real = einsum("wx,xab->wab", cos, x)
        imaginary = -einsum("wx,xab->wab", sin, x)
        if depthwise:
            values = safe_root(
                ops.sum(ops.square(real) + ops.square(imaginary), axis=2), 2
            )
            return _reduce(values, norm, weights[:, None])
        matrices = ops.concatenate(
            [
                ops.concatenate([real, -imaginary], axis=2),
                ops.concatenate([imaginary, real], axis=2),
            ],
            axis=1,
        )
        weights = weights / 2  # the real form repeats each singular value
    if norm == "spectral":
        return _largest_singular_value(matrices)
    values = ops.svd(matrices, full_matrices=False, compute_uv=False)
    if weights is not None:
        weights = weights[:, None]
    return _reduce(values, norm, weights)


def _largest_singular_value(matrices):
    """`max_w sigma_max(M_w)` for matrices `(W, a, b)`, differentiable,
    without an SVD."""
    if matrices.shape[-2] < matrices.shape[-1]:  # square the smaller Gram
        matrices = ops.swapaxes(matrices, -1, -2)
    (start,) = _start_vector(matrices.shape[-1]).like(matrices)
    fixed = ops.stop_gradient(matrices)
    if matrices.shape[0] > 1:
        # Row vectors `(W, 1, b)`: PyTorch's CPU batched matmul is 4 times
        # slower for column vectors.
        v = ops.broadcast_to(start, (matrices.shape[0], 1, matrices.shape[-1]))
        transposed = ops.swapaxes(fixed, -1, -2)
        for _ in range(_ITERATIONS):
            v = _normalized(matmul(matmul(v, transposed), fixed))
        estimates = ops.sum(ops.square(matmul(v, transposed)), axis=(1, 2))
        top = ops.argmax(estimates)
        matrix = ops.take(matrices, top, axis=0)
        fixed = ops.take(fixed, top, axis=0)
    else:
        matrix, fixed = matrices[0], fixed[0]
    gram = _normalized(matmul(ops.transpose(fixed), fixed), axis=(0, 1))
    for _ in range(_SQUARINGS):
        gram = _normalized(matmul(gram, gram), axis=(0, 1))
    v = _normalized(matmul(gram, start))
    return safe_root(ops.sum(ops.square(einsum("ab,b->a", matrix, v))), 2)


@memoize
def _start_vector(size):
    """A fixed generic start (no zero overlap with any singular vector,
    almost surely)."""
    start = np.random.default_rng(0).normal(size=size)
    return Constants(start)


def _normalized(x, axis=-1):
    # Not `ops.norm`, which returns float32 for float64 input on PyTorch
    # and JAX. `+ 1e-30` keeps a zero vector zero, with no NaN.
    length = ops.sqrt(ops.sum(ops.square(x), axis=axis, keepdims=True))
    return x / (length + 1e-30)


def _reduce(values, norm, weights):
    if norm == "spectral":
        return ops.max(values)
    if weights is not None:
        values = values * weights
    return ops.sum(values)


@memoize
def _dft(spatial_shape, grid):
    """Cosine and sine tables `(W, X)` and the weights of half the
    frequencies (2 for a frequency paired with its negative, else 1)."""
    if len(grid) != len(spatial_shape) or any(
        g < k for g, k in zip(grid, spatial_shape)
    ):
        raise ValueError(
            f"Expected `grid_size` to give at least the kernel's size along "
            f"each of its {len(spatial_shape)} spatial axes "
            f"{spatial_shape}. Received: grid_size={grid}."
        )
    offsets = np.indices(spatial_shape).reshape(len(grid), -1)
    frequencies = np.indices(grid).reshape(len(grid), -1)
    negatives = np.ravel_multi_index(
        tuple((-f) % g for f, g in zip(frequencies, grid)), grid
    )
    index = np.arange(frequencies.shape[1])
    keep = index <= negatives  # one of each pair {w, -w}
    weights = np.where(index == negatives, 1.0, 2.0)[keep]
    angles = (
        2
        * math.pi
        * np.einsum(
            "dw,dx->wx", frequencies[:, keep] / np.array(grid)[:, None], offsets
        )
    )
    return Constants(np.cos(angles), np.sin(angles), weights)
