"""The rotated-digits example's data: real images, almost C4-invariant.

scikit-learn's 1797 8x8 grey-scale handwritten digits (shipped with the
package, no download), scaled to [0, 1], each turned by a random multiple
of 90 degrees except the 6s and the 9s, which stay upright: the label is
C4-invariant for eight classes, and the pose is a cue for the other two.
`examples/rotated_digits.py` trains on them.
"""

import numpy as np
from sklearn.datasets import load_digits

UPRIGHT = (6, 9)


def make_data(seed, n_train):
    """`((x_train, y_train), (x_test, y_test))`, images `(n, 8, 8, 1)`.

    Each seed draws its own turns and its own `n_train` training images;
    the other `1797 - n_train` are the test set.
    """
    digits = load_digits()
    images = digits.images.astype("float32") / 16.0
    labels = digits.target
    rng = np.random.default_rng(seed)
    turns = rng.integers(0, 4, len(images))
    turns[np.isin(labels, UPRIGHT)] = 0
    images = np.stack([np.rot90(a, k) for a, k in zip(images, turns)])
    order = rng.permutation(len(images))
    train, test = order[:n_train], order[n_train:]
    images = images[..., None]
    return (images[train], labels[train]), (images[test], labels[test])
