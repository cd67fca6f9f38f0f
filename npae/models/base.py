"""What every npae autoencoder shares: fit, transform, decode, score, save.

An autoencoder is an encoder network ``f`` and a decoder network ``g``
trained so that ``g(f(x))`` reconstructs ``x``. Subclasses say how to build
the two networks (``_build``) and may change one training step
(``_step``): add a penalty on the code (``_code_penalty``), corrupt the
input (``_corrupt``), or rewrite the step entirely (the VAE).

scikit-learn conventions hold: ``__init__`` only stores hyperparameters,
``fit`` returns ``self``, fitted attributes end in ``_``, one
``random_state`` seeds initialization, shuffling, noise and sampling.

Checkpoints: ``fit(X, checkpoint=path, checkpoint_every=k)`` writes the model
and its training state (``npae.io.save_checkpoint``) every ``k`` epochs, and
``fit(X, checkpoint=path, resume=True)`` continues from it, bit for bit as if
never stopped. It works through ``_train``: a subclass whose ``fit`` calls
``_initialize(X, **checkpointing)`` and then ``_train`` (once, or once per
stage) gets checkpoints for free, as long as whatever ``fit`` computes
between its ``_train`` calls depends only on the data and the weights.
"""

import os

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from npae import io as model_files
from npae import losses
from npae._validation import (
    check_array,
    check_choice,
    check_float_dtype,
    check_int,
    check_number,
    check_random_state,
)
from npae.network import Sequential
from npae.optim import OPTIMIZERS, make_optimizer
from npae.train import History, Trainer
from npae.utils import as_generator


class BaseAutoencoder(model_files.SaveLoadMixin, TransformerMixin, BaseEstimator):
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
        self.encoder_.backward(grad_code, input_grad=False)  # dL/dx of the data is unused
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

    def _initialize(self, X, checkpoint=None, checkpoint_every=1, resume=False):
        """Validate ``X``, hyperparameters and checkpoint settings, build fresh networks.

        Returns the validated ``X``. Nothing changes until everything is
        validated; then the attributes of a previous fit are dropped (a new
        fit starts from a clean slate) and, when resuming, the checkpoint's
        weights are loaded.
        """
        self._check_hyperparameters()
        X = self._validate(X, reset=True)
        rng = as_generator(check_random_state(self.random_state, type(self).__name__))
        checkpointing = _Checkpointing.start(self, X, checkpoint, checkpoint_every, resume)
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)
        self._rng = rng
        self._checkpointing = checkpointing
        self.dtype_ = X.dtype
        self.input_shape_ = tuple(X.shape[1:])
        self.n_features_in_ = int(np.prod(self.input_shape_))
        self._set_networks(self._rng)
        self.history_ = {"loss": []}
        if checkpointing is not None and checkpointing.resumed is not None:
            header, arrays = checkpointing.resumed
            model_files.load_weights(self, header, arrays, repr(checkpointing.path))
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
        self._set_networks(as_generator(0))  # the saved weights replace these
        # Files written before the generator's position was saved restart its stream.
        self._rng = as_generator(self.random_state)

    def _make_optimizer(self, network):
        return make_optimizer(self.optimizer, network.params(), network.grads(),
                              lr=self.learning_rate, weight_decay=self.weight_decay)

    def _train(self, network, step, evaluate, X, Y=None, epochs=None, callbacks=(),
               description=None):
        """Run the training loop; records into ``history_``; returns the history.

        Checkpointing (see the module docstring) numbers the calls of one
        ``fit``. Resuming, each call first puts the generator back where
        that call started (so the validation split is the same); a call that
        had finished sets the weights it ended with and returns its history
        without training; the call that was in progress continues from its
        saved weights and epoch.
        """
        epochs = self.epochs if epochs is None else epochs
        checkpointing = getattr(self, "_checkpointing", None)
        saved = None
        if checkpointing is not None:
            saved = checkpointing.begin_call(self._rng, X, Y, epochs)
            if saved is not None and "history" in saved:
                self.history_ = History(saved["history"])
                checkpointing.skip_call(saved)
                return self.history_
        Y = X if Y is None else Y
        validation = None
        if self.validation_fraction > 0 and X.shape[0] >= 2:
            n_val = min(X.shape[0] - 1, max(1, round(self.validation_fraction * X.shape[0])))
            order = self._rng.permutation(X.shape[0])
            val, tr = order[:n_val], order[n_val:]
            X, Y, validation = X[tr], Y[tr], (X[val], Y[val])
        trainer = Trainer(
            network, self._make_optimizer(network), step, evaluate,
            epochs=epochs, batch_size=self.batch_size, rng=self._rng,
            early_stopping=self.early_stopping, patience=self.patience,
            callbacks=callbacks, verbose=self.verbose,
            description=description or type(self).__name__,
            checkpoint=None if checkpointing is None else checkpointing.write,
            checkpoint_every=1 if checkpointing is None else checkpointing.every,
        )
        trainer.history = self.history_ = History(self.history_)
        if saved is not None:
            checkpointing.resume_trainer(trainer, saved)
        history = trainer.fit(X, Y, validation_data=validation)
        if checkpointing is not None:
            checkpointing.end_call(history)
        return history

    def fit(self, X, y=None, callbacks=None, checkpoint=None, checkpoint_every=1, resume=False):
        """Train the autoencoder to reconstruct ``X``; returns ``self``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) (or (N, C, H, W) for images)
        y : ignored
        callbacks : list of npae.train.Callback, optional
        checkpoint : str or path-like, optional
            Write the model and its training state to this file (atomically)
            every ``checkpoint_every`` epochs, after the last epoch and on
            Ctrl-C. ``npae.load(checkpoint)`` reads the model from it. An
            existing file is never overwritten unless ``resume=True``.
        checkpoint_every : int, default 1
        resume : bool, default False
            Continue the training saved in ``checkpoint``: the result is
            bit-identical to a run that was never stopped. The checkpoint
            must come from this class with the same hyperparameters (only
            ``epochs`` and ``verbose`` may change) and the same data.
        """
        X = self._initialize(X, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                             resume=resume)
        self._train(self.network_, self._step, self._evaluate, X, callbacks=callbacks or ())
        self._checkpointing = None  # done: let go of its records and weights
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


def _is_epoch_count(name):
    """Hyperparameters a resumed run may change: how long to train, how much to print."""
    return name in ("epochs", "verbose") or name.endswith("_epochs")


def _describe_data(data):
    return f"shape {tuple(data['shape'])} {data['dtype']} (sha256 {data['sha256'][:12]}...)"


class _Checkpointing:
    """Where ``fit`` writes checkpoints, and the checkpoint it resumes from.

    A checkpoint's training state is ``{"calls": [...]}``, one record per
    ``_train`` call of the fit that wrote it: the generator state when the
    call began (``rng``), a fingerprint of its data (``data``), the
    ``epochs`` it was asked for, and either, for a call that had finished,
    its ``history`` and the network's ``weights`` at its end, or, for the
    one in progress (always the last), the ``trainer`` state
    (``Trainer.state_dict()``).
    """

    def __init__(self, estimator, path, every, resumed=None, saved_calls=()):
        self.estimator = estimator
        self.path = path
        self.every = every
        self.resumed = resumed  # (header, arrays) of the checkpoint resumed from
        self.saved_calls = list(saved_calls)
        self.calls = []  # this fit's finished calls
        self.current = None

    @classmethod
    def start(cls, estimator, X, checkpoint, every, resume):
        """Validate ``fit``'s checkpoint arguments; read and vet the file when resuming."""
        owner = f"{type(estimator).__name__}.fit"
        if not isinstance(resume, (bool, np.bool_)):
            raise TypeError(f"{owner}: resume must be True or False, got {resume!r}")
        if checkpoint is None:
            if resume:
                raise ValueError(f"{owner}: resume=True needs checkpoint=<the file to resume from>")
            return None
        if not isinstance(checkpoint, (str, os.PathLike)):
            raise TypeError(
                f"{owner}: checkpoint must be a path (str or os.PathLike), "
                f"got {type(checkpoint).__name__}"
            )
        every = check_int(every, "checkpoint_every", owner)
        path = os.fspath(checkpoint)
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise FileNotFoundError(
                f"{owner}: the checkpoint's directory {directory!r} does not exist")
        if not resume:
            if os.path.exists(path):
                raise FileExistsError(
                    f"{owner}: {path!r} already exists; pass resume=True to continue the "
                    "training it holds, or remove it (or choose another path) to start over"
                )
            return cls(estimator, path, every)
        header, arrays, state = model_files.read_checkpoint(path)
        cls._vet(estimator, X, header, state, path)
        return cls(estimator, path, every, resumed=(header, arrays),
                   saved_calls=state["calls"])

    @staticmethod
    def _vet(estimator, X, header, state, path):
        """Refuse a checkpoint of another class, other hyperparameters or other data shape."""
        name = type(estimator).__name__
        if header["class"] != name:
            raise model_files.CheckpointError(
                f"{path!r} is a checkpoint of a {header['class']}, not of a {name}")
        saved = header["params"]
        mine = model_files._to_json(estimator.get_params(deep=False), "hyperparameters")
        changed = sorted(k for k in set(saved) | set(mine)
                         if not _is_epoch_count(k) and saved.get(k) != mine.get(k))
        if changed:
            details = ", ".join(
                f"{k}={model_files._from_json(saved.get(k))!r} there, "
                f"{model_files._from_json(mine.get(k))!r} here" for k in changed)
            raise model_files.CheckpointError(
                f"{path!r} was written by a {name} with other hyperparameters ({details}): "
                "resume with the same ones (only epochs and verbose may change)"
            )
        attributes = header["attributes"]
        then = (tuple(model_files._from_json(attributes.get("input_shape_", []))),
                model_files._from_json(attributes.get("dtype_")))
        if then != (tuple(X.shape[1:]), X.dtype):
            raise model_files.CheckpointError(
                f"{path!r} was written while training on samples of shape {then[0]} and dtype "
                f"{then[1]}, got samples of shape {tuple(X.shape[1:])} and dtype {X.dtype}"
            )
        calls = state.get("calls") if isinstance(state, dict) else None
        finished = {"rng", "data", "epochs", "history", "weights"}
        if (not isinstance(calls, list) or not calls
                or not all(isinstance(c, dict) and finished <= set(c) for c in calls[:-1])
                or not isinstance(calls[-1], dict)
                or not {"rng", "data", "epochs", "trainer"} <= set(calls[-1])):
            raise model_files.CheckpointError(f"{path!r}: its training state is malformed")

    def begin_call(self, rng, X, Y, epochs):
        """Start a ``_train`` call; returns its record in the checkpoint resumed from, or None."""
        index = len(self.calls)
        saved = self.saved_calls[index] if index < len(self.saved_calls) else None
        if saved is not None:
            try:
                rng.bit_generator.state = saved["rng"]
            except (TypeError, ValueError, KeyError) as err:
                raise model_files.CheckpointError(
                    f"{self.path!r}: its generator state does not fit this model's: {err}"
                ) from None
        data = {"X": self._fingerprint(X), "Y": None if Y is None else self._fingerprint(Y)}
        self.current = {"rng": rng.bit_generator.state, "data": data, "epochs": epochs}
        if saved is None:
            return None
        if "history" in saved and saved["epochs"] != epochs:
            raise model_files.CheckpointError(
                f"{self.path!r}: training stage {index} had finished its {saved['epochs']} "
                f"epochs; it cannot run {epochs} now (only the stage in progress may change)"
            )
        if "trainer" in saved and saved["data"] != data:
            which = "X" if saved["data"]["X"] != data["X"] else "Y"
            then, now = saved["data"][which], data[which]
            raise model_files.CheckpointError(
                f"{self.path!r} was written while training on other data: {which} of "
                f"{_describe_data(then) if then else 'None'}, got "
                f"{_describe_data(now) if now else 'None'}"
            )
        return saved

    @staticmethod
    def _fingerprint(array):
        return {"shape": list(array.shape), "dtype": array.dtype.name,
                "sha256": model_files._digest(array)}

    def skip_call(self, saved):
        """A call that had finished before the checkpoint: set the weights it ended with."""
        try:
            self.estimator.network_.load_state_dict(saved["weights"])
        except (KeyError, ValueError) as err:
            raise model_files.CheckpointError(
                f"{self.path!r}: its saved weights do not fit this model: {err}") from None
        self.end_call(saved["history"])

    def resume_trainer(self, trainer, saved):
        """Put the weights and the trainer of the call in progress back to their saved state."""
        state = saved["trainer"]
        if state["epoch"] > trainer.epochs:
            raise model_files.CheckpointError(
                f"{self.path!r} holds {state['epoch']} epochs of training, more than the "
                f"{trainer.epochs} asked for: resume with at least {state['epoch']} epochs"
            )
        model_files.load_weights(self.estimator, *self.resumed, repr(self.path))
        try:
            trainer.load_state_dict(state)
        except (KeyError, TypeError, ValueError) as err:
            raise model_files.CheckpointError(
                f"{self.path!r}: its training state does not fit this model: {err}") from None
        self.resumed = None  # the file's arrays are not needed any more

    def end_call(self, history):
        """A call finished: remember its history and the weights it ended with."""
        self.calls.append({**self.current, "history": {k: list(v) for k, v in history.items()},
                           "weights": self.estimator.network_.state_dict()})
        self.current = None

    def write(self, trainer):
        """The ``Trainer``'s checkpoint hook: the model and every call's record so far."""
        state = {"calls": [*self.calls, {**self.current, "trainer": trainer.state_dict()}]}
        model_files.save_checkpoint(self.estimator, self.path, state)
