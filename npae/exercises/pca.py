"""Exercise on PCA in closed form, the optimal linear autoencoder.

Conventions of ``npae.PCA`` (and scikit-learn's): components are rows,
variances use ``N - 1`` degrees of freedom, and each component's sign is
fixed so that its largest-magnitude entry is positive.
"""

import numpy as np

from npae.exercises.grading import Case, Exercise, Mistake, random_sizes


def _flip_signs(Vt):
    """Multiply each row by the sign of its largest-magnitude entry."""
    rows = np.arange(Vt.shape[0])
    return Vt * np.sign(Vt[rows, np.argmax(np.abs(Vt), axis=1)])[:, None]


def pca_closed_form(X, n_components):
    """Principal component analysis in closed form, by the SVD of the centred data.

    Write ``pca_closed_form(X, n_components)`` returning
    ``(components, mean, explained_variance)``.

    Parameters
    ----------
    X : ndarray (N, D)
        The data, one example per row.
    n_components : int
        k, with 1 <= k <= min(N, D).

    Returns
    -------
    components : ndarray (k, D)
        The top-k principal axes as orthonormal rows, by decreasing
        variance, each with its largest-magnitude entry positive.
    mean : ndarray (D,)
        The mean of the rows of X.
    explained_variance : ndarray (k,)
        The variance along each axis, ``S_j^2 / (N - 1)``.

    Notes
    -----
    Centre, ``Xc = X - mean``, and take the thin SVD ``Xc = U S V^T``. The
    covariance is ``C = Xc^T Xc / (N - 1) = V S^2 V^T / (N - 1)``, so the
    rows of ``V^T`` are its eigenvectors, with eigenvalues
    ``S^2 / (N - 1)``, in decreasing order. An eigenvector's sign is
    arbitrary: flipping each so that its largest-magnitude entry is
    positive (scikit-learn's ``svd_flip``) makes the answer unique. The
    encoder of the optimal rank-k linear autoencoder is then
    ``z = (x - mean) components^T``, its decoder ``x_hat = z components + mean``.
    """
    mean = X.mean(axis=0)
    _, S, Vt = np.linalg.svd(X - mean, full_matrices=False)
    components = _flip_signs(Vt)[:n_components]
    explained_variance = S[:n_components] ** 2 / (X.shape[0] - 1)
    return components, mean, explained_variance


def _pca_cases(rng):
    cases = []
    n_random, d_random = random_sizes(rng, 2, low=2, high=12)
    k_random = int(rng.integers(1, min(n_random, d_random) + 1))
    for n, d, k in [(30, 5, 2), (8, 6, 3), (50, 3, 3), (12, 12, 1), (40, 7, 4),
                    (n_random, d_random, k_random)]:
        spread = 3.0 * 0.6 ** np.arange(d)  # well separated variances
        rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
        X = (rng.normal(size=(n, d)) * spread) @ rotation + rng.normal(size=d)
        cases.append(Case({"X": X, "n_components": k}))
    return cases


# Typical wrong answers, recognised in the hints.
def _uncentred(X, k):
    _, S, Vt = np.linalg.svd(X, full_matrices=False)
    return _flip_signs(Vt)[:k], X.mean(axis=0), S[:k] ** 2 / (X.shape[0] - 1)


def _biased_variance(X, k):
    components, mean, variance = pca_closed_form(X, k)
    return components, mean, variance * (X.shape[0] - 1) / X.shape[0]


def _ascending(X, k):
    mean = X.mean(axis=0)
    eigenvalues, V = np.linalg.eigh(np.cov(X, rowvar=False))
    return _flip_signs(V.T)[:k], mean, eigenvalues[:k]


def _diagnose(output, expected, received):
    """Rows equal up to sign: the sign convention was not applied."""
    if output != "components" or received.shape != expected.shape:
        return None
    signs = np.sign(np.sum(expected * received, axis=1))
    if np.allclose(received, expected * signs[:, None], rtol=0, atol=1e-7):
        return ("some components have the opposite sign: flip each row so that its "
                "largest-magnitude entry is positive")
    return None


PCA = Exercise(
    "pca_closed_form", pca_closed_form, ("X", "n_components"),
    ("components", "mean", "explained_variance"), _pca_cases,
    diagnose=_diagnose,
    mistakes=(
        Mistake("centre the data first: the SVD of X itself finds directions through the "
                "origin, not through the mean", _uncentred),
        Mistake("the variance divides by N - 1 (the sample covariance), not by N",
                _biased_variance),
        Mistake("the largest variance comes first: eigh returns eigenvalues in ascending "
                "order", _ascending),
    ),
)

EXERCISES = (PCA,)
