"""The minibatch training loop every npae estimator uses.

One epoch: shuffle the rows with the estimator's seeded generator, then for
each minibatch zero the gradients, run ``step(xb, yb)`` (forward, loss,
backward: it returns the loss and leaves gradients in the network) and let
the optimizer update the parameters. After the epoch the validation loss is
measured, the history grows, early stopping decides and callbacks run.

Nothing is lost on failure. Each epoch is a transaction: the whole training
state (weights, optimizer state, generator, history, early-stopping record)
is put back to an epoch boundary before the error propagates:

- a NaN or inf loss stops training with a ``TrainingDivergedError`` (a
  ``FloatingPointError``) naming the epoch and batch, and keeps the last
  *good* epoch: the newest whose weights then gave a finite loss, on the
  validation data or on the next batch (so a failure on an epoch's first
  batch condemns the epoch before);
- a ``KeyboardInterrupt`` keeps the last finished epoch.

``state_dict`` / ``load_state_dict`` save and restore that state (the weights
apart), so a run can stop and continue bit for bit; the ``checkpoint`` hook
writes it every ``checkpoint_every`` epochs, at the end, and on an interrupt.
"""

import sys

import numpy as np
from tqdm import tqdm

from npae._validation import NonFiniteInputError, check_int, check_number


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or inf; the model keeps its last good weights."""


def _finite(array):
    # One summing pass is cheap; only a non-finite sum needs the full test
    # (a sum of huge finite values overflows without meaning anything).
    with np.errstate(over="ignore", invalid="ignore"):
        total = array.sum()
    return bool(np.isfinite(total) or np.isfinite(array).all())


class Callback:
    """Hooks called by the training loop; override what you need.

    ``logs`` holds ``epoch``, ``batch`` (in ``on_batch_end``), ``loss`` and
    ``val_loss`` (when there is validation data), and ``network`` (the
    ``Sequential`` being trained, with this batch's gradients in
    ``on_batch_end``). Set ``trainer.stop_training = True`` to stop early.
    """

    def on_batch_end(self, trainer, logs):
        pass

    def on_epoch_end(self, trainer, logs):
        pass


class History(dict):
    """Per-epoch records: ``history["loss"]``, ``history["val_loss"]``, ..."""

    def append(self, **values):
        for key, value in values.items():
            self.setdefault(key, []).append(float(value))


class Trainer:
    """Minibatch gradient descent over a network's parameters.

    Parameters
    ----------
    network : Sequential
        Its ``named_parameters()`` are trained; used for snapshots.
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
    verbose : int
        0 silent; 1 a tqdm bar over epochs when attached to a terminal.
    checkpoint : callable ``(trainer) -> None``, optional
        Writes the training state (``trainer.state_dict()`` and the
        network's weights); called after every ``checkpoint_every``-th
        epoch, after the last one, and when a ``KeyboardInterrupt`` stops
        training after an epoch newer than the last checkpoint.
    checkpoint_every : int, default 1
    check_final : bool, default False
        After the last epoch, unless a validation loss already did, call
        ``evaluate`` once more on the first batch so that the final weights,
        like every epoch's, are kept only if they give a finite loss
        (otherwise: ``TrainingDivergedError`` and the previous epoch's
        weights).
    """

    def __init__(self, network, optimizer, step, evaluate=None, *, epochs, batch_size, rng,
                 shuffle=True, early_stopping=False, patience=10, min_delta=0.0,
                 callbacks=(), verbose=0, description="training", checkpoint=None,
                 checkpoint_every=1, check_final=False):
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
        self.callbacks = list(callbacks or ())
        self.verbose = verbose
        self.description = description
        self.checkpoint = checkpoint
        self.checkpoint_every = check_int(checkpoint_every, "checkpoint_every", "Trainer")
        self.check_final = bool(check_final)
        self.stop_training = False
        self.history = History()
        self.epoch = 0
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

    def _snapshot(self):
        """Weights and training state at the end of an epoch, to roll back to."""
        return [p.copy() for p in self.network.params()], self.state_dict()

    def _restore(self, snapshot):
        weights, state = snapshot
        self._restore_weights(weights)
        self.load_state_dict(state)

    def _restore_weights(self, weights):
        for p, saved in zip(self.network.params(), weights):
            p[...] = saved

    def _progress(self):
        show = self.verbose > 0 and sys.stderr.isatty()
        return tqdm(total=self.epochs, initial=self.epoch, desc=self.description,
                    disable=not show, leave=False)

    # -- the loop -------------------------------------------------------------------
    def fit(self, X, Y=None, validation_data=None):
        """Train for the remaining epochs; returns the history.

        ``Y`` defaults to ``X`` (an autoencoder reconstructs its input);
        ``validation_data`` is ``(X_val, Y_val)`` or None.
        """
        Y = X if Y is None else Y
        # Checked once here, so a NaN met inside a step can only mean divergence.
        for name, array in (("X", X), ("Y", Y), *zip(("X_val", "Y_val"), validation_data or ())):
            if not _finite(np.asarray(array)):
                raise NonFiniteInputError(f"Trainer expected finite {name}, got NaN or inf")
        n = X.shape[0]
        if n == 0 or len(Y) != n:
            raise ValueError(
                f"Trainer expected at least one training row and as many targets as rows, "
                f"got {n} rows and {len(Y)} targets"
            )
        # Weights are "good" once a forward pass with them gave a finite loss (the
        # validation loss or the next batch's); until then the end of the newest
        # epoch waits in ``latest``. Both are snapshots to roll back to.
        self._good, self._latest, self._updates = self._snapshot(), None, 0
        checkpointed = self.epoch  # the newest epoch a checkpoint holds (or needs not hold)
        with self._progress() as bar:
            try:
                while self.epoch < self.epochs and not self.stop_training:
                    logs = self._run_epoch(X, Y, n, validation_data)
                    self.history.append(**logs)
                    self.epoch += 1
                    if self.early_stopping:
                        self._update_early_stopping(logs)
                    self._latest = self._snapshot()
                    if "val_loss" in logs:  # measured with these very weights
                        self._confirm_latest()
                    bar.update(1)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()})
                    for cb in self.callbacks:
                        cb.on_epoch_end(self, {"epoch": self.epoch, "network": self.network,
                                               **logs})
                    if self.checkpoint is not None and (
                            self.epoch % self.checkpoint_every == 0
                            or self.epoch == self.epochs or self.stop_training):
                        self.checkpoint(self)
                        checkpointed = self.epoch
                if self.check_final and self._latest is not None and self.evaluate is not None:
                    self._check_final_weights(X, Y)
            except TrainingDivergedError:
                self._restore(self._good)
                raise
            except KeyboardInterrupt:
                self._restore(self._latest or self._good)
                if self.checkpoint is not None and self.epoch > checkpointed:
                    self.checkpoint(self)
                raise
            finally:
                self._good = self._latest = None  # let go of the snapshots
        if self.early_stopping and self.best_weights is not None:
            self._restore_weights(self.best_weights)
        return self.history

    def _update_early_stopping(self, logs):
        monitored = logs.get("val_loss", logs["loss"])
        if self.best_loss is None or monitored < self.best_loss - self.min_delta:
            self.best_weights = [p.copy() for p in self.network.params()]
            self.best_loss, self.waited = float(monitored), 0
        else:
            self.waited += 1
            if self.waited >= self.patience:
                self.stop_training = True

    def _diverged(self, what, batch, epoch=None):
        epoch = self.epoch + 1 if epoch is None else epoch
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

    def _confirm_latest(self):
        """A forward pass with the newest epoch's weights gave a finite loss: they are good."""
        if self._latest is not None:
            self._good, self._latest = self._latest, None

    def _check_final_weights(self, X, Y):
        """Give the last epoch's weights the test every other epoch's get: one batch's loss.

        Measured with ``evaluate``; the generator is left where it was.
        """
        state = self.rng.bit_generator.state
        try:
            loss = self.evaluate(X[:self.batch_size], Y[:self.batch_size])
        except NonFiniteInputError:
            loss = float("nan")
        finally:
            self.rng.bit_generator.state = state
        if not np.isfinite(loss):
            raise self._diverged(f"the loss of the final weights became {loss} on the first "
                                 "rows", None, epoch=self.epoch)
        self._confirm_latest()

    def _run_epoch(self, X, Y, n, validation_data):
        """One pass over the data; returns the epoch's logs (``loss``, ``val_loss``)."""
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        total = 0.0
        batch = 0
        for batch, start in enumerate(range(0, n, self.batch_size), start=1):
            idx = order[start:start + self.batch_size]
            xb = X[idx]
            yb = xb if Y is X else Y[idx]  # an autoencoder's target is its input
            self.network.zero_grad()
            try:
                loss = self.step(xb, yb)
            except NonFiniteInputError as err:
                # A layer met NaN or inf inside the network: the weights blew up.
                raise self._diverged("NaN or inf appeared inside the network", batch) from err
            if not np.isfinite(loss):
                raise self._diverged(f"the loss became {loss}", batch)
            if batch == 1:
                self._confirm_latest()
            self.optimizer.step()
            self._updates += 1
            total += loss * len(idx)
            for cb in self.callbacks:
                cb.on_batch_end(self, {"epoch": self.epoch + 1, "batch": batch,
                                       "loss": loss, "network": self.network})
        # The last update is only seen by the next forward: check it here.
        if not all(_finite(p) for p in self.network.params()):
            raise self._diverged("the parameters became NaN or inf", batch)
        logs = {"loss": total / n}
        if validation_data is not None and self.evaluate is not None:
            try:
                logs["val_loss"] = self.evaluate(*validation_data)
            except NonFiniteInputError as err:
                raise self._diverged("NaN or inf appeared inside the network", None) from err
            if not np.isfinite(logs["val_loss"]):
                raise self._diverged(f"the validation loss became {logs['val_loss']}", None)
        return logs
