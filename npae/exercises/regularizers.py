"""Exercises on penalties on the code: the sparsity KL and the contractive penalty.

Conventions of ``npae.regularizers``: a penalty is summed over code units and
averaged over the batch of N examples, with its weight (``beta``, ``lam``)
as an argument.
"""

import numpy as np

from npae.exercises.grading import Case, Exercise, Mistake, random_sizes


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# -- sparsity KL ---------------------------------------------------------------------
def sparsity_kl_gradient(a, rho, beta):
    """Gradient of the sparsity penalty ``R = beta sum_j KL(rho || rho_hat_j)`` (UFLDL).

    Write ``sparsity_kl_gradient(a, rho, beta)`` returning ``da``.

    Parameters
    ----------
    a : ndarray (N, k)
        Code activations in (0, 1) (sigmoid units), one row per example.
    rho : float in (0, 1)
        The target mean activation (e.g. 0.05).
    beta : float >= 0
        The weight of the penalty.

    Returns
    -------
    da : ndarray (N, k)
        ``dR/da_nj = beta (-rho / rho_hat_j + (1 - rho) / (1 - rho_hat_j)) / N``,
        the same for every row n.

    Notes
    -----
    ``rho_hat_j = (1 / N) sum_n a_nj`` is unit j's mean activation over the
    batch and ``KL(rho || r) = rho log(rho / r) + (1 - rho) log((1 - rho) / (1 - r))``.
    ``dKL/dr = -rho / r + (1 - rho) / (1 - r)`` and ``d rho_hat_j / d a_nj = 1 / N``.
    UFLDL adds ``beta (-rho / rho_hat + (1 - rho) / (1 - rho_hat))`` to the
    hidden layer's delta of every example; there the 1 / N comes with the
    mean over the batch taken later. Here, as in ``npae.regularizers.sparsity_kl``,
    the gradient is of R itself.
    """
    n = a.shape[0]
    rho_hat = a.mean(axis=0)
    dkl = -rho / rho_hat + (1 - rho) / (1 - rho_hat)
    return np.broadcast_to(beta * dkl / n, a.shape).copy()


def _sparsity_cases(rng):
    cases = []
    for (n, k), rho, beta in [((5, 4), 0.1, 3.0), ((1, 3), 0.05, 0.5), ((8, 1), 0.2, 1.5),
                              ((3, 6), 0.3, 2.5), (random_sizes(rng, 2), 0.15, 2.0)]:
        a = _sigmoid(rng.normal(size=(n, k)) - 1)
        cases.append(Case({"a": a, "rho": rho, "beta": beta}))
    return cases


def _sparsity_objective(v):
    """R = beta sum_j KL(rho || mean_n a_nj)"""
    rho, rho_hat = v["rho"], v["a"].mean(axis=0)
    kl = rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))
    return float(v["beta"] * kl.sum())


# A typical wrong answer, recognised in the hints.
def _sparsity_per_unit(a, rho, beta):
    """The derivative in rho_hat: one entry per unit, not yet spread over the batch."""
    rho_hat = a.mean(axis=0)
    return beta * (-rho / rho_hat + (1 - rho) / (1 - rho_hat))


SPARSITY = Exercise(
    "sparsity_kl_gradient", sparsity_kl_gradient, ("a", "rho", "beta"), ("da",),
    _sparsity_cases, _sparsity_objective, {"da": "a"},
    mistakes=(
        Mistake("missing beta: the penalty is beta times the KL",
                lambda a, rho, beta: sparsity_kl_gradient(a, rho, 1.0)),
        Mistake("that is dR/d rho_hat (k,): every a_nj reaches R through rho_hat_j = "
                "mean_n a_nj, so spread it over the rows and divide by N",
                _sparsity_per_unit),
    ),
)


# -- contractive penalty -----------------------------------------------------------------
def contractive_sigmoid_gradient(x, W, b, lam):
    """Gradient of the contractive penalty of a sigmoid layer ``h = sigmoid(x W + b)``.

    Write ``contractive_sigmoid_gradient(x, W, b, lam)`` returning ``(dW, db)``.

    Parameters
    ----------
    x : ndarray (N, d)
    W : ndarray (d, k)
    b : ndarray (k,)
    lam : float >= 0

    Returns
    -------
    dW : ndarray (d, k)
    db : ndarray (k,)
        The gradients of ``R = lam * mean_n ||J_n||_F^2``.

    Notes
    -----
    The Jacobian of example n is ``J_n = dh_n/dx_n = diag(D_n) W^T`` with
    ``D = h (1 - h)`` the sigmoid's slope at ``a = x W + b``, so
    ``||J_n||_F^2 = sum_j D_nj^2 s_j`` with the column norms
    ``s_j = sum_i W_ij^2``, and ``R = (lam / N) sum_nj D_nj^2 s_j``
    (``npae.regularizers.contractive_penalty``). W enters twice, through ``s``
    and through ``D``:

    - through s: ``dR/dW_ij += (2 lam / N) W_ij sum_n D_nj^2``;
    - through D, with ``dD/da = h (1 - h) (1 - 2 h) = D (1 - 2 h)``:
      ``dR/da_nj = (2 lam / N) D_nj^2 (1 - 2 h_nj) s_j``, then
      ``dR/dW += x^T dR/da`` and ``dR/db = sum_n dR/da_n``.
    """
    n = x.shape[0]
    h = _sigmoid(x @ W + b)
    slope = h * (1 - h)  # D
    col_norms = np.sum(W * W, axis=0)  # s_j
    da = (2.0 * lam / n) * slope**2 * (1 - 2 * h) * col_norms
    dW = (2.0 * lam / n) * W * np.sum(slope**2, axis=0) + x.T @ da
    db = da.sum(axis=0)
    return dW, db


def _contractive_cases(rng):
    cases = []
    for n, d, k in [(5, 4, 3), (1, 3, 2), (6, 2, 5), (4, 3, 3), random_sizes(rng, 3)]:
        cases.append(Case({"x": rng.normal(size=(n, d)), "W": rng.normal(size=(d, k)) / d,
                           "b": 0.5 * rng.normal(size=k), "lam": 0.7}))
    return cases


def _contractive_objective(v):
    """R = lam mean_n sum_j (h_nj (1 - h_nj))^2 s_j"""
    W = v["W"]
    h = _sigmoid(v["x"] @ W + v["b"])
    return float(v["lam"] * np.sum((h * (1 - h)) ** 2 * np.sum(W * W, axis=0)) / v["x"].shape[0])


# Typical wrong answers, recognised in the hints.
def _through_norms_only(x, W, b, lam):
    h = _sigmoid(x @ W + b)
    dW = (2.0 * lam / x.shape[0]) * W * np.sum((h * (1 - h)) ** 2, axis=0)
    return dW, np.zeros_like(b)


def _through_slopes_only(x, W, b, lam):
    dW, db = contractive_sigmoid_gradient(x, W, b, lam)
    return dW - _through_norms_only(x, W, b, lam)[0], db


CONTRACTIVE = Exercise(
    "contractive_sigmoid_gradient", contractive_sigmoid_gradient, ("x", "W", "b", "lam"),
    ("dW", "db"), _contractive_cases, _contractive_objective, {"dW": "W", "db": "b"},
    mistakes=(
        Mistake("only the path through the column norms s_j: the slopes "
                "D = h (1 - h) depend on W and b too (through a = x W + b)",
                _through_norms_only),
        Mistake("only the path through the slopes D: W also enters through the column "
                "norms s_j = sum_i W_ij^2", _through_slopes_only),
    ),
)

EXERCISES = (SPARSITY, CONTRACTIVE)
