r"""The projection onto equivariant kernels, for signed-permutation actions.

For a convolution kernel `K` of layout `(spatial..., in, out)` the
projection reads

    P(K)[x] = 1/|G| sum_g rho_in(g)^T K[g x] rho_out(g).

When the grid action and both representations are signed permutations (all
groups and representations of `keras_approxeq.groups` and
`keras_approxeq.representations`), each group element maps every kernel
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

from keras_approxeq import groups
from keras_approxeq import radial
from keras_approxeq import representations
from keras_approxeq import spectral
from keras_approxeq import steerable
from keras_approxeq._memo import Constants
from keras_approxeq._memo import memoize
from keras_approxeq._warnings import deprecated
from keras_approxeq._warnings import keyword_only
from keras_approxeq.kronecker import KroneckerProjector
from keras_approxeq.layouts import KernelLayout
from keras_approxeq.representations import Representation

__all__ = [
    "OrbitProjector",
    "get_projector",
    "normalize_domain",
    "normalize_max_frequency",
    "project",
    "projector_for",
    "resolve_group",
]


@keyword_only("in_rep", "out_rep", "layout")
def project(
    kernel,
    group,
    *,
    in_rep="trivial",
    out_rep="trivial",
    layout=None,
    domain="spatial",
    max_frequency=None,
    basis="smooth",
):
    """Projects a kernel onto the equivariant kernels: returns `P(kernel)`.

    Args:
        kernel: A NumPy array or a backend tensor (e.g. `layer.kernel`).
        group: A group name or a group object.
        in_rep: The input representation (see
            `keras_approxeq.representations`).
        out_rep: The output representation.
        layout: The kernel's layout (see `keras_approxeq.layouts`);
            `None` infers it from the rank.
        domain: `"spatial"` (default) or `"fourier"`: where the
            projection is computed, on the kernel as it is or per irrep
            after a group Fourier transform (see
            `keras_approxeq.spectral`); both give the same result.
        max_frequency: `None` (default) or an int: project onto the
            kernels whose angular frequencies (degrees, in 3D) are at most
            this, a band-limited subspace (see `keras_approxeq.steerable`).
            For `C4`/`D4` it selects the steerable route.
        basis: For the groups that rotate by other angles than the grid's
            (`C<N>`, `D<N>`, `SO2`, `O2`, `SO3`, `O3`): `"smooth"`
            (default; equivariant to any rotation up to about 1 %) or
            `"grid"` (more parameters, equivariant on the grid only); see
            `keras_approxeq.radial`.

    Returns:
        `P(kernel)`, of the same shape and type: a NumPy array (computed in
        NumPy, exact in float64) for a NumPy input, else a backend tensor.

    Example:

    >>> import numpy as np
    >>> k = np.random.default_rng(0).normal(size=(3, 3, 4, 8))
    >>> reps = dict(in_rep="regular", out_rep="regular")
    >>> pk = project(k, "C4", **reps)
    >>> bool(np.allclose(project(pk, "C4", **reps), pk))
    True
    """
    shape = tuple(kernel.shape)
    projector = get_projector(
        group,
        in_rep,
        out_rep,
        shape,
        layout,
        domain=domain,
        max_frequency=max_frequency,
        basis=basis,
    )
    if isinstance(kernel, (np.ndarray, np.generic)):
        return projector.apply_numpy(kernel)
    return projector.apply(kernel)


class OrbitProjector:
    """The orthogonal projection `P = Q Q^T` for one kernel signature.

    Build it with `get_projector`. Its arrays are NumPy constants; `apply`
    uses `keras.ops` only and runs inside `jax.jit`, `tf.function` and
    `torch.compile`.

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
    >>> p = get_projector("C4", "trivial", "trivial", (3, 3, 1, 1))
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
        flat = ops.reshape(kernel, (-1,))
        _, _, members, member_weights = self._constants.like(flat)
        gathered = ops.take(flat, members, axis=0)
        return ops.sum(gathered * member_weights, axis=1)

    def expand(self, coefficients):
        """`Q c`: the kernel of coordinates `c` (as `coefficients` gives)."""
        coefficients = ops.convert_to_tensor(coefficients)
        index, weights, _, _ = self._constants.like(coefficients)
        projected = ops.take(coefficients, index, axis=0) * weights
        return ops.reshape(projected, self.shape)

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


def resolve_group(group, layout):
    """The group acting on the spatial grid of a kernel with `layout`."""
    ndim = len(layout.spatial_shape)
    return groups.get(group, ndim=ndim or None)


def projector_for(options, shape):
    """The projector that `options` target for a weight of `shape`.

    `options` is any object with the attributes `group`, `in_rep`,
    `out_rep`, `layout`, `domain`, `max_frequency` and `basis`: a
    `ProjectionRegularizer`, `ProjectedInitializer` or `ProjectionDecay`,
    which so target the same subspace for the same options.
    """
    return get_projector(
        options.group,
        options.in_rep,
        options.out_rep,
        tuple(shape),
        options.layout,
        domain=options.domain,
        max_frequency=options.max_frequency,
        basis=options.basis,
    )


def get_projector(
    group,
    in_rep,
    out_rep,
    shape,
    layout=None,
    *,
    domain="spatial",
    max_frequency=None,
    basis="smooth",
):
    """The (cached) projector for one kernel signature.

    Args:
        group: A group name or a group object.
        in_rep: The input representation (name or list of names).
        out_rep: The output representation (name or list of names).
        shape: The kernel's shape.
        layout: The kernel's layout (see `keras_approxeq.layouts`), or
            `None` to infer it from the rank.
        domain: `"spatial"` or `"fourier"` (see `project`).
        max_frequency: `None` or the largest angular frequency (see
            `project`).
        basis: `"smooth"` or `"grid"` (see `project`).

    Returns:
        In the spatial domain, a `kronecker.KroneckerProjector` (or, for
        large blocks and `S<n>`, an `OrbitProjector`) for the groups that
        permute grid points, else a `steerable.SteerableProjector`; in the
        spectral domain a `spectral.SpectralProjector`. All have `apply`,
        `apply_numpy`, `coefficients`, `expand`, `dim` and `is_identity`.

    Raises:
        ValueError: if the group does not act on the kernel's grid, the
            spatial shape is not invariant (e.g. a non-square kernel under
            rotations), or a channel count does not fit its representation.
    """
    layout = KernelLayout(shape, layout)
    group = resolve_group(group, layout)
    in_rep = representations.normalize(in_rep, "in_rep")
    out_rep = representations.normalize(out_rep, "out_rep")
    domain = normalize_domain(domain)
    max_frequency = normalize_max_frequency(max_frequency)
    basis = radial.normalize_basis(basis)
    args = (group, in_rep, out_rep, layout.shape, layout, max_frequency, basis)
    grid_exact = group.is_grid_exact
    regular = "regular" in in_rep + out_rep and layout.name != "depthwise"
    if domain == "fourier" or (regular and not grid_exact):
        # Regular fields of C<N>, D<N> (N != 1, 2, 4) are projected per
        # irrep: one basis per pair of regular fields would be order^2
        # times larger (1.7 GB for D16 on a 9x9 kernel) for the same P.
        return spectral.get_spectral_projector(*args)
    if not grid_exact:
        return steerable.get_steerable_projector(*args)
    if max_frequency is not None:
        if group.ndim != 2:
            raise ValueError(
                f"max_frequency applies to the 2D groups, SO3 and O3, not "
                f"to {group.name}. Leave max_frequency=None."
            )
        return steerable.get_steerable_projector(*args)
    return _build_kronecker(
        group.name, group.ndim, in_rep, out_rep, layout.shape, layout.name
    )


def normalize_domain(domain):
    """Validates `domain`: `"spatial"` or `"fourier"`.

    `"spectral"`, the group-Fourier domain's former name, is a deprecated
    alias of `"fourier"` (it read as the spectral norm's).
    """
    if domain == "spectral":
        deprecated(
            "domain='spectral' is deprecated; it is the group-Fourier "
            "domain, now named domain='fourier'."
        )
        return "fourier"
    if domain not in ("spatial", "fourier"):
        raise ValueError(
            "Expected `domain` to be 'spatial' or 'fourier' (the "
            f"group-Fourier domain). Received: domain={domain!r}."
        )
    return domain


def normalize_max_frequency(max_frequency):
    """Validates `max_frequency`: `None` or an int `>= 0`."""
    if max_frequency is None:
        return None
    if isinstance(max_frequency, (int, np.integer)) and not isinstance(
        max_frequency, bool
    ):
        if max_frequency >= 0:
            return int(max_frequency)
    raise ValueError(
        "Expected `max_frequency` to be None or an integer >= 0. Received: "
        f"max_frequency={max_frequency!r}."
    )


# Blocks of at most this many entries are projected by dense matrices
# (`keras_approxeq.kronecker`); larger ones (regular fields of O and Oh)
# by orbit gathers, whose constants grow with the kernel, not its square.
_MAX_DENSE_BLOCK = 4096


@memoize
def _build_kronecker(group_name, ndim, in_fields, out_fields, shape, layout):
    """The projector of one copy of the fields, applied to every copy."""
    if "natural" in in_fields + out_fields:  # element-major, not copy-major
        return _build(group_name, ndim, in_fields, out_fields, shape, layout)
    group = groups.get(group_name, ndim)
    kernel_layout = KernelLayout(shape, layout)
    block = list(shape)
    sizes = {kernel_layout.out_axis: 1}  # a depthwise multiplier axis
    if layout != "depthwise":
        rep = Representation(group, out_fields)
        rep.copies(shape[kernel_layout.out_axis], "output channels")
        sizes[kernel_layout.out_axis] = rep.size
    if kernel_layout.in_axis is not None:
        rep = Representation(group, in_fields)
        rep.copies(shape[kernel_layout.in_axis], "input channels")
        sizes[kernel_layout.in_axis] = rep.size
    for axis, size in sizes.items():
        block[axis] = size
    if math.prod(block) > _MAX_DENSE_BLOCK:
        return _build(group_name, ndim, in_fields, out_fields, shape, layout)
    core = _build(group_name, ndim, in_fields, out_fields, tuple(block), layout)
    basis = np.zeros((core.index.size, core.dim))
    live = np.flatnonzero(core.weights)
    basis[live, core.index[live]] = core.weights[live]
    spatial = kernel_layout.spatial_shape
    channel_axes = sorted(sizes)
    field_sizes = [sizes[axis] for axis in channel_axes]
    elements = _element_actions(group, in_fields, out_fields, block, layout)
    return KroneckerProjector(shape, len(spatial), field_sizes, basis, elements)


def _element_actions(group, in_fields, out_fields, block, layout):
    """Every element's moves of one copy's entries, axis by axis (see
    `KroneckerProjector`): `(spatial perms or None, [(perm, sign), ...])`."""
    kernel_layout = KernelLayout(block, layout)
    elements = group.elements
    spatial = kernel_layout.spatial_shape
    spatial_perms = None
    if spatial:
        spatial_perms = group.grid_permutations(spatial, "kernel")[elements]
    channels = []
    for axis in sorted(
        {kernel_layout.in_axis, kernel_layout.out_axis} - {None}
    ):
        size = block[axis]
        if layout == "depthwise" and axis == kernel_layout.out_axis:
            identity = np.tile(np.arange(size), (len(elements), 1))
            channels.append((identity, None))
            continue
        inputs = axis == kernel_layout.in_axis
        rep = Representation(group, in_fields if inputs else out_fields)
        what = "input channels" if inputs else "output channels"
        perm, sign = rep.signed_permutation(size, what, elements)
        # Depthwise filters see the input rotated and rotate the output by
        # the same sign, so the signs cancel.
        channels.append((perm, None if layout == "depthwise" else sign))
    return spatial_perms, channels


@memoize
def _build(group_name, ndim, in_fields, out_fields, shape, layout_name):
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
