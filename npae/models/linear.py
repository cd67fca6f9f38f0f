"""The linear autoencoder, and why it learns PCA's subspace."""

import numpy as np
from scipy.linalg import orth
from sklearn.utils.validation import check_is_fitted

from npae._validation import check_choice, check_int
from npae.decomposition import PCA
from npae.layers.dense import Dense
from npae.models.base import BaseAutoencoder
from npae.network import Sequential


class LinearAutoencoder(BaseAutoencoder):
    """Autoencoder with one linear encoder and one linear decoder layer.

    ``z = x W_e + b_e`` and ``x_hat = z W_d + b_d`` with ``k`` code units.
    Minimizing the squared reconstruction error over all such maps is PCA's
    problem (Baldi and Hornik, 1989): the best reconstruction ``W_e W_d`` is
    the orthogonal projection onto the top-``k`` principal subspace, the
    optimal error is the sum of the discarded eigenvalues of the covariance,
    and every local minimum is global. The factors themselves are not
    unique: ``W_e A`` and ``A^-1 W_d`` for any invertible ``A`` reconstruct
    the same, so only the decoder's *row space* (the subspace) is determined.

    Parameters
    ----------
    n_components : int, default 2
        Code size ``k``.
    solver : {"closed_form", "gd"}, default "closed_form"
        "closed_form" sets the weights from PCA (``W_e = V_k``,
        ``W_d = V_k^T``, ``b_e = -mean V_k``, ``b_d = mean``); "gd" trains the
        two layers by minibatch gradient descent on the mean squared error.
    contamination : "auto" or float in (0, 0.5], default "auto"
        Sets ``offset_``, the threshold of ``predict`` (see ``npae.anomaly``).
    optimizer, learning_rate, momentum, nesterov, epochs, batch_size, weight_decay
        Training settings for ``solver="gd"`` (see ``npae.Autoencoder``).
    validation_fraction, early_stopping, patience, tol, n_iter_no_change
        Likewise, for ``solver="gd"``.
    dtype, verbose, random_state
        As in ``npae.Autoencoder``.

    Attributes
    ----------
    encoder_, decoder_, network_, history_ : as for every npae autoencoder.
    components_ : ndarray of shape (n_components, n_features)
        For "closed_form", PCA's principal axes, in PCA's order and with its
        signs (``npae.PCA(n_components).fit(X).components_``); for "gd", an
        orthonormal basis of the learned subspace (the decoder's row space),
        which is determined only up to a rotation.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 5))
    >>> lae = LinearAutoencoder(n_components=2).fit(X)
    >>> np.allclose(lae.reconstruct(X), PCA(2).fit(X).inverse_transform(PCA(2).fit(X).transform(X)))
    True
    """

    #: The training loss of ``solver="gd"``: the squared error, PCA's problem.
    loss = "mse"

    def __init__(self, n_components=2, solver="closed_form", contamination="auto",
                 optimizer="adam", learning_rate=3e-3, momentum=0.0, nesterov=False, epochs=400,
                 batch_size=32, weight_decay=0.0, validation_fraction=0.0, early_stopping=False,
                 patience=10, tol=1e-4, n_iter_no_change=None, dtype=None, verbose=0,
                 random_state=None):
        super().__init__(
            optimizer=optimizer, learning_rate=learning_rate, momentum=momentum, nesterov=nesterov,
            batch_size=batch_size, weight_decay=weight_decay,
            validation_fraction=validation_fraction, early_stopping=early_stopping,
            patience=patience, tol=tol, n_iter_no_change=n_iter_no_change, dtype=dtype,
            verbose=verbose, random_state=random_state)
        self.contamination = contamination
        self.n_components = n_components
        self.solver = solver
        self.epochs = epochs

    def _check_hyperparameters(self):
        super()._check_hyperparameters()
        check_int(self.n_components, "n_components", type(self).__name__)
        check_choice(self.solver, "solver", type(self).__name__, ("closed_form", "gd"))

    def _build(self, input_shape, rng):
        (n_features,) = input_shape
        k = self.n_components
        encoder = Sequential([Dense(n_features, k, dtype=self.dtype_, rng=rng)])
        decoder = Sequential([Dense(k, n_features, dtype=self.dtype_, rng=rng)])
        return encoder, decoder

    def fit(self, X, y=None, callbacks=None, checkpoint=None, checkpoint_every=1, resume=False):
        """Set (closed form) or train (gd) the two layers; returns ``self``.

        ``callbacks`` and the checkpoint arguments (see ``BaseAutoencoder.fit``)
        apply to the gradient-descent solver.
        """
        X = self._initialize(X, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                             resume=resume)
        if self.n_components > X.shape[1]:
            raise ValueError(
                f"LinearAutoencoder: n_components must be <= n_features={X.shape[1]}, "
                f"got {self.n_components}"
            )
        encoder, decoder = self.encoder_.layers[0], self.decoder_.layers[0]
        if self.solver == "closed_form":
            k = min(self.n_components, X.shape[0])
            pca = PCA(n_components=k).fit(X)
            V = np.zeros((self.n_components, X.shape[1]))
            V[:k] = pca.components_
            # z = (x - mean) V^T,  x_hat = z V + mean
            encoder.params["W"][...] = V.T
            encoder.params["b"][...] = -pca.mean_ @ V.T
            decoder.params["W"][...] = V
            decoder.params["b"][...] = pca.mean_
            self.components_ = pca.components_.astype(self.dtype_)
            self._set_offset(X)
        else:
            with self._setting_offset(X):
                try:
                    self._train(self.network_, self._step, self._evaluate, X,
                                callbacks=callbacks or ())
                except (FloatingPointError, KeyboardInterrupt):
                    # Training stopped with the last good weights: the model stays usable, whole.
                    self.components_ = self._subspace()
                    raise
            self.components_ = self._subspace()
        self._checkpointing = None  # done: let go of its records and weights
        return self

    def partial_fit(self, X, y=None):
        """One pass of gradient descent over ``X``, whatever ``solver``; returns ``self``.

        See ``TrainedEstimator.partial_fit``; ``components_`` follows the
        decoder. For the exact subspace from blocks of rows, use
        ``npae.PCA.partial_fit``.
        """
        super().partial_fit(X)
        self.components_ = self._subspace()
        return self

    def _subspace(self):
        """Orthonormal rows spanning the decoder's row space."""
        basis = orth(self.decoder_.layers[0].params["W"].T.astype(np.float64))
        return basis.T.astype(self.dtype_)

    def reconstruction_error(self, X):
        """Mean over rows of the summed squared error ``||x - x_hat||^2``.

        At the optimum this equals the sum of the discarded covariance
        eigenvalues times ``(n - 1) / n`` (PCA's variances use ``n - 1``).
        """
        check_is_fitted(self, "network_")
        X = self._validate(X)
        return float(np.mean(np.sum((self.reconstruct(X) - X) ** 2, axis=1)))
