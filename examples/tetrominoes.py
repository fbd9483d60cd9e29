"""The demo's data: noisy tetrominoes, almost rotation-invariant.

Each 14x14 image holds one noisy tetromino (an L, a T or an S), 2x2
pixels per cell, at a random position and turned by a random multiple of
90 degrees. The label is the shape, except that an L standing upright
(not turned) is a class of its own. `examples/demo.py` and
`examples/decay_vs_penalty.py` train on them.
"""

import numpy as np

SHAPES = {
    "L": [(0, 0), (1, 0), (2, 0), (2, 1)],
    "T": [(0, 0), (0, 1), (0, 2), (1, 1)],
    "S": [(0, 1), (0, 2), (1, 0), (1, 1)],
}
CLASSES = ["L", "T", "S", "upright L"]
SIZE = 14


def make_data(n, seed):
    """Images `(n, 14, 14, 1)` and labels `(n,)`."""
    rng = np.random.default_rng(seed)
    images = rng.normal(0.0, 0.3, size=(n, SIZE, SIZE, 1)).astype("float32")
    labels = np.empty(n, "int32")
    names = list(SHAPES)
    for i in range(n):
        shape = rng.integers(3)
        turns = rng.integers(4)
        cells = np.zeros((4, 4))
        rows, cols = zip(*SHAPES[names[shape]])
        cells[rows, cols] = 1.0
        cells = np.rot90(cells, turns)
        glyph = np.kron(cells, np.ones((2, 2)))  # 2x2 pixels per cell
        top, left = rng.integers(0, SIZE - 8, size=2)
        images[i, top : top + 8, left : left + 8, 0] += glyph
        upright_l = shape == 0 and turns == 0
        labels[i] = 3 if upright_l else shape
    return images, labels
