r"""Radial profiles of the steerable bases for `C<N>`, `D<N>`, `SO2`, `O2`,
`SO3` and `O3`.

A basis kernel is a radial profile times an angular harmonic of frequency
(2D) or degree (3D) `k`. Two families of profiles, chosen with `basis`:

**`basis="smooth"` (the default): rings inside the kernel.** Gaussian
rings at the integer radii `r = 0, 1, ..., R` up to the inscribed radius
`R = (size - 1) // 2`,

    R_r(rho) = exp(-(rho - r)^2 / 2 s_r^2),

with width `s_r = 0.6` pixels, `0.4` on the outermost ring (which the
corners only graze), and the centre a single pixel that carries `k = 0`.
Ring `r` carries the frequencies `k <= round(1.5 r)` (periods of about 4
pixels or more along it), the outermost ring `k <= 2` (in 3D also
`k <= R - r + 2`): high frequencies are what a grid cannot rotate. The
sampled kernels are then close to continuous ones, and a projected kernel
commutes with rotations by any angle to about 1 % (see
`benchmarks/off_grid_equivariance.py` and the docs' Concepts page). The
corners of a square (cubic) kernel hold only the outermost ring's tail.

**`basis="grid"`: shells that fill the grid.** Gaussian shells at every
integer radius up to the kernel's corner, of width `0.8`,

    R_rk(rho) = exp(-(rho - r)^2 / 2s^2) + (-1)^k exp(-(rho + r)^2 / 2s^2),

(the mirrored term makes the profile even or odd in `rho` as a kernel
smooth at the centre needs), each carrying `k <= pi r / 2`. The basis is
larger (1.6 to 2.5 times, per pair of fields), and like the default it is
exact on the grid (quarter turns), but a random kernel in it is far from
equivariant to other rotations (30-60 % error): its corner shells and
high frequencies live where rotations between grid angles do not map
pixels to pixels.

In both, a kernel projected for `SO2` (`O2`, `SO3`, `O3`) is exactly
equivariant to the rotations of the grid (`C4`, `D4`, `O`, `Oh`): they
permute the points of each ring.
"""

import math

import numpy as np

__all__ = ["BASES", "WIDTH", "band_limit", "normalize_basis", "rings"]

BASES = ("smooth", "grid")
WIDTH = 0.8  # the "grid" shells' width
_RING_WIDTH, _OUTER_WIDTH = 0.6, 0.4


def normalize_basis(basis):
    """Validates `basis`: `"smooth"` or `"grid"`.

    Example:

    >>> normalize_basis("grid")
    'grid'
    """
    if basis not in BASES:
        raise ValueError(
            f"Expected `basis` to be one of {list(BASES)}. Received: "
            f"basis={basis!r}. 'smooth' (the default) is equivariant to "
            "rotations by any angle up to about 1 %; 'grid' has more "
            "parameters and is equivariant on the grid only."
        )
    return basis


def rings(radius, size, basis, ndim=2):
    """The radial functions of a basis and the frequencies each carries.

    Args:
        radius: `(X,)` the kernel points' distances from the centre.
        size: The kernel's size along each spatial axis.
        basis: `"smooth"` or `"grid"` (see the module docstring).
        ndim: 2 or 3.

    Returns:
        A list of `(profile, band)`: `profile(k)` gives the `(X,)` radial
        function for frequency `k`, `band` the largest `k` it carries.

    Example:

    >>> from keras_approxeq.kernels.plane_basis import polar_grid
    >>> radius, _, _ = polar_grid((5, 5))
    >>> [band for _, band in rings(radius, 5, "smooth")]
    [0, 2, 2]
    """
    if basis == "grid":
        radii = range(int(math.ceil(radius.max())) + 1)
        return [
            (lambda k, r=r: _mirrored_shell(radius, r, k), int(math.pi * r / 2))
            for r in radii
        ]
    outer = (size - 1) // 2
    out = []
    for r in range(outer + 1):
        if r == 0:
            centre = (radius == 0).astype(float)
            out.append((lambda k, c=centre: c, 0))
            continue
        width = _OUTER_WIDTH if r == outer else _RING_WIDTH
        ring = np.exp(-((radius - r) ** 2) / (2 * width**2))
        out.append((lambda k, ring=ring: ring, _ring_band(r, outer, ndim)))
    return out


def _ring_band(r, outer, ndim):
    """The largest frequency ring `r` (of `0, ..., outer`) carries."""
    band = 2 if r == outer else int(1.5 * r + 0.5)
    if ndim == 3:
        band = min(band, outer - r + 2)
    return min(band, 2 * r)


def band_limit(radius, size, basis, ndim=2):
    """The largest frequency (degree) any ring of the basis carries.

    Example:

    >>> from keras_approxeq.kernels.plane_basis import polar_grid
    >>> radius, _, _ = polar_grid((5, 5))
    >>> band_limit(radius, 5, "smooth"), band_limit(radius, 5, "grid")
    (2, 4)
    """
    return max(band for _, band in rings(radius, size, basis, ndim))


def _mirrored_shell(radius, r, k):
    inner = np.exp(-((radius - r) ** 2) / (2 * WIDTH**2))
    mirrored = np.exp(-((radius + r) ** 2) / (2 * WIDTH**2))
    return inner + (-1) ** k * mirrored
