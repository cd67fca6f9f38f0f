"""The sparse autoencoder: a penalty keeps most code units near zero."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from npae import regularizers
from npae._validation import check_choice, check_number
from npae.models.autoencoder import Autoencoder
from npae.network import dense_blocks

PENALTIES = ("kl", "l1")


class FiltersMixin:
    """``filters()``: the first encoder layer's weights, one unit-norm row per unit."""

    def filters(self):
        """Weights of the first encoder layer as images: shape (n_units, n_features).

        Row j is ``W[:, j] / ||W[:, j]||``, the input of unit norm that
        excites hidden unit j most (the classic way to show what a sparse
        autoencoder learned). Reshape the rows to the image shape to view
        them, e.g. ``filters().reshape(-1, 8, 8)`` for digits, or draw them
        with ``npae.plot.plot_filters(model.filters(), image_shape)``.
        """
        check_is_fitted(self, "network_")
        first_dense, _ = dense_blocks(self.encoder_)[0]
        W = first_dense.params["W"]
        norms = np.linalg.norm(W, axis=0)
        return (W / np.maximum(norms, np.finfo(W.dtype).tiny)).T


class SparseAutoencoder(FiltersMixin, Autoencoder):
    """Autoencoder with a sparsity penalty on the code, so it may be overcomplete.

    The code may be wider than the input: instead of a bottleneck, a
    penalty on the code activations ``h`` (N x k, over a minibatch of N)
    makes each unit fire rarely. It minimizes ``loss(g(f(x)), x) + R(h)`` with

    - ``penalty="kl"`` (Ng's sparse autoencoder): the batch-mean activation
      ``rho_hat_j = mean_n h_nj`` of each unit is pulled to a small target
      ``rho``, ``R = beta * sum_j KL(rho || rho_hat_j)``, where
      ``KL(rho || r) = rho log(rho / r) + (1 - rho) log((1 - rho) / (1 - r))``.
      The code must lie in (0, 1): ``code_activation="sigmoid"``.
    - ``penalty="l1"``: ``R = lam * mean_n sum_j |h_nj|``.

    Parameters
    ----------
    hidden_sizes : sequence of int, default ()
        Widths of the encoder's hidden layers (the decoder mirrors them);
        empty for the classic one-hidden-layer sparse autoencoder.
    code_size : int, default 64
        Number of code units; may exceed the number of features.
    penalty : {"kl", "l1"}, default "kl"
    rho : float in (0, 1), default 0.05
        Target mean activation of each code unit (``penalty="kl"``).
    beta : float >= 0, default 0.1
        Weight of the KL penalty. The reconstruction loss here is a mean
        over features where Ng's notes use half the sum of squares per
        example, so a weight ``w`` from his notes (beta = 3, weight decay
        1e-4 for 8 x 8 patches) becomes ``w * 2 / n_features`` here
        (3 * 2 / 64 = 0.094).
    lam : float >= 0, default 1e-3
        Weight of the L1 penalty (``penalty="l1"``).
    activation : str, default "sigmoid"
        Activation of hidden layers.
    code_activation : str, default "sigmoid"
        Activation of the code layer ("sigmoid" is required for "kl").
    output_activation : str, default "sigmoid"
        Activation of the reconstruction; "sigmoid" suits data in [0, 1].
    loss : {"mse", "bce"}, default "mse"
    tied_weights : bool, default False
        The decoder uses the encoder's weights, transposed (see ``npae.Autoencoder``).
    contamination : "auto" or float in (0, 0.5], default "auto"
        Sets ``offset_``, the threshold of ``predict``, from the training
        rows' scores: the fraction of them to flag as outliers ("auto":
        0.05, see ``npae.anomaly``).
    optimizer : {"adam", "sgd"}, default "adam"
    learning_rate : float, default 1e-2
    momentum : float, default 0.0
        ``optimizer="sgd"`` only: the velocity kept between steps
        (``npae.optim.SGD``); 0 is plain gradient descent.
    nesterov : bool, default False
        ``optimizer="sgd"`` only: Nesterov's momentum (needs ``momentum > 0``).
    epochs : int, default 500
    batch_size : int, default 32
        A one-layer sigmoid autoencoder needs many small steps: on the
        digits, 100 epochs of batch 64 stopped at three times the held-out
        error of 500; 500 epochs of batch 32 come within about 20% of
        2,000 (``benchmarks/bench_defaults.py``).
    weight_decay : float, default 0.0
        L2 penalty on all parameters, applied by the optimizer (Ng's notes
        use one; see ``beta`` to convert its weight).
    validation_fraction, early_stopping, patience, tol, n_iter_no_change
        As in ``npae.Autoencoder``.
    dtype, verbose, random_state
        As in ``npae.Autoencoder``.

    Attributes
    ----------
    mean_activation_ : ndarray of shape (code_size,)
        Mean activation of each code unit over the training data.
    encoder_, decoder_, network_, history_, n_features_in_, code_shape_
        As in ``npae.Autoencoder``.

    Notes
    -----
    The penalty's gradient joins the decoder's gradient at the code:
    ``dR/dh_nj = beta (-rho / rho_hat_j + (1 - rho) / (1 - rho_hat_j)) / N``
    for "kl" (every example of the batch shares it), ``lam sign(h_nj) / N``
    for "l1". See ``npae.regularizers.sparsity_kl`` and ``npae.regularizers.l1_activity``.

    Examples
    --------
    >>> from npae.datasets import load_digits
    >>> X, y, image_shape = load_digits()
    >>> sae = SparseAutoencoder(code_size=100, rho=0.05, epochs=2, random_state=0).fit(X)
    >>> sae.mean_activation_.shape
    (100,)
    >>> sae.filters().reshape(-1, *image_shape).shape
    (100, 1, 8, 8)
    """

    def __init__(self, hidden_sizes=(), code_size=64, penalty="kl", rho=0.05, beta=0.1, lam=1e-3,
                 activation="sigmoid", code_activation="sigmoid", output_activation="sigmoid",
                 loss="mse", tied_weights=False,
                 contamination="auto", optimizer="adam", learning_rate=1e-2,
                 momentum=0.0, nesterov=False, epochs=500, batch_size=32, weight_decay=0.0,
                 validation_fraction=0.0, early_stopping=False, patience=10, tol=1e-4,
                 n_iter_no_change=None, dtype=None, verbose=0, random_state=None):
        super().__init__(
            hidden_sizes=hidden_sizes, code_size=code_size, activation=activation,
            code_activation=code_activation, output_activation=output_activation, loss=loss,
            tied_weights=tied_weights,
            contamination=contamination, optimizer=optimizer, learning_rate=learning_rate,
            momentum=momentum, nesterov=nesterov, epochs=epochs, batch_size=batch_size,
            weight_decay=weight_decay, validation_fraction=validation_fraction,
            early_stopping=early_stopping, patience=patience, tol=tol,
            n_iter_no_change=n_iter_no_change, dtype=dtype, verbose=verbose,
            random_state=random_state)
        self.penalty = penalty
        self.rho = rho
        self.beta = beta
        self.lam = lam

    def _check_hyperparameters(self):
        super()._check_hyperparameters()
        owner = type(self).__name__
        check_choice(self.penalty, "penalty", owner, PENALTIES)
        check_number(self.rho, "rho", owner, low=0, high=1, low_open=True, high_open=True)
        check_number(self.beta, "beta", owner, low=0)
        check_number(self.lam, "lam", owner, low=0)
        if self.penalty == "kl" and self.code_activation != "sigmoid":
            raise ValueError(
                f"{owner}: penalty='kl' needs code activations in (0, 1), i.e. "
                f"code_activation='sigmoid', got {self.code_activation!r}"
            )

    def _code_penalty(self, code):
        if self.penalty == "kl":
            return regularizers.sparsity_kl(code, self.rho, self.beta)
        return regularizers.l1_activity(code, self.lam)

    def fit(self, X, y=None, callbacks=None, checkpoint=None, checkpoint_every=1, resume=False):
        """Train on ``X``, then record each code unit's mean activation; returns ``self``.

        The arguments are those of ``BaseAutoencoder.fit`` (checkpoints included).
        """
        try:
            super().fit(X, callbacks=callbacks, checkpoint=checkpoint,
                        checkpoint_every=checkpoint_every, resume=resume)
        except (FloatingPointError, KeyboardInterrupt):
            # Training stopped with the last good weights: the model stays usable, whole.
            self.mean_activation_ = self._mean_code(X)
            raise
        self.mean_activation_ = self._mean_code(X)
        return self
