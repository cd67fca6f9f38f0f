"""The variational autoencoder (Kingma & Welling, 2014).

A VAE is a latent-variable model ``p(z) = N(0, I)``, ``p(x | z)`` given by a
decoder network, trained by maximizing the evidence lower bound (ELBO)

    log p(x) >= ELBO(x) = E_q(z|x)[log p(x | z)] - KL(q(z | x) || p(z))

where the encoder gives the approximate posterior
``q(z | x) = N(mu(x), diag(exp(logvar(x))))``. The expectation is estimated
with one sample drawn by the reparameterization ``z = mu + exp(logvar / 2) eps``,
``eps ~ N(0, I)``, so that the sample is a differentiable function of the
encoder's outputs; the KL term is computed in closed form.

Two controls against posterior collapse (latent dimensions the decoder
ignores, whose posterior equals the prior) act on the KL term: a warm-up
of its weight ``beta`` (Bowman et al., 2016) and free bits (Kingma et al.,
2016); ``KLMonitor`` applies the warm-up and records, per epoch, the KL of
each latent dimension and the number of active units (Burda et al., 2016).
"""

import numpy as np
from scipy.special import expit, logsumexp
from sklearn.utils.validation import check_is_fitted

from npae import losses
from npae._validation import (
    check_array,
    check_choice,
    check_int,
    check_number,
    check_sizes,
)
from npae.layers.activations import ACTIVATIONS, get_activation
from npae.layers.conv import Conv2D, ConvTranspose2D
from npae.layers.initializers import init_for
from npae.models.base import BaseAutoencoder
from npae.models.conv import mirrored_conv_networks
from npae.network import mlp
from npae.train import Callback
from npae.utils import as_generator

LIKELIHOODS = ("bernoulli", "gaussian")
ARCHITECTURES = ("mlp", "conv")


# -- sampling z (the likelihoods and the KL are in npae.losses) ------------------------

def _split(h):
    """Encoder output ``(N, 2 L)`` -> ``mu = h[:, :L]``, ``logvar = h[:, L:]``."""
    latent_dim = h.shape[1] // 2
    return h[:, :latent_dim], h[:, latent_dim:]


def _reparameterize(mu, logvar, eps):
    """z = mu + sigma * eps with sigma = exp(logvar / 2)."""
    return mu + np.exp(0.5 * logvar) * eps


def _standard_normal_log_density(z):
    """log N(z; 0, I) of each row."""
    return losses.gaussian_log_likelihood(np.zeros_like(z), z, 1.0)


def _kl_per_dimension(mu, logvar):
    """Batch mean of each latent dimension's KL to N(0, 1), shape (latent_dim,).

    KL_j = mean_n 0.5 (exp(logvar_nj) + mu_nj^2 - 1 - logvar_nj): the
    per-example KL of the transposed arrays sums over the rows instead.
    """
    return losses.gaussian_kl_per_example(mu.T, logvar.T) / mu.shape[0]


def _free_bits_kl(mu, logvar, free_bits):
    """The KL term with free bits, ``sum_j max(KL_j, free_bits)``, and its gradient.

    ``KL_j`` is dimension j's KL averaged over the batch (``_kl_per_dimension``):
    the clamp applies to the batch mean, not to each example (Kingma et al.,
    2016, with one group per latent dimension). A dimension whose ``KL_j``
    is at or below the floor contributes the constant ``free_bits`` and
    gets exactly zero gradient; above it, the closed-form gradient
    ``(mu / N, 0.5 (exp(logvar) - 1) / N)`` of ``losses.gaussian_kl``.
    Returns ``(value, dmu, dlogvar)``.
    """
    kl_dims = _kl_per_dimension(mu, logvar)
    _, dmu, dlogvar = losses.gaussian_kl(mu, logvar)
    above = (kl_dims > free_bits).astype(mu.dtype)
    return float(np.sum(np.maximum(kl_dims, free_bits))), dmu * above, dlogvar * above


def _reparameterize_backward(dz, logvar, eps):
    """Chain rule through z = mu + exp(logvar / 2) eps, eps held fixed.

    dz/dmu = 1 and dz/dlogvar = 0.5 eps exp(logvar / 2), so
    ``dmu = dz`` and ``dlogvar = dz * 0.5 * eps * exp(logvar / 2)``.
    """
    return dz, dz * (0.5 * eps * np.exp(0.5 * logvar))


def _count_active(mu, threshold=0.01):
    """Latent dimensions whose posterior mean varies over the rows: Var_n(mu_nu) > threshold."""
    return int(np.sum(np.var(mu.astype(np.float64), axis=0) > threshold))


# -- the estimator --------------------------------------------------------------------

class VAE(BaseAutoencoder):
    """Variational autoencoder: ``q(z|x) = N(mu(x), diag(sigma^2(x)))``, ``p(x|z)`` by a decoder.

    With ``architecture="mlp"`` the encoder is an MLP
    ``n_features -> hidden_sizes -> 2 * latent_dim`` with a linear last layer
    whose output is split in two halves: the first ``latent_dim`` columns are
    the posterior mean ``mu``, the last ``latent_dim`` the log-variance
    ``logvar``. The decoder mirrors it,
    ``latent_dim -> reversed(hidden_sizes) -> n_features``.

    With ``architecture="conv"`` (images ``(N, C, H, W)``) the encoder first
    applies, for each entry of ``channels``, a 3x3 ``Conv2D`` with stride 2
    and padding 1 (halving H and W, rounding up) and the activation, then
    flattens and continues as the MLP above. The decoder mirrors it: the MLP
    to the flattened feature map, a reshape, then 3x3 stride-2
    ``ConvTranspose2D`` layers (``output_padding`` chosen to give back each
    encoder size exactly) down to ``C`` channels.

    Either way the decoder outputs the parameters of ``p(x | z)``:

    - ``likelihood="bernoulli"``: logits ``l``, ``p(x | z) = prod_d
      sigmoid(l_d)^x_d (1 - sigmoid(l_d))^(1 - x_d)`` (for data in [0, 1]);
    - ``likelihood="gaussian"``: the mean ``m``, ``p(x | z) = N(m, sigma^2 I)``
      with a **fixed** standard deviation ``sigma`` (a hyperparameter, not learned).

    Training minimizes the negative ELBO per example, summed over features
    and latents and averaged over the batch,

        L = (1/N) sum_n [ -log p(x_n | z_n) + beta KL(q(z | x_n) || N(0, I)) ],
        z_n = mu_n + exp(logvar_n / 2) * eps_n,   eps_n ~ N(0, I),

    with ``KL = 0.5 sum_j (exp(logvar_j) + mu_j^2 - 1 - logvar_j)``. ``eps`` is
    drawn from the estimator's seeded generator; ``beta = 1`` is the ELBO,
    ``beta > 1`` the beta-VAE.

    Against posterior collapse:

    - ``kl_warmup = W > 0``: the KL weight rises linearly over the first W
      epochs, per epoch: epoch e (1-based) trains with
      ``beta_e = beta * min(1, (e - 1) / W)``, so epoch 1 uses 0 and epoch
      W + 1 onwards the full ``beta``. ``history_["beta"]`` records each
      epoch's weight.
    - ``free_bits = lambda > 0`` (nats per latent dimension): the KL term
      becomes ``sum_j max(KL_j, lambda)`` where ``KL_j`` is dimension j's
      KL averaged over the minibatch (Kingma et al., 2016, one group per
      dimension; the clamp is on the batch mean, not per example). A
      dimension at or under the floor gets no gradient from the KL, so the
      encoder is free to use those nats.

    The training loss (``history_["loss"]``) is the objective optimized,
    with that epoch's ``beta`` and the free-bits floor.

    Parameters
    ----------
    hidden_sizes : sequence of int, default (128,)
        Widths of the encoder's hidden dense layers (the decoder mirrors them).
    latent_dim : int, default 2
        Dimension of ``z``.
    beta : float, default 1.0
        Weight of the KL term (>= 0).
    kl_warmup : int, default 0
        Epochs over which the KL weight rises linearly from 0 to ``beta``
        (see above); 0 uses ``beta`` from the start.
    free_bits : float, default 0.0
        Nats per latent dimension below which the batch-mean KL of that
        dimension is not penalized further (see above); 0 is the plain ELBO.
    likelihood : {"bernoulli", "gaussian"}, default "bernoulli"
    sigma : float, default 0.1
        Standard deviation of the Gaussian likelihood (ignored for Bernoulli).
    activation : str, default "relu"
        Activation of hidden layers (see ``npae.layers.ACTIVATIONS``).
    architecture : {"mlp", "conv"}, default "mlp"
        Dense layers on vectors ``(N, n_features)``, or convolutions on
        images ``(N, C, H, W)`` followed by dense layers.
    channels : sequence of int, default (16, 32)
        Output channels of the encoder's convolutions (``"conv"`` only).
    contamination : "auto" or float in (0, 0.5], default "auto"
        Sets ``offset_``, the threshold of ``predict``, from the training
        rows' scores: the fraction of them to flag as outliers ("auto":
        0.05, see ``npae.anomaly``).
    optimizer : {"adam", "sgd"}, default "adam"
    learning_rate : float, default 1e-3
    momentum : float, default 0.0
        ``optimizer="sgd"`` only: the velocity kept between steps
        (``npae.optim.SGD``); 0 is plain gradient descent.
    nesterov : bool, default False
        ``optimizer="sgd"`` only: Nesterov's momentum (needs ``momentum > 0``).
    epochs : int, default 100
    batch_size : int, default 64
    weight_decay : float, default 0.0
    validation_fraction : float, default 0.0
        Rows held out to report ``val_loss`` (a one-sample negative ELBO).
    early_stopping : bool, default False
    patience : int, default 10
    tol : float, default 1e-4
    n_iter_no_change : int or None, default None
        Stop once the loss (validation if any, else training) has not
        improved by ``tol`` for more than ``n_iter_no_change`` epochs, as in
        scikit-learn's MLP, keeping the last weights; a ``ConvergenceWarning``
        when ``epochs`` run out first. None trains all ``epochs``.
    dtype : {None, "float32", "float64"}, default None
    verbose : int, default 0
    random_state : int, Generator or None
        Seeds initialization, shuffling and every ``eps`` drawn in training
        (and, unless given their own ``random_state``, in ``sample``,
        ``elbo`` and ``log_likelihood``).

    Shape
    -----
    X : (N, n_features) for ``"mlp"``, (N, C, H, W) for ``"conv"``;
    ``transform(X)`` : (N, latent_dim); ``sample(n)`` : ``(n, *X.shape[1:])``.

    Attributes
    ----------
    encoder_ : Sequential
        ``x -> [mu, logvar]``, output of shape (N, 2 * latent_dim).
    decoder_ : Sequential
        ``z -> `` logits (Bernoulli) or mean (Gaussian) of ``p(x | z)``.
    network_ : Sequential
        The encoder's layers followed by the decoder's (shared objects).
    history_ : dict
        Per epoch: ``"loss"`` (the training objective: negative beta-ELBO,
        nats per example, with the epoch's ``beta`` and free bits; and
        ``"val_loss"``), ``"beta"`` (the KL weight used), ``"kl_0"``, ...,
        ``"kl_<latent_dim - 1>"`` (each dimension's KL on the training rows
        after the epoch, ``kl_per_dimension``) and ``"active_units"``
        (``active_units`` on the training rows). ``kl_history()`` gathers
        the ``kl_j`` into one array.
    n_features_in_ : int
    code_shape_ : tuple
        ``(latent_dim,)``.

    Notes
    -----
    Backward through the sampling step (``_step``). With g = dL/dz from the
    decoder's backward pass, sigma = exp(logvar / 2) and eps held fixed:

        dL/dmu     = g + beta * mu / N
        dL/dlogvar = g * 0.5 * eps * sigma + beta * 0.5 * (exp(logvar) - 1) / N

    the first term of each is the path through ``z = mu + sigma eps``
    (dz/dmu = 1, dz/dlogvar = 0.5 eps sigma), the second the closed-form KL
    (with free bits, multiplied by 0 for each dimension j whose batch-mean
    KL_j is at or under the floor).
    The reconstruction gradient with respect to the decoder output is
    ``(sigmoid(l) - x) / N`` (Bernoulli) or ``(m - x) / (sigma^2 N)`` (Gaussian).

    ``transform`` returns the posterior mean ``mu``; ``inverse_transform``,
    ``reconstruct`` and ``sample`` return the mean of ``p(x | z)`` (the
    probabilities ``sigmoid(l)`` for Bernoulli). ``score`` is the negative
    mean squared reconstruction error, like every npae autoencoder; the
    model's own measures are ``elbo`` and ``log_likelihood`` (nats per row).
    With grey-level data in [0, 1] the Bernoulli "likelihood" is the usual
    cross-entropy, not a normalized density over grey levels.

    Examples
    --------
    >>> from npae.datasets import load_digits
    >>> X, y, _ = load_digits()
    >>> vae = VAE(hidden_sizes=(64,), latent_dim=2, epochs=2, random_state=0).fit(X)
    >>> vae.transform(X).shape
    (1797, 2)
    >>> vae.sample(5, random_state=0).shape
    (5, 64)
    """

    def __init__(self, hidden_sizes=(128,), latent_dim=2, beta=1.0, kl_warmup=0, free_bits=0.0,
                 likelihood="bernoulli", sigma=0.1, activation="relu", architecture="mlp",
                 channels=(16, 32),
                 contamination="auto", optimizer="adam", learning_rate=1e-3, momentum=0.0,
                 nesterov=False, epochs=100, batch_size=64, weight_decay=0.0,
                 validation_fraction=0.0, early_stopping=False, patience=10, tol=1e-4,
                 n_iter_no_change=None, dtype=None, verbose=0, random_state=None):
        super().__init__(
            optimizer=optimizer, learning_rate=learning_rate, momentum=momentum, nesterov=nesterov,
            batch_size=batch_size, weight_decay=weight_decay,
            validation_fraction=validation_fraction, early_stopping=early_stopping,
            patience=patience, tol=tol, n_iter_no_change=n_iter_no_change, dtype=dtype,
            verbose=verbose, random_state=random_state)
        self.contamination = contamination
        self.hidden_sizes = hidden_sizes
        self.latent_dim = latent_dim
        self.beta = beta
        self.kl_warmup = kl_warmup
        self.free_bits = free_bits
        self.likelihood = likelihood
        self.sigma = sigma
        self.activation = activation
        self.architecture = architecture
        self.channels = channels
        self.epochs = epochs

    # -- building -----------------------------------------------------------------
    @property
    def _input_ndim(self):
        return 4 if self.architecture == "conv" else 2

    def _check_hyperparameters(self):
        owner = type(self).__name__
        check_choice(self.architecture, "architecture", owner, ARCHITECTURES)
        super()._check_hyperparameters()
        check_sizes(self.channels, "channels", owner, allow_empty=False)
        check_sizes(self.hidden_sizes, "hidden_sizes", owner)
        check_int(self.latent_dim, "latent_dim", owner)
        check_number(self.beta, "beta", owner, low=0)
        check_int(self.kl_warmup, "kl_warmup", owner, minimum=0)
        check_number(self.free_bits, "free_bits", owner, low=0)
        check_choice(self.likelihood, "likelihood", owner, LIKELIHOODS)
        check_number(self.sigma, "sigma", owner, low=0, low_open=True)
        check_choice(self.activation, "activation", owner, tuple(ACTIVATIONS))

    def _build(self, input_shape, rng):
        hidden = list(check_sizes(self.hidden_sizes, "hidden_sizes", "VAE"))
        if self.architecture == "conv":
            return self._build_conv(input_shape, hidden, rng)
        (n_features,) = input_shape
        extra = self._n_conditions  # inputs both networks read besides x and z
        encoder = mlp([n_features + extra, *hidden, 2 * self.latent_dim], self.activation,
                      "identity", dtype=self.dtype_, rng=rng)
        decoder = mlp([self.latent_dim + extra, *reversed(hidden), n_features], self.activation,
                      "identity", dtype=self.dtype_, rng=rng)
        return encoder, decoder

    def _build_conv(self, input_shape, hidden, rng):
        """Stride-2 convolutions, flatten, MLP; the decoder mirrors it exactly."""
        channels = check_sizes(self.channels, "channels", "VAE")
        act, dtype = self.activation, self.dtype_
        conv = dict(kernel_size=3, stride=2, padding=1, dtype=dtype, rng=rng)

        def down(c, c_out, hw):
            """A 3x3 stride-2 convolution (halving H and W, rounding up) and the activation."""
            layers = [Conv2D(c, c_out, init=init_for(act), **conv), get_activation(act, dtype)]
            return layers, tuple((s - 1) // 2 + 1 for s in hw)  # (s + 2 - 3) // 2 + 1

        def dense(n_flat):
            encoder = mlp([n_flat, *hidden, 2 * self.latent_dim], act, "identity", dtype, rng)
            decoder = mlp([self.latent_dim, *reversed(hidden), n_flat], act, act, dtype, rng)
            return encoder.layers, decoder.layers

        def up(c, c_out, hw, size, last):
            """A 3x3 stride-2 transposed convolution back to ``size`` (and the activation)."""
            # (h - 1) 2 - 2 + 3 + output_padding gives back the encoder's size
            output_padding = tuple(1 - s % 2 for s in size)
            layers = [ConvTranspose2D(c, c_out, output_padding=output_padding,
                                      init=init_for(None if last else act), **conv)]
            return layers if last else [*layers, get_activation(act, dtype)]

        return mirrored_conv_networks(input_shape, channels, down, dense, up, dtype)

    def _set_networks(self, rng):
        super()._set_networks(rng)
        self.code_shape_ = (self.latent_dim,)  # the code is mu, not [mu, logvar]

    # -- the objective --------------------------------------------------------------
    def _nll(self, output, x):
        """Batch-mean of -log p(x | z) from the decoder output, and its gradient."""
        if self.likelihood == "bernoulli":
            return losses.bernoulli_nll(output, x)
        return losses.gaussian_nll(output, x, self.sigma)

    def _log_prob(self, output, x):
        """log p(x | z) per row, from the decoder output."""
        if self.likelihood == "bernoulli":
            return losses.bernoulli_log_likelihood(output, x)
        return losses.gaussian_log_likelihood(output, x, self.sigma)

    def _beta_at(self, epoch):
        """The KL weight of 1-based ``epoch``: ``beta * min(1, (epoch - 1) / kl_warmup)``."""
        if self.kl_warmup == 0:
            return float(self.beta)
        return float(self.beta) * min(1.0, (epoch - 1) / self.kl_warmup)

    def _kl_term(self, mu, logvar):
        """``(value, dmu, dlogvar)`` of the KL term: closed form, or with free bits."""
        if self.free_bits > 0:
            return _free_bits_kl(mu, logvar, self.free_bits)
        return losses.gaussian_kl(mu, logvar)

    def _train(self, *args, callbacks=(), **kwargs):
        """The base's training loop with a ``KLMonitor`` first among the callbacks."""
        return super()._train(*args, callbacks=[KLMonitor(self), *callbacks], **kwargs)

    def _step(self, xb, yb):
        """Forward, negative ELBO and backward on one batch; returns the loss.

        ``xb`` is the encoder's input and ``yb`` the data to reconstruct (the
        same rows; for ``ConditionalVAE``, ``xb`` also holds the labels). See
        the class Notes for the gradient through the sampling step.
        """
        beta = getattr(self, "_kl_weight", self.beta)  # set each epoch by KLMonitor
        mu, logvar = _split(self.encoder_.forward(xb))
        eps = self._rng.standard_normal(mu.shape, dtype=mu.dtype)
        z = _reparameterize(mu, logvar, eps)
        output = self.decoder_.forward(self._decoder_input(z, self._conditions(xb)))
        reconstruction, grad_output = self._nll(output, yb)
        kl, dmu_kl, dlogvar_kl = self._kl_term(mu, logvar)
        # dL/d(decoder input); its first latent_dim columns are dL/dz (the rest: the labels')
        grad_z = self.decoder_.backward(grad_output)[:, :self.latent_dim]
        dmu, dlogvar = _reparameterize_backward(grad_z, logvar, eps)
        dmu += beta * dmu_kl
        dlogvar += beta * dlogvar_kl
        self.encoder_.backward(np.concatenate([dmu, dlogvar], axis=1), input_grad=False)
        return reconstruction + beta * kl

    def _evaluate(self, X, Y):
        """The training objective (one-sample negative beta-ELBO) on (X, Y)."""
        beta = getattr(self, "_kl_weight", self.beta)
        mu, logvar = self._posterior(X)
        eps = self._rng.standard_normal(mu.shape, dtype=mu.dtype)
        output = self._decode(_reparameterize(mu, logvar, eps), self._conditions(X))
        return self._nll(output, Y)[0] + beta * self._kl_term(mu, logvar)[0]

    # -- what a conditional VAE changes (npae.ConditionalVAE) ------------------------------
    #: Columns the encoder reads besides x and the decoder besides z: none.
    _n_conditions = 0

    def _conditions(self, inputs):
        """What the decoder is given besides z, from the encoder's inputs: nothing."""
        return None

    def _decoder_input(self, z, conditions):
        """The decoder's input for latents ``z`` and ``conditions``: ``z`` itself."""
        return z

    def _data(self, inputs):
        """The data rows within the encoder's inputs (what is reconstructed): all of them."""
        return inputs

    # -- using a fitted model -----------------------------------------------------------
    def _generator(self, random_state):
        """``random_state``'s generator, or the model's own (continuing its stream)."""
        if random_state is not None:
            return as_generator(random_state)
        if getattr(self, "_rng", None) is None:  # e.g. after npae.load
            self._rng = as_generator(self.random_state)
        return self._rng

    def _posterior(self, inputs):
        """``(mu, logvar)`` of q(z | x) for validated encoder ``inputs``."""
        return _split(self.encoder_.forward_in_batches(inputs, self.batch_size))

    def _decode(self, z, conditions):
        """The decoder's output (logits or mean of p(x | z)) for latents ``z``."""
        return self.decoder_.forward_in_batches(self._decoder_input(z, conditions),
                                                self.batch_size)

    def _mean_output(self, output):
        """Mean of p(x | z) from the decoder output: sigmoid(logits) or the mean."""
        return expit(output) if self.likelihood == "bernoulli" else output

    def _check_latents(self, Z):
        check_is_fitted(self, "network_")
        return check_array(Z, type(self).__name__, ndim=2, dtype=self.dtype_,
                           n_features=self.code_shape_)

    def transform(self, X):
        """The posterior mean ``mu(x)`` of each row of ``X``, shape (N, latent_dim)."""
        return self._posterior(self._validate(X))[0].copy()

    def transform_distribution(self, X):
        """``(mu, logvar)`` of ``q(z | x)`` for each row, each (N, latent_dim)."""
        mu, logvar = self._posterior(self._validate(X))
        return mu.copy(), logvar.copy()

    def inverse_transform(self, Z):
        """Decode latents ``Z`` to the mean of ``p(x | z)`` (probabilities for Bernoulli)."""
        return self._mean_output(self._decode(self._check_latents(Z), None))

    def reconstruct(self, X):
        """Decode the posterior mean: the mean of ``p(x | z = mu(x))``."""
        return self._reconstruct(self._validate(X))

    def _reconstruct(self, inputs):
        mu, _ = self._posterior(inputs)
        return self._mean_output(self._decode(mu, self._conditions(inputs)))

    def score(self, X, y=None):
        """Negative mean squared reconstruction error of ``reconstruct`` (higher is better).

        This is npae's common score; see ``elbo`` and ``log_likelihood`` for
        the VAE's probabilistic measures.
        """
        return self._score(self._validate(X))

    def _score(self, inputs):
        return -float(np.mean((self._reconstruct(inputs) - self._data(inputs)) ** 2))

    def score_samples(self, X):
        """The ELBO of each row at the posterior mean, in nats; higher is more normal.

        score(x) = log p(x | z = mu(x)) - KL(q(z | x) || N(0, I)): the ELBO of
        ``elbo`` with its expectation over ``q(z | x)`` taken at the mean of
        ``q`` instead of sampled, so a row's score is deterministic and does
        not depend on the other rows (``elbo`` and ``log_likelihood`` are the
        sampled estimates). ``decision_function`` and ``predict`` use it;
        ``reconstruction_error_map`` is the squared error of ``reconstruct``.

        Returns
        -------
        ndarray of shape (n_samples,), float64
        """
        return self._score_samples(self._validate(X))

    def _score_samples(self, inputs):
        """``score_samples`` of validated encoder ``inputs``, ``batch_size`` rows at a time
        (the float64 arrays of a block stay in cache; of all rows, they would not)."""
        size = self.batch_size
        return np.concatenate([self._score_block(inputs[start:start + size])
                               for start in range(0, len(inputs), size)])

    def _score_block(self, inputs):
        mu, logvar = self._posterior(inputs)
        output = self._decode(mu, self._conditions(inputs)).astype(np.float64)
        kl = losses.gaussian_kl_per_example(mu.astype(np.float64), logvar.astype(np.float64))
        return self._log_prob(output, self._data(inputs).astype(np.float64)) - kl

    def kl_per_dimension(self, X):
        """Mean over the rows of ``X`` of each latent dimension's KL to the prior, in nats.

        KL_j = mean_n 0.5 (exp(logvar_nj) + mu_nj^2 - 1 - logvar_nj); they sum
        to the mean KL term of the ELBO. A dimension with KL_j near 0 has
        collapsed to the prior: the decoder ignores it.

        Returns
        -------
        ndarray of shape (latent_dim,), float64
        """
        return self._kl_per_dimension(self._validate(X))

    def _kl_per_dimension(self, inputs):
        mu, logvar = (a.astype(np.float64) for a in self._posterior(inputs))
        return _kl_per_dimension(mu, logvar)

    def active_units(self, X, threshold=0.01):
        """How many latent dimensions are active on ``X`` (Burda et al., 2016).

        Dimension u is active when the posterior mean moves with the data:
        ``Var_x(mu_u(x)) > threshold`` (their covariance criterion, 0.01).
        Collapsed dimensions have ``mu_u(x)`` near 0 for every x.

        Returns
        -------
        int
        """
        return self._active_units(self._validate(X), threshold)

    def _active_units(self, inputs, threshold):
        threshold = check_number(threshold, "threshold", f"{type(self).__name__}.active_units",
                                 low=0)
        return _count_active(self._posterior(inputs)[0], threshold)

    def kl_history(self):
        """Each epoch's per-dimension KL from ``history_``: shape (n_epochs, latent_dim)."""
        check_is_fitted(self, "history_")
        return np.array([self.history_[f"kl_{j}"] for j in range(self.latent_dim)]).T

    def sample(self, n, random_state=None):
        """Draw ``n`` new examples: decode ``z ~ N(0, I)`` to the mean of ``p(x | z)``.

        Parameters
        ----------
        n : int
        random_state : int, Generator or None
            Seeds the draw; None continues the model's own generator.

        Returns
        -------
        ndarray of shape ``(n, *input_shape_)``, the model's dtype
        """
        check_is_fitted(self, "network_")
        n = check_int(n, "n", f"{type(self).__name__}.sample")
        return self._sample(n, None, self._generator(random_state))

    def _sample(self, n, conditions, rng):
        z = rng.standard_normal((n, self.latent_dim), dtype=self.dtype_)
        return self._mean_output(self._decode(z, conditions))

    def elbo(self, X, n_samples=1, random_state=None):
        """The evidence lower bound of each row, in nats (higher is better).

        ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || N(0, I)), with the KL in
        closed form and the expectation averaged over ``n_samples`` draws of
        ``z = mu + sigma eps`` (``beta`` is not applied: this is the bound).

        Returns
        -------
        ndarray of shape (N,), float64
        """
        return self._elbo(self._validate(X), n_samples, random_state)

    def _elbo(self, inputs, n_samples, random_state):
        n_samples = check_int(n_samples, "n_samples", f"{type(self).__name__}.elbo")
        rng = self._generator(random_state)
        mu, logvar = self._posterior(inputs)
        conditions, X64 = self._conditions(inputs), np.asarray(self._data(inputs), np.float64)
        expected = np.zeros(inputs.shape[0])
        for _ in range(n_samples):
            z = _reparameterize(mu, logvar, rng.standard_normal(mu.shape, dtype=mu.dtype))
            expected += self._log_prob(self._decode(z, conditions).astype(np.float64), X64)
        kl = losses.gaussian_kl_per_example(mu.astype(np.float64), logvar.astype(np.float64))
        return expected / n_samples - kl

    def log_likelihood(self, X, n_samples=100, random_state=None):
        """Importance-weighted estimate of ``log p(x)`` per row, in nats (Burda et al., 2016).

        With K = ``n_samples`` draws ``z_k ~ q(z | x)``,

            log p(x) ~= logsumexp_k [log p(x | z_k) + log p(z_k) - log q(z_k | x)] - log K,

        a lower bound whose expectation never falls below the ELBO and rises
        to ``log p(x)`` as K grows (K = 1 is a one-sample ELBO estimate).

        Returns
        -------
        ndarray of shape (N,), float64
        """
        return self._log_likelihood(self._validate(X), n_samples, random_state)

    def _log_likelihood(self, inputs, n_samples, random_state):
        n_samples = check_int(n_samples, "n_samples", f"{type(self).__name__}.log_likelihood")
        rng = self._generator(random_state)
        mu, logvar = self._posterior(inputs)
        conditions, X64 = self._conditions(inputs), np.asarray(self._data(inputs), np.float64)
        logvar64 = logvar.astype(np.float64)
        log_w = np.empty((inputs.shape[0], n_samples))
        for k in range(n_samples):
            eps = rng.standard_normal(mu.shape, dtype=mu.dtype)
            z = _reparameterize(mu, logvar, eps)
            output = self._decode(z, conditions).astype(np.float64)
            z64, eps64 = z.astype(np.float64), eps.astype(np.float64)
            # log q(z | x) = log N(z; mu, sigma^2) = log N(eps; 0, I) - sum_j logvar_j / 2
            log_q = _standard_normal_log_density(eps64) - 0.5 * np.sum(logvar64, axis=1)
            log_w[:, k] = (self._log_prob(output, X64) + _standard_normal_log_density(z64)
                           - log_q)
        return logsumexp(log_w, axis=1) - np.log(n_samples)


class KLMonitor(Callback):
    """The VAE's training hook: the KL weight of each epoch, and the collapse diagnostics.

    Before each epoch it sets the model's KL weight to ``_beta_at(epoch)``
    (the ``kl_warmup`` schedule; from the trainer's epoch, so a resumed run
    continues the schedule). After each epoch's updates, before the epoch is
    recorded (so a rollback never splits an epoch's records), it appends to
    the history the weight used (``"beta"``), each latent dimension's KL on
    the training rows (``"kl_0"``, ...) and the number of active units
    (``"active_units"``): one pass of the encoder over the training rows,
    ``ROWS_PER_PASS`` at a time.

    Parameters
    ----------
    model : VAE
    """

    ROWS_PER_PASS = 1024

    def __init__(self, model):
        self.model = model

    def on_train_begin(self, trainer, X, Y):
        self.rows = X
        self.model._kl_weight = self.model._beta_at(trainer.epoch + 1)

    def on_updates_end(self, trainer, logs):
        mu, logvar = (np.concatenate(parts) for parts in zip(*(
            self.model._posterior(self.rows[start:start + self.ROWS_PER_PASS])
            for start in range(0, len(self.rows), self.ROWS_PER_PASS))))
        kl = _kl_per_dimension(mu.astype(np.float64), logvar.astype(np.float64))
        trainer.history.append(beta=self.model._kl_weight, active_units=_count_active(mu),
                               **{f"kl_{j}": value for j, value in enumerate(kl)})

    def on_epoch_end(self, trainer, logs):
        self.model._kl_weight = self.model._beta_at(trainer.epoch + 1)

    def on_train_end(self, trainer):
        self.rows = None

    def on_train_error(self, trainer, error):
        self.rows = None
