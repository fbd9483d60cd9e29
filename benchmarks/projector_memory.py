"""Memory and build time of the projectors, against one dense basis.

The paper's code projects a steerable 3D kernel with one orthonormal basis
`Q` of the whole kernel's equivariant subspace, `N x D` numbers for `N`
kernel entries and `D` dimensions (it keeps `Q` on the CPU and multiplies
in chunks). Ours keeps one basis per pair of field types, which does not
grow with the number of channels, and gathers the channels. For each case
this prints

    ratio <case> <our projector's bytes / dense Q's bytes>
    build_seconds <case> <time to build ours, from empty caches>

with the dense `Q`'s size computed from `N` and `D` (float64, as ours),
since for the headline case it would not fit in memory.

    python benchmarks/projector_memory.py [--quick]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

from keras_approxeq._memo import clear_caches
from keras_approxeq.projection.projectors import get_projector

SO3_FIELDS = ["irrep0", "irrep1", "irrep2", "irrep3"]  # 16 channels
O3_FIELDS = ["irrep0e", "irrep1o", "irrep1e", "irrep2e"]  # 12 channels

# case -> (group, in_rep, out_rep, kernel shape, domain)
CASES = {
    "so3_conv3d_5x5x5_63to63": (
        "SO3",
        SO3_FIELDS[:3],
        SO3_FIELDS[:3],
        (5, 5, 5, 63, 63),
        "spatial",
    ),
    "so3_conv3d_7x7x7_64to64": (
        "SO3",
        SO3_FIELDS,
        SO3_FIELDS,
        (7, 7, 7, 64, 64),
        "spatial",
    ),
    "o3_conv3d_5x5x5_48to48": (
        "O3",
        O3_FIELDS,
        O3_FIELDS,
        (5, 5, 5, 48, 48),
        "spatial",
    ),
    "c4_conv2d_3x3_regular_64to64": (
        "C4",
        "regular",
        "regular",
        (3, 3, 64, 64),
        "spatial",
    ),
    "d8_conv2d_9x9_regular_64to64": (
        "D8",
        "regular",
        "regular",
        (9, 9, 64, 64),
        "spectral",
    ),
    "so2_conv2d_9x9_irreps_64to64": (
        "SO2",
        ["irrep0", "irrep1", "irrep2", "irrep3"],
        ["irrep0", "irrep1", "irrep2", "irrep3"],
        (9, 9, 56, 56),
        "spatial",
    ),
}
QUICK = ("so3_conv3d_5x5x5_63to63", "c4_conv2d_3x3_regular_64to64")


def measure(group, in_rep, out_rep, shape, domain):
    """`(our bytes, dense Q bytes, build seconds)` of one kernel signature."""
    clear_caches()
    start = time.perf_counter()
    projector = get_projector(group, in_rep, out_rep, shape, domain=domain)
    seconds = time.perf_counter() - start
    entries = 1
    for n in shape:
        entries *= n
    dense = entries * projector.dim * 8
    return projector.nbytes, dense, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="two cases")
    args = parser.parse_args(argv)
    names = QUICK if args.quick else tuple(CASES)
    print("# bytes: ours, dense Q (N x D float64)")
    for name in names:
        ours, dense, seconds = measure(*CASES[name])
        print(f"# {name}: {ours / 2**20:.2f} MiB vs {dense / 2**30:.1f} GiB")
        print(f"ratio {name} {ours / dense:.3g}")
        print(f"build_seconds {name} {seconds:.2f}")


if __name__ == "__main__":
    main()
