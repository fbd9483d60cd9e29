"""`ProjectionRegularizer`: penalise a weight's non-equivariant part."""

import functools
import json
import math

import keras
from keras import ops

from keras_approxeq._checks import is_int
from keras_approxeq._keras_state import in_symbolic_scope
from keras_approxeq._memo import compiled_when_eager
from keras_approxeq._ops import read
from keras_approxeq._ops import stop_gradient
from keras_approxeq.penalties import euclidean
from keras_approxeq.penalties import norms
from keras_approxeq.penalties import operator_norms
from keras_approxeq.projection.target import ProjectionTarget

__all__ = ["ProjectionRegularizer"]


@keras.saving.register_keras_serializable(package="keras_approxeq")
class ProjectionRegularizer(ProjectionTarget, keras.regularizers.Regularizer):
    """Penalises the part of a kernel that breaks a group symmetry.

    A linear layer `T` splits orthogonally into its equivariant part `P(T)`
    (the mean of `rho_out(g)^-1 T rho_in(g)` over the group, combined with
    the group's action on the kernel's spatial offsets) and the rest. The
    penalty is

        lambda_perp * ||T - P(T)|| + lambda_g * ||P(T)||.

    `lambda_g = 0` (the default) pulls the layer towards equivariance
    without shrinking its equivariant part; with `norm="fro2"`,
    `lambda_g == lambda_perp` is plain L2 weight decay. `P` is exact: for
    the groups that permute grid points it averages kernel entries over
    their orbits, a few passes over the kernel with indices computed once
    in NumPy; for rotations by other angles (`C8`, `SO2`, ...) it projects
    onto a steerable basis (see `keras_approxeq.projection.steerable`).

    The weight's layout is inferred from its rank (rank 1: a bias, 2: a
    Dense kernel `(in, out)`, 3-5: a Conv1D/2D/3D kernel
    `(spatial..., in, out)`); name it for transposed (`"conv_transpose"`)
    and depthwise (`"depthwise"`) kernels. The same object serves as
    `kernel_regularizer` and `bias_regularizer`.

    **Biases.** A per-channel bias breaks equivariance whenever the output
    representation is not trivial: the channels of one regular field must
    share one bias, a vector field's bias must be zero. Used as a
    `bias_regularizer` the regularizer penalises the bias's non-invariant
    part (against `out_rep`). Either regularise biases too, or build the
    layer with `use_bias=False`.

    The penalty is computed in float32 (float64 for float64 weights), so
    float16 and bfloat16 weights are fine, and it runs inside `jax.jit`,
    `tf.function` and `torch.compile` without retracing.

    Args:
        group: Name of the symmetry group, e.g. `"C4"`, `"D4"`, `"O"`,
            `"Oh"`, `"C8"`, `"SO2"`, `"S5"` (see
            `keras_approxeq.symmetry.groups`).
        in_rep: How the input channels transform: `"trivial"`,
            `"regular"`, `"standard"`, an irrep such as `"irrep1"` (2D
            groups), `"natural"` (`S<n>`), or a list of them (a direct
            sum). The input channel count must be a multiple of its size.
        out_rep: How the output channels transform, likewise. Ignored for
            depthwise kernels, whose outputs carry their input's type.
        norm: `"fro"` (default), `"fro2"`, `"l1"`, `"linf"`, a mixed
            `(p, q)` norm, or an operator norm of the layer: `"spectral"`
            (its largest singular value) or `"nuclear"`; see
            `keras_approxeq.penalties.norms`.
        lambda_perp: Weight of the non-equivariant part's norm, `>= 0`.
        lambda_g: Weight of the equivariant part's norm, `>= 0`.
        layout: `None` (infer from rank), `"dense"`, `"conv"`,
            `"conv_transpose"`, `"depthwise"` or `"bias"`.
        domain: `"spatial"` (default) or `"fourier"`: compute the
            projection on the kernel as it is, or per irrep after a group
            Fourier transform of the channels (see
            `keras_approxeq.projection.spectral`). The penalty is the same. For
            `C4`/`D4` the spatial domain (orbit averaging) is usually the
            cheaper; regular fields of other `C<N>`/`D<N>` go through
            their irreps in both.
        grid_size: For the operator norms of a convolution, the periodic
            grid the layer acts on: an int (each spatial axis) or a tuple;
            `None` (default) takes `max(8, 2 * kernel_size)` per axis.
        max_frequency: `None` (default) or an int: the largest angular
            frequency (degree, for `SO3`/`O3`) of the equivariant kernels,
            which then span a band-limited subspace; see
            `keras_approxeq.projection.steerable`.
        basis: For `C<N>`, `D<N>` (other than the grid's rotations),
            `SO2`, `O2`, `SO3`, `O3`: `"smooth"` (default), steerable
            kernels equivariant to rotations by any angle up to about 1 %,
            or `"grid"`, a larger basis, as exact on the grid but far from
            equivariant between grid angles (see
            `keras_approxeq.kernels.radial`).

    Example:

    >>> import numpy as np
    >>> from keras_approxeq import project
    >>> reg = ProjectionRegularizer(
    ...     "C4", in_rep="regular", out_rep="regular", lambda_perp=1e-2
    ... )
    >>> layer = keras.layers.Conv2D(
    ...     8, 3, padding="same", kernel_regularizer=reg, bias_regularizer=reg
    ... )
    >>> _ = layer(np.zeros((1, 6, 6, 8), "float32"))
    >>> len(layer.losses)  # the kernel's penalty and the bias's
    2
    >>> reps = dict(in_rep="regular", out_rep="regular")
    >>> equivariant = project(layer.kernel, "C4", **reps)
    >>> float(ops.convert_to_numpy(reg(equivariant))) < 1e-6
    True
    """

    def __init__(
        self,
        group,
        *,
        in_rep="trivial",
        out_rep="trivial",
        norm="fro",
        lambda_perp=1e-2,
        lambda_g=0.0,
        layout=None,
        domain="spatial",
        max_frequency=None,
        grid_size=None,
        basis="smooth",
    ):
        self._set_target(
            group, in_rep, out_rep, layout, domain, max_frequency, basis
        )
        self._norm = norms.normalize(norm)
        self.norm = norms.to_config(self._norm)
        self.lambda_perp = _validate_lambda(lambda_perp, "lambda_perp")
        self.lambda_g = _validate_lambda(lambda_g, "lambda_g")
        self.grid_size = _validate_grid_size(grid_size)

    def __call__(self, x):
        path = getattr(x, "path", None)  # Keras passes the variable
        # A tensor, not the variable: TensorFlow's `custom_gradient` asks
        # for the gradients of any variable its function reads.
        x = read(x)
        try:
            layout, projector = self.prepared(x.shape)
        except ValueError as error:
            raise ValueError(_located(error, path, self.layout, x.shape))
        given = keras.backend.standardize_dtype(x.dtype)
        dtype = "float64" if given == "float64" else "float32"
        if (
            not (self.lambda_perp or self.lambda_g)
            or (projector.is_identity and not self.lambda_g)
            or in_symbolic_scope()
        ):
            # No weight, or every kernel of this signature is equivariant
            # (a 1x1 or Dense kernel between trivial fields): nothing to
            # penalise. Or Keras wants the shape only (its first train
            # step): evaluating the penalty there would trace (on PyTorch:
            # run) it once more.
            return ops.zeros((), dtype)
        if given != dtype:
            x = ops.cast(x, dtype)
        # One compilation per configuration and shape where JAX would
        # otherwise compile each operation of an eager call.
        return compiled_when_eager(
            functools.partial(self._evaluate, layout, projector),
            x,
            key=lambda: (
                json.dumps(self.get_config(), sort_keys=True),
                layout.shape,
            ),
        )

    def _evaluate(self, layout, projector, x):
        if self._norm in euclidean.NORMS:
            if self.domain == "fourier":
                # An orthogonal change of basis of the channels keeps
                # these norms.
                x, parallel = projector.spectral(x)
                residual = again = x - parallel
            else:
                residual, again = projector.residuals(stop_gradient(x))
            return euclidean.penalty(
                x,
                residual,
                self._norm,
                self.lambda_perp,
                self.lambda_g,
                gradient_residual=again,
            )
        if self.domain == "fourier" and self._norm in _ORTHOGONAL_INVARIANT:
            # An orthogonal change of basis of the channels keeps these.
            x, parallel = projector.spectral(x)
        else:
            parallel = projector.apply(x)
        penalty = self.lambda_perp * self._norm_of(x - parallel, layout)
        if self.lambda_g:
            penalty += self.lambda_g * self._norm_of(parallel, layout)
        return penalty

    def _norm_of(self, x, layout):
        if self._norm in norms.OPERATOR_NORMS:
            spatial = layout.spatial_shape
            flat = ops.reshape(x, (math.prod(spatial), -1, x.shape[-1]))
            grid = self.grid_size
            if isinstance(grid, int):
                grid = (grid,) * len(spatial)
            return operator_norms.evaluate(
                flat,
                self._norm,
                spatial,
                grid,
                depthwise=layout.name == "depthwise",
            )
        if isinstance(self._norm, tuple):
            x = ops.transpose(x, layout.matrix_axes())
        return norms.evaluate(x, self._norm, layout.matrix_shape())

    def get_config(self):
        return {
            **self.target_config(),
            "norm": self.norm,
            "lambda_perp": self.lambda_perp,
            "lambda_g": self.lambda_g,
            "grid_size": self.grid_size,
        }

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"ProjectionRegularizer({args})"


_ORTHOGONAL_INVARIANT = ("spectral", "nuclear")


def _located(error, path, layout, shape):
    """The error, with the weight it concerns and, where a channel count
    does not fit and the layout was inferred, a hint for depthwise."""
    message = str(error)
    if path is not None:
        message = f"For weight {path!r} of shape {tuple(shape)}: {message}"
    if layout is None and len(shape) >= 3 and "multiple of" in message:
        message += (
            " If this is a depthwise kernel (DepthwiseConv*, the depthwise "
            "kernel of SeparableConv*), pass layout='depthwise'; "
            "`keras_approxeq.regularize` picks each layer's layout."
        )
    return message


def _validate_grid_size(grid_size):
    if grid_size is None:
        return None
    sizes = [grid_size] if is_int(grid_size) else grid_size
    try:
        valid = all(is_int(n, 1) for n in sizes) and len(sizes) > 0
    except TypeError:
        valid = False
    if not valid:
        raise ValueError(
            "Expected `grid_size` to be None, a positive int or a list of "
            f"them (one per spatial axis). Received: grid_size={grid_size!r}."
        )
    return int(grid_size) if is_int(grid_size) else [int(n) for n in sizes]


def _validate_lambda(value, name):
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not math.isfinite(number) or number < 0:
        raise ValueError(
            f"Expected `{name}` to be a finite number >= 0. Received: "
            f"{name}={value!r}. Use e.g. {name}=1e-2, or 0 to disable the "
            "term."
        )
    return number
