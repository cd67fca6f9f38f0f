"""The undercomplete MLP autoencoder."""

import numpy as np

from npae._validation import check_choice, check_int, check_sizes
from npae.layers.activations import ACTIVATIONS, get_activation
from npae.layers.dense import TiedDense
from npae.losses import LOSSES
from npae.models.base import BaseAutoencoder
from npae.network import Sequential, dense_blocks, mlp


def check_bce_output(loss, output_activation, owner):
    """``loss="bce"`` is the cross-entropy of a sigmoid output, computed from its logits."""
    if loss == "bce" and output_activation != "sigmoid":
        raise ValueError(
            f"{owner}: loss='bce' is computed from the logits of a sigmoid output and needs "
            f"output_activation='sigmoid', got {output_activation!r}"
        )


def tied_decoder(encoder, activation, output_activation, dtype):
    """The mirror of an MLP ``encoder`` whose layers use the encoder's weights, transposed.

    For the encoder's Dense layers ``W_1, ..., W_L`` (``n_features -> ... ->
    code_size``) the decoder is ``TiedDense(W_L), ..., TiedDense(W_1)``, each
    with its own bias, ``activation`` between them and ``output_activation``
    after the last. Only a mirror can share weights: the decoder's widths
    are the encoder's, reversed, by construction.
    """
    blocks = dense_blocks(encoder)
    layers = []
    for i, (dense, _) in enumerate(reversed(blocks)):
        layers.append(TiedDense(dense, dtype=dtype))
        act = activation if i < len(blocks) - 1 else output_activation
        if act not in (None, "identity", "linear"):
            layers.append(get_activation(act, dtype=dtype))
    return Sequential(layers)


class Autoencoder(BaseAutoencoder):
    """Undercomplete autoencoder: ``x -> f(x) = z -> g(z) = x_hat``.

    The encoder is an MLP ``n_features -> hidden_sizes -> code_size`` and the
    decoder mirrors it, ``code_size -> reversed(hidden_sizes) -> n_features``.
    With ``code_size`` below ``n_features`` the bottleneck forces the code
    to keep what matters most for reconstruction; it minimizes

        L = mean over examples and features of loss(g(f(x)), x).

    Parameters
    ----------
    hidden_sizes : sequence of int, default (64,)
        Widths of the encoder's hidden layers (the decoder mirrors them).
    code_size : int, default 8
        Width of the code (the bottleneck).
    activation : str, default "relu"
        Activation of hidden layers (see ``npae.layers.ACTIVATIONS``).
    code_activation : str, default "identity"
        Activation of the code layer.
    output_activation : str, default "identity"
        Activation of the reconstruction; "sigmoid" suits data in [0, 1].
    loss : {"mse", "bce"}, default "mse"
        "bce" (data in [0, 1]) needs ``output_activation="sigmoid"`` and is
        computed from the logits, the sigmoid's input
        (``losses.binary_cross_entropy_with_logits``), so it never saturates.
    tied_weights : bool, default False
        The decoder's weights are the encoder's, transposed: one shared
        matrix per layer pair (``npae.layers.TiedDense``), trained with the
        sum of the gradients of its two uses; each decoder layer keeps its
        own bias. Halves the weights.
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
        L2 penalty on all parameters, applied by the optimizer.
    validation_fraction : float, default 0.0
        Rows held out (shuffled, seeded) to report ``val_loss``.
    early_stopping : bool, default False
        Stop when the validation (or training) loss stalls for ``patience``
        epochs and keep the best weights.
    patience : int, default 10
    tol : float, default 1e-4
    n_iter_no_change : int or None, default None
        Stop once the loss (validation if any, else training) has not
        improved by ``tol`` for more than ``n_iter_no_change`` epochs, as in
        scikit-learn's MLP, keeping the last weights; a ``ConvergenceWarning``
        when ``epochs`` run out first. None trains all ``epochs``.
    dtype : {None, "float32", "float64"}, default None
        Computation type; None follows the input (float32 stays float32,
        anything else becomes float64).
    verbose : int, default 0
        1 shows a progress bar when attached to a terminal.
    random_state : int, Generator or None
        Seeds initialization and shuffling: one seed, bit-identical runs.

    Attributes
    ----------
    encoder_, decoder_ : npae.network.Sequential
    network_ : Sequential
        The encoder's layers followed by the decoder's (shared objects).
    history_ : dict
        ``"loss"`` per epoch (and ``"val_loss"``).
    n_features_in_ : int
    code_shape_ : tuple

    Examples
    --------
    >>> from npae.datasets import load_digits
    >>> X, y, _ = load_digits()
    >>> ae = Autoencoder(hidden_sizes=(32,), code_size=4, epochs=2, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (1797, 4)
    """

    def __init__(self, hidden_sizes=(64,), code_size=8, activation="relu",
                 code_activation="identity", output_activation="identity", loss="mse",
                 tied_weights=False,
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
        self.code_size = code_size
        self.activation = activation
        self.code_activation = code_activation
        self.output_activation = output_activation
        self.loss = loss
        self.tied_weights = tied_weights
        self.epochs = epochs

    def _check_hyperparameters(self):
        super()._check_hyperparameters()
        owner = type(self).__name__
        check_sizes(self.hidden_sizes, "hidden_sizes", owner)
        check_int(self.code_size, "code_size", owner)
        for name in ("activation", "code_activation", "output_activation"):
            check_choice(getattr(self, name), name, owner, tuple(ACTIVATIONS))
        check_choice(self.loss, "loss", owner, tuple(LOSSES))
        check_bce_output(self.loss, self.output_activation, owner)
        if not isinstance(self.tied_weights, (bool, np.bool_)):
            raise TypeError(f"{owner}: tied_weights must be a bool, got {self.tied_weights!r}")

    def _build(self, input_shape, rng):
        (n_features,) = input_shape
        hidden = list(check_sizes(self.hidden_sizes, "hidden_sizes", "Autoencoder"))
        encoder = mlp([n_features, *hidden, self.code_size], self.activation,
                      self.code_activation, dtype=self.dtype_, rng=rng)
        if self.tied_weights:
            return encoder, tied_decoder(encoder, self.activation, self.output_activation,
                                         self.dtype_)
        decoder = mlp([self.code_size, *reversed(hidden), n_features], self.activation,
                      self.output_activation, dtype=self.dtype_, rng=rng)
        return encoder, decoder
