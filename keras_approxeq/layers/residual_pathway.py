"""Residual pathway priors (Finzi, Benton and Wilson, NeurIPS 2021)."""

import keras

from keras_approxeq._checks import is_number
from keras_approxeq._checks import require
from keras_approxeq._warnings import keyword_only
from keras_approxeq.layers.computed_kernel import ComputedKernelLayer
from keras_approxeq.penalties.initializers import ProjectedInitializer
from keras_approxeq.projection.projectors import get_projector
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry import representations

__all__ = ["ResidualPathway"]


@keras.saving.register_keras_serializable(package="keras_approxeq")
class ResidualPathway(ComputedKernelLayer):
    """An exactly equivariant branch plus a free one, each with its decay.

    The kernel is `P(A) + B`: `A` is projected onto the equivariant
    kernels in every call (its gradient is projected too, so it stays
    equivariant), `B` is an ordinary kernel. Each has its own L2 weight
    decay, `equivariant_decay` on `A` (small) and `free_decay` on `B`
    (large): a prior that prefers the equivariant explanation and lets the
    data pay for departures from it. `B` starts at zero, so the layer is
    exactly equivariant at initialisation.

    Args:
        filters: Output channels.
        kernel_size: An int or a tuple (ignored for `rank=0`).
        group: The group (see `ProjectionRegularizer`).
        in_rep: The input representation.
        out_rep: The output representation.
        rank: 2 (default; a Conv2D), 1, 3, or 0 for a Dense layer.
        equivariant_decay: L2 weight of `A`.
        free_decay: L2 weight of `B`.
        kernel_initializer: The base initializer of `A` (projected with
            `ProjectedInitializer`).
        **kwargs: `strides`, `padding`, `data_format`, `dilation_rate`,
            `activation`, `use_bias`, `bias_*` and base `Layer` arguments.

    Example:

    >>> import numpy as np
    >>> layer = ResidualPathway(8, 3, group="C4", in_rep="regular",
    ...                         out_rep="regular", padding="same")
    >>> tuple(layer(np.zeros((1, 9, 9, 8), "float32")).shape)
    (1, 9, 9, 8)
    """

    @keyword_only(
        "group",
        "in_rep",
        "out_rep",
        "rank",
        "equivariant_decay",
        "free_decay",
        "kernel_initializer",
    )
    def __init__(
        self,
        filters,
        kernel_size=1,
        *,
        group="C4",
        in_rep="trivial",
        out_rep="trivial",
        rank=2,
        equivariant_decay=1e-5,
        free_decay=1e-2,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        for name, value in (
            ("equivariant_decay", equivariant_decay),
            ("free_decay", free_decay),
        ):
            require(
                is_number(value) and value >= 0,
                name,
                value,
                "a finite number >= 0 (an L2 weight)",
            )
        super().__init__(rank, filters, kernel_size, **kwargs)
        self.group = groups.get(group).name
        self.in_rep = representations.validated(in_rep, "in_rep")
        self.out_rep = representations.validated(out_rep, "out_rep")
        self.equivariant_decay = equivariant_decay
        self.free_decay = free_decay
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build_kernel(self, input_channels):
        shape = (*self.kernel_size, input_channels, self.filters)
        self._projector = get_projector(
            self.group, self.in_rep, self.out_rep, shape
        )
        self.equivariant_kernel = self.add_weight(
            name="equivariant_kernel",
            shape=shape,
            initializer=ProjectedInitializer(
                self.group,
                in_rep=self.in_rep,
                out_rep=self.out_rep,
                base=self.kernel_initializer,
            ),
            regularizer=keras.regularizers.L2(self.equivariant_decay),
        )
        self.free_kernel = self.add_weight(
            name="free_kernel",
            shape=shape,
            initializer="zeros",
            regularizer=keras.regularizers.L2(self.free_decay),
        )

    def kernel(self):
        return self._projector.apply(self.equivariant_kernel) + self.free_kernel

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "group": self.group,
                "in_rep": self.in_rep,
                "out_rep": self.out_rep,
                "rank": self.rank,
                "equivariant_decay": self.equivariant_decay,
                "free_decay": self.free_decay,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
