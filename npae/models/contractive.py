"""The contractive autoencoder: a code that changes little when the input does."""

import numpy as np

from npae._validation import check_number
from npae.models.autoencoder import Autoencoder
from npae.models.sparse import FiltersMixin
from npae.network import dense_blocks
from npae.regularizers import (
    add_contractive_penalty,
    block_arrays,
    encoder_jacobian,
    jacobian_sq_norms,
)


class ContractiveAutoencoder(FiltersMixin, Autoencoder):
    """Autoencoder with a penalty on the encoder's Jacobian (Rifai et al., 2011).

    It minimizes

        L = mean loss(g(f(x)), x) + lam * mean_n ||J_f(x_n)||_F^2,

    where ``J_f(x) = d f(x) / d x`` is the (code_size x n_features) Jacobian
    of the encoder. The penalty makes the code locally insensitive to the
    input, except along the directions the reconstruction needs: the data
    manifold.

    Both the value and the gradient of the penalty are exact. With no hidden
    layer (``hidden_sizes=()``, the classic CAE) the closed form
    ``||J||_F^2 = sum_j f'(a_j)^2 sum_i W_ij^2`` is used
    (``npae.regularizers.contractive_penalty``). With hidden layers the Jacobian
    ``J = diag(f_L') W_L^T ... diag(f_1') W_1^T`` is built by reverse-mode
    accumulation from the code side, one backward pass per code unit, all at
    once, and the penalty is differentiated by reverse mode through that
    computation (``npae.regularizers.contractive_penalty_mlp``). Both use the
    activations' ``second_derivative``; both are gradient-checked.

    Parameters
    ----------
    hidden_sizes : sequence of int, default ()
        Widths of the encoder's hidden layers (the decoder mirrors them).
    code_size : int, default 32
    lam : float >= 0, default 0.01
        Weight of the contractive penalty; 0 gives a plain autoencoder.
    activation : str, default "sigmoid"
        Activation of hidden layers. Smooth ones suit the penalty, which
        involves f' and f'' (ReLU's f' is a step, so only its W term acts).
    code_activation : str, default "sigmoid"
    output_activation : str, default "identity"
        An affine decoder, Rifai et al.'s choice for real-valued inputs
        under squared error. With a sigmoid output the fit crawls: on the
        digits, 500 epochs reach twice the held-out error that 2,000 do,
        while the affine decoder is within 5% of its 3,000-epoch error
        after 500.
    tied_weights : bool, default False
        The decoder uses the encoder's weights, transposed (see ``npae.Autoencoder``),
        as in Rifai et al.'s contractive autoencoder.
    loss, contamination, optimizer, learning_rate, momentum, nesterov, epochs
        As in ``npae.Autoencoder`` (here ``learning_rate`` defaults to 1e-2
        and ``epochs`` to 500).
    batch_size, weight_decay, validation_fraction, early_stopping, patience
        As in ``npae.Autoencoder`` (here ``batch_size`` defaults to 32).
    tol, n_iter_no_change, dtype, verbose, random_state
        As in ``npae.Autoencoder``.

    Attributes
    ----------
    encoder_, decoder_, network_, history_, n_features_in_, code_shape_
        As in ``npae.Autoencoder``.

    Examples
    --------
    >>> from npae.datasets import load_digits
    >>> X, y, _ = load_digits()
    >>> cae = ContractiveAutoencoder(code_size=16, lam=0.01, epochs=2, random_state=0).fit(X)
    >>> cae.jacobian(X[:5]).shape
    (5, 16, 64)
    """

    def __init__(self, hidden_sizes=(), code_size=32, lam=0.01, activation="sigmoid",
                 code_activation="sigmoid", output_activation="identity", loss="mse",
                 tied_weights=False,
                 contamination="auto", optimizer="adam", learning_rate=1e-2, momentum=0.0,
                 nesterov=False, epochs=500, batch_size=32, weight_decay=0.0,
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
        self.lam = lam

    def _check_hyperparameters(self):
        super()._check_hyperparameters()
        check_number(self.lam, "lam", type(self).__name__, low=0)

    def _step(self, xb, yb):
        """Reconstruction step, then the penalty's gradient added into the encoder."""
        loss = super()._step(xb, yb)
        return loss + add_contractive_penalty(xb, dense_blocks(self.encoder_), self.lam)

    def _evaluate(self, X, Y):
        arrays = block_arrays(dense_blocks(self.encoder_))
        penalty = self.lam * float(np.mean(jacobian_sq_norms(X, *arrays)))
        return super()._evaluate(X, Y) + penalty

    def jacobian(self, X):
        """Exact Jacobian of the encoder at each row: shape (n_samples, code_size, n_features).

        ``jacobian(X)[n, j, i] = d code_j / d x_i`` at ``X[n]``.
        """
        X = self._validate(X)
        return encoder_jacobian(X, *block_arrays(dense_blocks(self.encoder_)))
