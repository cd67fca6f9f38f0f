"""Exercises on the variational autoencoder: the reparameterization and the Gaussian KL.

Conventions of ``npae.models.vae`` and ``npae.losses.gaussian_kl``: the
encoder outputs ``mu`` and ``logvar = log sigma^2``, each (N, L); the KL
is summed over the L latents and averaged over the batch.
"""

import numpy as np

from npae.exercises.grading import Case, Exercise, Mistake, random_sizes


def _latent_cases(rng):
    cases = []
    for n, latent in [(4, 3), (1, 2), (6, 1), (3, 5), random_sizes(rng, 2)]:
        shape = (n, latent)
        cases.append(Case({"dz": rng.normal(size=shape), "mu": rng.normal(size=shape),
                           "logvar": rng.uniform(-2, 1, size=shape),
                           "eps": rng.normal(size=shape)}))
    return cases


# -- reparameterization ----------------------------------------------------------------
def reparameterization_backward(dz, logvar, eps):
    """Backward pass of the reparameterization ``z = mu + exp(logvar / 2) eps``.

    Write ``reparameterization_backward(dz, logvar, eps)`` returning ``(dmu, dlogvar)``.

    Parameters
    ----------
    dz : ndarray (N, L)
        ``dL/dz``, from the decoder's backward pass.
    logvar : ndarray (N, L)
        The encoder's ``log sigma^2``.
    eps : ndarray (N, L)
        The standard normal noise drawn in the forward pass, held fixed.

    Returns
    -------
    dmu : ndarray (N, L)
        ``dL/dmu = dz``
    dlogvar : ndarray (N, L)
        ``dL/dlogvar = dz * 0.5 * eps * exp(logvar / 2)``

    Notes
    -----
    ``sigma = exp(logvar / 2)``, so ``dz/dmu = 1`` and
    ``dz/dlogvar = eps * d sigma / d logvar = 0.5 eps sigma``. The noise
    ``eps`` is an input, not a function of the parameters: that is the
    whole trick, it makes the sample differentiable.
    """
    dmu = dz.copy()
    dlogvar = dz * 0.5 * eps * np.exp(0.5 * logvar)
    return dmu, dlogvar


def _reparameterization_objective(v):
    """L = sum((mu + exp(logvar / 2) eps) * dz)"""
    return float(np.sum((v["mu"] + np.exp(0.5 * v["logvar"]) * v["eps"]) * v["dz"]))


REPARAMETERIZATION = Exercise(
    "reparameterization_backward", reparameterization_backward, ("dz", "logvar", "eps"),
    ("dmu", "dlogvar"), _latent_cases, _reparameterization_objective,
    {"dmu": "mu", "dlogvar": "logvar"},
    mistakes=(
        Mistake("sigma = exp(logvar / 2), not exp(logvar): the derivative in logvar is "
                "0.5 sigma", lambda dz, lv, eps: (dz, dz * 0.5 * eps * np.exp(lv))),
        Mistake("that is the gradient in sigma (dz * eps); logvar needs the chain rule "
                "d sigma / d logvar = 0.5 sigma", lambda dz, lv, eps: (dz, dz * eps)),
    ),
)


# -- Gaussian KL ---------------------------------------------------------------------------
def gaussian_kl_gradient(mu, logvar):
    """Gradient of ``KL(N(mu, diag(exp(logvar))) || N(0, I))``, mean over the batch.

    Write ``gaussian_kl_gradient(mu, logvar)`` returning ``(dmu, dlogvar)``.

    Parameters
    ----------
    mu, logvar : ndarray (N, L)

    Returns
    -------
    dmu : ndarray (N, L)
        ``dKL/dmu = mu / N``
    dlogvar : ndarray (N, L)
        ``dKL/dlogvar = 0.5 (exp(logvar) - 1) / N``

    Notes
    -----
    Per example, in closed form,
    ``KL_n = 0.5 sum_j (exp(logvar_nj) + mu_nj^2 - 1 - logvar_nj)``, and the
    loss is ``KL = (1 / N) sum_n KL_n`` (``npae.losses.gaussian_kl``). Each
    term depends on one entry only, so the gradient is elementwise.
    """
    n = mu.shape[0]
    dmu = mu / n
    dlogvar = 0.5 * (np.exp(logvar) - 1) / n
    return dmu, dlogvar


def _kl_objective(v):
    """KL = 0.5 sum(exp(logvar) + mu^2 - 1 - logvar) / N"""
    mu, logvar = v["mu"], v["logvar"]
    return float(0.5 * np.sum(np.exp(logvar) + mu * mu - 1 - logvar) / mu.shape[0])


GAUSSIAN_KL = Exercise(
    "gaussian_kl_gradient", gaussian_kl_gradient, ("mu", "logvar"), ("dmu", "dlogvar"),
    _latent_cases, _kl_objective, {"dmu": "mu", "dlogvar": "logvar"},
    mistakes=(
        Mistake("the derivative of -logvar is -1: dlogvar = 0.5 (exp(logvar) - 1) / N",
                lambda mu, lv: (mu / mu.shape[0], 0.5 * np.exp(lv) / mu.shape[0])),
    ),
)

EXERCISES = (REPARAMETERIZATION, GAUSSIAN_KL)
