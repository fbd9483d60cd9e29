"""Phantoms with metal, their damaged sinograms and reconstructions, and
the quality of a reconstruction: the data of `ct_artefacts.py`.

`make_data(count, size, seed)` returns `(x, y)`, each `(count, size, size,
1)` float32: the filtered back-projection of a photon-starved, noisy
sinogram and the phantom itself (`METAL` inside the metal inserts).
"""

import numpy as np

VIEWS = 60
METAL = 2.0


def ellipse(shape, centre, axes, angle):
    rows, cols = np.indices(shape, dtype="float64")
    rows = (rows - centre[0]) / shape[0]
    cols = (cols - centre[1]) / shape[1]
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * cols + s * rows, -s * cols + c * rows
    return (u / axes[0]) ** 2 + (v / axes[1]) ** 2 <= 1


def phantom(size, rng):
    """A body (wider than tall) on a table, with organs and metal."""
    image = np.zeros((size, size))
    body = ellipse(
        image.shape,
        (size * rng.uniform(0.45, 0.5), size * rng.uniform(0.45, 0.55)),
        (rng.uniform(0.34, 0.4), rng.uniform(0.24, 0.3)),
        rng.normal(0, 0.1),
    )
    image[body] = 0.4
    for _ in range(rng.integers(3, 7)):
        centre = size * rng.uniform(0.3, 0.7, size=2)
        organ = ellipse(
            image.shape,
            centre,
            rng.uniform(0.04, 0.12, 2),
            rng.uniform(0, np.pi),
        )
        image[organ & body] = rng.uniform(0.1, 1.0)
    image[int(0.85 * size) : int(0.88 * size), size // 8 : -size // 8] = 0.6
    return _with_metal(image, rng)


def _with_metal(image, rng):
    size = image.shape[0]
    for _ in range(rng.integers(1, 4)):
        centre = size * rng.uniform(0.35, 0.65, size=2)
        radius = rng.uniform(0.02, 0.04)
        image[ellipse(image.shape, centre, (radius, radius), 0.0)] = METAL
    return image


def shepp_logan(size, rng):
    from skimage.data import shepp_logan_phantom
    from skimage.transform import resize

    image = resize(shepp_logan_phantom(), (size, size), anti_aliasing=True)
    return _with_metal(image, rng)


def reconstruct(image, rng, noise=0.02):
    """FBP of the photon-starved, noisy sinogram of `image`."""
    from skimage.transform import iradon
    from skimage.transform import radon

    angles = np.linspace(0.0, 180.0, VIEWS, endpoint=False)
    sinogram = radon(image, angles, circle=False)
    metal = radon((image >= METAL).astype("float64"), angles, circle=False)
    ceiling = np.quantile(sinogram, 0.7)
    starved = np.where(metal > 0.5, np.minimum(sinogram, ceiling), sinogram)
    starved += noise * sinogram.std() * rng.normal(size=sinogram.shape)
    fbp = iradon(starved, angles, output_size=image.shape[0], circle=False)
    return fbp.astype("float32")


def make_data(count, size, seed, shepp=False):
    rng = np.random.default_rng(seed)
    images = [phantom(size, rng) for _ in range(count)]
    if shepp:
        images.append(shepp_logan(size, rng))
    x = np.array([reconstruct(image, rng) for image in images])
    y = np.array(images, dtype="float32")
    return x[..., None], y[..., None]


def quality(images, truth):
    """Mean PSNR and SSIM of `(n, H, W, 1)` images against the truth."""
    from skimage.metrics import peak_signal_noise_ratio
    from skimage.metrics import structural_similarity

    pairs = list(zip(truth[..., 0], images[..., 0]))
    psnr = [peak_signal_noise_ratio(t, p, data_range=METAL) for t, p in pairs]
    ssim = [structural_similarity(t, p, data_range=METAL) for t, p in pairs]
    return float(np.mean(psnr)), float(np.mean(ssim))
