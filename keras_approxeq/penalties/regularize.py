"""`regularize`: make an existing Keras model approximately equivariant."""

import math
import warnings

import keras

from keras_approxeq.actions import data_formats
from keras_approxeq.penalties.decay import ProjectionDecay
from keras_approxeq.penalties.decay import validated_learning_rate
from keras_approxeq.penalties.decay import validated_rate
from keras_approxeq.penalties.initializers import ProjectedInitializer
from keras_approxeq.penalties.regularizer import ProjectionRegularizer
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry import representations

__all__ = ["KERNEL_LAYERS", "NORMALIZATION_LAYERS", "regularize"]

L = keras.layers
# (layer classes, kernel attribute, its regularizer and constraint
# attributes, layout, whether the kernel's outputs carry `in_rep`)
KERNEL_LAYERS = (
    ((L.Conv1D, L.Conv2D, L.Conv3D), "kernel", "kernel", "conv", False),
    (
        (L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose),
        "kernel",
        "kernel",
        "conv_transpose",
        False,
    ),
    (
        (L.DepthwiseConv1D, L.DepthwiseConv2D),
        "kernel",
        "depthwise",
        "depthwise",
        True,
    ),
    (
        (L.SeparableConv1D, L.SeparableConv2D),
        "depthwise_kernel",
        "depthwise",
        "depthwise",
        True,
    ),
    (
        (L.SeparableConv1D, L.SeparableConv2D),
        "pointwise_kernel",
        "pointwise",
        "conv",
        False,
    ),
    ((L.Dense,), "kernel", "kernel", "dense", False),
)
# Normalisation layers whose per-channel scale (`gamma`) and offset
# (`beta`) are tied per field, as a bias is.
NORMALIZATION_LAYERS = (
    L.BatchNormalization,
    L.GroupNormalization,
    L.LayerNormalization,
)
del L

# `reinitialize="auto"` re-draws a kernel whose equivariant subspace keeps
# less than this fraction of a random draw's variance. Measured: from
# Keras' own start, the SO(3) volumes' kernels (0.6 to 0.8 %) train
# badly or collapse under a strong pull and gain from the re-draw; of
# C4's 3x3 kernels (25 %), the study's lose from it (4 to 60 % more
# error) and the rotated digits' exact network gains much
# (docs/results.md), so "auto" keeps them and the README's recipe
# chooses between `reinitialize=True` and the own start by held-out score.
SMALL_SUBSPACE = 0.1


def regularize(
    model,
    group,
    *,
    in_rep="trivial",
    out_rep="trivial",
    layers=None,
    penalty=True,
    decay=None,
    decay_learning_rate=None,
    reinitialize=False,
    verbose=True,
    **regularizer_options,
):
    """Puts a `ProjectionRegularizer` on every kernel of a built model.

    Every kernel of a `Conv1D/2D/3D`, `Conv*Transpose`, `DepthwiseConv*`,
    `SeparableConv*` (both kernels) and `Dense` layer, nested models
    included, gets a `ProjectionRegularizer(group, ...)` with the layout of
    its layer. A bias gets one too (layout `"bias"`) when its output
    fields are not all trivial; between trivial fields every bias is
    invariant. Kernels whose projection is the identity, such as 1x1 and
    Dense kernels between trivial fields of a spatial group, have no
    non-equivariant part: they are left alone and listed.

    The scale and offset of `LayerNormalization`, `GroupNormalization`
    and `BatchNormalization` layers (one per channel) are regularised as
    biases are, with the layer's `out_rep`: between regular fields that
    ties them per field. `LayerNormalization` over the channels, whose
    statistics every channel of a position shares, is then equivariant,
    and so is `GroupNormalization` whose groups hold whole copies of the
    representation. `BatchNormalization` keeps a mean and a variance per
    channel, which break equivariance between non-trivial fields whatever
    its scale and offset: it warns, naming those layers (use
    `LayerNormalization` or `keras_approxeq.layers.FieldNormalization`).
    On the rotated digits with 16 regular C4 fields per layer
    (`docs/results.md`), `LayerNormalization` after each convolution,
    tied this way, lifted a light pull (rate 0.03) from 0.898 to 0.948
    test accuracy (10 seeds), above plain (0.923) and exact (0.924) on
    every seed; with `BatchNormalization` or `FieldNormalization` the
    pulled networks collapsed on one seed of five (their moving averages
    lagged the batch statistics). A normalisation layer must normalise
    over the channel axis (the last; or axis 1 too in a model whose
    convolutions are channels-first); one over another axis has a scale
    per position, which no field type makes equivariant, and is refused.

    Other layers with trainable weights of their own (`PReLU`,
    `RMSNormalization`, `EinsumDense`, ...) are left as they are, with a
    warning that names them: `regularize` cannot tell how their weights
    transform, and an untied per-channel weight between regular fields
    breaks equivariance that no kernel's projection restores.

    Every kernel's channel counts are checked against the representations
    before anything changes; one `ValueError` lists every layer that does
    not fit, with the fix.

    Sequential and functional models (`keras.applications` among them)
    are cloned: the returned model is new, with the original's weights,
    and the original is unchanged. A subclassed model cannot be rebuilt
    from its config in general, so its layers are regularised in place
    and the same model is returned. Call `regularize` before `compile`
    (or compile again): a compiled train step keeps the losses it traced.

    Args:
        model: A built Keras model.
        group: A group name (see `ProjectionRegularizer`).
        in_rep: Representation of every layer's inputs, or a function
            `layer -> representation` (e.g. `"trivial"` for the first
            layer and `"regular"` after it).
        out_rep: Representation of every layer's outputs, or a function
            `layer -> representation`. It is also called with the
            normalisation layers, for the representation of the channels
            they normalise (a function that reads `layer.kernel` must
            handle them, or `layers=` must leave them out).
        layers: Which layers: `None` (all that have kernels), a list of
            layer names, or a predicate `layer -> bool`.
        penalty: Whether to add the `ProjectionRegularizer` penalty. With
            `penalty=False` the kernels get a regularizer of weight 0,
            which costs nothing and lets `equivariance_report` and
            `project_weights` find them.
        decay: `None` or a rate in `[0, 1]`: also (or, with
            `penalty=False`, instead) put a `ProjectionDecay` of this
            rate as the constraint of each kernel and of each bias that
            gets a regularizer.
        decay_learning_rate: `None` or the learning rate at which `decay`
            holds: the decay then follows the optimizer's learning rate
            and its schedule (`ProjectionDecay(learning_rate=...)`; pass
            it whenever the learning rate changes during training).
        reinitialize: `False`, `True` or `"auto"`: whether to re-draw
            regularised kernels from
            `ProjectedInitializer(base=<the layer's own initializer>)`:
            exactly equivariant, with the variance per entry that the
            layer's initializer gives (which a projection alone would
            shrink to `D / N` of it, for a `D`-dimensional subspace of
            `N` entries). For a freshly built model that is to be pulled
            hard (a high `decay` or `lambda_perp`): from the layer's own
            start the pull removes most of each kernel, and a deep
            network's signal fades. `True` re-draws every regularised
            kernel; `"auto"` only those whose subspace keeps less than a
            tenth (`D / N < 0.1`): SO(3) steerable kernels keep under
            1 %, SO(2) ones between fields of frequencies 0 to 2 on a
            5x5 grid 7 %, regular fields of C8 on a 5x5 grid 5.5 %, and
            are re-drawn; C4 and D4 kernels on a 3x3 grid keep a quarter
            and an eighth, and are not. It discards the kernels' values,
            so not for a trained model. Biases and kernels left alone
            keep theirs.
        verbose: Whether to print what was regularised and what was left
            alone.
        **regularizer_options: Passed to every `ProjectionRegularizer`
            (`norm`, `lambda_perp`, `lambda_g`, `domain`, ...).

    Returns:
        The regularised model.

    Raises:
        ValueError: if the model is not built, no layer matches, or some
            kernels do not fit the representations (all of them listed).

    Example:

    >>> backbone = keras.Sequential([
    ...     keras.Input((9, 9, 3)),
    ...     keras.layers.Conv2D(8, 3),
    ...     keras.layers.Conv2D(8, 1),  # 1x1: equivariant whatever it is
    ...     keras.layers.GlobalAveragePooling2D(),
    ...     keras.layers.Dense(2),
    ... ])
    >>> model = regularize(backbone, "C4", lambda_perp=1e-2, verbose=False)
    >>> [type(layer.kernel_regularizer).__name__ for layer in model.layers
    ...  if hasattr(layer, "kernel_regularizer")]
    ['ProjectionRegularizer', 'NoneType', 'NoneType']

    A `keras.applications` backbone, as the README does:

    ```python
    backbone = keras.applications.ResNet50(
        weights=None, input_shape=(33, 33, 3)
    )
    model = regularize(backbone, "C4", lambda_perp=1e-2)
    model.compile("adam", "sparse_categorical_crossentropy")
    ```
    """
    if not model.built:
        raise ValueError(
            "`regularize` needs a built model, to know each kernel's shape. "
            "Call the model on a batch or `model.build(input_shape)` first."
        )
    if not (isinstance(reinitialize, bool) or reinitialize == "auto"):
        raise ValueError(
            "Expected `reinitialize` to be False, True or 'auto'. Received: "
            f"reinitialize={reinitialize!r}."
        )
    if not penalty and decay is None:
        raise ValueError(
            "Nothing to add: `penalty=False` and `decay=None`. Keep the "
            "penalty or give a decay rate, e.g. decay=0.1."
        )
    if decay is not None:
        validated_rate(decay, "decay")
    validated_learning_rate(decay_learning_rate, "decay_learning_rate")
    chosen = _selector(layers, model)
    regularized = _clone(model)
    data_format = _data_format(regularized)
    plans, identities, problems = [], [], []
    normalizations = []  # layers whose statistics are not per field
    unplaced = []  # layers with trainable weights no rule here covers
    for layer in regularized._flatten_layers(include_self=False):
        if not chosen(layer):
            continue
        weights = _weights(layer, in_rep, out_rep)
        if not weights and _weights_without_a_rule(layer):
            unplaced.append(f"{layer.name} ({type(layer).__name__})")
        for kernel, attribute, layout, field_reps in weights:
            regularizer = ProjectionRegularizer(
                group,
                in_rep=field_reps[0],
                out_rep=field_reps[1],
                layout=layout,
                **regularizer_options,
            )
            variable = layer_weight(layer, kernel)
            normalization = isinstance(layer, NORMALIZATION_LAYERS)
            try:
                if normalization:
                    _check_normalization(
                        layer, variable, regularizer, data_format
                    )
                projector = regularizer.projector(tuple(variable.shape))
            except ValueError as error:
                problems.append(f"  {layer.name} ({kernel}): {error}")
                continue
            if projector.is_identity and not regularizer.lambda_g:
                if layout != "bias":
                    identities.append(variable.path)
                continue
            if normalization and _statistics_split_fields(
                layer, variable, regularizer
            ):
                normalizations.append(layer.name)
            redraw = layout != "bias" and (
                projector.dim < SMALL_SUBSPACE * math.prod(variable.shape)
                if reinitialize == "auto"
                else reinitialize
            )
            plans.append(
                (layer, variable, attribute, layout, regularizer, redraw)
            )
    if problems:
        raise ValueError(
            f"{len(problems)} weight(s) do not fit the representations of "
            f"group {group!r}:\n" + "\n".join(problems) + "\nFix: pass "
            "`layers=` to skip these layers, or `in_rep`/`out_rep` as "
            "functions of the layer that give each its own representation."
        )
    if not plans and not identities:
        raise ValueError(
            "No layer with a kernel was selected. `regularize` handles "
            f"{', '.join(_names())}; check `layers=`."
        )
    for layer, variable, attribute, layout, regularizer, redraw in plans:
        if not penalty:
            # A regularizer of weight 0 costs nothing and labels the weight
            # for `equivariance_report` and `project_weights`.
            config = dict(regularizer.get_config(), lambda_perp=0.0)
            regularizer = ProjectionRegularizer.from_config(
                dict(config, lambda_g=0.0)
            )
        variable.regularizer = regularizer
        setattr(layer, f"{attribute}_regularizer", regularizer)
        if decay is not None:
            constraint = ProjectionDecay(
                rate=decay,
                learning_rate=decay_learning_rate,
                **dict(regularizer.target_config(), layout=layout),
            )
            variable.constraint = constraint
            setattr(layer, f"{attribute}_constraint", constraint)
        if redraw:
            initializer = ProjectedInitializer(
                base=getattr(layer, f"{attribute}_initializer"),
                **dict(regularizer.target_config(), layout=layout),
            )
            variable.assign(initializer(variable.shape, variable.dtype))
            setattr(layer, f"{attribute}_initializer", initializer)
    if verbose:
        _summary(plans, identities)
    if normalizations:
        names = ", ".join(sorted(set(normalizations)))
        warnings.warn(
            f"The normalisation layer(s) {names} compute their statistics "
            "per channel (or over groups of channels that split fields), "
            "which breaks equivariance between non-trivial fields whatever "
            "their scale and offset: `regularize` ties those per field, "
            "not the statistics. Replace them by "
            "`keras.layers.LayerNormalization()` (statistics over all "
            "channels of a position) or "
            "`keras_approxeq.layers.FieldNormalization(group, rep=...)` "
            "(batch statistics per field).",
            UserWarning,
            stacklevel=2,
        )
    if unplaced:
        warnings.warn(
            "`regularize` left the trainable weights of "
            f"{', '.join(unplaced)} as they are: it does not know how these "
            "layers transform under the group, so the model may stay "
            "non-equivariant even when every kernel is projected. Check it "
            "with `equivariance_error`. Replace such layers by ones "
            "`regularize` handles (e.g. `keras.layers.LayerNormalization()` "
            "for `RMSNormalization`), or leave them out with `layers=` to "
            "silence this warning.",
            UserWarning,
            stacklevel=2,
        )
    return regularized


def _weights(layer, in_rep, out_rep):
    """`(weight, attribute, layout, (in_rep, out_rep))` of each weight of
    `layer` that `regularize` handles."""
    if isinstance(layer, NORMALIZATION_LAYERS):
        rep = out_rep(layer) if callable(out_rep) else out_rep
        return [
            (name, name, "bias", (rep, rep))
            for name in ("gamma", "beta")
            if getattr(layer, name, None) is not None
        ]
    specs = [s for s in KERNEL_LAYERS if isinstance(layer, s[0])]
    if not specs:
        return []
    reps = _reps(layer, in_rep, out_rep)
    weights = [
        (kernel, attribute, layout, reps)
        for _, kernel, attribute, layout, _ in specs
    ]
    if getattr(layer, "bias", None) is not None:
        # A depthwise layer's outputs carry its inputs' fields.
        bias_rep = reps[0] if all(s[4] for s in specs) else reps[1]
        weights.append(("bias", "bias", "bias", (reps[0], bias_rep)))
    return weights


def _weights_without_a_rule(layer):
    """Whether `layer` has trainable weights of its own that no rule of
    `regularize` covers; this package's layers are equivariant, or relaxed,
    by construction."""
    own = layer._trainable_variables  # Keras has no public accessor
    return bool(own) and not type(layer).__module__.startswith(
        "keras_approxeq."
    )


def _data_format(model):
    """`"channels_first"` if a layer of the model with a `data_format`
    (its convolutions, poolings) puts channels first, else
    `"channels_last"` (Dense-only models included)."""
    formats = {
        getattr(layer, "data_format", None)
        for layer in model._flatten_layers(include_self=False)
    }
    first = "channels_first" in formats
    return "channels_first" if first else "channels_last"


def _check_normalization(layer, variable, regularizer, data_format):
    """Raises unless tying a normalisation layer's scale or offset per
    field makes it equivariant."""
    if len(variable.shape) != 1:
        raise ValueError(
            f"it normalises over several axes, with a {variable.name} per "
            f"position (shape {tuple(variable.shape)}), which no field type "
            "makes equivariant; `regularize` handles one per channel "
            "(`axis=-1`, or the channel axis)."
        )
    shapes = getattr(layer, "_build_shapes_dict", None) or {}
    shape = next(iter(shapes.values()), None)  # Keras has no public accessor
    axis = layer.axis[0] if isinstance(layer.axis, list) else layer.axis
    if shape is not None and isinstance(axis, int):
        rank = len(shape)
        # A channels-first model may also hold channels-last tensors
        # (tokens after a reshape), so the last axis is accepted there too.
        channels = {data_formats.channel_axis(rank, data_format), rank - 1}
        if axis % rank not in channels:
            first = data_format == "channels_first"
            raise ValueError(
                f"it normalises over axis {axis} of its rank-{rank} input, "
                f"so its {variable.name} (shape {tuple(variable.shape)}) "
                "is one per position along that axis, not one per channel, "
                "and no field type makes that equivariant. Expected the "
                f"channel axis, {'1 or -1' if first else '-1'} in a model "
                f"whose convolutions are {data_format}: pass `axis=` "
                "accordingly, or leave the layer out with `layers=`."
            )
    fields = set(representations.normalize(regularizer.out_rep))
    if not fields <= set(representations.PERMUTATION_FIELDS):
        raise ValueError(
            f"its fields {sorted(fields)} are not all permuted by the "
            "group: a scale per channel and a mean over the channels are "
            "equivariant only for fields in "
            f"{list(representations.PERMUTATION_FIELDS)}. Use "
            "`keras_approxeq.layers.FieldNormalization` instead."
        )


def _statistics_split_fields(layer, variable, regularizer):
    """Whether the layer's statistics split a field: per channel
    (`BatchNormalization`) or over groups of channels that are not whole
    copies of the representation (`GroupNormalization`)."""
    if isinstance(layer, keras.layers.BatchNormalization):
        return True
    if isinstance(layer, keras.layers.GroupNormalization):
        channels = variable.shape[0]
        rep = representations.Representation(
            groups.get(regularizer.group), regularizer.out_rep
        )
        return (channels // layer.groups) % rep.size != 0
    return False


def _clone(model):
    if isinstance(model, keras.Sequential) or _is_functional(model):
        clone = keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
        return clone
    return model


def _is_functional(model):
    # Keras exports no Functional class; only functional models have a graph.
    return isinstance(model, keras.Model) and hasattr(
        model, "_run_through_graph"
    )


def _selector(layers, model):
    if layers is None:
        return lambda layer: True
    if callable(layers):
        return layers
    flat = model._flatten_layers(include_self=False)
    names = set(check_layer_names(layers, [layer.name for layer in flat]))
    return lambda layer: layer.name in names


def check_layer_names(layers, names):
    """`layers`, an iterable of layer names, as a list; raises unless it
    names only `names`."""
    if isinstance(layers, str):
        raise ValueError(
            "Expected `layers` to be None, a list of layer names or a "
            f"predicate. Received: layers={layers!r}, a string. Pass "
            f"layers=[{layers!r}]."
        )
    layers = list(layers)
    unknown = [name for name in layers if name not in names]
    if unknown:
        raise ValueError(
            f"`layers` names layers the model does not have: {unknown}. "
            f"Expected names of its layers: {names}."
        )
    return layers


def _reps(layer, in_rep, out_rep):
    return (
        in_rep(layer) if callable(in_rep) else in_rep,
        out_rep(layer) if callable(out_rep) else out_rep,
    )


def layer_weight(layer, name):
    """The variable behind a layer's weight attribute `name`."""
    # Conv and Dense layers keep their kernel as `_kernel` behind a
    # `kernel` property (which adds the LoRA update when enabled).
    variable = getattr(layer, f"_{name}", None)
    return getattr(layer, name) if variable is None else variable


def _names():
    return sorted(
        {c.__name__ for classes, *_ in KERNEL_LAYERS for c in classes}
    )


def _summary(plans, identities):
    print(f"regularize: {len(plans)} weight(s) regularised.")
    redrawn = [variable.path for _, variable, *_, redraw in plans if redraw]
    if redrawn:
        print(
            f"regularize: {len(redrawn)} kernel(s) re-drawn inside the "
            "equivariant subspace at their initializer's scale: "
            + ", ".join(redrawn)
        )
    if identities:
        print(
            f"regularize: {len(identities)} kernel(s) left alone, their "
            "projection is the identity (every such kernel is already "
            "equivariant): " + ", ".join(identities)
        )
