"""Equivariance error of projected kernels to rotations off the grid.

A kernel projected onto the `SO2` (`SO3`) equivariant kernels is exactly
equivariant to the rotations that permute pixels (voxels), but to other
rotations only approximately: the steerable basis is sampled on the grid.
This measures how approximately, with NumPy/SciPy alone (no layer):

1. draw a random Gaussian kernel, `(k, k, 5, 5)` in 2D between the `SO2`
   fields `irrep0, irrep1, irrep2` (a scalar, then vectors of angular
   frequency 1 and 2), `(k, k, k, 4, 4)` in 3D between the `SO3` fields
   `irrep0, irrep1` (a scalar and a vector), and project it with
   `keras_approxeq.project`;
2. draw a smooth input: a sum of Gaussian blobs (3 px wide on a 65 x 65
   grid; 2.5 px on 33^3) with random channel amplitudes, tapered by a
   smooth radial window so that it vanishes near the border;
3. convolve as Keras' `Conv2D`/`Conv3D` with `padding="same"` does, in
   float64: `out[x, o] = sum_{d, i} f[x + d, i] K[d, i, o]`, the offset `d`
   measured from the kernel's centre;
4. rotate a field as `keras_approxeq.transform` does,
   `(g f)(p) = rho(g) f(g^-1 p)`, but resampling with cubic splines
   (`scipy.ndimage.map_coordinates`, order 3) about the grid's centre.
   Points are `(row, col)` (`(depth, row, col)` in 3D) and an angle
   `theta` is the matrix `[[cos, -sin], [sin, cos]]` in them; `irrep m`
   mixes its two channels by that matrix at angle `m theta`, and the
   `SO3` `irrep1` by the rotation matrix itself;
5. report the relative L2 error
   `||conv(g f) - g conv(f)|| / ||g conv(f)||` over all channels on a
   central disc (radius 20 px; a ball of radius 10 in 3D), averaged over
   the seeds (2D: 30 and 45 degrees; 3D: Haar-random rotations).

Before measuring, it checks its conventions: its rotation equals
`keras_approxeq.transform` for a quarter turn, and a projected kernel
commutes with quarter turns to rounding (`check ...` lines; it stops if
not). Output lines:

    dim 2d <basis> <kernel size> <parameters over the SO2 pairs irrep0-3>
    error 2d <basis> <kernel size> <angle in degrees> <percent>
    error 3d <basis> <kernel size> <percent>

With `--reference` it also prints `reference 2d ...` for smooth, exactly
equivariant kernels (`smooth_reference_2d`, which averages a Gaussian-
blurred kernel over 64 rotations analytically): the floor that the
discretisation of the inputs and of a smooth kernel leaves.

    python benchmarks/off_grid_equivariance.py [--quick] [--reference]
        [--basis smooth,grid]
"""

import argparse
import math
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np
from scipy import ndimage
from scipy import signal
from scipy.spatial.transform import Rotation

import keras_approxeq
from keras_approxeq.projection.projectors import get_projector
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry.representations import Representation

SO2_FIELDS = ["irrep0", "irrep1", "irrep2"]  # 5 channels
SO3_FIELDS = ["irrep0", "irrep1"]  # 4 channels
KERNEL_SIZES_2D = (5, 7, 9, 13)
KERNEL_SIZES_3D = (5, 7)
ANGLES = (30.0, 45.0)


# ---------------------------------------------------------------- rotations


def rotation_2d(theta):
    """The rotation by `theta` in `(row, col)` coordinates."""
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s], [s, c]])


def _field_order(field):
    if not field.startswith("irrep") or not field[5:].isdigit():
        raise ValueError(f"Expected a field 'irrep<m>'. Received {field!r}.")
    return int(field[5:])


def channel_matrix_2d(fields, theta):
    """`rho(theta)` on all channels: `1` for `irrep0`, `R(m theta)` else."""
    blocks = []
    for field in fields:
        m = _field_order(field)
        blocks.append(np.ones((1, 1)) if m == 0 else rotation_2d(m * theta))
    return _block_diagonal(blocks)


def channel_matrix_3d(fields, rotation):
    """`rho(R)` on all channels: `1` for `irrep0`, `R` for `irrep1`."""
    blocks = []
    for field in fields:
        degree = _field_order(field)
        if degree > 1:
            raise ValueError(f"Only irrep0 and irrep1 here; got {field!r}.")
        blocks.append(np.ones((1, 1)) if degree == 0 else rotation)
    return _block_diagonal(blocks)


def _block_diagonal(blocks):
    size = sum(len(block) for block in blocks)
    matrix = np.zeros((size, size))
    start = 0
    for block in blocks:
        stop = start + len(block)
        matrix[start:stop, start:stop] = block
        start = stop
    return matrix


def rotate_field(f, rotation, channel_matrix):
    """`(g f)(p) = rho(g) f(g^-1 p)` by cubic-spline resampling.

    Args:
        f: Array `(n, ..., n, channels)` (2D or 3D, channels last).
        rotation: The `(ndim, ndim)` rotation `g` in index coordinates.
        channel_matrix: `rho(g)`, `(channels, channels)`.
    """
    spatial = f.shape[:-1]
    centre = (np.array(spatial) - 1) / 2
    points = np.indices(spatial).reshape(len(spatial), -1)
    source = rotation.T @ (points - centre[:, None]) + centre[:, None]
    source = np.round(source, 12)  # quarter turns land on the nodes
    resampled = np.stack(
        [
            ndimage.map_coordinates(f[..., c], source, order=3, mode="constant")
            for c in range(f.shape[-1])
        ],
        axis=-1,
    )
    return (resampled @ channel_matrix.T).reshape(f.shape)


# ------------------------------------------------------ fields, convolution


def radial_window(spatial, inner, outer):
    """1 inside radius `inner`, a cosine taper to 0 at radius `outer`."""
    centre = (np.array(spatial) - 1) / 2
    offsets = np.indices(spatial) - centre.reshape(-1, *[1] * len(spatial))
    radius = np.sqrt(np.sum(offsets**2, axis=0))
    t = np.clip((radius - inner) / (outer - inner), 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(math.pi * t)), radius


def smooth_field(rng, grid, ndim, channels, width, blobs=16):
    """A sum of Gaussian blobs with random channel amplitudes, tapered."""
    spatial = (grid,) * ndim
    half = (grid - 1) / 2
    window, _ = radial_window(spatial, 0.5 * half, 0.85 * half)
    coords = np.indices(spatial).reshape(ndim, -1).T - half
    f = np.zeros((coords.shape[0], channels))
    for _ in range(blobs):
        direction = rng.normal(size=ndim)
        direction /= np.linalg.norm(direction)
        radius = 0.6 * half * rng.uniform() ** (1.0 / ndim)
        squared = np.sum((coords - radius * direction) ** 2, axis=1)
        profile = np.exp(-squared / (2 * width**2))
        f += profile[:, None] * rng.normal(size=channels)
    return f.reshape(*spatial, channels) * window[..., None]


def correlate_same(f, kernel):
    """Keras' `padding="same"` convolution (a correlation), in float64.

    `out[x, o] = sum_{d, i} f[x + d, i] kernel[c + d, i, o]` with `c` the
    kernel's centre; `f` is `(spatial..., in)`, `kernel` is
    `(k, ..., k, in, out)` with odd `k`.
    """
    ndim = f.ndim - 1
    if any(size % 2 == 0 for size in kernel.shape[:ndim]):
        raise ValueError(f"Needs odd kernel sizes; got {kernel.shape}.")
    out = np.zeros(f.shape[:-1] + (kernel.shape[-1],))
    for i in range(kernel.shape[-2]):
        for o in range(kernel.shape[-1]):
            out[..., o] += signal.correlate(
                f[..., i], kernel[..., i, o], mode="same"
            )
    return out


def relative_error(a, b, mask):
    """`||a - b|| / ||b||` over the points of `mask`, all channels."""
    return float(np.linalg.norm((a - b)[mask]) / np.linalg.norm(b[mask]))


def commutation_error(f, kernel, rotation, rho_in, rho_out, mask):
    """Relative error of `conv(g f)` against `g conv(f)` on `mask`."""
    rotated_output = rotate_field(correlate_same(f, kernel), rotation, rho_out)
    output_of_rotated = correlate_same(
        rotate_field(f, rotation, rho_in), kernel
    )
    return relative_error(output_of_rotated, rotated_output, mask)


# --------------------------------------------------------------- projections


def _project_so3(kernel, basis="smooth"):
    return keras_approxeq.project(
        kernel, "SO3", in_rep=SO3_FIELDS, out_rep=SO3_FIELDS, basis=basis
    )


def smooth_reference_2d(kernel, width=1.0, n_angles=64, fields=None):
    """An exactly `C<n_angles>`-equivariant, smooth kernel from `kernel`.

    Blurs `kernel` into a continuous function (a Gaussian of `width` px
    per entry), averages it over `n_angles` rotations analytically,
    `P(K)(x) = mean_g rho_in(g)^T K(g x) rho_out(g)`, tapers it radially
    to zero at the kernel's inscribed radius plus half a pixel and
    samples it on the grid. A reference for what a smooth kernel can do.
    """
    fields = SO2_FIELDS if fields is None else fields
    size = kernel.shape[0]
    centre = (size - 1) / 2
    points = np.indices((size, size)).reshape(2, -1).T - centre
    window, _ = radial_window((size, size), 0.0, centre + 0.5)
    flat = kernel.reshape(size * size, -1)
    total = np.zeros((size * size,) + kernel.shape[2:])
    for n in range(n_angles):
        theta = 2 * math.pi * n / n_angles
        moved = points @ rotation_2d(theta).T  # g x, one row per point
        squared = np.sum((moved[:, None, :] - points[None]) ** 2, axis=-1)
        values = np.exp(-squared / (2 * width**2)) @ flat
        values = values.reshape(total.shape)
        rho = channel_matrix_2d(fields, theta)
        total += np.einsum("ji,pjk,kl->pil", rho, values, rho)
    average = total.reshape(kernel.shape) / n_angles
    return average * window[..., None, None]


# --------------------------------------------------------------- measurement


def errors_2d(
    kernel_sizes,
    angles,
    seeds,
    project_fn=None,
    *,
    grid=65,
    width=3.0,
    disc=20.0,
    fields=None,
    basis="smooth",
):
    """Mean relative equivariance errors of projected 2D kernels.

    Args:
        kernel_sizes: Odd kernel sizes.
        angles: Rotation angles in degrees.
        seeds: Seeds; each draws one input field and one kernel per size.
        project_fn: `kernel -> projected kernel` for NumPy `(k, k, c, c)`
            kernels; defaults to `keras_approxeq.project` onto the `SO2`
            equivariant kernels between `fields`.
        grid: Side of the square grid of the input fields.
        width: Width (standard deviation) of the input's blobs, in px.
        disc: Radius of the central disc where the error is measured.
        fields: The `SO2` field types (`"irrep<m>"`) of both the input and
            the output; defaults to `irrep0, irrep1, irrep2`.
        basis: The steerable basis of the default projection, `"smooth"`
            or `"grid"`.

    Returns:
        A dict `{(kernel_size, angle): error}`, the error a fraction (not
        a percentage), averaged over the seeds.
    """
    fields = SO2_FIELDS if fields is None else list(fields)
    if project_fn is None:

        def project_fn(kernel):
            return keras_approxeq.project(
                kernel, "SO2", in_rep=fields, out_rep=fields, basis=basis
            )

    channels = channel_matrix_2d(fields, 0.0).shape[0]
    _, radius = radial_window((grid, grid), 1.0, 2.0)
    mask = radius <= disc
    sums = {(k, a): 0.0 for k in kernel_sizes for a in angles}
    for seed in seeds:
        rng = np.random.default_rng([seed, 0])
        f = smooth_field(rng, grid, 2, channels, width)
        for k in kernel_sizes:
            kernel_rng = np.random.default_rng([seed, k])
            raw = kernel_rng.normal(size=(k, k, channels, channels))
            kernel = np.asarray(project_fn(raw), np.float64)
            for angle in angles:
                theta = math.radians(angle)
                rho = channel_matrix_2d(fields, theta)
                sums[k, angle] += commutation_error(
                    f, kernel, rotation_2d(theta), rho, rho, mask
                )
    return {key: value / len(seeds) for key, value in sums.items()}


def errors_3d(
    kernel_sizes,
    seeds,
    project_fn=None,
    *,
    grid=33,
    width=2.5,
    ball=10.0,
    basis="smooth",
):
    """Mean relative errors of `SO3`-projected kernels, random rotations.

    Like `errors_2d`, between the fields `irrep0, irrep1`; each seed draws
    a field, a Haar-random rotation and a kernel per size. Returns
    `{kernel_size: error}` (fractions).
    """
    if project_fn is None:

        def project_fn(kernel):
            return _project_so3(kernel, basis)

    channels = 4
    _, radius = radial_window((grid,) * 3, 1.0, 2.0)
    mask = radius <= ball
    sums = {k: 0.0 for k in kernel_sizes}
    for seed in seeds:
        rng = np.random.default_rng([seed, 0])
        f = smooth_field(rng, grid, 3, channels, width)
        rotation = Rotation.random(random_state=seed).as_matrix()
        rho = channel_matrix_3d(SO3_FIELDS, rotation)
        for k in kernel_sizes:
            kernel_rng = np.random.default_rng([seed, k])
            raw = kernel_rng.normal(size=(k, k, k, channels, channels))
            kernel = np.asarray(project_fn(raw), np.float64)
            sums[k] += commutation_error(f, kernel, rotation, rho, rho, mask)
    return {key: value / len(seeds) for key, value in sums.items()}


def so2_dimension(kernel_size, basis, max_order=3):
    """Parameters of `SO2` kernels summed over the pairs of fields
    `irrep0, ..., irrep<max_order>` (16 pairs for the default 3), a
    `(k, k)` kernel: the dimension of the equivariant subspace."""
    fields = [f"irrep{m}" for m in range(max_order + 1)]
    total = 0
    for a in fields:
        for b in fields:
            rep_a = Representation(groups.get("SO2"), a)
            rep_b = Representation(groups.get("SO2"), b)
            shape = (kernel_size, kernel_size, rep_a.size, rep_b.size)
            try:
                total += get_projector("SO2", a, b, shape, basis=basis).dim
            except ValueError:  # the kernel cannot carry this frequency
                pass
    return total


# -------------------------------------------------------------------- checks


def _transform(x, group, element, fields):
    from keras import ops

    y = keras_approxeq.transform(
        x[None], group, element, rep=fields, data_format="channels_last"
    )
    return np.asarray(ops.convert_to_numpy(y))[0]


def check_conventions(tolerance=1e-10):
    """Checks the rotation against the package, and quarter-turn exactness.

    Returns a list of `(name, value)`; raises `AssertionError` if a
    quarter-turn commutation error exceeds `tolerance` (or a comparison
    with `transform`, which computes in float32, exceeds 1e-6).
    """
    results = []
    rng = np.random.default_rng(1234)

    # 2D: a quarter turn, as keras_approxeq.transform does it
    f = smooth_field(rng, 33, 2, 5, 2.0)
    theta = math.pi / 2
    rho = channel_matrix_2d(SO2_FIELDS, theta)
    mine = rotate_field(f, rotation_2d(theta), rho)
    theirs = _transform(f, "SO2", theta, SO2_FIELDS)
    results.append(("2d_rot90_vs_transform", _max_relative(mine, theirs)))
    # and the sense at 30 degrees (the package interpolates bilinearly)
    theta = math.radians(30.0)
    rho = channel_matrix_2d(SO2_FIELDS, theta)
    theirs = _transform(f, "SO2", theta, SO2_FIELDS)
    same = rotate_field(f, rotation_2d(theta), rho)
    rho_back = channel_matrix_2d(SO2_FIELDS, -theta)
    opposite = rotate_field(f, rotation_2d(-theta), rho_back)
    full = np.ones(f.shape[:-1], bool)
    results.append(
        ("2d_rot30_vs_transform", relative_error(same, theirs, full))
    )
    results.append(
        (
            "2d_rot30_opposite_vs_transform",
            relative_error(opposite, theirs, full),
        )
    )
    # 2D: a projected kernel commutes with quarter turns
    full = np.ones((33, 33), bool)
    for k in (5, 7):
        kernel = keras_approxeq.project(
            rng.normal(size=(k, k, 5, 5)),
            "SO2",
            in_rep=SO2_FIELDS,
            out_rep=SO2_FIELDS,
        )
        rho = channel_matrix_2d(SO2_FIELDS, math.pi / 2)
        error = commutation_error(
            f, kernel, rotation_2d(math.pi / 2), rho, rho, full
        )
        results.append((f"2d_rot90_commutation_k{k}", error))

    # 3D: quarter turns about two axes, against transform, and commutation
    g = smooth_field(rng, 17, 3, 4, 2.0)
    full = np.ones((17,) * 3, bool)
    kernel = _project_so3(rng.normal(size=(5, 5, 5, 4, 4)))
    quarter_turns = {
        "depth": np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], float),
        "row": np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], float),
    }
    for axis, rotation in quarter_turns.items():
        rho = channel_matrix_3d(SO3_FIELDS, rotation)
        mine = rotate_field(g, rotation, rho)
        theirs = _transform(g, "SO3", rotation, SO3_FIELDS)
        results.append(
            (f"3d_rot90_{axis}_vs_transform", _max_relative(mine, theirs))
        )
        error = commutation_error(g, kernel, rotation, rho, rho, full)
        results.append((f"3d_rot90_{axis}_commutation_k5", error))

    for name, value in results:
        # transform runs in the backend's float32
        limit = 1e-6 if name.endswith("vs_transform") else tolerance
        if "rot90" in name:
            assert value < limit, f"check {name} failed: {value:.3e}"
    name = "2d_rot30_opposite_vs_transform"
    assert dict(results)["2d_rot30_vs_transform"] < 0.1 * dict(results)[name]
    return results


def _max_relative(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# ---------------------------------------------------------------------- main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="kernels 5 and 7, two seeds"
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="also measure smooth, exactly equivariant reference kernels",
    )
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument(
        "--basis",
        default="smooth,grid",
        help="comma-separated bases to measure (default: smooth,grid)",
    )
    parser.add_argument("--skip-3d", action="store_true")
    args = parser.parse_args(argv)
    sizes_2d = (5, 7) if args.quick else KERNEL_SIZES_2D
    seeds = range(args.seeds or (2 if args.quick else 4))

    for name, value in check_conventions():
        print(f"check {name} {value:.3e}", flush=True)

    bases = args.basis.split(",")
    for basis in bases:
        for k in sizes_2d:
            print(f"dim 2d {basis} {k} {so2_dimension(k, basis)}", flush=True)
        errors = errors_2d(sizes_2d, ANGLES, seeds, basis=basis)
        for (k, angle), error in errors.items():
            print(
                f"error 2d {basis} {k} {angle:g} {100 * error:.3f}", flush=True
            )
    if args.reference:
        reference = errors_2d(sizes_2d, ANGLES, seeds, smooth_reference_2d)
        for (k, angle), error in reference.items():
            print(f"reference 2d {k} {angle:g} {100 * error:.3f}", flush=True)
    if not args.skip_3d:
        for basis in bases:
            errors = errors_3d(KERNEL_SIZES_3D, seeds, basis=basis)
            for k, error in errors.items():
                print(f"error 3d {basis} {k} {100 * error:.3f}", flush=True)


if __name__ == "__main__":
    main()
