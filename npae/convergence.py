"""When training is done: scikit-learn's ``tol`` / ``n_iter_no_change`` rule as a loop hook.

scikit-learn's ``MLPRegressor`` counts the epochs whose loss did not beat
the best loss so far by at least ``tol``; a better epoch resets the count,
and training stops once the count exceeds ``n_iter_no_change``. That is
convergence. When ``max_iter`` (npae: ``epochs``) runs out first, the model
may be far from done, and a ``sklearn.exceptions.ConvergenceWarning`` says
so. ``ConvergenceStop`` applies the rule after every epoch, to the
validation loss when there is one and to the training loss otherwise; the
estimators add it to their training loop when ``n_iter_no_change`` is set.

Unlike ``early_stopping`` it keeps the last weights, not the best ones: it
asks whether the optimization has settled, not which epoch generalized best.

``tol`` is absolute, and npae's reconstruction losses are means per entry
(about 1e-2 on the digits), so scikit-learn's 1e-4 is coarse: a
``LinearAutoencoder(8, solver="gd")`` on the digits stops after 32 epochs
at a largest principal angle of 1.2 rad from PCA's subspace with
``n_iter_no_change=10``, after 269 epochs at 0.03 rad with ``tol=1e-8`` and
``n_iter_no_change=20`` (400 fixed epochs reach 0.016 rad).
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from npae.train import Callback


def monitored_losses(history):
    """The losses the rule watches: ``val_loss`` when recorded, else ``loss``."""
    return history.get("val_loss") or history.get("loss", [])


class ConvergenceStop(Callback):
    """Stop when the loss has not improved by ``tol`` for more than ``n_iter_no_change`` epochs.

    An epoch improves when its loss is below ``best - tol``, ``best`` the
    lowest loss so far (scikit-learn's MLP rule, ``tol`` absolute). The
    record is rebuilt from the trainer's history when training begins, so a
    run resumed from a checkpoint stops where the unbroken run stops.

    Attributes
    ----------
    converged : bool
        The rule has fired.
    best : float
        The lowest monitored loss so far.
    count : int
        Epochs since the last improvement.
    """

    def __init__(self, tol, n_iter_no_change):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.converged = False
        self.best, self.count = np.inf, 0

    def _record(self, loss):
        self.count = self.count + 1 if loss > self.best - self.tol else 0
        self.best = min(self.best, loss)
        self.converged = self.count > self.n_iter_no_change

    def on_train_begin(self, trainer, X, Y):
        self.converged, self.best, self.count = False, np.inf, 0
        for loss in monitored_losses(trainer.history):
            self._record(loss)
        if self.converged:
            trainer.stop_training = True

    def on_epoch_end(self, trainer, logs):
        self._record(logs.get("val_loss", logs["loss"]))
        if self.converged:
            trainer.stop_training = True


def warn_not_converged(owner, epochs, tol, n_iter_no_change):
    """The ``ConvergenceWarning`` of a fit whose ``epochs`` ran out before the rule fired."""
    warnings.warn(
        f"{owner}: the {epochs} epochs ran out before the loss stopped improving (by tol={tol} "
        f"for more than n_iter_no_change={n_iter_no_change} epochs); the model may not have "
        f"converged: raise epochs or learning_rate",
        ConvergenceWarning, stacklevel=4)
