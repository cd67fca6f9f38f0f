"""The conditional VAE (Sohn et al., 2015): a VAE that is told each example's class.

Both networks read the class label, one-hot encoded and concatenated to
their input: the encoder models ``q(z | x, y)``, the decoder ``p(x | z, y)``,
and the prior stays ``N(0, I)``. Decoding ``z ~ N(0, I)`` with a chosen label
draws an example of that class. Everything else (the objective, warm-up,
free bits, the bounds, the diagnostics) is ``npae.VAE``'s: the subclass only
says how the labels join the networks' inputs (``_n_conditions``,
``_conditions``, ``_decoder_input``, ``_data``) and gives each public
method its ``y``.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from npae._validation import check_int
from npae.models.base import TrainedEstimator
from npae.models.vae import VAE


class ConditionalVAE(VAE):
    """Conditional VAE: ``q(z | x, y)`` and ``p(x | z, y)`` with one-hot labels ``y``.

    The encoder is an MLP ``n_features + n_classes -> hidden_sizes ->
    2 * latent_dim`` reading ``[x, onehot(y)]`` and giving ``mu`` and
    ``logvar`` as in ``npae.VAE``; the decoder ``latent_dim + n_classes ->
    reversed(hidden_sizes) -> n_features`` reads ``[z, onehot(y)]``. Training
    minimizes the VAE's negative (beta-)ELBO of ``x`` given its label,

        L = (1/N) sum_n [ -log p(x_n | z_n, y_n) + beta KL(q(z | x_n, y_n) || N(0, I)) ],

    with ``kl_warmup`` and ``free_bits`` as in ``npae.VAE``. Dense networks
    only (vectors ``(N, n_features)``).

    Labels ``y`` may be of any type ``numpy.unique`` can sort (ints,
    strings, ...); ``classes_`` lists them in sorted order, as in
    scikit-learn, and row ``k`` of the one-hot code marks ``classes_[k]``.
    Every method that reads ``X`` also takes its labels ``y``; a label not
    seen in ``fit`` is an error. ``save`` writes numeric and boolean
    ``classes_`` (model files hold only numeric arrays): map string labels
    to integers before ``fit`` to save the model.

    Parameters
    ----------
    hidden_sizes, latent_dim, beta, kl_warmup, free_bits, likelihood, sigma, activation
        As in ``npae.VAE``.
    contamination, optimizer, learning_rate, momentum, nesterov, epochs
        As in ``npae.VAE``.
    batch_size, weight_decay, validation_fraction, early_stopping, patience
        As in ``npae.VAE``.
    tol, n_iter_no_change, dtype, verbose, random_state
        As in ``npae.VAE``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit``, sorted.
    encoder_, decoder_, network_, history_, n_features_in_, code_shape_, offset_
        As in ``npae.VAE``; ``network_``'s first layer reads ``n_features + n_classes``
        columns and the decoder's ``latent_dim + n_classes``.

    Notes
    -----
    The gradient is the VAE's (see ``npae.VAE``): the decoder's backward
    pass returns dL/d[z, onehot(y)], of which the first ``latent_dim``
    columns are dL/dz; the labels are data and take no gradient.

    ``score_samples(X, y)`` is the ELBO of ``x`` given ``y`` at the
    posterior mean (nats), and ``offset_`` comes from the training rows'
    scores, as for ``npae.VAE``.

    Examples
    --------
    >>> from npae.datasets import load_digits
    >>> X, y, _ = load_digits()
    >>> cvae = ConditionalVAE(hidden_sizes=(64,), latent_dim=2, epochs=2, random_state=0)
    >>> cvae.fit(X, y).sample(3, y=7, random_state=0).shape
    (3, 64)
    >>> cvae.classes_
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """

    #: The VAE's image settings do not apply: labels join dense inputs.
    architecture = "mlp"
    channels = (16, 32)

    def __init__(self, hidden_sizes=(128,), latent_dim=2, beta=1.0, kl_warmup=0, free_bits=0.0,
                 likelihood="bernoulli", sigma=0.1, activation="relu", contamination="auto",
                 optimizer="adam", learning_rate=1e-3, momentum=0.0, nesterov=False, epochs=100,
                 batch_size=64, weight_decay=0.0, validation_fraction=0.0, early_stopping=False,
                 patience=10, tol=1e-4, n_iter_no_change=None, dtype=None, verbose=0,
                 random_state=None):
        TrainedEstimator.__init__(
            self, optimizer=optimizer, learning_rate=learning_rate, momentum=momentum,
            nesterov=nesterov, batch_size=batch_size, weight_decay=weight_decay,
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
        self.epochs = epochs

    # -- labels --------------------------------------------------------------------------
    @property
    def _n_conditions(self):
        return len(self.classes_)

    def _set_networks(self, rng):
        self.classes_ = self._classes  # set by fit, or by _restore_networks
        super()._set_networks(rng)

    def _restore_networks(self, attributes):
        self._classes = np.asarray(attributes["classes_"])
        super()._restore_networks(attributes)

    def _one_hot(self, y, n_rows, where):
        """``onehot(y)`` of shape (n_rows, n_classes), the model's dtype; clear errors."""
        owner = f"{type(self).__name__}.{where}"
        y = _check_labels(y, owner)
        if len(y) != n_rows:
            raise ValueError(f"{owner}: expected {n_rows} labels (one per row), got {len(y)}")
        index = np.searchsorted(self.classes_, y) if _comparable(self.classes_, y) else None
        if index is not None:
            index = np.minimum(index, len(self.classes_) - 1)
        unseen = y if index is None else y[self.classes_[index] != y]
        if len(unseen):
            raise ValueError(f"{owner}: labels must be among the classes seen in fit "
                             f"{self.classes_.tolist()}, got {np.unique(unseen).tolist()[:5]}")
        return np.eye(len(self.classes_), dtype=self.dtype_)[index]

    def _inputs(self, X, y, where):
        """The encoder's input ``[X, onehot(y)]`` for validated ``X``."""
        X = self._validate(X)
        return np.concatenate([X, self._one_hot(y, len(X), where)], axis=1)

    def _conditions(self, inputs):
        return inputs[:, self.n_features_in_:]

    def _decoder_input(self, z, conditions):
        return np.concatenate([z, conditions], axis=1)

    def _data(self, inputs):
        return inputs[:, :self.n_features_in_]

    def _training_scores(self, inputs):
        return self._score_samples(inputs)

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X, y, callbacks=None, checkpoint=None, checkpoint_every=1, resume=False):
        """Train on rows ``X`` with their class labels ``y``; returns ``self``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels, any type ``numpy.unique`` sorts.
        callbacks, checkpoint, checkpoint_every, resume
            As in ``npae.VAE.fit``.
        """
        owner = type(self).__name__
        n_rows = len(self._validate(X, reset=True))
        labels = _check_labels(y, f"{owner}.fit")
        if len(labels) != n_rows:
            raise ValueError(f"{owner}.fit: expected {n_rows} labels (one per row of X), "
                             f"got {len(labels)}")
        self._classes = np.unique(labels)
        X = self._initialize(X, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                             resume=resume)
        inputs = np.concatenate([X, self._one_hot(labels, n_rows, "fit")], axis=1)
        with self._setting_offset(inputs):
            self._train(self.network_, self._step, self._evaluate, inputs, X,
                        callbacks=callbacks or ())
        self._checkpointing = None  # done: let go of its records and weights
        return self

    def partial_fit(self, X, y, classes=None):
        """One pass of training over rows ``X`` with labels ``y`` (see ``npae.VAE.partial_fit``).

        As in scikit-learn's incremental classifiers, the first call fixes
        ``classes_``: ``classes`` if given (every label that will ever come),
        else the labels of that first block; later blocks may only use them.
        In-memory rows only: the labels are joined to them.
        """
        if not hasattr(self, "network_"):
            self._classes = np.unique(_check_labels(y if classes is None else classes,
                                                    f"{type(self).__name__}.partial_fit"))
        return super().partial_fit(X, y)

    def _partial_fit_data(self, X, y):
        X, _ = super()._partial_fit_data(X, None)
        return np.concatenate([X, self._one_hot(y, len(X), "partial_fit")], axis=1), X

    def fit_transform(self, X, y, **fit_params):
        """``fit(X, y, **fit_params).transform(X, y)``."""
        return self.fit(X, y, **fit_params).transform(X, y)

    def fit_predict(self, X, y, **fit_params):
        """``fit(X, y, **fit_params).predict(X, y)``."""
        return self.fit(X, y, **fit_params).predict(X, y)

    # -- the VAE's methods, given the labels ---------------------------------------------------
    def transform(self, X, y):
        """The posterior mean ``mu(x, y)`` of each row, shape (N, latent_dim)."""
        return self._posterior(self._inputs(X, y, "transform"))[0].copy()

    def transform_distribution(self, X, y):
        """``(mu, logvar)`` of ``q(z | x, y)`` for each row, each (N, latent_dim)."""
        mu, logvar = self._posterior(self._inputs(X, y, "transform_distribution"))
        return mu.copy(), logvar.copy()

    def inverse_transform(self, Z, y):
        """Decode latents ``Z`` with labels ``y`` to the mean of ``p(x | z, y)``."""
        Z = self._check_latents(Z)
        return self._mean_output(self._decode(Z, self._one_hot(y, len(Z), "inverse_transform")))

    def reconstruct(self, X, y):
        """The mean of ``p(x | z = mu(x, y), y)`` for each row."""
        return self._reconstruct(self._inputs(X, y, "reconstruct"))

    def reconstruction_error_map(self, X, y):
        """Squared error ``(x_hat - x)^2`` of every entry of ``reconstruct(X, y)``."""
        inputs = self._inputs(X, y, "reconstruction_error_map")
        return (self._reconstruct(inputs) - self._data(inputs)) ** 2

    def score(self, X, y):
        """Negative mean squared error of ``reconstruct(X, y)`` (higher is better)."""
        return self._score(self._inputs(X, y, "score"))

    def score_samples(self, X, y):
        """The ELBO of each row given its label at the posterior mean, in nats (``VAE``'s)."""
        return self._score_samples(self._inputs(X, y, "score_samples"))

    def decision_function(self, X, y):
        """``score_samples(X, y) - offset_``: negative for outliers."""
        check_is_fitted(self, "offset_")
        return self.score_samples(X, y) - self.offset_

    def predict(self, X, y):
        """+1 for an inlier, -1 for an outlier (``decision_function(X, y) < 0``)."""
        return np.where(self.decision_function(X, y) < 0, -1, 1)

    def kl_per_dimension(self, X, y):
        """Each latent dimension's KL to the prior, mean over the rows, in nats (``VAE``'s)."""
        return self._kl_per_dimension(self._inputs(X, y, "kl_per_dimension"))

    def active_units(self, X, y, threshold=0.01):
        """Latent dimensions whose posterior mean varies over the rows (``VAE``'s criterion)."""
        return self._active_units(self._inputs(X, y, "active_units"), threshold)

    def elbo(self, X, y, n_samples=1, random_state=None):
        """The ELBO of each row given its label, in nats (see ``VAE.elbo``)."""
        return self._elbo(self._inputs(X, y, "elbo"), n_samples, random_state)

    def log_likelihood(self, X, y, n_samples=100, random_state=None):
        """Importance-weighted ``log p(x | y)`` per row, in nats (see ``VAE.log_likelihood``)."""
        return self._log_likelihood(self._inputs(X, y, "log_likelihood"), n_samples,
                                    random_state)

    def sample(self, n, y, random_state=None):
        """Draw ``n`` examples of class ``y``: decode ``z ~ N(0, I)`` with the label.

        Parameters
        ----------
        n : int
        y : label, or array-like of ``n`` labels
            One class for all ``n`` draws, or one per draw.
        random_state : int, Generator or None
            Seeds the draw; None continues the model's own generator.

        Returns
        -------
        ndarray of shape ``(n, n_features)``, the model's dtype
        """
        check_is_fitted(self, "network_")
        n = check_int(n, "n", f"{type(self).__name__}.sample")
        labels = np.full(n, y, dtype=np.asarray(y).dtype) if np.ndim(y) == 0 else y
        return self._sample(n, self._one_hot(labels, n, "sample"), self._generator(random_state))


def _check_labels(y, owner):
    """``y`` as a 1-D array of labels, with a clear error otherwise."""
    if y is None:
        raise TypeError(f"{owner} needs the class labels y, got None")
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"{owner} expected labels y of shape (n_samples,), got shape "
                         f"{labels.shape}")
    if labels.dtype == object:
        try:
            labels = np.asarray(labels.tolist())
            np.unique(labels)
        except TypeError:
            raise TypeError(f"{owner}: labels must be of one sortable type (ints, strings, "
                            f"...), got {sorted({type(v).__name__ for v in y})}") from None
    return labels


def _comparable(classes, y):
    """Whether labels ``y`` can be looked up among ``classes`` (numbers with numbers, ...)."""
    return (np.issubdtype(classes.dtype, np.number) == np.issubdtype(y.dtype, np.number)
            and (classes.dtype.kind in "US") == (y.dtype.kind in "US"))
