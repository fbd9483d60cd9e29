"""Generated volumes, shapes in random poses: the data of
`volumes_so3.py`.

`make_data(count, seed, size)` returns `(x, labels)`: `x` is
`(count, size, size, size, 1)` float32, `labels` in `range(CLASSES)`.
Classes 0 and 4 are the same rod, told apart by its axis only
(`axis_rotation`).
"""

import numpy as np

SIZE = 11
CLASSES = 5


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def axis_rotation(rng, upright):
    """A rotation whose image of the depth axis is within 30 degrees of it
    (`upright`) or more than 45 degrees from it."""
    while True:
        rotation = random_rotation(rng)
        cosine = abs(rotation[0, 0])
        if (
            (cosine > np.cos(np.pi / 6))
            if upright
            else (cosine < np.cos(np.pi / 4))
        ):
            return rotation


def _signed_distance(label, p):
    """Rough signed distance (negative inside) of a canonical shape whose
    axis is the depth axis; `p` is `(3, n)` in units of the half size."""
    z, y, x = p
    if label in (0, 4):  # rod
        return np.sqrt((z / 0.85) ** 2 + (y / 0.35) ** 2 + (x / 0.35) ** 2) - 1
    if label == 1:  # disc
        return np.sqrt((z / 0.3) ** 2 + (y / 0.8) ** 2 + (x / 0.8) ** 2) - 1
    if label == 2:  # torus
        ring = np.sqrt(y**2 + x**2) - 0.55
        return np.sqrt(ring**2 + z**2) / 0.25 - 1
    ends = [np.sqrt((z - s) ** 2 + y**2 + x**2) for s in (-0.5, 0.5)]
    return np.minimum(*ends) / 0.35 - 1  # dumbbell


def volume(label, rng, size=SIZE):
    if label == 4:
        rotation = axis_rotation(rng, upright=True)
    elif label == 0:
        rotation = axis_rotation(rng, upright=False)
    else:
        rotation = random_rotation(rng)
    points = np.indices((size,) * 3).reshape(3, -1) - (size - 1) / 2
    points = rotation.T @ points / (size / 2) / rng.uniform(0.8, 1.05)
    solid = 1 / (1 + np.exp(4 * _signed_distance(label, points)))
    solid = solid.reshape((size,) * 3)
    return solid + 0.1 * rng.normal(size=solid.shape)


def make_data(count, seed, size=SIZE):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, size=count)
    volumes = np.array([volume(label, rng, size) for label in labels])
    return volumes[..., None].astype("float32"), labels
