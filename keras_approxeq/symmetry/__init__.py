"""Groups and their representations: the symmetry a layer respects.

- `groups`: the groups, each a class with one interface (`C<N>`, `D<N>`
  and the cube groups, which permute grid points; `SO2`, `O2`, `SO3`,
  `O3`; the permutation groups `S<n>`), and `get`, which names them;
- `irreps`: the field types of the 2D groups, indexed by frequency;
- `spherical`: real spherical harmonics and Wigner D-matrices, the field
  types of `SO3` and `O3`;
- `representations`: `Representation`, a direct sum of field types, and
  how its group elements move a layer's channels.

Plain NumPy: nothing here knows about kernels, tensors or layers.
"""

from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry import irreps
from keras_approxeq.symmetry import representations
from keras_approxeq.symmetry import spherical
from keras_approxeq.symmetry.representations import Representation

__all__ = ["Representation", "groups", "irreps", "representations", "spherical"]
