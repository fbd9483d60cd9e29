"""`RelaxedGroupConv2D`: the relaxed group convolution of Wang, Walters
and Yu (ICML 2022), with the projection penalty on its mixing weights."""

import math

import keras
from keras import ops

from keras_approxeq._checks import is_int
from keras_approxeq._checks import require
from keras_approxeq._warnings import keyword_only
from keras_approxeq.layers.computed_kernel import ComputedKernelLayer
from keras_approxeq.penalties.initializers import ProjectedInitializer
from keras_approxeq.penalties.regularizer import ProjectionRegularizer
from keras_approxeq.projection.projectors import get_projector
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry import representations

__all__ = ["RelaxedGroupConv2D"]


@keras.saving.register_keras_serializable(package="keras_approxeq")
class RelaxedGroupConv2D(ComputedKernelLayer):
    """`L` group-convolution filter banks, mixed per group element.

    The kernel to output channel `h` of each regular field (`h` a group
    element) is `sum_l w[l, h] K_l`, where each `K_l = P(theta_l)` is an
    exactly equivariant group-convolution kernel and `w` are learnable
    mixing weights. With `w[l, h]` equal over `h` the layer is a group
    convolution; the mixing weights start so (exactly equivariant at
    initialisation) and their non-equivariant part, the deviation from
    their mean over the group, is what the `ProjectionRegularizer` on them
    penalises (`lambda_perp`).

    Args:
        num_fields: Number of output regular fields (`num_fields * |G|`
            channels).
        kernel_size: An int or two ints.
        group: A finite 2D group, e.g. `"C4"` (default), `"D4"`, `"C8"`.
        in_rep: The input channels' representation (`"regular"` by
            default; `"trivial"` for a lifting layer).
        num_filter_banks: `L`, the number of filter banks.
        norm: The penalty's norm.
        lambda_perp: Weight of the penalty on the mixing weights'
            non-equivariant part.
        kernel_initializer: The base initializer of the filter banks
            (projected with `ProjectedInitializer`).
        **kwargs: `strides`, `padding`, `data_format`, `dilation_rate`,
            `activation`, `use_bias`, `bias_*` and base `Layer` arguments.

    Example:

    >>> import numpy as np
    >>> layer = RelaxedGroupConv2D(8, 3, group="C4", num_filter_banks=2,
    ...                            padding="same", activation="relu")
    >>> x = np.zeros((1, 9, 9, 4), "float32")  # one regular field
    >>> tuple(layer(x).shape)  # 8 regular fields of 4 channels
    (1, 9, 9, 32)
    """

    @keyword_only(
        "group",
        "in_rep",
        "num_filter_banks",
        "lambda_perp",
        "norm",
        "kernel_initializer",
        renamed={"fields": "num_fields"},
    )
    def __init__(
        self,
        num_fields,
        kernel_size,
        *,
        group="C4",
        in_rep="regular",
        num_filter_banks=2,
        norm="fro",
        lambda_perp=1e-2,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        resolved = groups.get_finite(
            group, 2, user="RelaxedGroupConv2D", hint="Use e.g. 'C8'."
        )
        require(
            is_int(num_fields, 1),
            "num_fields",
            num_fields,
            "a positive int (the number of regular fields)",
        )
        require(
            is_int(num_filter_banks, 1),
            "num_filter_banks",
            num_filter_banks,
            "a positive int",
        )
        # The mixing weights' penalty, checked here rather than at build.
        ProjectionRegularizer(
            resolved.name, out_rep="regular", norm=norm, lambda_perp=lambda_perp
        )
        num_fields = int(num_fields)
        super().__init__(2, num_fields * resolved.order, kernel_size, **kwargs)
        self.num_fields = num_fields
        self.group = resolved.name
        self.order = resolved.order
        self.in_rep = representations.validated(in_rep, "in_rep")
        self.num_filter_banks = int(num_filter_banks)
        self.lambda_perp = lambda_perp
        self.norm = norm
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build_kernel(self, input_channels):
        banks = self.num_filter_banks
        shape = (*self.kernel_size, input_channels, banks * self.filters)
        self.filter_banks = self.add_weight(
            name="filter_banks",
            shape=shape,
            initializer=ProjectedInitializer(
                self.group,
                in_rep=self.in_rep,
                out_rep="regular",
                base=self.kernel_initializer,
            ),
        )
        # w[l, h]: trivial -> regular, so P(w) is w's mean over the group.
        self.mixing_weights = self.add_weight(
            name="mixing_weights",
            shape=(banks, self.order),
            initializer=keras.initializers.Constant(1 / math.sqrt(banks)),
            regularizer=ProjectionRegularizer(
                self.group,
                in_rep="trivial",
                out_rep="regular",
                norm=self.norm,
                lambda_perp=self.lambda_perp,
                layout="dense",
            ),
        )
        self._projector = get_projector(
            self.group, self.in_rep, "regular", shape
        )

    def kernel(self):
        banks = self._projector.apply(self.filter_banks)
        banks = ops.reshape(
            banks,
            (
                *banks.shape[:-1],
                self.num_filter_banks,
                self.num_fields,
                self.order,
            ),
        )
        mixed = ops.einsum("...lfh,lh->...fh", banks, self.mixing_weights)
        return ops.reshape(mixed, (*mixed.shape[:-2], self.filters))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_fields": self.num_fields,
                "group": self.group,
                "in_rep": self.in_rep,
                "num_filter_banks": self.num_filter_banks,
                "norm": self.norm,
                "lambda_perp": self.lambda_perp,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
