"""The minibatch training loop every npae estimator uses.

One epoch: shuffle the rows with the estimator's seeded generator, then for
each minibatch zero the gradients, run ``step(xb, yb)`` (forward, loss,
backward: it returns the loss and leaves gradients in the network) and let
the optimizer update the parameters. After the epoch the validation loss is
measured, the history grows, callbacks run and early stopping decides.

Nothing is lost on failure: a NaN or inf loss stops training with a
``TrainingDivergedError`` (a ``FloatingPointError``) naming the epoch and
batch, after the parameters are put back to their values at the end of the
last good epoch; a ``KeyboardInterrupt`` does the same before it propagates.
"""

import sys

import numpy as np
from tqdm.auto import tqdm

from npae._validation import NonFiniteInputError, check_int, check_number


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or inf; the model keeps its last good weights."""


def _finite(array):
    # One summing pass is cheap; only a non-finite sum needs the full test.
    return bool(np.isfinite(array.sum()) or np.isfinite(array).all())


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
    """

    def __init__(self, network, optimizer, step, evaluate=None, *, epochs, batch_size, rng,
                 shuffle=True, early_stopping=False, patience=10, min_delta=0.0,
                 callbacks=(), verbose=0, description="training"):
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
        self.stop_training = False
        self.history = History()
        self.epoch = 0

    def _snapshot(self):
        return [p.copy() for _, p, _ in self.network.named_parameters()]

    def _restore(self, snapshot):
        for (_, p, _), saved in zip(self.network.named_parameters(), snapshot):
            p[...] = saved

    def _progress(self):
        show = self.verbose > 0 and sys.stderr.isatty()
        return tqdm(total=self.epochs, initial=self.epoch, desc=self.description,
                    disable=not show, leave=False)

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
        last_good = self._snapshot()
        best, best_loss, waited = None, np.inf, 0
        with self._progress() as bar:
            while self.epoch < self.epochs and not self.stop_training:
                try:
                    logs = self._run_epoch(X, Y, n, validation_data)
                except (TrainingDivergedError, KeyboardInterrupt):
                    self._restore(last_good)
                    raise
                self.history.append(**logs)
                self.epoch += 1
                last_good = self._snapshot()
                bar.update(1)
                bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()})
                for cb in self.callbacks:
                    cb.on_epoch_end(self, {"epoch": self.epoch, "network": self.network, **logs})
                if self.early_stopping:
                    monitored = logs.get("val_loss", logs["loss"])
                    if monitored < best_loss - self.min_delta:
                        best, best_loss, waited = last_good, monitored, 0
                    else:
                        waited += 1
                        if waited >= self.patience:
                            self.stop_training = True
        if self.early_stopping and best is not None:
            self._restore(best)
        return self.history

    def _diverged(self, what, batch):
        where = f"at epoch {self.epoch + 1}" + (f", batch {batch}" if batch else "")
        return TrainingDivergedError(
            f"training diverged: {what} {where}; the weights from the end of epoch "
            f"{self.epoch} were kept. Try a smaller learning_rate."
        )

    def _run_epoch(self, X, Y, n, validation_data):
        """One pass over the data; returns the epoch's logs (``loss``, ``val_loss``)."""
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        total = 0.0
        batch = 0
        for batch, start in enumerate(range(0, n, self.batch_size), start=1):
            idx = order[start:start + self.batch_size]
            xb, yb = X[idx], Y[idx]
            self.network.zero_grad()
            try:
                loss = self.step(xb, yb)
            except NonFiniteInputError as err:
                # A layer met NaN or inf inside the network: the weights blew up.
                raise self._diverged("NaN or inf appeared inside the network", batch) from err
            if not np.isfinite(loss):
                raise self._diverged(f"the loss became {loss}", batch)
            self.optimizer.step()
            total += loss * len(idx)
            for cb in self.callbacks:
                cb.on_batch_end(self, {"epoch": self.epoch + 1, "batch": batch,
                                       "loss": loss, "network": self.network})
        # The last update is only seen by the next forward: check it here.
        if not all(_finite(p) for _, p, _ in self.network.named_parameters()):
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
