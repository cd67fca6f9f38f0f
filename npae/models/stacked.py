"""Stacked autoencoder: greedy layer-wise pretraining, then end-to-end fine-tuning."""

import numpy as np

from npae._validation import check_choice, check_int, check_sizes
from npae.layers.activations import ACTIVATIONS
from npae.losses import LOSSES
from npae.models.base import BaseAutoencoder
from npae.network import Sequential, dense_blocks, mlp
from npae.streaming import Rows
from npae.train import Callback


class StackedAutoencoder(BaseAutoencoder):
    """Deep autoencoder trained one layer at a time, then as a whole (Bengio et al., 2007).

    The encoder is ``n_features -> layer_sizes[0] -> ... -> layer_sizes[-1]``
    (the code) and the decoder mirrors it. With ``pretrain=True``, ``fit``

    1. trains a shallow autoencoder per layer, greedily: stage i has the
       encoder's layer i and the decoder's mirror of it, and learns to
       reconstruct the codes ``h_{i-1}`` the stages before it produce
       (``h_{-1} = x``), for ``pretrain_epochs`` epochs;
    2. fine-tunes the whole stack end to end for ``finetune_epochs`` epochs.

    The stages train the very layers of the final network, so the stacked
    network is exactly the one ``_build`` makes from the hyperparameters.
    With ``pretrain=False`` only step 2 runs, from the same random
    initialization: the two can be compared, e.g. with ``GradientNormLogger``
    to see how gradients vanish in the early layers of a deep sigmoid net.

    Parameters
    ----------
    layer_sizes : sequence of int, default (64, 32, 8)
        Widths of the encoder's layers; the last is the code size.
    pretrain_epochs : int, default 20
        Epochs of each greedy stage.
    finetune_epochs : int, default 200
        Epochs of end-to-end training.
    pretrain : bool, default True
        False trains the deep network from its random initialization only.
    activation : str, default "sigmoid"
        Activation of every hidden layer of encoder and decoder.
    code_activation : str, default "sigmoid"
        Activation of the code layer.
    output_activation : str, default "sigmoid"
        Activation of the reconstruction; "sigmoid" suits data in [0, 1].
    loss : {"mse", "bce"}, default "mse"
        Reconstruction loss of every stage and of the fine-tuning.
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
    batch_size : int, default 64
    weight_decay, validation_fraction, early_stopping, patience, tol, n_iter_no_change
        As in ``npae.Autoencoder``; they apply to every stage (``n_iter_``
        counts the fine-tuning epochs).
    dtype, verbose, random_state
        As in ``npae.Autoencoder``.

    Attributes
    ----------
    encoder_, decoder_ : npae.network.Sequential
    network_ : Sequential
        The encoder's layers followed by the decoder's.
    history_ : dict of lists of float
        ``"pretrain_0"``, ``"pretrain_1"``, ... (each stage's loss per epoch,
        with ``"pretrain_i_val_loss"`` when validating), then ``"loss"`` (and
        ``"val_loss"``) for fine-tuning.
    n_features_in_ : int
    code_shape_ : tuple

    Examples
    --------
    >>> from npae.datasets import load_digits
    >>> X, y, _ = load_digits()
    >>> sae = StackedAutoencoder((32, 16, 8), pretrain_epochs=1, finetune_epochs=1,
    ...                          random_state=0).fit(X)
    >>> sorted(sae.history_)
    ['loss', 'pretrain_0', 'pretrain_1', 'pretrain_2']
    """

    def __init__(self, layer_sizes=(64, 32, 8), pretrain_epochs=20, finetune_epochs=200,
                 pretrain=True, activation="sigmoid", code_activation="sigmoid",
                 output_activation="sigmoid", loss="mse", contamination="auto", optimizer="adam",
                 learning_rate=1e-2, momentum=0.0, nesterov=False, batch_size=64, weight_decay=0.0,
                 validation_fraction=0.0, early_stopping=False, patience=10, tol=1e-4,
                 n_iter_no_change=None, dtype=None, verbose=0, random_state=None):
        super().__init__(
            optimizer=optimizer, learning_rate=learning_rate, momentum=momentum, nesterov=nesterov,
            batch_size=batch_size, weight_decay=weight_decay,
            validation_fraction=validation_fraction, early_stopping=early_stopping,
            patience=patience, tol=tol, n_iter_no_change=n_iter_no_change, dtype=dtype,
            verbose=verbose, random_state=random_state)
        self.contamination = contamination
        self.layer_sizes = layer_sizes
        self.pretrain_epochs = pretrain_epochs
        self.finetune_epochs = finetune_epochs
        self.pretrain = pretrain
        self.activation = activation
        self.code_activation = code_activation
        self.output_activation = output_activation
        self.loss = loss

    @property
    def epochs(self):
        """The fine-tuning epochs: what ``TrainedEstimator`` trains for by default."""
        return self.finetune_epochs

    def _check_hyperparameters(self):
        owner = type(self).__name__
        check_sizes(self.layer_sizes, "layer_sizes", owner, allow_empty=False)
        check_int(self.pretrain_epochs, "pretrain_epochs", owner, minimum=0)
        check_int(self.finetune_epochs, "finetune_epochs", owner, minimum=0)
        if not isinstance(self.pretrain, (bool, np.bool_)):
            raise TypeError(f"{owner}: pretrain must be True or False, got {self.pretrain!r}")
        for name in ("activation", "code_activation", "output_activation"):
            check_choice(getattr(self, name), name, owner, tuple(ACTIVATIONS))
        check_choice(self.loss, "loss", owner, tuple(LOSSES))
        super()._check_hyperparameters()

    def _build(self, input_shape, rng):
        (n_features,) = input_shape
        sizes = [n_features, *check_sizes(self.layer_sizes, "layer_sizes", "StackedAutoencoder")]
        encoder = mlp(sizes, self.activation, self.code_activation, dtype=self.dtype_, rng=rng)
        decoder = mlp(sizes[::-1], self.activation, self.output_activation, dtype=self.dtype_,
                      rng=rng)
        return encoder, decoder

    def stages(self):
        """The shallow autoencoders of greedy pretraining, as Sequentials sharing layers.

        Stage i is the encoder's layer i (its Dense and activation) followed
        by the decoder's mirror of it, which maps back to the width of layer
        i - 1 (the input for stage 0).
        """
        encoder, decoder = _dense_groups(self.encoder_), _dense_groups(self.decoder_)
        return [Sequential(enc + dec) for enc, dec in zip(encoder, reversed(decoder))]

    def _stage_functions(self, stage):
        """``step`` and ``evaluate`` for training one stage to reconstruct its input."""
        def step(xb, yb):
            return self._reconstruction_loss(stage, xb, yb)[0]

        def evaluate(X, Y):
            return self._reconstruction_loss(stage, X, Y, training=False)[0]

        return step, evaluate

    def fit(self, X, y=None, callbacks=None, checkpoint=None, checkpoint_every=1, resume=False):
        """Pretrain layer by layer (if ``pretrain``), then fine-tune; returns ``self``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        callbacks : list of npae.train.Callback, optional
            Run during fine-tuning (the end-to-end stage).
        checkpoint, checkpoint_every, resume :
            Periodic checkpoints and bit-identical resumption; see
            ``BaseAutoencoder.fit``.
        """
        X = self._initialize(X, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                             resume=resume)
        with self._setting_offset(X):
            history = {}
            if self.pretrain:
                codes = X
                encoder_groups = _dense_groups(self.encoder_)
                for i, stage in enumerate(self.stages()):
                    self.history_ = {}
                    step, evaluate = self._stage_functions(stage)
                    stage_history = self._train(stage, step, evaluate, codes,
                                                epochs=self.pretrain_epochs,
                                                description=f"pretrain layer {i}")
                    for key, values in stage_history.items():
                        name = f"pretrain_{i}" if key == "loss" else f"pretrain_{i}_{key}"
                        history[name] = list(values)
                    codes = _encode(Sequential(encoder_groups[i]), codes)
            self.history_ = {"loss": []}
            finetune = self._train(self.network_, self._step, self._evaluate, X,
                                   epochs=self.finetune_epochs, callbacks=callbacks or (),
                                   description="fine-tune")
            self.history_ = {**history, **{key: list(values) for key, values in finetune.items()}}
        self._checkpointing = None  # done: let go of its records and weights
        return self


def _encode(encoder, X):
    """``encoder``'s codes of ``X``: at once for an array, as they are read for ``Rows``."""
    if isinstance(X, Rows):
        return X.map(lambda rows: encoder.forward(rows, training=False),
                     encoder.output_shape(X.shape[1:]))
    return encoder.forward(X, training=False)


def _dense_groups(network):
    """The layers of an MLP per Dense: ``[[Dense, activation], [Dense], ...]``."""
    return [[layer for layer in block if layer is not None] for block in dense_blocks(network)]


class GradientNormLogger(Callback):
    """Record the norm of each layer's gradient after every training batch.

    For each layer with parameters, ``norms["<index>.<Layer>"]`` (e.g.
    ``"0.Dense"``, indices as in the trained ``Sequential``) grows by
    ``sqrt(sum over its parameters of ||dL/dparam||^2)`` per batch. In a
    deep sigmoid network the first layers' norms are much smaller than the
    last ones' at the start of training: each sigmoid multiplies the
    backward signal by f' <= 1/4.

    Parameters
    ----------
    every : int, default 1
        Record every ``every``-th batch.

    Examples
    --------
    >>> from npae.datasets import load_digits
    >>> X, y, _ = load_digits()
    >>> logger = GradientNormLogger()
    >>> sae = StackedAutoencoder((32, 16, 8), pretrain=False, finetune_epochs=1,
    ...                          random_state=0).fit(X, callbacks=[logger])
    >>> list(logger.mean_norms())
    ['0.Dense', '2.Dense', '4.Dense', '6.Dense', '8.Dense', '10.Dense']
    """

    def __init__(self, every=1):
        self.every = check_int(every, "every", "GradientNormLogger")
        self.norms = {}
        self._count = 0

    def on_batch_end(self, trainer, logs):
        self._count += 1
        if (self._count - 1) % self.every:
            return
        for i, layer in enumerate(logs["network"].layers):
            if layer.trainable and layer.grads:
                squared = sum(float(np.sum(g * g)) for g in layer.grads.values())
                self.norms.setdefault(f"{i}.{layer.name}", []).append(float(np.sqrt(squared)))

    def mean_norms(self):
        """``{layer: mean recorded norm}`` in network order."""
        return {name: float(np.mean(values)) for name, values in self.norms.items()}
