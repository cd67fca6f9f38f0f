"""Reconstruction losses, likelihoods and the Gaussian KL, each with its gradient.

The training functions return ``(value, grad)`` (or several gradients, one
per input), where ``value`` is a Python float and each gradient has the
shape and dtype of its input. Reconstruction losses average over every
entry, like ``torch.nn.MSELoss()``; the negative log-likelihoods and the
Gaussian KL sum over an example's entries and average over the batch.
The penalties on the code (sparsity KL, L1 activity, contractive) are in
``npae.regularizers``. ``bernoulli_log_likelihood``,
``gaussian_log_likelihood`` and ``gaussian_kl_per_example`` give one value
per example (the VAE's ELBO and importance weights).
"""

import warnings

import numpy as np

from npae._validation import check_float_batch, check_number
from npae.layers.activations import _sigmoid


def _check_pair(y_pred, y_true, name):
    check_float_batch(y_pred, "y_pred", name)
    if not isinstance(y_true, np.ndarray):
        raise TypeError(f"{name} expected y_true as a numpy array, got {type(y_true).__name__}")
    if y_pred.shape != y_true.shape:
        raise ValueError(
            f"{name} expected y_true of shape {y_pred.shape} (as y_pred), got {y_true.shape}"
        )
    if y_pred.size == 0:
        raise ValueError(f"{name} expected non-empty arrays, got shape {y_pred.shape}")


def _check_probabilities(y_true, name, refuse=True):
    """Targets outside [0, 1]: binary cross-entropy refuses them, the Bernoulli likelihood warns.

    (The VAE keeps training on such data, as scikit-learn's checks expect of
    an estimator, but its loss is then no likelihood.)
    """
    low, high = float(np.min(y_true)), float(np.max(y_true))
    if low < 0 or high > 1:
        if refuse:
            raise ValueError(
                f"{name} expected targets in [0, 1], got values from {low:g} to {high:g}: "
                "scale the data to [0, 1], or use the mean squared error")
        # Without the values, so that a training loop warns once, not once per batch.
        warnings.warn(f"{name} expected targets in [0, 1], got values outside: scale the data "
                      "to [0, 1], or use a Gaussian likelihood", RuntimeWarning, stacklevel=3)


def mean_squared_error(y_pred, y_true):
    """L = mean((y_pred - y_true)^2);  dL/dy_pred = 2 (y_pred - y_true) / n."""
    _check_pair(y_pred, y_true, "mean_squared_error")
    diff = y_pred - y_true  # becomes the gradient, in place
    value = float(np.square(diff).sum()) / diff.size
    diff *= 2.0 / diff.size
    return value, diff.astype(y_pred.dtype, copy=False)


def binary_cross_entropy(y_pred, y_true, eps=1e-7):
    """L = -mean(t log p + (1 - t) log(1 - p)), p clipped to [eps, 1 - eps].

    dL/dp = (p - t) / (p (1 - p)) / n, zero where p was clipped (the clip
    is a constant there). Prefer ``binary_cross_entropy_with_logits`` when
    the logits are at hand: it never saturates.
    """
    _check_pair(y_pred, y_true, "binary_cross_entropy")
    _check_probabilities(y_true, "binary_cross_entropy")
    t = y_true
    p = np.clip(y_pred, eps, 1 - eps).astype(np.result_type(y_pred, t), copy=False)
    # Three arrays, reused in place: the temporaries of the plain expressions
    # cost more than the arithmetic (a float64 batch of 128 x 784 made the
    # allocator map and unmap memory, 500 page faults a call).
    log_q = np.negative(p)
    np.log1p(log_q, out=log_q)  # log(1 - p)
    terms = np.log(p)
    terms -= log_q
    terms *= t
    terms += log_q  # t log p + (1 - t) log(1 - p)
    value = -float(np.mean(terms))
    grad, denom = terms, log_q
    np.subtract(p, t, out=grad)
    np.subtract(1, p, out=denom)
    denom *= p
    grad /= denom
    grad /= y_pred.size  # (p - t) / (p (1 - p)) / n
    grad[(y_pred < eps) | (y_pred > 1 - eps)] = 0
    return value, grad.astype(y_pred.dtype, copy=False)


def _softplus(z):
    """log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)), stable for any z.

    NumPy's exp and log1p run vectorized; ``np.logaddexp(0, z)``, the same
    value, is about 10 x slower (a 64 x 784 batch: 2.4 ms against 0.27 ms).
    For the same reason the gradients use the vectorized ``_sigmoid`` of
    the activations, not ``scipy.special.expit`` (3.7 x slower).
    """
    y = np.abs(z)
    np.negative(y, out=y)
    np.exp(y, out=y)
    np.log1p(y, out=y)
    y += np.maximum(z, 0)
    return y


def binary_cross_entropy_with_logits(logits, y_true):
    """BCE of p = sigmoid(z) written in z: L = mean(softplus(z) - t z).

    Stable for any z; dL/dz = (sigmoid(z) - t) / n.
    """
    _check_pair(logits, y_true, "binary_cross_entropy_with_logits")
    _check_probabilities(y_true, "binary_cross_entropy_with_logits")
    z = logits
    value = float(np.mean(_softplus(z) - y_true * z))
    grad = (_sigmoid(z) - y_true) / z.size
    return value, grad.astype(z.dtype, copy=False)


def softmax_cross_entropy(logits, labels, axis=1):
    """Cross-entropy of class ``labels`` (ints) under softmax(logits) along ``axis``.

    L = mean over positions of (logsumexp(z) - z_label);
    dL/dz = (softmax(z) - onehot(label)) / (number of positions).
    """
    name = "softmax_cross_entropy"
    check_float_batch(logits, "logits", name)
    z = logits
    labels = np.asarray(labels)
    axis = axis % z.ndim
    n_classes = z.shape[axis]
    want = z.shape[:axis] + z.shape[axis + 1:]
    if labels.shape != want:
        raise ValueError(f"{name} expected labels of shape {want}, got {labels.shape}")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{name} expected integer class labels, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(
            f"{name} expected labels in [0, {n_classes}), got values from "
            f"{labels.min()} to {labels.max()}"
        )
    onehot = np.moveaxis(np.eye(n_classes, dtype=z.dtype)[labels], -1, axis)
    z_max = z.max(axis=axis, keepdims=True)
    e = np.exp(z - z_max)
    total = e.sum(axis=axis, keepdims=True)
    log_p = z - z_max - np.log(total)
    count = z.size // n_classes
    value = float(-np.sum(onehot * log_p) / count)
    grad = (e / total - onehot) / count
    return value, grad.astype(z.dtype, copy=False)


# -- likelihoods of a decoder's output (the VAE's reconstruction term) ----------------

_LOG_2PI = float(np.log(2 * np.pi))


def _example_axes(x):
    """Every axis but the batch axis: features, or channels and pixels."""
    return tuple(range(1, x.ndim))


def bernoulli_log_likelihood(logits, x):
    """log p(x | l) of each example for p = sigmoid(l): sum_d (x_d l_d - softplus(l_d)).

    Written in the logits l it is stable for any l (``_softplus``). For x in
    [0, 1] that is not binary it is minus the summed binary cross-entropy,
    the usual convention for grey-level images. Returns an array of shape
    ``(N,)``; ``bernoulli_nll`` is its batch mean with the gradient.
    """
    _check_pair(logits, x, "bernoulli_log_likelihood")
    _check_probabilities(x, "bernoulli_log_likelihood", refuse=False)
    return _bernoulli_log_likelihood(logits, x)


def _bernoulli_log_likelihood(logits, x):
    return np.sum(x * logits - _softplus(logits), axis=_example_axes(x))


def gaussian_log_likelihood(mean, x, sigma):
    """log N(x; m, sigma^2 I) of each example, for a fixed standard deviation ``sigma``.

    log N = -sum_d ((x_d - m_d)^2 / (2 sigma^2) + log sigma + log(2 pi) / 2).
    ``sigma`` is a fixed standard deviation (> 0). Returns an array of shape
    ``(N,)``; ``gaussian_nll`` is its batch mean with the gradient.
    """
    _check_pair(mean, x, "gaussian_log_likelihood")
    sigma = check_number(sigma, "sigma", "gaussian_log_likelihood", low=0, low_open=True)
    return _gaussian_log_likelihood(mean, x, sigma)


def _gaussian_log_likelihood(mean, x, sigma):
    d = x[0].size
    return (-0.5 * np.sum((x - mean) ** 2, axis=_example_axes(x)) / sigma**2
            - d * (np.log(sigma) + 0.5 * _LOG_2PI))


def bernoulli_nll(logits, x):
    """Batch mean of -log p(x | l) (summed over features) and its gradient in the logits.

    L = (1/N) sum_n sum_d (softplus(l_nd) - x_nd l_nd);  dL/dl = (sigmoid(l) - x) / N.
    """
    _check_pair(logits, x, "bernoulli_nll")
    _check_probabilities(x, "bernoulli_nll (the VAE's Bernoulli likelihood)", refuse=False)
    log_p = _bernoulli_log_likelihood(logits, x)
    n = logits.shape[0]
    value = -float(np.sum(log_p)) / n
    grad = (_sigmoid(logits) - x) / n
    return value, grad.astype(logits.dtype, copy=False)


def gaussian_nll(mean, x, sigma):
    """Batch mean of -log N(x; m, sigma^2 I) and its gradient in the mean.

    L = (1/N) sum_n sum_d ((x_nd - m_nd)^2 / (2 sigma^2) + log sigma + log(2 pi) / 2);
    dL/dm = (m - x) / (sigma^2 N).
    """
    _check_pair(mean, x, "gaussian_nll")
    sigma = check_number(sigma, "sigma", "gaussian_nll", low=0, low_open=True)
    log_p = _gaussian_log_likelihood(mean, x, sigma)
    n = mean.shape[0]
    value = -float(np.sum(log_p)) / n
    grad = (mean - x) / (sigma**2 * n)
    return value, grad.astype(mean.dtype, copy=False)


LOSSES = {"mse": mean_squared_error, "bce": binary_cross_entropy}


def get_loss(name):
    """Reconstruction loss function by name: ``"mse"`` or ``"bce"``."""
    if callable(name):
        return name
    if name not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {name!r}")
    return LOSSES[name]


def _check_gaussian(mu, logvar, name):
    check_float_batch(mu, "mu", name)
    check_float_batch(logvar, "logvar", name)
    if mu.shape != logvar.shape:
        raise ValueError(f"{name} expected logvar of shape {mu.shape} (as mu), got {logvar.shape}")


def gaussian_kl(mu, logvar):
    """KL(N(mu, diag(exp(logvar))) || N(0, I)), summed over latents, mean over batch.

    KL = 0.5 * sum_j (exp(logvar_j) + mu_j^2 - 1 - logvar_j);
    dKL/dmu = mu / N,  dKL/dlogvar = 0.5 (exp(logvar) - 1) / N.
    Returns ``(value, dmu, dlogvar)``.
    """
    _check_gaussian(mu, logvar, "gaussian_kl")
    n = mu.shape[0]
    var = np.exp(logvar)
    value = 0.5 * float(np.sum(var + mu * mu - 1 - logvar)) / n
    dmu = mu / n
    dlogvar = 0.5 * (var - 1) / n
    return value, dmu.astype(mu.dtype, copy=False), dlogvar.astype(mu.dtype, copy=False)


def gaussian_kl_per_example(mu, logvar):
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) of each example (row), in closed form.

    KL_n = 0.5 * sum_j (exp(logvar_nj) + mu_nj^2 - 1 - logvar_nj); ``gaussian_kl``
    is their batch mean with the gradients. Returns an array of shape ``(N,)``.
    """
    _check_gaussian(mu, logvar, "gaussian_kl_per_example")
    return 0.5 * np.sum(np.exp(logvar) + mu * mu - 1 - logvar, axis=1)
