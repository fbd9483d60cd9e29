r"""`project`, and which projector a kernel gets.

`get_projector` validates a kernel signature (group, representations,
shape, layout, domain, band limit, radial basis) and returns the cached
projector that serves it, each an exact orthogonal projection `P = Q Q^T`
with the same interface (`keras_approxeq.projection.interface`:
`apply`, `residual`, `apply_numpy`, `coefficients`, `expand`, `dim`,
`is_identity`):

- the groups that permute grid points (`C4`, `D4`, the cube groups...):
  `keras_approxeq.projection.kronecker` (dense matrices on one copy of
  the fields), or `keras_approxeq.projection.orbit` (orbit gathers) when
  one copy is large;
- the other rotation groups: `keras_approxeq.projection.steerable`
  (sampled bases);
- regular fields of those, or `domain="fourier"`:
  `keras_approxeq.projection.spectral` (per irrep).
"""

import math

import numpy as np

from keras_approxeq._checks import is_int
from keras_approxeq._memo import memoize
from keras_approxeq._warnings import deprecated
from keras_approxeq._warnings import keyword_only
from keras_approxeq.actions.layouts import KernelLayout
from keras_approxeq.kernels import radial
from keras_approxeq.projection import spectral
from keras_approxeq.projection import steerable
from keras_approxeq.projection.kronecker import KroneckerProjector
from keras_approxeq.projection.orbit import get_orbit_projector
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry import representations
from keras_approxeq.symmetry.representations import Representation

__all__ = [
    "get_projector",
    "normalize_domain",
    "normalize_max_frequency",
    "project",
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
            `keras_approxeq.symmetry.representations`).
        out_rep: The output representation.
        layout: The kernel's layout (see `keras_approxeq.actions.layouts`);
            `None` infers it from the rank.
        domain: `"spatial"` (default) or `"fourier"`: where the
            projection is computed, on the kernel as it is or per irrep
            after a group Fourier transform (see
            `keras_approxeq.projection.spectral`); both give the same result.
        max_frequency: `None` (default) or an int: project onto the
            kernels whose angular frequencies (degrees, in 3D) are at most
            this, a band-limited subspace (see
            `keras_approxeq.projection.steerable`). For `C4`/`D4` it selects
            the steerable route.
        basis: For the groups that rotate by other angles than the grid's
            (`C<N>`, `D<N>`, `SO2`, `O2`, `SO3`, `O3`): `"smooth"`
            (default; equivariant to any rotation up to about 1 %) or
            `"grid"` (more parameters, equivariant on the grid only); see
            `keras_approxeq.kernels.radial`.

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


def resolve_group(group, layout):
    """The group acting on the spatial grid of a kernel with `layout`."""
    ndim = len(layout.spatial_shape)
    return groups.get(group, ndim=ndim or None)


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
        layout: The kernel's layout (see `keras_approxeq.actions.layouts`), or
            `None` to infer it from the rank.
        domain: `"spatial"` or `"fourier"` (see `project`).
        max_frequency: `None` or the largest angular frequency (see
            `project`).
        basis: `"smooth"` or `"grid"` (see `project`).

    Returns:
        In the spatial domain, a `kronecker.KroneckerProjector` (or an
        `OrbitProjector`, for `S<n>` between `"natural"` fields and where
        one copy of the fields has a block of over 4096 entries) for the
        groups that permute grid points or set elements, else a
        `steerable.SteerableProjector`; in the Fourier domain a
        `spectral.SpectralProjector`. All have `apply`,
        `apply_numpy`, `coefficients`, `expand`, `dim` and `is_identity`.

    Raises:
        ValueError: if the group does not act on the kernel's grid, the
            spatial shape is not invariant (e.g. a non-square kernel under
            rotations), or a channel count does not fit its representation.

    Example:

    >>> p = get_projector("C4", "trivial", "trivial", (1, 1, 8, 8))
    >>> p.is_identity  # a 1x1 kernel between scalars is always invariant
    True
    >>> p = get_projector("C4", "trivial", "trivial", (3, 3, 8, 8))
    >>> p.dim, p.is_identity  # 3 orbits of grid points, 8 x 8 channels
    (192, False)
    """
    layout = KernelLayout(shape, layout)
    group = resolve_group(group, layout)
    in_rep = representations.normalize(in_rep, "in_rep")
    out_rep = representations.normalize(out_rep, "out_rep")
    domain = normalize_domain(domain)
    max_frequency = normalize_max_frequency(max_frequency)
    basis = radial.normalize_basis(basis)
    check_options(group, in_rep, out_rep, domain, max_frequency)
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
        return steerable.get_steerable_projector(*args)
    return _build_kronecker(
        group.name, group.ndim, in_rep, out_rep, layout.shape, layout.name
    )


def check_options(group, in_rep, out_rep, domain, max_frequency):
    """Raises the errors of a projection's options that do not depend on
    the weight's shape, so that they can be raised at construction.

    Args:
        group: A group object.
        in_rep, out_rep: Normalised representations (lists of names).
        domain: A normalised domain.
        max_frequency: A normalised band limit.

    Raises:
        ValueError: if a representation is not defined for the group,
            `domain="fourier"` is asked of a group that has no such
            domain, or `max_frequency` of a group without frequencies.
    """
    for rep in (in_rep, out_rep):
        representations.Representation(group, rep)
    if domain == "fourier" and (
        group.ndim not in (2, 3) or (group.ndim == 3 and group.order)
    ):
        raise ValueError(
            f"domain='fourier' is available for the 2D groups (C<N>, "
            f"D<N>, SO2, O2) and for SO3/O3, not for {group.name}. Use "
            "domain='spatial'."
        )
    if max_frequency is not None and group.is_grid_exact and group.ndim != 2:
        raise ValueError(
            f"max_frequency applies to the 2D groups, SO3 and O3, not "
            f"to {group.name}. Leave max_frequency=None."
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
    if is_int(max_frequency, 0):
        return int(max_frequency)
    raise ValueError(
        "Expected `max_frequency` to be None or an integer >= 0. Received: "
        f"max_frequency={max_frequency!r}."
    )


# Blocks of at most this many entries are projected by dense matrices
# (`keras_approxeq.projection.kronecker`); larger ones (regular fields of O
# and Oh) by orbit gathers, whose constants grow with the kernel, not its
# square.
_MAX_DENSE_BLOCK = 4096


@memoize
def _build_kronecker(group_name, ndim, in_fields, out_fields, shape, layout):
    """The projector of one copy of the fields, applied to every copy."""
    if "natural" in in_fields + out_fields:  # element-major, not copy-major
        return get_orbit_projector(
            group_name, ndim, in_fields, out_fields, shape, layout
        )
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
        return get_orbit_projector(
            group_name, ndim, in_fields, out_fields, shape, layout
        )
    core = get_orbit_projector(
        group_name, ndim, in_fields, out_fields, tuple(block), layout
    )
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
