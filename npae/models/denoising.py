"""The denoising autoencoder: reconstruct the clean input from a corrupted copy."""

from npae._validation import check_choice, check_number
from npae.models.autoencoder import Autoencoder
from npae.models.sparse import FiltersMixin
from npae.noise import NOISES, corrupt


class DenoisingAutoencoder(FiltersMixin, Autoencoder):
    """Autoencoder trained to undo corruption: ``x_tilde ~ q(x_tilde | x)``, ``g(f(x_tilde)) ~ x``.

    Each minibatch is corrupted afresh (new noise every batch and every
    epoch, drawn from the model's one seeded generator) and the loss compares
    the reconstruction with the *clean* batch,

        L = mean loss(g(f(x_tilde)), x),

    so the code cannot just copy its input: it has to capture the structure
    that lets a damaged input be repaired (Vincent et al., 2008).
    ``transform`` and ``reconstruct`` apply no noise; to denoise, pass the
    noisy data to ``reconstruct``.

    Parameters
    ----------
    hidden_sizes : sequence of int, default (64,)
    code_size : int, default 16
    noise : {"gaussian", "masking", "salt_pepper"}, default "masking"
        The corruption (see ``npae.noise``): additive N(0, noise_level^2)
        noise, zeroing each entry with probability ``noise_level``, or
        setting each entry to 0 or 1 with probability ``noise_level``.
    noise_level : float, default 0.3
        Standard deviation (>= 0) for "gaussian", fraction in [0, 1] otherwise.
    activation, code_activation, output_activation, loss, tied_weights, contamination
        As in ``npae.Autoencoder``.
    optimizer, momentum, nesterov, weight_decay
        As in ``npae.Autoencoder``.
    learning_rate : float, default 2e-3
    epochs : int, default 500
    batch_size : int, default 32
        The noise makes each step's gradient noisier than the plain
        autoencoder's, so the defaults take more, smaller steps: on the
        digits, 100 epochs of batch 64 at 1e-3 stopped at 1.8 x PCA's
        held-out error where ten times as many reach 1.2 x; these defaults
        come within about 10% of their own ten-times-longer run
        (``benchmarks/bench_defaults.py``).
    validation_fraction, early_stopping, patience, tol, n_iter_no_change
        As in ``npae.Autoencoder``. The validation loss is measured on clean input.
    dtype, verbose, random_state
        As in ``npae.Autoencoder``; ``random_state`` also seeds the noise.

    Attributes
    ----------
    encoder_, decoder_, network_, history_, n_features_in_, code_shape_
        As in ``npae.Autoencoder``.

    Notes
    -----
    The corruption is not differentiated: it is applied to the data before
    the encoder, so backward is the plain autoencoder's, with the clean
    batch as the target.

    Examples
    --------
    >>> from npae.datasets import load_digits
    >>> from npae.noise import corrupt
    >>> X, y, _ = load_digits()
    >>> dae = DenoisingAutoencoder(noise="masking", noise_level=0.3, epochs=2,
    ...                            random_state=0).fit(X)
    >>> dae.reconstruct(corrupt(X, "masking", 0.3, random_state=1)).shape
    (1797, 64)
    """

    def __init__(self, hidden_sizes=(64,), code_size=16, noise="masking", noise_level=0.3,
                 activation="relu", code_activation="identity", output_activation="identity",
                 loss="mse", tied_weights=False,
                 contamination="auto", optimizer="adam", learning_rate=2e-3,
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
        self.noise = noise
        self.noise_level = noise_level

    def _check_hyperparameters(self):
        super()._check_hyperparameters()
        owner = type(self).__name__
        check_choice(self.noise, "noise", owner, NOISES)
        high = None if self.noise == "gaussian" else 1.0
        check_number(self.noise_level, "noise_level", owner, low=0, high=high)

    def _corrupt(self, xb):
        """A freshly corrupted copy of the batch, drawn from the model's generator."""
        return corrupt(xb, self.noise, self.noise_level, random_state=self._rng)
