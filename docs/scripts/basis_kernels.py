"""Draws a few steerable basis kernels: `docs/img/steerable_basis.png`.

    pip install matplotlib && python docs/scripts/basis_kernels.py

Each panel is one orthonormal basis kernel of a 9x9 convolution between
SO(2) fields, as `keras_approxeq` projects onto: from a scalar (irrep0) to
a scalar, to a vector field (irrep1, both components), and from irrep1 to
irrep2 (one of the four matrix entries).
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from keras_approxeq.projection.projectors import get_projector

HERE = os.path.dirname(os.path.abspath(__file__))
# (in irrep, out irrep, [(label, (in component, out component))])
PAIRS = [
    ("irrep0", "irrep0", [("0 -> 0", (0, 0))]),
    ("irrep0", "irrep1", [("0 -> 1, row", (0, 0)), ("0 -> 1, col", (0, 1))]),
    ("irrep1", "irrep2", [("1 -> 2, entry 0 0", (0, 0))]),
]


def main():
    rows = []
    for a, b, components in PAIRS:
        shape = (9, 9, 1 if a == "irrep0" else 2, 1 if b == "irrep0" else 2)
        projector = get_projector("SO2", a, b, shape)
        basis = projector.bases[(a, b)].reshape(-1, 9, 9, shape[2], shape[3])
        for label, (i, o) in components:
            rows.append(
                (label, basis[[0, 2, 4], :, :, i, o].transpose(1, 2, 0))
            )
    figure, axes = plt.subplots(len(rows), 3, figsize=(6, 2 * len(rows)))
    for row, (title, kernels) in zip(axes, rows):
        for k, ax in enumerate(row):
            image = kernels[..., k]
            bound = abs(image).max()
            ax.imshow(image, cmap="RdBu", vmin=-bound, vmax=bound)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(title, fontsize=7)
    figure.suptitle(
        "Steerable basis kernels of SO(2), 9x9 (basis elements 0, 2, 4)"
    )
    figure.tight_layout()
    path = os.path.join(HERE, "..", "img", "steerable_basis.png")
    figure.savefig(path, dpi=110)
    print(f"wrote {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
