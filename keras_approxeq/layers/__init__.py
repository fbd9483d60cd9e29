"""Keras layers for approximately equivariant networks."""

from keras_approxeq.layers.field_normalization import FieldNormalization
from keras_approxeq.layers.group_conv import GroupConv2D
from keras_approxeq.layers.group_conv import GroupConv3D
from keras_approxeq.layers.group_conv import LiftingConv2D
from keras_approxeq.layers.group_conv import LiftingConv3D
from keras_approxeq.layers.group_pooling import GroupPooling
from keras_approxeq.layers.relaxed_group_conv import RelaxedGroupConv2D
from keras_approxeq.layers.residual_pathway import ResidualPathway

__all__ = [
    "FieldNormalization",
    "GroupConv2D",
    "GroupConv3D",
    "GroupPooling",
    "LiftingConv2D",
    "LiftingConv3D",
    "RelaxedGroupConv2D",
    "ResidualPathway",
]
