"""The training loop: shuffling, history, validation, early stopping, failure, callbacks."""

import re
import sys

import numpy as np
import pytest

from npae import losses
from npae.layers import Dense
from npae.network import Sequential, mlp
from npae.optim import SGD, Adam
from npae.train import Callback, History, Trainer, TrainingDivergedError


class Recorder(Callback):
    """Remembers every call and the parameters at the end of each epoch."""

    def __init__(self):
        self.batches, self.epochs, self.snapshots = [], [], {}

    def on_batch_end(self, trainer, logs):
        self.batches.append((logs["epoch"], logs["batch"], logs["loss"]))
        assert logs["network"] is trainer.network

    def on_epoch_end(self, trainer, logs):
        self.epochs.append(dict(logs))
        self.snapshots[logs["epoch"]] = [p.copy() for p in trainer.network.params()]


def make(n_features=6, seed=0):
    net = mlp([n_features, 4, n_features], "tanh", rng=seed)

    def step(xb, yb):
        loss, grad = losses.mean_squared_error(net.forward(xb), yb)
        net.backward(grad)
        return loss

    def evaluate(x, y):
        return losses.mean_squared_error(net.forward(x, training=False), y)[0]

    return net, step, evaluate


def data(n=40, n_features=6, seed=0):
    return np.random.default_rng(seed).normal(size=(n, n_features))


def trainer_for(net, step, evaluate=None, lr=0.05, **kwargs):
    kwargs.setdefault("epochs", 3)
    kwargs.setdefault("batch_size", 8)
    kwargs.setdefault("rng", np.random.default_rng(0))
    return Trainer(net, SGD(net.params(), net.grads(), lr=lr), step, evaluate, **kwargs)


def params_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


# -- order, history, validation ----------------------------------------------------

def batch_order(seed, shuffle=True, epochs=2):
    X = np.arange(10, dtype=np.float64)[:, None] * np.ones((1, 6))
    net, step, _ = make()
    seen = []

    def recording_step(xb, yb):
        seen.append(xb[:, 0].astype(int).tolist())
        return step(xb, yb)

    trainer_for(net, recording_step, epochs=epochs, batch_size=4,
                rng=np.random.default_rng(seed), shuffle=shuffle).fit(X)
    return seen


def test_shuffling_is_reproducible_from_the_seed():
    first = batch_order(seed=0)
    assert first == batch_order(seed=0)
    assert first != batch_order(seed=1)
    assert [len(b) for b in first] == [4, 4, 2] * 2  # the last batch is the remainder
    epoch1, epoch2 = sum(first[:3], []), sum(first[3:], [])
    assert sorted(epoch1) == sorted(epoch2) == list(range(10))  # each row once per epoch
    assert epoch1 != epoch2  # reshuffled every epoch


def test_no_shuffle_keeps_row_order():
    assert batch_order(seed=0, shuffle=False) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] * 2


def test_whole_training_is_reproducible():
    results = []
    for _ in range(2):
        net, step, evaluate = make(seed=3)
        trainer_for(net, step, evaluate, epochs=4, rng=np.random.default_rng(7)).fit(data())
        results.append(net.params())
    assert params_equal(*results)


def test_history_has_one_entry_per_epoch_and_is_the_mean_batch_loss():
    net, step, evaluate = make()
    recorder = Recorder()
    X = data(n=20)
    history = trainer_for(net, step, evaluate, epochs=4, batch_size=8,
                          callbacks=[recorder]).fit(X, validation_data=(X[:5], X[:5]))
    assert isinstance(history, History)
    assert len(history["loss"]) == len(history["val_loss"]) == 4
    for epoch in range(1, 5):
        batch_losses = [loss for e, _, loss in recorder.batches if e == epoch]
        # rows-weighted mean over batches of 8, 8 and 4 rows
        expected = (8 * batch_losses[0] + 8 * batch_losses[1] + 4 * batch_losses[2]) / 20
        assert history["loss"][epoch - 1] == pytest.approx(expected, rel=1e-12)


def test_validation_loss_is_recorded_after_each_epoch():
    net, step, evaluate = make()
    recorder = Recorder()
    X, X_val = data(), data(n=10, seed=1)
    history = trainer_for(net, step, evaluate, epochs=3, callbacks=[recorder]).fit(
        X, validation_data=(X_val, X_val))
    for epoch, params in recorder.snapshots.items():
        probe, _, probe_eval = make()
        probe.load_state_dict(dict(zip(["0.W", "0.b", "2.W", "2.b"], params)))
        assert history["val_loss"][epoch - 1] == pytest.approx(probe_eval(X_val, X_val))
    assert [e["val_loss"] for e in recorder.epochs] == history["val_loss"]


def test_no_validation_without_evaluate_or_data():
    net, step, evaluate = make()
    history = trainer_for(net, step, evaluate).fit(data())
    assert set(history) == {"loss"}
    net, step, _ = make()
    X = data()
    assert set(trainer_for(net, step, None).fit(X, validation_data=(X, X))) == {"loss"}


def test_targets_default_to_inputs_and_can_differ():
    net, step, _ = make()
    pairs = []

    def recording_step(xb, yb):
        pairs.append((xb.copy(), yb.copy()))
        return step(xb, yb)

    X = data()
    trainer_for(net, recording_step, epochs=1).fit(X)
    assert all(np.array_equal(x, y) for x, y in pairs)
    pairs.clear()
    trainer_for(net, recording_step, epochs=1).fit(X, -X)
    assert all(np.array_equal(x, -y) for x, y in pairs)


# -- early stopping --------------------------------------------------------------

class ScriptedValidation:
    """An evaluate() returning given validation losses epoch after epoch."""

    def __init__(self, values):
        self.values = list(values)

    def __call__(self, x, y):
        return self.values.pop(0)


def test_early_stopping_stops_and_restores_the_best_weights():
    net, step, _ = make()
    recorder = Recorder()
    val = [5.0, 4.0, 3.0, 3.5, 3.6, 2.99, 3.7, 3.8, 3.9, 4.0, 4.1, 4.2]
    trainer = trainer_for(net, step, ScriptedValidation(val), epochs=12, early_stopping=True,
                          patience=3, min_delta=0.05, callbacks=[recorder])
    X = data()
    history = trainer.fit(X, validation_data=(X, X))
    # best is epoch 3 (3.0); 2.99 at epoch 6 is not better by min_delta; stop after 3 more
    assert history["val_loss"] == val[:6]
    assert trainer.stop_training
    assert params_equal(net.params(), recorder.snapshots[3])
    assert not params_equal(net.params(), recorder.snapshots[6])


def test_early_stopping_monitors_training_loss_without_validation():
    net, step, _ = make()
    recorder = Recorder()
    calls = iter(range(10**6))

    def worsening_step(xb, yb):
        # training gets worse after epoch 2: the loss grows with every call
        loss = step(xb, yb)
        n = next(calls)
        return loss + (0 if n < 10 else n)

    trainer = trainer_for(net, worsening_step, epochs=20, batch_size=8, early_stopping=True,
                          patience=2, callbacks=[recorder])
    history = trainer.fit(data(n=40))  # 5 batches per epoch
    assert len(history["loss"]) == 4
    assert params_equal(net.params(), recorder.snapshots[2])


def test_without_early_stopping_the_last_weights_are_kept():
    net, step, _ = make()
    recorder = Recorder()
    X = data()
    trainer_for(net, step, ScriptedValidation([3.0, 4.0, 5.0]), epochs=3,
                callbacks=[recorder]).fit(X, validation_data=(X, X))
    assert params_equal(net.params(), recorder.snapshots[3])


# -- failure: divergence and interruption --------------------------------------------

def test_huge_learning_rate_raises_and_keeps_last_good_epoch():
    net, step, _ = make()
    recorder = Recorder()
    initial = [p.copy() for p in net.params()]
    trainer = trainer_for(net, step, lr=1e6, epochs=50, callbacks=[recorder])
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError) as info:
        trainer.fit(data() * 100)
    assert isinstance(info.value, FloatingPointError)
    message = str(info.value)
    epoch, batch = (int(s) for s in re.search(r"at epoch (\d+), batch (\d+)", message).groups())
    assert epoch == len(recorder.snapshots) + 1 and batch >= 1
    assert f"weights from the end of epoch {epoch - 1} were kept" in message
    assert params_equal(net.params(), recorder.snapshots.get(epoch - 1, initial))
    assert all(np.isfinite(p).all() for p in net.params())


def nan_at(step, epoch, batch, n_batches):
    """Wrap ``step`` to return NaN at the given 1-based epoch and batch."""
    calls = iter(range(10**6))

    def wrapped(xb, yb):
        n = next(calls)
        loss = step(xb, yb)
        return float("nan") if n == (epoch - 1) * n_batches + (batch - 1) else loss

    return wrapped


def test_nan_loss_names_epoch_and_batch_and_restores_snapshot():
    net, step, _ = make()
    recorder = Recorder()
    trainer = trainer_for(net, nan_at(step, epoch=3, batch=2, n_batches=5), epochs=5,
                          callbacks=[recorder])
    with pytest.raises(TrainingDivergedError, match=r"loss became nan at epoch 3, batch 2"):
        trainer.fit(data(n=40))
    assert params_equal(net.params(), recorder.snapshots[2])
    assert len(trainer.history["loss"]) == 2


def test_nan_in_the_first_epoch_restores_the_initial_weights():
    net, step, _ = make()
    initial = [p.copy() for p in net.params()]
    trainer = trainer_for(net, nan_at(step, epoch=1, batch=3, n_batches=5), epochs=2)
    with pytest.raises(TrainingDivergedError, match="epoch 1, batch 3"):
        trainer.fit(data(n=40))
    assert params_equal(net.params(), initial)


class Poison(Callback):
    """Sets a weight to ``value`` after the given batch, as an overflowing update would."""

    def __init__(self, epoch, batch, value=np.inf):
        self.epoch, self.batch, self.value = epoch, batch, value

    def on_batch_end(self, trainer, logs):
        if (logs["epoch"], logs["batch"]) == (self.epoch, self.batch):
            trainer.network.params()[0][0, 0] = self.value


@pytest.mark.parametrize("value", [np.inf, np.nan])
def test_non_finite_weights_inside_the_network_count_as_divergence(value):
    """A layer refusing a NaN input mid-network is divergence, not a user input error."""
    net, step, _ = make()
    recorder = Recorder()
    trainer = trainer_for(net, step, epochs=4, callbacks=[recorder, Poison(2, 3, value)])
    with np.errstate(all="ignore"), pytest.raises(
            TrainingDivergedError, match="NaN or inf appeared inside the network at epoch 2, "
                                         "batch 4"):
        trainer.fit(data(n=40))
    assert params_equal(net.params(), recorder.snapshots[1])


def test_non_finite_weights_after_the_last_batch_count_as_divergence():
    net, step, evaluate = make()
    recorder = Recorder()
    trainer = trainer_for(net, step, evaluate, epochs=4, callbacks=[Poison(2, 5), recorder])
    X = data(n=40)
    with np.errstate(all="ignore"), pytest.raises(
            TrainingDivergedError, match="parameters became NaN or inf at epoch 2, batch 5"):
        trainer.fit(X, validation_data=(X, X))
    assert params_equal(net.params(), recorder.snapshots[1])
    assert len(trainer.history["loss"]) == 1


def test_non_finite_validation_loss_counts_as_divergence():
    net, step, _ = make()
    recorder = Recorder()
    X = data()
    trainer = trainer_for(net, step, ScriptedValidation([1.0, np.inf]), epochs=4,
                          callbacks=[recorder])
    with pytest.raises(TrainingDivergedError, match="validation loss became inf at epoch 2"):
        trainer.fit(X, validation_data=(X, X))
    assert params_equal(net.params(), recorder.snapshots[1])


def test_keyboard_interrupt_restores_and_propagates():
    net, step, _ = make()
    recorder = Recorder()
    calls = iter(range(10**6))

    def interrupted(xb, yb):
        if next(calls) == 7:  # epoch 2, batch 3 of 5
            raise KeyboardInterrupt
        return step(xb, yb)

    trainer = trainer_for(net, interrupted, epochs=4, callbacks=[recorder])
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(data(n=40))
    assert len(recorder.batches) == 7
    assert params_equal(net.params(), recorder.snapshots[1])
    assert len(trainer.history["loss"]) == 1


# -- callbacks and stopping -------------------------------------------------------

def test_callbacks_are_called_the_right_number_of_times():
    net, step, evaluate = make()
    recorder = Recorder()
    X = data(n=21)
    trainer_for(net, step, evaluate, epochs=3, batch_size=5, callbacks=[recorder]).fit(
        X, validation_data=(X, X))
    assert [(e, b) for e, b, _ in recorder.batches] == \
        [(e, b) for e in (1, 2, 3) for b in (1, 2, 3, 4, 5)]
    assert [logs["epoch"] for logs in recorder.epochs] == [1, 2, 3]
    assert all({"loss", "val_loss", "network"} <= set(logs) for logs in recorder.epochs)


class MomentRecorder(Callback):
    """The loop's moments, in the order it calls them."""

    def __init__(self):
        self.moments = []

    def on_train_begin(self, trainer, X, Y):
        self.moments.append(("train_begin", len(X)))

    def on_step_end(self, trainer, logs):
        self.moments.append(("step_end", logs["epoch"], logs["batch"]))

    def on_batch_end(self, trainer, logs):
        self.moments.append(("batch_end", logs["epoch"], logs["batch"]))

    def on_updates_end(self, trainer, logs):
        self.moments.append(("updates_end", logs["epoch"], logs["batch"]))

    def on_epoch_end(self, trainer, logs):
        self.moments.append(("epoch_end", logs["epoch"], sorted(logs)))

    def on_train_end(self, trainer):
        self.moments.append(("train_end", trainer.epoch))

    def on_train_error(self, trainer, error):
        self.moments.append(("train_error", type(error).__name__, trainer.epoch))


def test_hooks_are_called_at_the_loop_moments_in_order():
    recorder, X = MomentRecorder(), data(n=12)  # two batches: 8 rows and 4
    trainer_for(*make(), epochs=2, batch_size=8, callbacks=[recorder]).fit(
        X, validation_data=(X, X))
    logs = ["epoch", "loss", "network", "val_loss"]
    per_epoch = [[("step_end", e, 1), ("batch_end", e, 1), ("step_end", e, 2),
                  ("batch_end", e, 2), ("updates_end", e, 2), ("epoch_end", e, logs)]
                 for e in (1, 2)]
    assert recorder.moments == [("train_begin", 12), *per_epoch[0], *per_epoch[1],
                                ("train_end", 2)]


def test_a_hook_sees_the_error_after_the_guard_rolled_training_back():
    net, step, _ = make()
    recorder = MomentRecorder()
    trainer = trainer_for(net, nan_at(step, epoch=3, batch=2, n_batches=5), epochs=5,
                          callbacks=[recorder])
    with pytest.raises(TrainingDivergedError):
        trainer.fit(data(n=40))
    # the guard comes first: the trainer is back at the end of epoch 2
    assert recorder.moments[-1] == ("train_error", "TrainingDivergedError", 2)
    assert ("train_end", 5) not in recorder.moments


def test_base_callback_does_nothing():
    net, step, _ = make()
    trainer_for(net, step, callbacks=[Callback()]).fit(data())


def test_stop_training_from_a_callback():
    class StopAfter(Callback):
        def on_epoch_end(self, trainer, logs):
            if logs["epoch"] == 2:
                trainer.stop_training = True

    net, step, _ = make()
    trainer = trainer_for(net, step, epochs=10, callbacks=[StopAfter()])
    assert len(trainer.fit(data())["loss"]) == 2
    assert trainer.epoch == 2


def test_stop_training_from_on_batch_end_stops_after_that_epoch():
    class StopNow(Callback):
        def on_batch_end(self, trainer, logs):
            trainer.stop_training = True

    net, step, _ = make()
    assert len(trainer_for(net, step, epochs=10, callbacks=[StopNow()]).fit(data())["loss"]) == 1


def test_fit_again_continues_to_more_epochs():
    net, step, _ = make()
    trainer = trainer_for(net, step, epochs=2)
    X = data()
    trainer.fit(X)
    trainer.epochs = 5
    assert len(trainer.fit(X)["loss"]) == 5


def test_zero_epochs_leaves_the_network_alone():
    net, step, _ = make()
    before = [p.copy() for p in net.params()]
    assert trainer_for(net, step, epochs=0).fit(data()) == {}
    assert params_equal(net.params(), before)


def test_gradients_are_zeroed_before_each_step():
    net = Sequential([Dense(3, 1, rng=0)])
    seen = []

    def step(xb, yb):
        seen.append(net.grads()[0].copy())
        loss, grad = losses.mean_squared_error(net.forward(xb), yb[:, :1])
        net.backward(grad)
        return loss

    trainer = Trainer(net, Adam(net.params(), net.grads()), step, epochs=2, batch_size=2,
                      rng=np.random.default_rng(0))
    trainer.fit(data(n=6, n_features=3))
    assert len(seen) == 6 and not any(g.any() for g in seen)


# -- progress bar ---------------------------------------------------------------------

def test_silent_when_verbose_is_zero(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    net, step, _ = make()
    trainer_for(net, step, verbose=0).fit(data())
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_bar_when_verbose_on_a_terminal(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    net, step, _ = make()
    trainer_for(net, step, verbose=1, description="my-run").fit(data())
    assert "my-run" in capsys.readouterr().err


def test_no_progress_bar_when_not_a_terminal(capsys):
    net, step, _ = make()
    trainer_for(net, step, verbose=1).fit(data())
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("where", ["X", "Y", "X_val"])
def test_non_finite_data_is_a_data_error_not_divergence(where):
    net, step, evaluate = make()
    X, bad = data(), data()
    bad[3, 2] = np.nan
    args = {"X": (bad, None, None), "Y": (X, bad, None), "X_val": (X, None, (bad, X))}[where]
    with pytest.raises(ValueError, match=f"Trainer expected finite {where}, got NaN or inf"):
        trainer_for(net, step, evaluate).fit(*args[:2], validation_data=args[2])


def test_empty_or_mismatched_data_is_refused():
    net, step, _ = make()
    with pytest.raises(ValueError, match="at least one training row .*got 0 rows"):
        trainer_for(net, step).fit(data()[:0])
    with pytest.raises(ValueError, match="got 40 rows and 39 targets"):
        trainer_for(net, step).fit(data(), data()[:39])


# -- arguments ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, message", [
    ({"epochs": -1}, ValueError, "epochs must be >= 0, got -1"),
    ({"epochs": 2.5}, TypeError, "epochs must be an int, got 2.5"),
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
    ({"patience": 0}, ValueError, "patience must be >= 1, got 0"),
    ({"min_delta": -0.1}, ValueError, "min_delta must be >= 0, got -0.1"),
])
def test_bad_arguments(kwargs, error, message):
    net, step, _ = make()
    with pytest.raises(error, match=message):
        trainer_for(net, step, **kwargs)
