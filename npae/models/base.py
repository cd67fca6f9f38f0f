"""What every npae autoencoder shares: fit, transform, decode, score, save.

An autoencoder is an encoder network ``f`` and a decoder network ``g``
trained so that ``g(f(x))`` reconstructs ``x``. Subclasses say how to build
the two networks (``_build``) and may change one training step
(``_step``): add a penalty on the code (``_code_penalty``), corrupt the
input (``_corrupt``), or rewrite the step entirely (the VAE).

scikit-learn conventions hold: ``__init__`` only stores hyperparameters,
``fit`` returns ``self``, fitted attributes end in ``_``, one
``random_state`` seeds initialization, shuffling, noise and sampling.
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from npae import losses
from npae._validation import (
    check_array,
    check_choice,
    check_float_dtype,
    check_int,
    check_number,
)
from npae.network import Sequential
from npae.optim import OPTIMIZERS, make_optimizer
from npae.train import Trainer
from npae.utils import as_generator


class BaseAutoencoder(TransformerMixin, BaseEstimator):
    """Shared machinery; see the module docstring. Not used directly.

    Subclasses define ``__init__`` with their hyperparameters (including
    ``learning_rate``, ``optimizer``, ``epochs``, ``batch_size``,
    ``weight_decay``, ``validation_fraction``, ``early_stopping``,
    ``patience``, ``dtype``, ``verbose``, ``random_state``) and ``_build``.
    """

    #: ndim of one input batch: 2 for vectors, 4 for NCHW images.
    _input_ndim = 2

    # -- what subclasses provide ----------------------------------------------
    def _build(self, input_shape, rng):
        """Return ``(encoder, decoder)`` Sequentials for per-example ``input_shape``."""
        raise NotImplementedError

    def _check_hyperparameters(self):
        """Validate hyperparameters at fit time (sklearn: not in __init__)."""
        owner = type(self).__name__
        check_number(self.learning_rate, "learning_rate", owner, low=0, low_open=True)
        check_choice(self.optimizer, "optimizer", owner, tuple(OPTIMIZERS))
        check_int(self.epochs, "epochs", owner, minimum=0)
        check_int(self.batch_size, "batch_size", owner)
        check_number(self.weight_decay, "weight_decay", owner, low=0)
        check_number(self.validation_fraction, "validation_fraction", owner, low=0, high=0.9)
        check_int(self.patience, "patience", owner)
        check_int(self.verbose, "verbose", owner, minimum=0)
        if not isinstance(self.early_stopping, (bool, np.bool_)):
            raise TypeError(f"{owner}: early_stopping must be a bool, got {self.early_stopping!r}")
        if self.dtype is not None:
            check_float_dtype(self.dtype, owner)

    def _corrupt(self, xb):
        """The input the encoder sees for target ``xb`` (denoising overrides)."""
        return xb

    def _code_penalty(self, code):
        """``(value, d value / d code)`` added to the loss; ``(0.0, None)`` if none."""
        return 0.0, None

    def _reconstruction_loss(self, output, target):
        return losses.get_loss(self.loss)(output, target)

    def _step(self, xb, yb):
        """One training step on a batch: forward, loss, backward; returns the loss.

        Gradients are added into the networks' ``grads`` (already zeroed).
        """
        code = self.encoder_.forward(self._corrupt(xb))
        output = self.decoder_.forward(code)
        loss, grad_output = self._reconstruction_loss(output, yb)
        grad_code = self.decoder_.backward(grad_output)
        penalty, grad_penalty = self._code_penalty(code)
        if grad_penalty is not None:
            grad_code = grad_code + grad_penalty
        self.encoder_.backward(grad_code)
        return loss + penalty

    def _evaluate(self, X, Y):
        """The training objective on (X, Y) without updating anything."""
        code = self.encoder_.forward(X, training=False)
        loss, _ = self._reconstruction_loss(self.decoder_.forward(code, training=False), Y)
        return loss + self._code_penalty(code)[0]

    # -- fitting ----------------------------------------------------------------
    def _validate(self, X, reset=False):
        owner = type(self).__name__
        if reset:
            return check_array(X, owner, ndim=self._input_ndim, dtype=self.dtype)
        check_is_fitted(self, "network_")
        return check_array(X, owner, ndim=self._input_ndim, dtype=self.dtype_,
                           n_features=self.input_shape_)

    def _initialize(self, X):
        """Validate ``X`` and hyperparameters, build fresh networks; returns X."""
        self._check_hyperparameters()
        X = self._validate(X, reset=True)
        self._rng = as_generator(self.random_state)
        self.dtype_ = X.dtype
        self.input_shape_ = tuple(X.shape[1:])
        self.n_features_in_ = int(np.prod(self.input_shape_))
        self._set_networks(self._rng)
        self.history_ = {"loss": []}
        return X

    def _set_networks(self, rng):
        """Build ``encoder_``, ``decoder_``, ``network_`` and ``code_shape_``."""
        self.encoder_, self.decoder_ = self._build(self.input_shape_, rng)
        self.network_ = Sequential(self.encoder_.layers + self.decoder_.layers)
        shape = self.input_shape_
        for layer in self.encoder_.layers:
            shape = layer.output_shape(shape)
        self.code_shape_ = tuple(shape)

    def _restore_networks(self, attributes):
        """Rebuild the networks of a saved model (``npae.io.load`` fills the values)."""
        self.dtype_ = np.dtype(attributes["dtype_"])
        self.input_shape_ = tuple(attributes["input_shape_"])
        self._rng = as_generator(0)
        self._set_networks(self._rng)

    def _make_optimizer(self, network):
        return make_optimizer(self.optimizer, network.params(), network.grads(),
                              lr=self.learning_rate, weight_decay=self.weight_decay)

    def _train(self, network, step, evaluate, X, Y=None, epochs=None, callbacks=(),
               description=None):
        """Run the training loop; records into ``history_``; returns the history."""
        Y = X if Y is None else Y
        validation = None
        if self.validation_fraction > 0 and X.shape[0] >= 2:
            n_val = min(X.shape[0] - 1, max(1, round(self.validation_fraction * X.shape[0])))
            order = self._rng.permutation(X.shape[0])
            val, tr = order[:n_val], order[n_val:]
            X, Y, validation = X[tr], Y[tr], (X[val], Y[val])
        trainer = Trainer(
            network, self._make_optimizer(network), step, evaluate,
            epochs=self.epochs if epochs is None else epochs,
            batch_size=self.batch_size, rng=self._rng,
            early_stopping=self.early_stopping, patience=self.patience,
            callbacks=callbacks, verbose=self.verbose,
            description=description or type(self).__name__,
        )
        trainer.history = self.history_ = type(trainer.history)(self.history_)
        return trainer.fit(X, Y, validation_data=validation)

    def fit(self, X, y=None, callbacks=None):
        """Train the autoencoder to reconstruct ``X``; returns ``self``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) (or (N, C, H, W) for images)
        y : ignored
        callbacks : list of npae.train.Callback, optional
        """
        X = self._initialize(X)
        self._train(self.network_, self._step, self._evaluate, X, callbacks=callbacks or ())
        return self

    # -- using a fitted model ---------------------------------------------------
    def transform(self, X):
        """The code ``f(x)`` of each row of ``X``."""
        X = self._validate(X)
        return self.encoder_.forward(X, training=False)

    def inverse_transform(self, Z):
        """Decode codes ``Z`` back to input space: ``g(z)``."""
        check_is_fitted(self, "network_")
        Z = check_array(Z, type(self).__name__, ndim=1 + len(self.code_shape_),
                        dtype=self.dtype_, n_features=self.code_shape_)
        return self.decoder_.forward(Z, training=False)

    def reconstruct(self, X):
        """``g(f(x))`` for each row of ``X``."""
        Z = self.transform(X)
        return self.decoder_.forward(Z, training=False)

    def score(self, X, y=None):
        """Negative mean squared reconstruction error (higher is better)."""
        X = self._validate(X)
        R = self.decoder_.forward(self.encoder_.forward(X, training=False), training=False)
        return -float(np.mean((R - X) ** 2))

    def save(self, path):
        """Write the fitted model to ``path`` (.npz, no pickle); see ``npae.load``."""
        from npae.io import save

        save(self, path)
        return path

    @classmethod
    def load(cls, path):
        """Load a model saved by ``save``, refusing a file of another class."""
        from npae.io import load

        return load(path, expected_class=cls)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags
