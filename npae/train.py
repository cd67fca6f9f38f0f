"""The minibatch training loop every npae estimator uses, and its hooks.

One epoch: shuffle the rows with the estimator's seeded generator, then for
each minibatch zero the gradients, run ``step(xb, yb)`` (forward, loss,
backward: it returns the loss and leaves gradients in the network) and let
the optimizer update the parameters. After the epoch the validation loss is
measured, the history grows and early stopping decides. That is all
``Trainer.fit`` does; everything else is a hook (a ``Callback``) called at
the loop's moments:

- ``DivergenceGuard`` makes each epoch a transaction: a NaN or inf loss
  stops training with a ``TrainingDivergedError`` (a ``FloatingPointError``)
  naming the epoch and batch and keeps the last *good* epoch; a
  ``KeyboardInterrupt`` keeps the last finished epoch. The whole training
  state (weights, optimizer state, generator, history, early-stopping
  record) is put back before the error propagates.
- ``ProgressBar`` shows a tqdm bar when ``verbose`` and on a terminal.
- ``npae.checkpoint.CheckpointWriter`` writes checkpoints.

``state_dict`` / ``load_state_dict`` save and restore the training state
(the weights apart), so a run can stop and continue bit for bit.
"""

import sys

import numpy as np
from tqdm import tqdm

from npae._validation import NonFiniteInputError, check_int, check_number
from npae.streaming import Rows


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or inf; the model keeps its last good weights."""


def _finite(array):
    # One summing pass is cheap; only a non-finite sum needs the full test
    # (a sum of huge finite values overflows without meaning anything).
    with np.errstate(over="ignore", invalid="ignore"):
        total = array.sum()
    return bool(np.isfinite(total) or np.isfinite(array).all())


class Callback:
    """A hook on the training loop; override the moments you need.

    The loop calls, in order: ``on_train_begin`` once; per batch
    ``on_step_end`` (the step has given the loss and gradients, the update
    has not happened) and ``on_batch_end`` (after the update); per epoch
    ``on_updates_end`` (after its last update, before validation) and
    ``on_epoch_end``; then ``on_train_end``, or ``on_train_error`` if an
    exception stopped training.

    ``logs`` holds ``epoch`` (1-based, the epoch in progress or just
    finished), ``batch`` (in the batch moments), ``loss`` (the batch's, or
    the epoch's mean in the epoch moments), ``val_loss`` (in
    ``on_epoch_end``, when there is validation data) and ``network`` (the
    network being trained, with this batch's gradients in ``on_batch_end``).
    Set ``trainer.stop_training = True`` to stop after the epoch.

    The ``Trainer`` adds its own hooks in front of the callbacks it is
    given: ``DivergenceGuard`` (rollback on divergence or Ctrl-C) and
    ``ProgressBar``; ``npae.checkpoint.CheckpointWriter`` is one more.
    """

    def on_train_begin(self, trainer, X, Y):
        """Training starts (or continues) on rows ``X`` with targets ``Y``."""

    def on_step_end(self, trainer, logs):
        """A batch's step returned its loss; the optimizer has not updated yet."""

    def on_batch_end(self, trainer, logs):
        """A batch is done: the optimizer has updated the parameters."""

    def on_updates_end(self, trainer, logs):
        """The epoch's last update is done; the validation loss is not measured yet."""

    def on_epoch_end(self, trainer, logs):
        """An epoch is done and recorded in ``trainer.history``."""

    def on_train_end(self, trainer):
        """Training finished without an exception."""

    def on_train_error(self, trainer, error):
        """An exception stopped training; return another exception to raise instead, or None."""


class History(dict):
    """Per-epoch records: ``history["loss"]``, ``history["val_loss"]``, ..."""

    def append(self, **values):
        for key, value in values.items():
            self.setdefault(key, []).append(float(value))


class Trainer:
    """Minibatch gradient descent over a network's parameters.

    Parameters
    ----------
    network : Network
        Its ``params()`` are trained; used for snapshots.
    optimizer : npae.optim.Optimizer
    step : callable ``(xb, yb) -> float``
        Forward, loss and backward on one batch (gradients already zeroed).
    evaluate : callable ``(x, y) -> float``
        The loss without training (for validation), or None.
    epochs, batch_size : int
    rng : numpy.random.Generator
        Shuffles the rows each epoch.
    shuffle : bool
    early_stopping : bool
        Stop when the monitored loss (validation if there is any, else
        training) has not improved by ``min_delta`` for ``patience`` epochs,
        and restore the best weights.
    callbacks : list of Callback
        Hooks called after the trainer's own (see ``Callback``), e.g.
        ``npae.checkpoint.CheckpointWriter``.
    verbose : int
        0 silent; 1 a tqdm bar over epochs when attached to a terminal.
    description : str, default "training"
        The progress bar's label.
    check_final : bool or callable, default False
        After the last epoch, unless a validation loss already did, test
        the final weights on the training rows so that they, like every
        epoch's, are kept only if they give a finite loss (otherwise:
        ``TrainingDivergedError`` and the previous epoch's weights); see
        ``DivergenceGuard.confirm``. True: ``evaluate`` on the training
        rows, a batch at a time. A callable ``() -> float`` makes the test
        itself and returns the loss: the estimators pass one that scores
        their training rows, so that one pass serves this test and their
        ``offset_``. The estimators always ask for it.

    Attributes
    ----------
    epoch : int
        Epochs finished; ``fit`` continues from here up to ``epochs``.
    batch : int or None
        The batch in progress (1-based), None outside the batch loop.
    history : History
        ``loss`` (and ``val_loss``) per finished epoch.
    stop_training : bool
        Set by early stopping or a callback: stop after this epoch.
    best_weights, best_loss, waited
        Early stopping's record: the best weights so far, their loss, and
        the epochs since.
    """

    def __init__(self, network, optimizer, step, evaluate=None, *, epochs, batch_size, rng,
                 shuffle=True, early_stopping=False, patience=10, min_delta=0.0,
                 callbacks=(), verbose=0, description="training", check_final=False):
        self.network = network
        self.optimizer = optimizer
        self.step = step
        self.evaluate = evaluate
        self.epochs = check_int(epochs, "epochs", "Trainer", minimum=0)
        self.batch_size = check_int(batch_size, "batch_size", "Trainer")
        self.rng = rng
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.patience = check_int(patience, "patience", "Trainer")
        self.min_delta = check_number(min_delta, "min_delta", "Trainer", low=0)
        self.callbacks = _check_callbacks(callbacks)
        self.verbose = verbose
        self.description = description
        self.check_final = check_final if callable(check_final) else bool(check_final)
        self.stop_training = False
        self.history = History()
        self.epoch = 0
        self.batch = None
        # Early stopping's record: the best weights so far, their loss, epochs since.
        self.best_weights, self.best_loss, self.waited = None, None, 0

    # -- the training state ---------------------------------------------------------
    def state_dict(self):
        """Everything but the network's weights that training continues from.

        A dict of JSON-able values and lists of arrays: ``epoch``,
        ``history``, ``stop_training``, the early-stopping record
        (``best_weights`` or None, ``best_loss``, ``waited``), the
        ``optimizer``'s ``state_dict()`` and the generator's position
        (``rng``, ``rng.bit_generator.state``).
        """
        return {
            "epoch": self.epoch,
            "history": {key: list(values) for key, values in self.history.items()},
            "stop_training": bool(self.stop_training),
            # Snapshots, never modified in place (a new best replaces the list).
            "best_weights": None if self.best_weights is None else list(self.best_weights),
            "best_loss": self.best_loss,
            "waited": self.waited,
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state):
        """Restore a ``state_dict()`` (the network's weights are restored separately)."""
        best = state["best_weights"]
        if best is not None:
            shapes = [p.shape for p in self.network.params()]
            got = [np.shape(w) for w in best]
            if got != shapes:
                raise ValueError(
                    f"Trainer.load_state_dict expected best_weights of shapes {shapes}, got {got}"
                )
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.epoch = check_int(state["epoch"], "epoch", "Trainer.load_state_dict", minimum=0)
        self.history.clear()  # in place: the estimator holds this very History
        for key, values in state["history"].items():
            self.history[key] = [float(v) for v in values]
        self.stop_training = bool(state["stop_training"])
        self.best_weights = None if best is None else [np.array(w) for w in best]
        self.best_loss = None if state["best_loss"] is None else float(state["best_loss"])
        self.waited = int(state["waited"])

    def set_weights(self, weights):
        """Copy ``weights`` (arrays in ``network.params()`` order) into the network."""
        for p, saved in zip(self.network.params(), weights):
            p[...] = saved

    # -- the loop -------------------------------------------------------------------
    def fit(self, X, Y=None, validation_data=None):
        """Train for the remaining epochs; returns the history.

        ``Y`` defaults to ``X`` (an autoencoder reconstructs its input);
        ``validation_data`` is ``(X_val, Y_val)`` or None. The hooks are the
        trainer's own (``DivergenceGuard``, ``ProgressBar``), then
        ``callbacks``, called in that order at each moment of the loop.
        """
        Y = X if Y is None else Y
        n = _check_data(X, Y, validation_data)
        self.guard = DivergenceGuard(self.check_final)
        hooks = [self.guard, ProgressBar(), *self.callbacks]
        for hook in hooks:
            hook.on_train_begin(self, X, Y)
        try:
            while self.epoch < self.epochs and not self.stop_training:
                losses = {"loss": self._run_epoch(X, Y, n, hooks)}
                if validation_data is not None and self.evaluate is not None:
                    losses["val_loss"] = self._validation_loss(*validation_data)
                self.history.append(**losses)
                self.epoch += 1
                if self.early_stopping:
                    self._update_early_stopping(losses)
                for hook in hooks:
                    hook.on_epoch_end(self, {"epoch": self.epoch, "network": self.network,
                                             **losses})
            for hook in hooks:
                hook.on_train_end(self)
        except BaseException as error:
            raised = error
            for hook in hooks:  # the DivergenceGuard may name the error anew and roll back
                raised = hook.on_train_error(self, raised) or raised
            if raised is error:
                raise
            raise raised from error
        finally:
            self.batch = None
        if self.early_stopping and self.best_weights is not None:
            self.set_weights(self.best_weights)
        return self.history

    def _validation_loss(self, X_val, Y_val):
        """``evaluate`` on the validation rows: all at once, or block by block for ``Rows``.

        Block by block, the loss is the mean of the blocks' losses weighted
        by their rows (``npae.streaming``).
        """
        if not isinstance(X_val, Rows):
            return self.evaluate(X_val, Y_val)
        losses, sizes = [], []
        for start in range(0, len(X_val), X_val.block_rows):
            rows = slice(start, start + X_val.block_rows)
            xb = X_val[rows]
            losses.append(self.evaluate(xb, xb if Y_val is X_val else Y_val[rows]))
            sizes.append(len(xb))
        return losses[0] if len(losses) == 1 else float(np.average(losses, weights=sizes))

    def _run_epoch(self, X, Y, n, hooks):
        """One pass over the shuffled rows, one update per batch; returns the mean loss."""
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        total = 0.0
        for batch, start in enumerate(range(0, n, self.batch_size), start=1):
            idx = order[start:start + self.batch_size]
            xb = X[idx]
            yb = xb if Y is X else Y[idx]  # an autoencoder's target is its input
            self.batch = batch
            self.network.zero_grad()
            logs = {"epoch": self.epoch + 1, "batch": batch, "loss": self.step(xb, yb)}
            for hook in hooks:
                hook.on_step_end(self, logs)
            self.optimizer.step()
            total += logs["loss"] * len(idx)
            logs["network"] = self.network
            for hook in hooks:
                hook.on_batch_end(self, logs)
        for hook in hooks:
            hook.on_updates_end(self, {"epoch": self.epoch + 1, "batch": batch, "loss": total / n})
        self.batch = None
        return total / n

    def _update_early_stopping(self, logs):
        monitored = logs.get("val_loss", logs["loss"])
        if self.best_loss is None or monitored < self.best_loss - self.min_delta:
            self.best_weights = [p.copy() for p in self.network.params()]
            self.best_loss, self.waited = float(monitored), 0
        else:
            self.waited += 1
            if self.waited >= self.patience:
                self.stop_training = True


def _check_callbacks(callbacks):
    """A list of ``Callback`` instances from None or an iterable of them."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        raise TypeError("callbacks must be a list of npae.train.Callback, got one Callback: "
                        "pass [callback]")
    try:
        callbacks = list(callbacks)
    except TypeError:
        raise TypeError(f"callbacks must be a list of npae.train.Callback, got "
                        f"{type(callbacks).__name__}") from None
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(f"callbacks must be npae.train.Callback instances, got "
                            f"{type(callback).__name__} {callback!r}")
    return callbacks


def _check_data(X, Y, validation_data):
    """The number of training rows, once ``X``, ``Y`` and the validation data pass.

    Checked once here, so a NaN met inside a step can only mean divergence.
    ``Rows`` (``npae.streaming``) check each batch as it is read instead.
    """
    for name, array in (("X", X), ("Y", Y), *zip(("X_val", "Y_val"), validation_data or ())):
        if not isinstance(array, Rows) and not _finite(np.asarray(array)):
            raise NonFiniteInputError(f"Trainer expected finite {name}, got NaN or inf")
    n = X.shape[0]
    if n == 0 or len(Y) != n:
        raise ValueError(
            f"Trainer expected at least one training row and as many targets as rows, "
            f"got {n} rows and {len(Y)} targets"
        )
    return n


# -- the trainer's own hooks ------------------------------------------------------------

class ProgressBar(Callback):
    """A tqdm bar over the epochs, when ``trainer.verbose > 0`` and stderr is a terminal."""

    def on_train_begin(self, trainer, X, Y):
        show = trainer.verbose > 0 and sys.stderr.isatty()
        self.bar = tqdm(total=trainer.epochs, initial=trainer.epoch, desc=trainer.description,
                        disable=not show, leave=False)

    def on_epoch_end(self, trainer, logs):
        self.bar.update(1)
        self.bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k.endswith("loss")})

    def on_train_end(self, trainer):
        self.bar.close()

    def on_train_error(self, trainer, error):
        self.bar.close()


class DivergenceGuard(Callback):
    """Each epoch is a transaction: divergence or Ctrl-C puts training back to an epoch's end.

    A NaN or inf loss (of a batch, of the validation data, or, with
    ``check_final``, of the final weights), parameters that became NaN or
    inf, or a NaN met inside the network (a layer's ``NonFiniteInputError``)
    stop training with a ``TrainingDivergedError`` naming the epoch and
    batch, and put the whole training state (weights, optimizer, generator,
    history, early-stopping record) back to the last *good* epoch: the newest
    whose weights then gave a finite loss, on the validation data or on the
    next batch (so a failure on an epoch's first batch condemns the epoch
    before), or, for the final weights (``check_final``) and weights about
    to be checkpointed, on the training rows (``confirm``). A
    ``KeyboardInterrupt`` puts it back to the last finished epoch.

    Parameters
    ----------
    check_final : bool or callable, default False
        See ``Trainer``.
    """

    def __init__(self, check_final=False):
        self.check_final = check_final

    def on_train_begin(self, trainer, X, Y):
        # Weights are "good" once a forward pass with them gave a finite loss (the
        # validation loss or the next batch's); until then the end of the newest
        # epoch waits in ``latest``. Both are snapshots to roll back to.
        self._good, self._latest, self._updates = _snapshot(trainer), None, 0
        self._rows = (X, Y)

    def on_step_end(self, trainer, logs):
        if not np.isfinite(logs["loss"]):
            raise self._diverged(trainer, f"the loss became {logs['loss']}", logs["batch"])
        if logs["batch"] == 1:
            self._confirm_latest()

    def on_batch_end(self, trainer, logs):
        self._updates += 1

    def on_updates_end(self, trainer, logs):
        # The last update is only seen by the next forward: check it here.
        if not all(_finite(p) for p in trainer.network.params()):
            raise self._diverged(trainer, "the parameters became NaN or inf", logs["batch"])

    def on_epoch_end(self, trainer, logs):
        if "val_loss" in logs and not np.isfinite(logs["val_loss"]):
            raise self._diverged(trainer, f"the validation loss became {logs['val_loss']}",
                                 None, epoch=logs["epoch"])
        self._latest = _snapshot(trainer)
        if "val_loss" in logs:  # measured with these very weights
            self._confirm_latest()

    def on_train_end(self, trainer):
        if self.check_final:
            self.confirm(trainer)
        self._release()

    def on_train_error(self, trainer, error):
        if self._good is None:  # training had finished: nothing to roll back
            return error
        if isinstance(error, NonFiniteInputError):
            # A layer met NaN or inf inside the network: the weights blew up.
            error = self._diverged(trainer, "NaN or inf appeared inside the network",
                                   trainer.batch)
        if isinstance(error, TrainingDivergedError):
            _restore(trainer, self._good)
        elif isinstance(error, KeyboardInterrupt):
            _restore(trainer, self._latest or self._good)
        self._release()
        return error

    def _release(self):
        self._good = self._latest = self._rows = None  # let go of the snapshots

    def _confirm_latest(self):
        """A forward pass with the newest epoch's weights gave a finite loss: they are good."""
        if self._latest is not None:
            self._good, self._latest = self._latest, None

    def confirm(self, trainer, what="final weights"):
        """Keep the newest epoch's weights only if they give a finite loss on the training rows.

        For weights no forward pass has tested yet (the last epoch's, or an
        epoch's that is about to be checkpointed): ``evaluate`` on every
        training row, a batch at a time (or the trainer's ``check_final``
        when it is a callable), the generator left where it was.
        Raises ``TrainingDivergedError`` otherwise, naming ``what`` was
        tested (``on_train_error`` then puts back the last good epoch).
        """
        if self._latest is None or trainer.evaluate is None:
            return
        X, Y = self._rows
        state = trainer.rng.bit_generator.state
        try:
            if callable(self.check_final):
                loss = self.check_final()
            else:
                for start in range(0, len(X), trainer.batch_size):
                    rows = slice(start, start + trainer.batch_size)
                    loss = trainer.evaluate(X[rows], Y[rows])
                    if not np.isfinite(loss):
                        break
        except NonFiniteInputError:
            loss = float("nan")
        finally:
            trainer.rng.bit_generator.state = state
        if not np.isfinite(loss):
            raise self._diverged(trainer, f"the loss of the {what} became {loss} on the "
                                 "training rows", None, epoch=trainer.epoch)
        self._confirm_latest()

    def _diverged(self, trainer, what, batch, epoch=None):
        epoch = trainer.epoch + 1 if epoch is None else epoch
        where = f"at epoch {epoch}" + (f", batch {batch}" if batch else "")
        if self._updates == 0:
            # No update has happened yet: the learning rate cannot be the cause.
            hint = ("It happened before any update, so the data or the weights training "
                    "started from overflow: scale the data (e.g. to [0, 1]).")
        else:
            hint = "Try a smaller learning_rate."
        kept = self._good[1]["epoch"]
        return TrainingDivergedError(
            f"training diverged: {what} {where}; the weights from the end of epoch "
            f"{kept} were kept. {hint}"
        )


def _snapshot(trainer):
    """Weights and training state at the end of an epoch, to roll back to."""
    return [p.copy() for p in trainer.network.params()], trainer.state_dict()


def _restore(trainer, snapshot):
    weights, state = snapshot
    trainer.set_weights(weights)
    trainer.load_state_dict(state)
