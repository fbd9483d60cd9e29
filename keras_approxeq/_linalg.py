"""Two small linear-algebra helpers shared by the steerable bases."""

import numpy as np

__all__ = ["null_space", "orthonormal_rows"]


def null_space(constraints, size, tol=1e-9):
    """Orthonormal rows spanning `{w : C w = 0}` for the stacked `C`.

    The constraints' entries are cosines and entries of orthogonal
    matrices (all of size <= 1), so an absolute threshold tells rounding
    (`cos(2 pi) - 1 ~ 1e-16`) from real constraints. Large systems (the
    SO(3) couplings reach `1377` unknowns) go through the eigenvectors of
    the `size x size` Gram matrix `C^T C`, an order of magnitude cheaper
    than the SVD of `C`; its eigenvalues are the squared singular values,
    and the real constraints' are above `1e-4` here.
    """
    if not len(constraints):
        return np.eye(size)
    if size > 256:
        gram = sum(c.T @ c for c in constraints)
        values, vectors = np.linalg.eigh(gram)
        return vectors[:, values < 1e3 * tol].T
    _, singular, vt = np.linalg.svd(np.vstack(constraints))
    return vt[int(np.sum(singular > tol)) :]


def orthonormal_rows(vectors, tol=1e-8):
    """An orthonormal basis `(rank, m)` of the span of `vectors` `(n, m)`.

    The sampled harmonics have unit scale and the radial profiles peak at
    1, so an absolute threshold separates functions that vanish on the
    grid's points (e.g. `cos 2 phi` on the diagonals) from the others.
    """
    if not vectors.size:
        return np.zeros((0, vectors.shape[1]))
    u, s, _ = np.linalg.svd(vectors.T, full_matrices=False)
    return u[:, : int(np.sum(s > tol))].T
