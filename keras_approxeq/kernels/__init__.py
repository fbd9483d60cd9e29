"""Steerable kernel bases: the equivariant kernels of the groups whose
rotations do not map the grid onto itself.

- `radial`: the radial profiles and the angular frequencies each carries
  (`basis="smooth"` or `"grid"`);
- `plane_basis`: the 2D bases, `(n, X, d_a, d_b)` per pair of field types
  of `C<N>`, `D<N>`, `SO2`, `O2`;
- `spherical_basis`: the 3D bases of `SO3` and `O3`.

Plain NumPy, computed once per kernel signature and cached;
`keras_approxeq.projection.steerable` projects onto their span.
"""

from keras_approxeq.kernels import radial
from keras_approxeq.kernels.plane_basis import plane_pair_basis

__all__ = ["plane_pair_basis", "radial"]
