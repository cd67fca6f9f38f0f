"""Exercises of the model lessons: the conv decoder's nearest upsampling, the beta-VAE's loss.

Conventions: images are NCHW (``npae.layers.Upsample2D``); the VAE's
decoder outputs Bernoulli logits and its loss is summed over pixels and
latents, averaged over the batch (``npae.models.VAE``).
"""

import numpy as np

from npae.exercises.grading import Case, Exercise, Mistake, random_sizes
from npae.exercises.images import upsample_cases, upsample_objective


# -- nearest-neighbour upsampling ------------------------------------------------------
def nearest_upsample(x, scale):
    """y[n, c, i, j] = x[n, c, i // scale, j // scale]."""
    return x.repeat(scale, axis=2).repeat(scale, axis=3)


def nearest_upsample_backward(grad_out, scale):
    """Backward pass of nearest-neighbour upsampling by an integer ``scale``.

    Write ``nearest_upsample_backward(grad_out, scale)`` returning ``dx``.

    Parameters
    ----------
    grad_out : ndarray (N, C, H * scale, W * scale)
        ``dL/dy``.
    scale : int

    Returns
    -------
    dx : ndarray (N, C, H, W)
        ``dL/dx``.

    Notes
    -----
    Forward (``npae.layers.Upsample2D(scale)``): every input pixel is copied
    into a ``scale x scale`` block, ``y[n, c, i, j] = x[n, c, i // scale,
    j // scale]``. Each copy passes the gradient back, so ``dx`` is the sum
    of ``grad_out`` over each block:
    ``dx[n, c, p, q] = sum_{a, b < scale} grad_out[n, c, p scale + a, q scale + b]``.
    """
    n, c, h_out, w_out = grad_out.shape
    blocks = grad_out.reshape(n, c, h_out // scale, scale, w_out // scale, scale)
    return blocks.sum(axis=(3, 5))


def _block_mean(grad_out, scale):
    return nearest_upsample_backward(grad_out, scale) / scale**2


def _top_left(grad_out, scale):
    return grad_out[:, :, ::scale, ::scale].copy()


NEAREST = Exercise(
    "nearest_upsample_backward", nearest_upsample_backward, ("grad_out", "scale"), ("dx",),
    lambda rng: upsample_cases(rng, nearest_upsample), upsample_objective(nearest_upsample),
    {"dx": "x"},
    mistakes=(
        Mistake("every copy of a pixel passes its gradient back: sum each block, do not "
                "average it", _block_mean),
        Mistake("all scale x scale copies were used in the forward pass, not only the "
                "top-left one: sum the whole block", _top_left),
    ),
)


# -- the beta-VAE loss -----------------------------------------------------------------
def negative_elbo(x, logits, mu, logvar, beta):
    """The beta-VAE loss of a batch: reconstruction cross-entropy plus beta times the KL.

    Write ``negative_elbo(x, logits, mu, logvar, beta)`` returning
    ``(reconstruction, kl, loss)``, three floats.

    Parameters
    ----------
    x : ndarray (N, D)
        The data, in [0, 1].
    logits : ndarray (N, D)
        The decoder's Bernoulli logits ``l`` for one sample ``z`` of each row.
    mu, logvar : ndarray (N, L)
        The encoder's posterior ``q(z | x) = N(mu, diag(exp(logvar)))``.
    beta : float
        The weight of the KL term (1: the ELBO).

    Returns
    -------
    reconstruction : float
        ``(1/N) sum_n sum_d [softplus(l_nd) - x_nd l_nd]``, the Bernoulli
        negative log-likelihood ``-log p(x | z)`` per row (nats), written
        from logits so that it never takes ``log 0``.
    kl : float
        ``(1/N) sum_n 0.5 sum_j (exp(logvar_nj) + mu_nj^2 - 1 - logvar_nj)``.
    loss : float
        ``reconstruction + beta * kl``.

    Notes
    -----
    ``-log p(x | z) = -sum_d [x_d log s(l_d) + (1 - x_d) log(1 - s(l_d))]``
    with ``s`` the sigmoid; since ``log s(l) = -softplus(-l)`` and
    ``log(1 - s(l)) = -softplus(l)``, each term is ``softplus(l) - x l``.
    ``softplus(l) = log(1 + e^l)`` is ``np.logaddexp(0, l)``. Both terms are
    summed over their dimensions (pixels, latents) and averaged over the
    batch: averaging over pixels too would weigh the KL 784 times more on
    MNIST, a different beta in disguise.
    """
    reconstruction = float(np.mean(np.sum(np.logaddexp(0.0, logits) - x * logits, axis=1)))
    kl = float(np.mean(0.5 * np.sum(np.exp(logvar) + mu**2 - 1.0 - logvar, axis=1)))
    return reconstruction, kl, reconstruction + beta * kl


def _elbo_cases(rng):
    cases = []
    for n, d, latent, beta in [(4, 6, 2, 1.0), (1, 5, 3, 4.0), (7, 3, 1, 0.5),
                               (3, 8, 4, 2.0), (*random_sizes(rng, 3), 1.5)]:
        cases.append(Case({"x": rng.uniform(size=(n, d)), "logits": rng.normal(scale=3,
                                                                                size=(n, d)),
                           "mu": rng.normal(size=(n, latent)),
                           "logvar": rng.uniform(-2, 1, size=(n, latent)), "beta": beta}))
    return cases


def _mean_over_pixels(x, logits, mu, logvar, beta):
    reconstruction = float(np.mean(np.logaddexp(0.0, logits) - x * logits))
    _, kl, _ = negative_elbo(x, logits, mu, logvar, beta)
    return reconstruction, kl, reconstruction + beta * kl


def _beta_on_reconstruction(x, logits, mu, logvar, beta):
    reconstruction, kl, _ = negative_elbo(x, logits, mu, logvar, beta)
    return reconstruction, kl, beta * reconstruction + kl


NEGATIVE_ELBO = Exercise(
    "negative_elbo", negative_elbo, ("x", "logits", "mu", "logvar", "beta"),
    ("reconstruction", "kl", "loss"), _elbo_cases, batch_arg="x",
    mistakes=(
        Mistake("sum the cross-entropy over the pixels (it is -log p(x|z) of the whole "
                "image), average over the batch only", _mean_over_pixels),
        Mistake("beta weighs the KL, not the reconstruction", _beta_on_reconstruction),
    ),
)

EXERCISES = (NEAREST, NEGATIVE_ELBO)
