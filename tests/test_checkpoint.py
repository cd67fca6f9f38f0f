"""Checkpoints: an interrupted run, resumed, ends bit for bit where an uninterrupted one does.

``fit(X, checkpoint=path, checkpoint_every=k)`` writes the model and the
training state (epoch, history, optimizer, generator) atomically;
``fit(X, checkpoint=path, resume=True)`` continues from it.
"""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import npae
from npae import Autoencoder, DenoisingAutoencoder
from npae.checkpoint import CheckpointInUseError
from npae.io import CheckpointError, ModelFileError, estimator_classes, read_checkpoint
from npae.models.base import BaseAutoencoder
from npae.optim import Adam
from npae.train import Callback, Trainer

# The generator feeds different things in each: shuffling only; masking noise per
# batch; the VAE's eps per batch and per validation pass; a held-out split.
RESUMABLE = {
    "Autoencoder": dict(hidden_sizes=(4,), code_size=2),
    "DenoisingAutoencoder": dict(hidden_sizes=(4,), code_size=2, noise="masking"),
    "VAE": dict(hidden_sizes=(4,), latent_dim=2, validation_fraction=0.25),
    "ContractiveAutoencoder": dict(code_size=3, validation_fraction=0.25,
                                   early_stopping=True, patience=2),
    "ConvAutoencoder": dict(channels=(2,), code_size=2),
}


def data(name="Autoencoder", n=24, seed=0):
    shape = (n, 1, 6, 6) if name == "ConvAutoencoder" else (n, 6)
    return np.random.default_rng(seed).uniform(size=shape)


def model(name="Autoencoder", **params):
    params = {**RESUMABLE[name], "epochs": 6, "batch_size": 8, "random_state": 0, **params}
    return estimator_classes()[name](**params)


def weights(m):
    return [p.copy() for p in m.network_.params()]


def same_arrays(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


class InterruptAt(Callback):
    """Ctrl-C after the given epoch ends (batch None) or after a batch of it."""

    def __init__(self, epoch, batch=None):
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, trainer, logs):
        if (logs["epoch"], logs["batch"]) == (self.epoch, self.batch):
            raise KeyboardInterrupt

    def on_epoch_end(self, trainer, logs):
        if self.batch is None and logs["epoch"] == self.epoch:
            raise KeyboardInterrupt


def interrupted(m, X, path, at, every=1):
    """``m`` after a Ctrl-C at ``at``, having checkpointed to ``path``."""
    with pytest.raises(KeyboardInterrupt):
        m.fit(X, callbacks=[at], checkpoint=path, checkpoint_every=every)
    return m


# -- bit-identical resume ---------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(RESUMABLE))
@pytest.mark.parametrize("at", [InterruptAt(3), InterruptAt(2, 2)], ids=["after-epoch-3",
                                                                         "inside-epoch-2"])
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, name, at):
    X = data(name)
    reference = model(name).fit(X)
    path = tmp_path / "run.npz"
    interrupted(model(name), X, path, at)
    resumed = model(name).fit(X, checkpoint=path, resume=True)
    assert same_arrays(weights(resumed), weights(reference))
    assert resumed.history_ == reference.history_
    for method in ("transform", "reconstruct"):
        np.testing.assert_array_equal(getattr(resumed, method)(X), getattr(reference, method)(X))
    # The generator continues where the uninterrupted one is (VAE.sample draws from it).
    assert resumed._rng.bit_generator.state == reference._rng.bit_generator.state


@pytest.mark.parametrize("name", ["Autoencoder", "DenoisingAutoencoder", "VAE"])
def test_e_epochs_then_resumed_to_E_equals_E_epochs(tmp_path, name):
    X = data(name)
    path = tmp_path / "run.npz"
    first = model(name, epochs=2).fit(X, checkpoint=path)
    assert len(first.history_["loss"]) == 2
    resumed = model(name, epochs=6).fit(X, checkpoint=path, resume=True)
    reference = model(name, epochs=6).fit(X)
    assert same_arrays(weights(resumed), weights(reference))
    assert resumed.history_ == reference.history_


def test_resuming_twice_from_one_checkpoint_agrees_even_unseeded(tmp_path):
    """With random_state=None the checkpoint alone fixes the rest of the run."""
    X = data()
    path = tmp_path / "run.npz"
    interrupted(model(random_state=None), X, path, InterruptAt(2))
    a = model(random_state=None).fit(X, checkpoint=path, resume=True)
    b = model(random_state=None).fit(X, checkpoint=path, resume=True)
    assert same_arrays(weights(a), weights(b))
    # ... and the run did go on from the checkpoint, not from scratch.
    assert a.history_["loss"][:2] == read_checkpoint(path)[0]["attributes"]["history_"]["loss"][:2]


def test_the_resumed_run_really_restores_the_generator(tmp_path, monkeypatch):
    """Without restoring the generator's position the resumed run would differ."""
    X = data("DenoisingAutoencoder")
    path = tmp_path / "run.npz"
    interrupted(model("DenoisingAutoencoder"), X, path, InterruptAt(3))
    reference = model("DenoisingAutoencoder").fit(X)
    real = Trainer.load_state_dict

    def forgetful(self, state):
        real(self, {**state, "rng": self.rng.bit_generator.state})

    monkeypatch.setattr(Trainer, "load_state_dict", forgetful)
    resumed = model("DenoisingAutoencoder").fit(X, checkpoint=path, resume=True)
    assert not same_arrays(weights(resumed), weights(reference))


def test_the_resumed_run_really_restores_the_optimizer(tmp_path, monkeypatch):
    X = data()
    path = tmp_path / "run.npz"
    interrupted(model(), X, path, InterruptAt(3))
    reference = model().fit(X)
    monkeypatch.setattr(Adam, "load_state_dict", lambda self, state: None)
    resumed = model().fit(X, checkpoint=path, resume=True)
    assert not same_arrays(weights(resumed), weights(reference))


# -- what is written, and when -----------------------------------------------------------

def checkpoint_epoch(path):
    _, _, state = read_checkpoint(path)
    return state["calls"][-1]["trainer"]["epoch"]


def test_written_every_k_epochs_at_the_end_and_on_ctrl_c(tmp_path, monkeypatch):
    import npae.io

    written = []
    real = npae.io.save_checkpoint

    def recording(estimator, path, state):
        written.append(state["calls"][-1]["trainer"]["epoch"])
        real(estimator, path, state)

    monkeypatch.setattr(npae.io, "save_checkpoint", recording)
    X = data()
    model(epochs=7).fit(X, checkpoint=tmp_path / "a.npz", checkpoint_every=3)
    assert written == [3, 6, 7]
    written.clear()
    interrupted(model(epochs=7), X, tmp_path / "b.npz", InterruptAt(5, 1), every=3)
    # epoch 3 on schedule; Ctrl-C in epoch 5 saves the finished epoch 4 instead of losing it
    assert written == [3, 4]
    assert checkpoint_epoch(tmp_path / "b.npz") == 4


def test_a_checkpoint_is_a_model_file(tmp_path):
    X = data()
    path = tmp_path / "run.npz"
    interrupted(model(), X, path, InterruptAt(2))
    loaded = npae.load(path)
    partial = model(epochs=2).fit(X)
    np.testing.assert_array_equal(loaded.transform(X), partial.transform(X))
    assert loaded.history_ == partial.history_
    assert isinstance(Autoencoder.load(path), Autoencoder)


def test_the_training_state_is_json_and_arrays(tmp_path):
    path = tmp_path / "run.npz"
    model().fit(data(), checkpoint=path)
    header, arrays, state = read_checkpoint(path)
    json.dumps(header["checkpoint"])  # scalars only; arrays are stored beside
    trainer = state["calls"][-1]["trainer"]
    assert trainer["epoch"] == 6 and len(trainer["history"]["loss"]) == 6
    assert trainer["optimizer"]["scalars"] == {"t": 18}  # 6 epochs of 3 batches
    assert all(isinstance(a, np.ndarray) for a in trainer["optimizer"]["arrays"])
    assert trainer["rng"]["bit_generator"] == "PCG64"
    assert any(key.startswith("state/") for key in arrays)


def test_a_crash_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    X = data()
    path = tmp_path / "run.npz"
    model(epochs=2).fit(X, checkpoint=path)
    before = path.read_bytes()

    def crash(fh, **arrays):
        fh.write(b"PK\x03\x04 half")
        raise OSError("disk full")

    monkeypatch.setattr("numpy.savez", crash)
    m = model(epochs=4)
    with pytest.raises(OSError, match="disk full"):
        m.fit(X, checkpoint=path, resume=True)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]
    # The failed writer's model is still whole, and the old checkpoint still resumes.
    assert np.isfinite(m.transform(X)).all()
    resumed = model(epochs=4).fit(X, checkpoint=path, resume=True)
    assert same_arrays(weights(resumed), weights(model(epochs=4).fit(X)))


# -- refusals ---------------------------------------------------------------------------

@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "run.npz"
    model(epochs=2).fit(data(), checkpoint=path)
    return path


def test_an_existing_file_is_never_overwritten_without_resume(saved):
    before = saved.read_bytes()
    with pytest.raises(FileExistsError, match="already exists; pass resume=True"):
        model().fit(data(), checkpoint=saved)
    assert saved.read_bytes() == before


@pytest.mark.parametrize("change, message", [
    ({"learning_rate": 0.01}, r"learning_rate=0.001 there, 0.01 here"),
    ({"hidden_sizes": (5,)}, r"hidden_sizes=\(4,\) there, \(5,\) here"),
    ({"random_state": 1}, r"random_state=0 there, 1 here"),
])
def test_other_hyperparameters_are_refused(saved, change, message):
    with pytest.raises(CheckpointError, match=message):
        model(**change).fit(data(), checkpoint=saved, resume=True)


def test_epochs_and_verbose_may_change(saved):
    model(epochs=3, verbose=0).fit(data(), checkpoint=saved, resume=True)


def test_another_class_is_refused(saved):
    other = DenoisingAutoencoder(hidden_sizes=(4,), code_size=2, epochs=6, batch_size=8,
                                 random_state=0)
    with pytest.raises(CheckpointError, match="checkpoint of a Autoencoder, not of a "
                                              "DenoisingAutoencoder"):
        other.fit(data(), checkpoint=saved, resume=True)


@pytest.mark.parametrize("X, message", [
    (data(n=24)[:, :5], r"samples of shape \(6,\) and dtype float64, got samples of shape "
                        r"\(5,\)"),
    (data(n=24).astype(np.float32), "dtype float64, got samples of shape \\(6,\\) and dtype "
                                    "float32"),
    (data(n=20), r"other data: X of shape \(24, 6\) float64 .* got shape \(20, 6\)"),
    (data(n=24, seed=1), r"other data: X of shape \(24, 6\) float64 \(sha256 "),
])
def test_other_data_is_refused(saved, X, message):
    with pytest.raises(CheckpointError, match=message):
        model().fit(X, checkpoint=saved, resume=True)


def test_fewer_epochs_than_the_checkpoint_holds_is_refused(saved):
    with pytest.raises(CheckpointError, match="holds 2 epochs of training, more than the 1 "
                                              "asked for"):
        model(epochs=1).fit(data(), checkpoint=saved, resume=True)


def test_a_plain_model_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "model.npz"
    model(epochs=1).fit(data()).save(path)
    with pytest.raises(CheckpointError, match="model file without training state"):
        model().fit(data(), checkpoint=path, resume=True)


def test_a_damaged_checkpoint_gives_the_file_error(saved):
    saved.write_bytes(saved.read_bytes()[:200])
    with pytest.raises(ModelFileError, match="truncated or damaged"):
        model().fit(data(), checkpoint=saved, resume=True)


def test_a_refused_resume_leaves_a_fitted_model_alone(saved):
    m = model(epochs=1, learning_rate=0.01).fit(data())
    before = weights(m)
    with pytest.raises(CheckpointError, match="other hyperparameters"):
        m.fit(data(), checkpoint=saved, resume=True)
    assert same_arrays(weights(m), before)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"resume": True}, ValueError, "resume=True needs checkpoint="),
    ({"checkpoint": 3}, TypeError, "checkpoint must be a path .* got int"),
    ({"checkpoint": "x.npz", "checkpoint_every": 0}, ValueError,
     "checkpoint_every must be >= 1, got 0"),
    ({"checkpoint": "x.npz", "checkpoint_every": 1.5}, TypeError,
     "checkpoint_every must be an int, got 1.5"),
    ({"checkpoint": "x.npz", "resume": "yes"}, TypeError, "resume must be True or False"),
    ({"checkpoint": "missing/dir/x.npz"}, FileNotFoundError, "directory .* does not exist"),
    ({"checkpoint": "absent.npz", "resume": True}, FileNotFoundError,
     "no checkpoint at .*absent.npz"),
])
def test_bad_checkpoint_arguments(tmp_path, monkeypatch, kwargs, error, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=message):
        model().fit(data(), **kwargs)
    assert list(tmp_path.iterdir()) == []


# -- estimators whose fit runs _train more than once, or overrides fit -------------------

class TwoStage(Autoencoder):
    """A test model whose fit trains twice, on data the first stage's weights produce."""

    first_epochs = 3

    def fit(self, X, y=None, callbacks=None, **checkpointing):
        X = self._initialize(X, **checkpointing)
        self._train(self.network_, self._step, self._evaluate, X, epochs=self.first_epochs)
        first = dict(self.history_)
        self.history_ = {"loss": []}
        shifted = X + 0.1 * self.reconstruct(X)  # depends on the weights: allowed
        self._train(self.network_, self._step, self._evaluate, shifted,
                    callbacks=callbacks or ())
        self.history_ = {"first_loss": first["loss"], **self.history_}
        return self


@pytest.mark.parametrize("stage, at", [(1, InterruptAt(2)), (2, InterruptAt(1, 2)),
                                       (2, InterruptAt(3, 1))],
                         ids=["stage-1-epoch-2", "stage-2-epoch-1", "stage-2-epoch-3"])
def test_a_fit_with_several_stages_resumes_exactly(tmp_path, stage, at):
    X = data()
    params = dict(hidden_sizes=(4,), code_size=2, epochs=4, batch_size=8,
                  validation_fraction=0.25, random_state=0)
    reference = TwoStage(**params).fit(X)
    path = tmp_path / "run.npz"
    m = TwoStage(**params)
    if stage == 1:  # the first stage gets no callbacks: hand it one
        real_train = m._train

        def train(*args, **kwargs):
            if kwargs.get("epochs") == 3:
                kwargs["callbacks"] = [at]
            return real_train(*args, **kwargs)

        m._train = train
    with pytest.raises(KeyboardInterrupt):
        m.fit(X, callbacks=[at] if stage == 2 else None, checkpoint=path)
    resumed = TwoStage(**params).fit(X, checkpoint=path, resume=True)
    assert same_arrays(weights(resumed), weights(reference))
    assert resumed.history_ == reference.history_


def test_the_epochs_of_a_finished_stage_cannot_change(tmp_path):
    X = data()
    params = dict(hidden_sizes=(4,), code_size=2, epochs=4, batch_size=8, random_state=0)
    path = tmp_path / "run.npz"
    with pytest.raises(KeyboardInterrupt):
        TwoStage(**params).fit(X, callbacks=[InterruptAt(2)], checkpoint=path)
    longer = TwoStage(**params)
    longer.first_epochs = 5
    with pytest.raises(CheckpointError, match="stage 0 had finished its 3 epochs; it cannot "
                                              "run 5 now"):
        longer.fit(X, checkpoint=path, resume=True)
    TwoStage(**{**params, "epochs": 6}).fit(X, checkpoint=path, resume=True)  # the last may


@pytest.mark.parametrize("n_batches", [11, 22], ids=["pretraining-layer-1", "fine-tuning"])
def test_stacked_resumes_exactly_once_its_fit_passes_the_settings(tmp_path, monkeypatch,
                                                                  n_batches):
    """The StackedAutoencoder's stages need nothing but the settings reaching _initialize."""
    X = data()
    params = dict(layer_sizes=(4, 2), pretrain_epochs=3, finetune_epochs=4, batch_size=8,
                  validation_fraction=0.25, random_state=0)
    reference = npae.StackedAutoencoder(**params).fit(X)
    path = tmp_path / "run.npz"
    settings = {"checkpoint": path}
    real_initialize = BaseAutoencoder._initialize
    monkeypatch.setattr(BaseAutoencoder, "_initialize",
                        lambda self, X, **kw: real_initialize(self, X, **settings))
    real_fit = Trainer.fit
    batches = []

    def interrupting_fit(self, *args, **kwargs):
        # 3 batches an epoch, 9 a pretraining stage: 11 is in layer 1's, 22 in fine-tuning
        self.callbacks.append(Countdown(batches, n_batches))
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "fit", interrupting_fit)
    with pytest.raises(KeyboardInterrupt):
        npae.StackedAutoencoder(**params).fit(X)
    monkeypatch.setattr(Trainer, "fit", real_fit)
    settings["resume"] = True
    resumed = npae.StackedAutoencoder(**params).fit(X)
    assert same_arrays(weights(resumed), weights(reference))
    assert resumed.history_ == reference.history_


class Countdown(Callback):
    """Ctrl-C after ``n`` batches counted across every Trainer sharing ``seen``."""

    def __init__(self, seen, n):
        self.seen, self.n = seen, n

    def on_batch_end(self, trainer, logs):
        self.seen.append(1)
        if len(self.seen) == self.n:
            raise KeyboardInterrupt


# name: (hyperparameters, the shorter first run): estimators whose fit is their own.
OVERRIDDEN_FIT = {
    "SparseAutoencoder": (dict(code_size=4, epochs=3), dict(epochs=1)),
    "LinearAutoencoder": (dict(n_components=2, solver="gd", epochs=3), dict(epochs=1)),
    "StackedAutoencoder": (dict(layer_sizes=(4, 2), pretrain_epochs=1, finetune_epochs=3),
                           dict(finetune_epochs=1)),
    "UNet": (dict(depth=1, base_channels=2, epochs=3), dict(epochs=1)),
}


@pytest.mark.parametrize("name", sorted(OVERRIDDEN_FIT))
def test_every_trained_estimator_takes_the_checkpoint_settings(tmp_path, name):
    """Estimators with their own fit pass the checkpoint settings on and resume exactly."""
    params, shorter = OVERRIDDEN_FIT[name]
    shape = (12, 1, 8, 8) if name == "UNet" else (12, 6)
    X = np.random.default_rng(0).uniform(size=shape)
    extra = ((X > 0.5).astype(np.int64),) if name == "UNet" else ()
    cls = estimator_classes()[name]
    reference = cls(**params, batch_size=4, random_state=0).fit(X, *extra)
    path = tmp_path / "run.npz"
    cls(**{**params, **shorter}, batch_size=4, random_state=0).fit(X, *extra, checkpoint=path)
    assert os.path.exists(path)
    resumed = cls(**params, batch_size=4, random_state=0).fit(X, *extra, checkpoint=path,
                                                              resume=True)
    assert same_arrays(weights(resumed), weights(reference))


# -- the Trainer's own state ----------------------------------------------------------------

def test_trainer_state_dict_is_a_snapshot_and_round_trips():
    X = data()
    m = model(epochs=2, early_stopping=True).fit(X)
    trainer = Trainer(m.network_, m._make_optimizer(m.network_), m._step, m._evaluate,
                      epochs=3, batch_size=8, rng=np.random.default_rng(0), early_stopping=True)
    trainer.fit(X)
    state = trainer.state_dict()
    json.dumps({k: v for k, v in state.items() if k not in ("optimizer", "best_weights")})
    before = [a.copy() for a in state["optimizer"]["arrays"]]
    trainer.epochs = 4
    trainer.fit(X)  # training on does not change the snapshot
    assert same_arrays(state["optimizer"]["arrays"], before)
    other = Trainer(m.network_, m._make_optimizer(m.network_), m._step, m._evaluate,
                    epochs=3, batch_size=8, rng=np.random.default_rng(5), early_stopping=True)
    other.load_state_dict(state)
    assert other.epoch == 3 and other.history == state["history"]
    assert other.rng.bit_generator.state == state["rng"]
    assert same_arrays(other.optimizer.state_dict()["arrays"], before)
    assert same_arrays(other.best_weights, state["best_weights"])
    with pytest.raises(ValueError, match="best_weights of shapes"):
        other.load_state_dict({**state, "best_weights": [np.zeros(2)]})


# -- the checkpoint writer is a hook on the training loop ---------------------------------

def writes_of(epochs, every, interrupt=None):
    """The epochs at which a CheckpointWriter on a plain Trainer calls ``write``."""
    from npae.checkpoint import CheckpointWriter
    from npae.network import mlp

    net = mlp([6, 3, 6], "tanh", rng=0)

    def step(xb, yb):
        out = net.forward(xb)
        net.backward(out - yb)
        return float(np.mean((out - yb) ** 2))

    written = []
    hooks = [] if interrupt is None else [interrupt]
    hooks.append(CheckpointWriter(lambda trainer: written.append(trainer.epoch), every))
    trainer = Trainer(net, Adam(net.params(), net.grads()), step, epochs=epochs, batch_size=8,
                      rng=np.random.default_rng(0), callbacks=hooks)
    try:
        trainer.fit(data())
    except KeyboardInterrupt:
        written.append("interrupted")
    return written


def test_the_writer_writes_every_k_epochs_and_after_the_last():
    assert writes_of(epochs=5, every=2) == [2, 4, 5]
    assert writes_of(epochs=3, every=1) == [1, 2, 3]


def test_the_writer_writes_the_last_finished_epoch_on_ctrl_c():
    # Ctrl-C in epoch 4: epoch 3 ended after the checkpoint of epoch 2, so it is written
    assert writes_of(epochs=6, every=2, interrupt=InterruptAt(4, 1)) == [2, 3, "interrupted"]
    # Ctrl-C in epoch 3: epoch 2 is already in the file, nothing more to write
    assert writes_of(epochs=6, every=2, interrupt=InterruptAt(3, 1)) == [2, "interrupted"]


# -- where the checkpoint goes is checked before the first epoch --------------------------

class CountEpochs(Callback):
    def __init__(self):
        self.epochs = 0

    def on_epoch_end(self, trainer, logs):
        self.epochs += 1


@pytest.mark.parametrize("where, error, message", [
    ("missing/run.npz", FileNotFoundError, r"'missing/run.npz'.*does not exist"),
    ("folder/", IsADirectoryError, r"'folder/'.*names a directory"),
    ("folder", IsADirectoryError, r"'folder'.*is a directory"),
    ("pipe", OSError, r"'pipe'.*FIFO"),
    ("", ValueError, "the path is empty"),
])
def test_the_checkpoint_location_is_checked_before_training(tmp_path, monkeypatch, where,
                                                            error, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "pipe")
    counter = CountEpochs()
    with pytest.raises(error, match=message):
        model().fit(data(), checkpoint=where, callbacks=[counter])
    assert counter.epochs == 0
    assert sorted(os.listdir(tmp_path)) == ["folder", "pipe"]


def test_an_unwritable_checkpoint_folder_is_refused_before_training(tmp_path, monkeypatch):
    real_open = os.open

    def refuse(path, *args, **kwargs):
        if str(path).endswith(".lock"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    counter = CountEpochs()
    with pytest.raises(PermissionError, match=r"run\.npz.*Permission denied"):
        model().fit(data(), checkpoint=tmp_path / "run.npz", callbacks=[counter])
    assert counter.epochs == 0


# -- one writer per checkpoint --------------------------------------------------------------

def test_a_second_run_on_the_same_checkpoint_fails_at_once(tmp_path):
    path = tmp_path / "run.npz"
    X = data()

    class StartAnother(Callback):
        def on_epoch_end(self, trainer, logs):
            if logs["epoch"] == 2:
                counter = CountEpochs()
                with pytest.raises(CheckpointInUseError, match="another run is writing"):
                    model().fit(X, checkpoint=path, resume=True, callbacks=[counter])
                assert counter.epochs == 0
                self.refused = True

    other = StartAnother()
    first = model().fit(X, checkpoint=path, callbacks=[other])
    assert other.refused
    assert checkpoint_epoch(path) == 6
    assert same_arrays(weights(npae.load(path)), weights(first))
    assert not os.path.exists(f"{path}.lock")  # let go of at the end


def test_the_lock_holds_across_processes_and_dies_with_its_process(tmp_path):
    path = tmp_path / "run.npz"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, numpy as np, npae
            from npae.train import Callback
            class Wait(Callback):
                def on_epoch_end(self, trainer, logs):
                    if logs["epoch"] == 2:  # epoch 1 is in the checkpoint
                        print("training", flush=True)
                        sys.stdin.readline()
            X = np.random.default_rng(0).uniform(size=(8, 6))
            npae.Autoencoder(hidden_sizes=(4,), code_size=2, epochs=3).fit(
                X, checkpoint={str(path)!r}, callbacks=[Wait()])
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "training\n"
        with pytest.raises(CheckpointInUseError, match="another run is writing"):
            model().fit(data(), checkpoint=path, resume=True)
    finally:
        holder.kill()  # as kill -9 would: the OS lets go of the lock
        holder.wait()
    assert os.path.exists(f"{path}.lock")  # a killed run leaves its lock: it blocks nothing
    resumed = Autoencoder(hidden_sizes=(4,), code_size=2, epochs=3)
    resumed.fit(np.random.default_rng(0).uniform(size=(8, 6)), checkpoint=path, resume=True)
    assert len(resumed.history_["loss"]) == 3


def test_the_lock_is_let_go_after_ctrl_c_so_the_same_session_can_resume(tmp_path):
    path = tmp_path / "run.npz"
    X = data()
    with pytest.raises(KeyboardInterrupt) as info:  # keeps the traceback and its frames alive
        model().fit(X, checkpoint=path, callbacks=[InterruptAt(3)])
    resumed = model().fit(X, checkpoint=path, resume=True)
    assert len(resumed.history_["loss"]) == 6
    assert info.traceback  # still held while the resumed run took the lock


# -- a hand-edited checkpoint (checksum recomputed) is refused with a ModelFileError ----------

def _last(h):
    return h["checkpoint"]["calls"][-1]


@pytest.mark.parametrize("change", [
    lambda h: h.update(checkpoint=5),
    lambda h: h.update(checkpoint={"calls": {"__tuple__": 5}}),
    lambda h: h["checkpoint"].update(calls=[]),
    lambda h: _last(h).update(rng=5),
    lambda h: _last(h).update(rng={"bit_generator": "PCG64", "state": "x"}),
    lambda h: _last(h).update(epochs="6"),
    lambda h: _last(h).update(data=[]),
    lambda h: _last(h)["data"].update(X=5),
    lambda h: _last(h)["trainer"].update(epoch="3"),
    lambda h: _last(h)["trainer"].update(epoch=True),
    lambda h: _last(h)["trainer"].update(history=5),
    lambda h: _last(h)["trainer"].update(history={"loss": 5}),
    lambda h: _last(h)["trainer"].update(optimizer=None),
    lambda h: _last(h)["trainer"]["optimizer"]["scalars"].update(t="x"),
    lambda h: _last(h)["trainer"]["optimizer"].update(arrays=5),
    lambda h: _last(h)["trainer"].update(best_weights=7),
    lambda h: _last(h)["trainer"].update(best_loss="low"),
    lambda h: _last(h)["trainer"].update(waited=-1),
    lambda h: h["attributes"].update(input_shape_=5),
    lambda h: h["attributes"].update(dtype_={"__dtype__": "nope"}),
])
def test_a_hand_edited_checkpoint_is_refused_cleanly(saved, change):
    with np.load(saved, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    header = json.loads(arrays["__header__"].tobytes())
    change(header)
    raw = json.dumps(header, sort_keys=True).encode()
    arrays["__header__"] = np.frombuffer(raw, dtype=np.uint8)
    arrays["__header_sha256__"] = np.frombuffer(
        hashlib.sha256(raw).hexdigest().encode("ascii"), dtype=np.uint8)
    with open(saved, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(ModelFileError):
        model().fit(data(), checkpoint=saved, resume=True)
