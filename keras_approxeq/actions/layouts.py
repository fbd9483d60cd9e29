"""Kernel layouts: which axes of a weight are spatial, input or output.

| layout             | weight shape                   | Keras layers          |
|--------------------|--------------------------------|-----------------------|
| `"dense"`          | `(in, out)`                    | Dense                 |
| `"conv"`           | `(spatial..., in, out)`        | Conv1D/2D/3D          |
| `"conv_transpose"` | `(spatial..., out, in)`        | Conv*Transpose        |
| `"depthwise"`      | `(spatial..., in, multiplier)` | DepthwiseConv*        |
| `"bias"`           | `(out,)`                       | any layer's bias      |

`layout=None` infers the layout from the rank: 1 is `"bias"`, 2 is
`"dense"`, 3 to 5 is `"conv"`. Transposed and depthwise kernels cannot be
told apart from ordinary ones by their shape, so name their layout.

A depthwise kernel convolves each input channel separately; output channel
`c * multiplier + m` carries the field type of input channel `c`.
"""

import math

__all__ = ["LAYOUTS", "KernelLayout", "normalize"]

LAYOUTS = ("dense", "conv", "conv_transpose", "depthwise", "bias")


def normalize(layout):
    """Validates a user-given layout name (or `None`).

    Example:

    >>> normalize("depthwise"), normalize(None)
    ('depthwise', None)
    """
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(
            f"Unknown layout {layout!r}. Expected None (inferred from the "
            f"weight's rank) or one of {list(LAYOUTS)}, e.g. "
            "layout='conv_transpose' for a Conv2DTranspose kernel."
        )
    return layout


class KernelLayout:
    """The role of each axis of a weight of a given shape.

    Args:
        shape: The weight's shape (a tuple of ints).
        layout: One of `LAYOUTS` or `None` to infer it from the rank.

    Attributes:
        name: The resolved layout name.
        shape: The weight's shape.
        spatial_shape: The spatial axes' sizes (empty for dense and bias).
        in_axis: Index of the input-channel axis, or `None` (bias).
        out_axis: Index of the output-channel axis (for depthwise, the
            multiplier axis).

    Example:

    >>> KernelLayout((3, 3, 8, 16), None).name
    'conv'
    >>> KernelLayout((3, 3, 16, 8), "conv_transpose").in_axis
    3
    """

    def __init__(self, shape, layout=None):
        shape = tuple(int(d) for d in shape)
        rank = len(shape)
        layout = normalize(layout)
        if layout is None:
            layout = {1: "bias", 2: "dense"}.get(rank, "conv")
        expected = {"dense": (2,), "bias": (1,)}.get(layout, (3, 4, 5))
        if rank not in expected:
            allowed = " or ".join(str(r) for r in expected)
            raise ValueError(
                f"A weight with layout {layout!r} must have rank {allowed}, "
                f"but received a weight of shape {shape} (rank {rank}). "
                "Use the layout that matches the layer (see "
                "`keras_approxeq.actions.layouts`)."
            )
        self.name = layout
        self.shape = shape
        spatial = rank - 2 if layout not in ("dense", "bias") else 0
        self.spatial_shape = shape[:spatial]
        if layout == "bias":
            self.in_axis, self.out_axis = None, 0
        elif layout == "conv_transpose":
            self.in_axis, self.out_axis = rank - 1, rank - 2
        else:
            self.in_axis, self.out_axis = rank - 2, rank - 1

    @property
    def fan_in(self):
        """Number of entries feeding one output channel."""
        if self.name == "depthwise":
            return math.prod(self.spatial_shape)
        if self.in_axis is None:
            return 1
        return math.prod(self.spatial_shape) * self.shape[self.in_axis]

    def matrix_axes(self):
        """Axis order that makes the weight a `(fan_in, out)` matrix.

        For depthwise kernels the columns are the `in * multiplier` output
        channels.
        """
        rank = len(self.shape)
        if self.name == "conv_transpose":
            return (*range(rank - 2), rank - 1, rank - 2)
        return tuple(range(rank))

    def matrix_shape(self):
        """Shape of the `(fan_in, out)` matrix view of the weight."""
        return (self.fan_in, math.prod(self.shape) // self.fan_in)
