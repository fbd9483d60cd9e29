"""How a group acts on tensors: feature maps and kernels.

- `data_formats`: where the spatial and channel axes of a feature map are
  (`"channels_last"` or `"channels_first"`);
- `transforms`: `transform(x, group, element, rep=...)`, the action
  `(g x)(p) = rho(g) x(g^-1 p)` on a batch of feature maps;
- `interpolation`: rotations by angles off the grid, resampled;
- `layouts`: `KernelLayout`, which axes of a weight are spatial, input
  and output (convolution, transposed convolution, depthwise, dense,
  bias).
"""

from keras_approxeq.actions import layouts
from keras_approxeq.actions.layouts import KernelLayout
from keras_approxeq.actions.transforms import transform

__all__ = ["KernelLayout", "layouts", "transform"]
