r"""`rescale_kernels`: an equivariant start at unit scale, measured on data.

A kernel drawn inside a small equivariant subspace has few random
coordinates: an SO(3) kernel of shape `(3, 3, 3, 18, 18)` between fields
of degrees 0 to 2 has 5 832 entries but lies in a subspace of a few dozen
dimensions. Its gain on data, the ratio of its output's scale to its
input's, therefore varies from draw to draw far more than a plain
kernel's, whose thousands of independent entries average out. Through a
deep network the gains multiply: in `examples/volumes_so3.py` the
standard deviation of the last convolution's output at initialisation
ranged from 0.01 to 4 over four seeds with `reinitialize="auto"`'s start
(`docs/experiments.md`, "Ten seeds"). An initializer cannot correct
this, since the gain depends on the data; a few forward passes can.

`rescale_kernels` is layer-sequential unit-variance initialisation (LSUV,
Mishkin and Matas, 2016) for these kernels: in the model's order, each
selected layer's kernel `K` is replaced by `c K`, `c = target_std / s`,
where `s` is the standard deviation of the layer's output on a batch of
inputs, until `s` is within `tolerance` of `target_std`. A positive
multiple of an equivariant kernel is equivariant, so the start stays
inside its subspace.
"""

import math
import warnings

import keras
import numpy as np
from keras import ops

from keras_approxeq._checks import is_int
from keras_approxeq._checks import is_number
from keras_approxeq._checks import require
from keras_approxeq.penalties.initializers import ProjectedInitializer
from keras_approxeq.penalties.regularize import check_layer_names
from keras_approxeq.penalties.regularize import layer_weight

__all__ = ["rescale_kernels"]

# The weight scaled, by the first attribute a layer has: Conv, Dense and
# depthwise layers keep theirs as `kernel`, separable ones end in
# `pointwise_kernel`.
_KERNELS = ("kernel", "pointwise_kernel")


def rescale_kernels(
    model,
    x,
    *,
    layers=None,
    target_std=1.0,
    tolerance=0.05,
    max_iterations=10,
    verbose=True,
):
    """Scales kernels so that each layer's output has a given spread on `x`.

    Layer by layer, in the model's order, each selected layer's kernel is
    multiplied by `target_std / s`, `s` being the standard deviation (over
    every sample and entry) of the layer's output on `x`, its activation
    included, until `|s - target_std| <= tolerance * target_std` or
    `max_iterations` passes; biases keep their values. Later layers are
    measured after earlier ones are rescaled, so every selected layer
    starts at the scale asked for. A layer whose output is constantly
    zero on `x` cannot be rescaled and is left as it is; one that does not
    reach the spread in `max_iterations` (a bounded activation caps it)
    is left where it got to, with a warning.

    By default the selected layers are those whose kernel initializer is
    a `ProjectedInitializer`, as `regularize(..., reinitialize=...)`
    leaves the kernels it re-draws: drawn inside small subspaces, their
    gains vary most (see the module's docstring). Call it after
    `regularize` and before `compile` or `fit`, on a batch of training
    inputs (a few dozen samples); it runs the model's first layers once
    per selected layer and iteration, eagerly.

    Args:
        model: A built functional or Sequential Keras model; its own
            layers (`model.layers`) are rescaled, not those of models
            nested in it.
        x: A batch of inputs, as the model takes them.
        layers: Which of the model's layers: `None` (those whose kernel,
            depthwise or pointwise initializer is a
            `ProjectedInitializer`), a list of layer names, or a predicate
            `layer -> bool`. Each needs a floating-point `kernel` or
            `pointwise_kernel` (the one scaled) and must be called once
            in the model.
        target_std: The standard deviation asked for, a positive number.
        tolerance: The relative tolerance on it, in `(0, 1)`.
        max_iterations: Passes per layer, a positive int (a layer with
            an activation that is not positively homogeneous, such as a
            sigmoid, may need more than one).
        verbose: Whether to print each layer's spread before and after.

    Returns:
        A dict from layer name to the factor its kernel was multiplied by
        (1.0 for a layer whose output was zero).

    Raises:
        ValueError: if the model is not functional or Sequential, no
            layer is selected or `layers` names unknown ones, a selected
            layer has no floating-point kernel or is not called exactly
            once in the model, the options are out of range, an output
            is not finite, or the factor needed overflows the kernel's
            dtype (the kernel then keeps its values).

    Example:

    >>> import keras
    >>> from keras_approxeq import regularize
    >>> model = keras.Sequential(
    ...     [keras.Input((9, 9, 1)), keras.layers.Conv2D(4, 3, name="conv")]
    ... )
    >>> model = regularize(
    ...     model, "C4", penalty=False, decay=1.0, reinitialize=True,
    ...     verbose=False,
    ... )
    >>> x = np.random.default_rng(0).normal(size=(16, 9, 9, 1))
    >>> factors = rescale_kernels(model, x.astype("float32"), verbose=False)
    >>> list(factors)
    ['conv']
    """
    _check_options(target_std, tolerance, max_iterations)
    if not getattr(model, "inputs", None):
        raise ValueError(
            "`rescale_kernels` measures the outputs of a model's layers, "
            "which needs a functional or Sequential model with known "
            f"inputs. Received: a {type(model).__name__} without them. "
            "Build a functional model (keras.Input -> layers -> "
            "keras.Model), or call this on its functional parts."
        )
    selected = _selected(model, layers)
    factors = {}
    for layer in selected:
        probe, kernel = _probe(model, layer), _kernel(layer)
        before = _spread(probe, x, layer)
        factor, after = _rescale_layer(
            kernel,
            lambda: _spread(probe, x, layer),
            layer.name,
            spread=before,
            target_std=target_std,
            tolerance=tolerance,
            max_iterations=max_iterations,
        )
        factors[layer.name] = factor
        if verbose:
            print(
                f"rescale_kernels: {layer.name}: output std {before:.3g} "
                f"-> {after:.3g} (kernel x {factor:.3g})"
            )
    return factors


def _rescale_layer(
    kernel, measure, name, *, spread, target_std, tolerance, max_iterations
):
    """Multiplies `kernel` until `measure()`, its layer's output spread
    (`spread` before any change), is `target_std`; returns the factor and
    the spread reached. On an error the kernel gets its values back."""
    original = ops.convert_to_numpy(kernel)
    factor = 1.0
    try:
        for _ in range(max_iterations):
            if spread <= _DEAD or abs(spread - target_std) <= (
                tolerance * target_std
            ):
                return factor, spread
            scaled = original.astype("float64") * (factor * target_std / spread)
            with np.errstate(over="ignore"):  # an overflow is checked next
                scaled = scaled.astype(original.dtype)
            if not np.all(np.isfinite(scaled)):
                raise ValueError(
                    f"Rescaling layer {name!r} to an output spread of "
                    f"{target_std:g} needs its kernel multiplied by "
                    f"{factor * target_std / spread:.3g}, which overflows "
                    f"its dtype {original.dtype}. Its output spread on `x` "
                    f"is {spread:.3g}; check the inputs and the weights "
                    "before it, or ask for another `target_std`."
                )
            factor *= target_std / spread
            kernel.assign(scaled)
            spread = measure()
    except ValueError:
        kernel.assign(original)
        raise
    if abs(spread - target_std) > tolerance * target_std:
        warnings.warn(
            f"rescale_kernels: layer {name!r} reached an output "
            f"spread of {spread:.3g} after {max_iterations} iteration(s), "
            f"not {target_std:g} within {tolerance:g}; a bounded "
            "activation (sigmoid, tanh) caps the spread a layer can reach. "
            "Raise `max_iterations`, or lower `target_std`.",
            stacklevel=3,
        )
    return factor, spread


# An output spread at or below this is taken for a layer that is dead on
# `x`: it cannot be rescaled.
_DEAD = 1e-30


def _selected(model, layers):
    """The model's own layers that `layers` selects, in the model's order."""
    if layers is None or callable(layers):
        chosen = _projected if layers is None else layers
        selected = [layer for layer in model.layers if chosen(layer)]
    else:
        names = [layer.name for layer in model.layers]
        layers = check_layer_names(layers, names)
        selected = [layer for layer in model.layers if layer.name in layers]
    if not selected:
        raise ValueError(
            "No layer selected. By default `rescale_kernels` rescales the "
            "model's own layers (`model.layers`, not those inside nested "
            "models) whose kernel initializer is a ProjectedInitializer, "
            "as `regularize(..., reinitialize=True or 'auto')` leaves "
            f"them. Received: layers={layers!r}, among the layers "
            f"{[layer.name for layer in model.layers]}. Pass `layers=` "
            "(names or a predicate)."
        )
    return selected


def _projected(layer):
    return any(
        isinstance(
            getattr(layer, f"{name}_initializer", None), ProjectedInitializer
        )
        for name in ("kernel", "depthwise", "pointwise")
    )


def _probe(model, layer):
    """A model from `model`'s inputs to `layer`'s output."""
    nodes = len(getattr(layer, "_inbound_nodes", ()))
    if nodes != 1:
        raise ValueError(
            f"Layer {layer.name!r} is called {nodes} times in the model, "
            "so its output on `x` is not one tensor. `rescale_kernels` "
            "needs each selected layer called once; pass `layers=` to "
            "skip it."
        )
    try:
        return keras.Model(_input_structure(model), layer.output)
    except ValueError as error:
        raise ValueError(
            f"The output of layer {layer.name!r} is not reachable from the "
            f"model's inputs ({error}). A model nested in another takes its "
            "inputs from the outer one: call `rescale_kernels` on a model "
            "built from its own `keras.Input`, whose own layers these are."
        ) from None


def _input_structure(model):
    """The inputs in the structure (one tensor, a list, a dict) in which
    `x` comes: `model.input`, which a Sequential model does not define."""
    try:
        return model.input
    except AttributeError:
        inputs = model.inputs
        return inputs[0] if len(inputs) == 1 else inputs


def _check_options(target_std, tolerance, max_iterations):
    require(
        is_number(target_std) and target_std > 0,
        "target_std",
        target_std,
        "a positive number",
    )
    require(
        is_number(tolerance) and 0 < tolerance < 1,
        "tolerance",
        tolerance,
        "a number in (0, 1), relative to `target_std`",
    )
    require(
        is_int(max_iterations, 1),
        "max_iterations",
        max_iterations,
        "a positive int",
    )


def _kernel(layer):
    for name in _KERNELS:
        if getattr(layer, name, None) is not None:
            kernel = layer_weight(layer, name)
            if not keras.backend.is_float_dtype(kernel.dtype):
                raise ValueError(
                    f"Layer {layer.name!r} has a {kernel.dtype} kernel; "
                    "`rescale_kernels` scales floating-point kernels only. "
                    "Rescale before quantizing the model."
                )
            return kernel
    raise ValueError(
        f"Layer {layer.name!r} ({type(layer).__name__}) has no kernel to "
        "rescale (`kernel` or `pointwise_kernel`). Select layers with "
        "kernels through `layers=`."
    )


def _spread(probe, x, layer):
    output = ops.convert_to_numpy(probe(x, training=False))
    spread = float(np.std(output.astype("float64")))
    if not math.isfinite(spread):
        raise ValueError(
            f"The output of layer {layer.name!r} on `x` is not finite "
            f"(its standard deviation is {spread}); expected finite "
            "outputs. Check the inputs and the weights before rescaling."
        )
    return spread
