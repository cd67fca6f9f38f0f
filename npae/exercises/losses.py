"""Exercises on reconstruction losses: the gradients of MSE, of BCE from logits, and of
the emphasized denoising loss.

Conventions of ``npae.losses``: a reconstruction loss averages over every
entry of the batch (like ``torch.nn.MSELoss()``), so its gradient carries
a factor ``1 / (N D)`` for an (N, D) batch.
"""

import numpy as np

from npae.exercises.grading import Case, Exercise, Mistake, random_sizes


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _pair_cases(rng, key, make_pred, make_true):
    return [Case({key: make_pred(rng, shape), "y_true": make_true(rng, shape)})
            for shape in [(4, 5), (1, 6), (3, 1), (2, 3, 4), random_sizes(rng, 2)]]


def mse_gradient(y_pred, y_true):
    """Gradient of the mean squared error ``L = mean((y_pred - y_true)^2)``.

    Write ``mse_gradient(y_pred, y_true)`` returning ``dy_pred``.

    Parameters
    ----------
    y_pred, y_true : ndarray (N, D), or any shape, both the same

    Returns
    -------
    dy_pred : ndarray (same shape)
        ``dL/dy_pred = 2 (y_pred - y_true) / M``, M = ``y_pred.size``
        (N D for a batch of N rows of D features).

    Notes
    -----
    The mean runs over all M entries, as in ``npae.losses.mean_squared_error``
    and ``torch.nn.MSELoss()``: ``L = (1 / M) sum_i (p_i - t_i)^2``, so
    ``dL/dp_i = (2 / M) (p_i - t_i)``.
    """
    return 2.0 * (y_pred - y_true) / y_pred.size


def _mse_objective(v):
    """L = mean((y_pred - y_true)^2)"""
    return float(np.mean((v["y_pred"] - v["y_true"]) ** 2))


MSE = Exercise(
    "mse_gradient", mse_gradient, ("y_pred", "y_true"), ("dy_pred",),
    lambda rng: _pair_cases(rng, "y_pred", lambda r, s: r.normal(size=s),
                            lambda r, s: r.normal(size=s)),
    _mse_objective, {"dy_pred": "y_pred"},
    mistakes=(
        Mistake("averaged over the batch only: npae's MSE averages over all N x D entries",
                lambda p, t: 2.0 * (p - t) / p.shape[0]),
    ),
)


def bce_gradient(logits, y_true):
    """Gradient of binary cross-entropy with respect to the logits.

    Write ``bce_gradient(logits, y_true)`` returning ``dlogits``.

    Parameters
    ----------
    logits : ndarray (N, D), or any shape
        ``z``, the decoder's output before the sigmoid: ``p = sigmoid(z)``.
    y_true : ndarray (same shape)
        Targets ``t`` in [0, 1] (grey levels are allowed).

    Returns
    -------
    dlogits : ndarray (same shape)
        ``dL/dz = (sigmoid(z) - t) / M``, M = ``logits.size``.

    Notes
    -----
    ``L = -mean(t log p + (1 - t) log(1 - p))`` with ``p = sigmoid(z)``,
    written stably as ``mean(softplus(z) - t z)`` in
    ``npae.losses.binary_cross_entropy_with_logits``. Per entry,
    ``dL/dp = (p - t) / (p (1 - p)) / M`` and ``dp/dz = p (1 - p)``: the
    two ``p (1 - p)`` cancel, which is why the estimators train on logits.
    """
    return (_sigmoid(logits) - y_true) / logits.size


def _bce_objective(v):
    """L = mean(softplus(z) - t z)"""
    z = v["logits"]
    return float(np.mean(np.logaddexp(0, z) - v["y_true"] * z))


BCE = Exercise(
    "bce_gradient", bce_gradient, ("logits", "y_true"), ("dlogits",),
    lambda rng: _pair_cases(rng, "logits", lambda r, s: 2 * r.normal(size=s),
                            lambda r, s: r.uniform(0, 1, size=s)),
    _bce_objective, {"dlogits": "logits"},
    mistakes=(
        Mistake("missing the sigmoid: dL/dz = (sigmoid(z) - t) / M, not (z - t) / M",
                lambda z, t: (z - t) / z.size),
        Mistake("this is dL/dp; the chain rule through p = sigmoid(z) multiplies by "
                "p (1 - p), which cancels the denominator",
                lambda z, t: (_sigmoid(z) - t) / (_sigmoid(z) * (1 - _sigmoid(z))) / z.size),
    ),
)

def emphasized_mse_gradient(y_pred, y_true, corrupted, alpha, beta):
    """Gradient of the emphasized denoising loss: corrupted entries weigh alpha, others beta.

    Write ``emphasized_mse_gradient(y_pred, y_true, corrupted, alpha, beta)`` returning
    ``dy_pred``.

    Parameters
    ----------
    y_pred : ndarray (N, D)
        The reconstruction ``g(f(x_tilde))`` of the corrupted input.
    y_true : ndarray (N, D)
        The clean input ``x``: the target.
    corrupted : ndarray of bool (N, D)
        True where the corruption changed the entry (the pixels that masking
        noise set to 0, say), False where the encoder saw the clean value.
    alpha, beta : float >= 0
        The weights of the corrupted and of the untouched entries.

    Returns
    -------
    dy_pred : ndarray (N, D)
        ``dL/dy_pred = 2 w (y_pred - y_true) / M`` with ``w = alpha`` where
        ``corrupted`` and ``w = beta`` elsewhere, M = ``y_pred.size``.

    Notes
    -----
    Vincent et al. (2010) weigh the squared error of each entry by whether
    the corruption touched it,
    ``L = (1 / M) sum_i w_i (p_i - t_i)^2``, ``w_i = alpha if corrupted_i else beta``,
    so that the network is graded more on what it could not see (``alpha > beta``)
    than on copying what it could. ``alpha = beta = 1`` is the plain MSE of
    ``npae.losses.mean_squared_error``; ``beta = 0`` grades the corrupted
    entries only. The weights are constants, so per entry
    ``dL/dp_i = (2 / M) w_i (p_i - t_i)``.
    """
    weights = np.where(corrupted, alpha, beta)
    return 2.0 * weights * (y_pred - y_true) / y_pred.size


def _emphasized_cases(rng):
    cases = []
    for shape, alpha, beta in [((4, 5), 2.0, 0.5), ((1, 6), 1.0, 0.0), ((3, 1), 0.7, 1.3),
                               ((6, 4), 3.0, 1.0), (random_sizes(rng, 2), 1.5, 0.25)]:
        y_true = rng.uniform(0, 1, size=shape)
        corrupted = rng.uniform(size=shape) < 0.4
        corrupted.flat[0], corrupted.flat[-1] = True, False  # both kinds in every case
        cases.append(Case({"y_pred": rng.uniform(0, 1, size=shape), "y_true": y_true,
                           "corrupted": corrupted, "alpha": alpha, "beta": beta}))
    return cases


def _emphasized_objective(v):
    """L = mean(w (y_pred - y_true)^2), w = alpha where corrupted, beta elsewhere"""
    weights = np.where(v["corrupted"], v["alpha"], v["beta"])
    return float(np.mean(weights * (v["y_pred"] - v["y_true"]) ** 2))


EMPHASIZED = Exercise(
    "emphasized_mse_gradient", emphasized_mse_gradient,
    ("y_pred", "y_true", "corrupted", "alpha", "beta"), ("dy_pred",),
    _emphasized_cases, _emphasized_objective, {"dy_pred": "y_pred"},
    mistakes=(
        Mistake("alpha and beta swapped: alpha weighs the corrupted entries (corrupted True)",
                lambda p, t, c, a, b: 2.0 * np.where(c, b, a) * (p - t) / p.size),
        Mistake("this is the plain MSE gradient: multiply each entry by its weight, "
                "alpha where corrupted and beta elsewhere",
                lambda p, t, c, a, b: 2.0 * (p - t) / p.size),
        Mistake("averaged over the batch only: the loss averages over all N x D entries",
                lambda p, t, c, a, b: 2.0 * np.where(c, a, b) * (p - t) / p.shape[0]),
        Mistake("divided by the sum of the weights: the loss is a mean over all M entries",
                lambda p, t, c, a, b: 2.0 * np.where(c, a, b) * (p - t)
                / np.where(c, a, b).sum()),
    ),
)

EXERCISES = (MSE, BCE, EMPHASIZED)
