r"""Radial profiles of the steerable bases for `C<N>`, `D<N>`, `SO2`, `O2`,
`SO3` and `O3`.

A basis kernel is a radial profile times an angular harmonic of frequency
(degree) `k`. The profiles are Gaussian shells at radii `r = 0, 1, 2, ...`
pixels, one per integer radius up to the kernel's corner:

    R_rk(rho) = exp(-(rho - r)^2 / 2s^2) + (-1)^k exp(-(rho + r)^2 / 2s^2)

with width `s = 0.8` pixels. The mirrored term makes the profile even in
`rho` for even `k` and odd for odd `k`, which is what a kernel smooth at
the centre needs (near the centre it behaves like `rho^k`). Without it the
shells cannot fit even a constant near the centre, and the equivariance
error to off-grid rotations stalls at about 1 % however large the kernel;
with it, and the width of 0.8 pixels, a smooth kernel is represented to
about `1e-4` on a 9x9 grid and `1e-5` on a 17x17 grid.

A shell of radius `r` carries the frequencies `k <= pi r / 2`
(wavelengths of 4 pixels or more along the shell); the centre carries
`k = 0` only.
"""

import math

import numpy as np

__all__ = ["WIDTH", "band", "profile", "shell_radii"]

WIDTH = 0.8


def shell_radii(radius):
    """The shell radii `0, 1, ..., ceil(max radius)` of a kernel's points."""
    return range(int(math.ceil(radius.max())) + 1)


def band(r):
    """The largest angular frequency a shell of radius `r` carries."""
    return int(math.pi * r / 2)


def profile(radius, r, k):
    """`R_rk` at the points' radii `radius` (see the module docstring)."""
    inner = np.exp(-((radius - r) ** 2) / (2 * WIDTH**2))
    mirrored = np.exp(-((radius + r) ** 2) / (2 * WIDTH**2))
    return inner + (-1) ** k * mirrored
