r"""The projection onto equivariant kernels, for signed-permutation actions.

For a convolution kernel `K` of layout `(spatial..., in, out)` the
projection reads

    P(K)[x] = 1/|G| sum_g rho_in(g)^T K[g x] rho_out(g).

When the grid action and both representations are signed permutations (all
groups and representations of `keras_approxeq.symmetry.groups` and
`keras_approxeq.symmetry.representations`), each group element maps every kernel
entry `n` to one entry `perm_g[n]` times a sign `sign_g[n]`:

    P(K)[n] = 1/|G| sum_g sign_g[n] K[perm_g[n]].

The entries then fall into orbits. In an orbit `O` whose stabiliser never
flips a sign, `P` replaces each entry by the signed orbit mean; an orbit
whose stabiliser flips a sign is projected to zero. Writing
`w[n] = t[n] / sqrt(|O(n)|)` (with `t[n] = +-1` the sign relating entry `n`
to its orbit's first entry, and `w[n] = 0` on the zero orbits), the columns
`q_O = sum_{n in O} w[n] e_n` are an orthonormal basis `Q` of the
equivariant kernels and

    P(K) = Q Q^T K,      (Q^T K)[O] = sum_{n in O} w[n] K[n].

Both steps are gathers with precomputed indices, so the projection costs a
few passes over the kernel, with no scatter, and no matrix of size
`N x N` is ever formed.
"""

import math

import numpy as np
from keras import ops

from keras_approxeq._memo import Constants
from keras_approxeq._memo import memoize
from keras_approxeq._ops import reshape
from keras_approxeq.actions.layouts import KernelLayout
from keras_approxeq.projection.interface import Projector
from keras_approxeq.projection.self_adjoint import self_adjoint
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry.representations import Representation

__all__ = ["OrbitProjector", "get_orbit_projector"]


class OrbitProjector(Projector):
    """The orthogonal projection `P = Q Q^T` for one kernel signature.

    Build it with `get_orbit_projector` (or let `get_projector` choose
    it). Its arrays are NumPy constants; `apply` uses `keras.ops` only and
    runs inside `jax.jit`, `tf.function` and `torch.compile`.

    Attributes:
        shape: The kernel shape it projects.
        dim: Dimension of the equivariant subspace (the trace of `P`).
        index: `(N,)` int32, the orbit of each flattened kernel entry.
        weights: `(N,)` float64, the entries of `Q` (`w` in the module
            docstring); zero on the entries that `P` sends to zero.
        members: `(dim, m)` int32, the entries of each orbit, padded.
        member_weights: `(dim, m)` float64, `weights[members]`, zero on the
            padding.

    Example:

    >>> import numpy as np
    >>> trivial = ("trivial",)
    >>> shape = (3, 3, 1, 1)
    >>> p = get_orbit_projector("C4", 2, trivial, trivial, shape, "conv")
    >>> p.dim  # centre, edge midpoints, corners
    3
    >>> k = np.arange(9.0).reshape(3, 3, 1, 1)
    >>> p.apply_numpy(k)[..., 0, 0]
    array([[4., 4., 4.],
           [4., 4., 4.],
           [4., 4., 4.]])
    """

    def __init__(self, shape, index, weights, members, member_weights):
        self.shape = tuple(shape)
        self.index = index
        self.weights = weights
        self.members = members
        self.member_weights = member_weights
        self.dim = members.shape[0]
        self.is_identity = self.dim == index.size
        self._constants = Constants(index, weights, members, member_weights)

    @property
    def nbytes(self):
        """Bytes of the NumPy arrays it keeps (tensors made from them take
        as much again per dtype and device)."""
        return self._constants.nbytes

    def coefficients(self, kernel):
        """`Q^T K` with `keras.ops`: the kernel's `dim` coordinates."""
        flat = reshape(kernel, (-1,))
        _, _, members, member_weights = self._constants.like(flat)
        gathered = ops.take(flat, members, axis=0)
        return ops.sum(gathered * member_weights, axis=1)

    def expand(self, coefficients):
        """`Q c`: the kernel of coordinates `c` (as `coefficients` gives)."""
        coefficients = ops.convert_to_tensor(coefficients)
        index, weights, _, _ = self._constants.like(coefficients)
        projected = ops.take(coefficients, index, axis=0) * weights
        return reshape(projected, self.shape)

    @self_adjoint
    def apply(self, kernel):
        """`P(K)` with `keras.ops`, same shape and dtype as `kernel`."""
        kernel = ops.convert_to_tensor(kernel)
        if self.dim == 0:
            return ops.zeros_like(kernel)
        return self.expand(self.coefficients(kernel))

    def apply_numpy(self, kernel):
        """`P(K)` in NumPy (exact in float64)."""
        kernel = np.asarray(kernel)
        if self.dim == 0:
            return np.zeros_like(kernel)
        flat = kernel.reshape(-1)
        coefficients = np.sum(flat[self.members] * self.member_weights, 1)
        projected = coefficients[self.index] * self.weights
        return projected.reshape(kernel.shape).astype(kernel.dtype)


@memoize
def get_orbit_projector(
    group_name, ndim, in_fields, out_fields, shape, layout_name
):
    """The (cached) orbit projector of a kernel signature, for the groups
    and representations that act by signed permutations.

    Example:

    >>> p = get_orbit_projector(
    ...     "C4", 2, ("trivial",), ("trivial",), (3, 3, 1, 1), "conv"
    ... )
    >>> p.dim  # the centre, the edges' and the corners' orbits
    3
    """
    group = groups.get(group_name, ndim)
    layout = KernelLayout(shape, layout_name)
    generators = group.generators
    axes = []  # one (perm, sign) pair, each (generators, n), per kernel axis
    if layout.spatial_shape:
        perm = group.grid_permutations(layout.spatial_shape, "kernel")
        axes.append((perm[generators], None))
    channel_axes = [(layout.in_axis, in_fields, "input channels")]
    channel_axes.append((layout.out_axis, out_fields, "output channels"))
    channel_axes = sorted(a for a in channel_axes if a[0] is not None)
    for axis, fields, what in channel_axes:
        if layout.name == "depthwise" and axis == layout.out_axis:
            # The multiplier axis: each copy carries its input channel's type.
            n = shape[axis]
            axes.append((np.tile(np.arange(n), (len(generators), 1)), None))
            continue
        rep = Representation(group, fields)
        perm, sign = rep.signed_permutation(shape[axis], what, generators)
        # Depthwise filters see the input rotated and rotate the output by
        # the same sign, so the signs cancel.
        axes.append((perm, None if layout.name == "depthwise" else sign))
    return _orbit_projector(shape, axes)


def _orbit_projector(shape, axes):
    """Orbits of the kernel entries under the generators' signed actions.

    Each generator maps entry `n` to `sign[n] * K[perm[n]]`. Propagating the
    smallest entry index along these edges labels every entry with its
    orbit's first entry `root[n]` and the sign `t[n]` that relates the two;
    an orbit reached with both signs is projected to zero.
    """
    sizes = [perm.shape[1] for perm, _ in axes]
    n = math.prod(sizes)
    actions = []
    for g in range(axes[0][0].shape[0]):
        perm = np.ravel_multi_index(np.ix_(*(p[g] for p, _ in axes)), sizes)
        sign = np.ones(())
        for (_, s), size in zip(axes, sizes):
            sign = np.multiply.outer(sign, np.ones(size) if s is None else s[g])
        actions.append((perm.reshape(-1), sign.reshape(-1)))

    root, t = np.arange(n), np.ones(n)
    changed = True
    while changed:
        changed = False
        for perm, sign in actions:
            pull = root[perm] < root  # n joins the orbit root of perm[n]
            root[pull], t[pull] = root[perm][pull], (sign * t[perm])[pull]
            push = root < root[perm]  # perm[n] joins the orbit root of n
            target = perm[push]
            root[target], t[target] = root[push], (sign * t)[push]
            changed |= bool(pull.any() or push.any())
    conflict = np.zeros(n, bool)
    for perm, sign in actions:
        conflict |= t[perm] != sign * t
    orbit_ids, orbit = np.unique(root, return_inverse=True)
    size = np.bincount(orbit)
    zero_orbit = np.bincount(orbit, conflict, len(orbit_ids)) > 0
    kept = np.cumsum(~zero_orbit) - 1  # new id of each non-zero orbit
    index = np.where(zero_orbit[orbit], 0, kept[orbit]).astype(np.int32)
    weights = np.where(zero_orbit[orbit], 0.0, t / np.sqrt(size[orbit]))

    live = np.flatnonzero(~zero_orbit[orbit])
    live = live[np.argsort(index[live], kind="stable")]
    dim = int(np.sum(~zero_orbit))
    counts = np.bincount(index[live], minlength=dim)
    width = int(counts.max()) if dim else 0
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(live.size) - starts[index[live]]
    members = np.zeros((dim, width), np.int32)
    member_weights = np.zeros((dim, width))
    members[index[live], slot] = live
    member_weights[index[live], slot] = weights[live]
    return OrbitProjector(shape, index, weights, members, member_weights)
