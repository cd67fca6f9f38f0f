"""Tests of npae.convergence: tol / n_iter_no_change, n_iter_ and the ConvergenceWarning."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from test_reliability import NAMES, make_tiny, tiny_data, tiny_targets

from npae import Autoencoder, LinearAutoencoder
from npae.convergence import ConvergenceStop
from npae.datasets import load_digits
from npae.train import History

TRAINED = sorted(set(NAMES) - {"PCA"})


class _Trainer:
    def __init__(self, history=None):
        self.history = History(history or {})
        self.stop_training = False


def test_the_rule_is_scikit_learns_mlp_rule():
    # improvements beat the best by more than tol = 0.01; the count must exceed 2
    losses = [1.0, 0.5, 0.495, 0.3, 0.299, 0.298, 0.4, 0.2, 0.195, 0.2, 0.191]
    stop = ConvergenceStop(tol=0.01, n_iter_no_change=2)
    trainer = _Trainer()
    counts = []
    for epoch, loss in enumerate(losses, start=1):
        stop.on_epoch_end(trainer, {"epoch": epoch, "loss": loss})
        counts.append(stop.count)
        if trainer.stop_training:
            break
    assert counts == [0, 0, 1, 0, 1, 2, 3]
    assert stop.converged and stop.best == 0.298 and epoch == 7


def test_the_validation_loss_is_watched_when_there_is_one():
    stop = ConvergenceStop(tol=0.0, n_iter_no_change=1)
    trainer = _Trainer()
    for epoch, (loss, val) in enumerate([(1.0, 1.0), (0.5, 1.1), (0.4, 1.2)], start=1):
        stop.on_epoch_end(trainer, {"epoch": epoch, "loss": loss, "val_loss": val})
    assert trainer.stop_training and stop.best == 1.0


def test_a_resumed_history_is_replayed():
    trainer = _Trainer({"loss": [1.0, 0.9, 0.9, 0.9]})
    stop = ConvergenceStop(tol=0.05, n_iter_no_change=1)
    stop.on_train_begin(trainer, None, None)
    assert stop.converged and trainer.stop_training and stop.count == 2


def _digits():
    return load_digits()[0][:500]


def test_a_fit_stops_when_converged_without_warning():
    X = _digits()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = LinearAutoencoder(4, solver="gd", epochs=2000, learning_rate=1e-2, tol=1e-5,
                                  n_iter_no_change=5, random_state=0).fit(X)
    loss = model.history_["loss"]
    assert model.n_iter_ == len(loss) < 2000
    # the last 6 epochs did not beat the best before them by tol; the 7th from the end did
    best_before = min(loss[:-6])
    assert all(value > best_before - 1e-5 for value in loss[-6:])
    # the same epochs with the rule off end at the same weights
    fixed = LinearAutoencoder(4, solver="gd", epochs=model.n_iter_, learning_rate=1e-2,
                              random_state=0).fit(X)
    for a, b in zip(model.network_.params(), fixed.network_.params()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", TRAINED)
def test_running_out_of_epochs_warns(name):
    X = tiny_data(name)
    params = ({"finetune_epochs": 2, "pretrain": False} if name == "StackedAutoencoder"
              else {"epochs": 2})
    model = make_tiny(name, n_iter_no_change=5, **params)
    with pytest.warns(ConvergenceWarning, match=rf"{name}( \(fine-tune\))?: the 2 epochs ran out "
                                                r"before the loss stopped improving \(by tol="):
        model.fit(X, *tiny_targets(name, X))
    assert model.n_iter_ == 2
    assert model.get_params()["tol"] == 1e-4


@pytest.mark.parametrize("name", TRAINED)
def test_without_n_iter_no_change_every_epoch_runs_silently(name):
    X = tiny_data(name)
    model = make_tiny(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X, *tiny_targets(name, X))
    assert model.n_iter_ == len(model.history_["loss"]) == 2


def test_resuming_a_checkpoint_stops_where_the_unbroken_run_stops(tmp_path):
    X = _digits()
    params = dict(hidden_sizes=(16,), code_size=4, learning_rate=1e-2, tol=1e-3,
                  n_iter_no_change=2, random_state=0)
    unbroken = Autoencoder(epochs=500, **params).fit(X)
    assert unbroken.n_iter_ < 500
    path = tmp_path / "run.npz"
    with pytest.warns(ConvergenceWarning):
        Autoencoder(epochs=unbroken.n_iter_ - 2, **params).fit(X, checkpoint=path)
    resumed = Autoencoder(epochs=500, **params).fit(X, checkpoint=path, resume=True)
    assert resumed.n_iter_ == unbroken.n_iter_
    assert resumed.history_["loss"] == unbroken.history_["loss"]
    for a, b in zip(resumed.network_.params(), unbroken.network_.params()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("params, error, message", [
    ({"tol": -1e-3}, ValueError, "tol must be >= 0"),
    ({"n_iter_no_change": 0}, ValueError, "n_iter_no_change must be >= 1, got 0"),
    ({"n_iter_no_change": 2.5}, TypeError, "n_iter_no_change must be an int"),
])
def test_bad_settings(params, error, message):
    with pytest.raises(error, match=message):
        Autoencoder(**params).fit(np.eye(4))
