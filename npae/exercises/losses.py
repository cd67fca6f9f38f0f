"""Exercises on reconstruction losses: the gradients of MSE and of BCE from logits.

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

EXERCISES = (MSE, BCE)
