"""Checkpoints: write a fit's model and training state as it goes, and resume from it.

``fit(X, checkpoint=path, checkpoint_every=k)`` writes the model and its
training state (``npae.io.save_checkpoint``) every ``k`` epochs, after the
last epoch and on Ctrl-C, and ``fit(X, checkpoint=path, resume=True)``
continues from it, bit for bit as if never stopped.

``Checkpointing`` is one fit's record: the estimator's ``_initialize``
starts it (``Checkpointing.start`` validates the arguments and vets the file
to resume from) and its ``_train`` calls ``begin_call`` / ``end_call``
around each run of the training loop, with a ``CheckpointWriter`` among the
loop's hooks. A fit that calls ``_train`` several times (once per stage) gets
checkpoints for free, as long as whatever it computes between its
``_train`` calls depends only on the data and the weights.

A checkpoint has one writer: ``Checkpointing.start`` takes an exclusive
lock on ``<checkpoint>.lock`` (``fcntl.flock``, which the OS lets go of when
the process dies, so a killed run never blocks the next) and holds it until
the fit is done; a second run on the same checkpoint fails at once with
``CheckpointInUseError``. Windows has no ``flock``: there the lock is skipped.
"""

import os
import weakref

import numpy as np

from npae import io as model_files
from npae._validation import check_int
from npae.io import CheckpointError, MalformedHeaderError
from npae.train import Callback
from npae.utils import writable_target

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

__all__ = ["CheckpointError", "CheckpointInUseError", "CheckpointWriter", "Checkpointing"]


class CheckpointInUseError(BlockingIOError):
    """Another run (in this or another process) is writing the same checkpoint."""


def _lock(target, path, owner):
    """Hold ``<target>.lock`` exclusively; returns its file descriptor.

    The lock file is removed on release; a run that opened it just before
    (and so locked a removed file) sees that and opens it anew.
    """
    lock_path = target + ".lock"
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise type(err)(err.errno, f"{owner}: cannot write the checkpoint {path!r}: "
                                       f"{err.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CheckpointInUseError(
                f"{owner}: another run is writing the checkpoint {path!r} (its lock "
                f"{lock_path!r} is held); wait for it to finish or choose another path"
            ) from None
        try:
            current = os.stat(lock_path)
        except FileNotFoundError:
            current = None
        if current is not None and os.path.samestat(os.fstat(fd), current):
            return fd
        os.close(fd)


def _unlock(fd, lock_path):
    try:
        os.remove(lock_path)  # while still holding it: see _lock
    except FileNotFoundError:
        pass
    os.close(fd)


class CheckpointWriter(Callback):
    """The training loop's hook that writes checkpoints.

    Calls ``write(trainer)`` after every ``every``-th epoch, after the last
    one (or the one after which training stops), once the trainer's
    ``DivergenceGuard`` has confirmed that epoch's weights (a finite loss on
    the training rows; else training stops diverged), and when a
    ``KeyboardInterrupt`` stops training after an epoch newer than the last
    checkpoint (the ``DivergenceGuard`` before it has put the trainer back
    to that epoch's end).

    Parameters
    ----------
    write : callable ``(trainer) -> None``
        Writes the training state (``trainer.state_dict()`` and the
        network's weights).
    every : int, default 1
    """

    def __init__(self, write, every=1):
        self.write = write
        self.every = check_int(every, "checkpoint_every", "CheckpointWriter")

    def on_train_begin(self, trainer, X, Y):
        self.written = trainer.epoch  # the newest epoch a checkpoint holds (or needs not hold)

    def on_epoch_end(self, trainer, logs):
        if (trainer.epoch % self.every == 0 or trainer.epoch == trainer.epochs
                or trainer.stop_training):
            # Only weights that give a finite loss on the training rows are written.
            trainer.guard.confirm(trainer, "weights to checkpoint")
            self.write(trainer)
            self.written = trainer.epoch

    def on_train_error(self, trainer, error):
        if isinstance(error, KeyboardInterrupt) and trainer.epoch > self.written:
            self.write(trainer)


def _is_epoch_count(name):
    """Hyperparameters a resumed run may change: how long to train, how much to print."""
    return name in ("epochs", "verbose") or name.endswith("_epochs")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_call(call, finished):
    """Whether ``call`` has the fields, of the types, that ``Checkpointing`` writes for a call."""
    if not (isinstance(call, dict) and isinstance(call.get("rng"), dict)
            and _is_int(call.get("epochs")) and isinstance(call.get("data"), dict)
            and all(isinstance(call["data"].get(k), dict) or (k == "Y" and call["data"][k] is None)
                    for k in ("X", "Y") if k in call["data"]) and "X" in call["data"]):
        return False
    if finished:
        return isinstance(call.get("history"), dict) and isinstance(call.get("weights"), dict)
    trainer = call.get("trainer")
    return (isinstance(trainer, dict) and _is_int(trainer.get("epoch"))
            and _is_int(trainer.get("waited")) and isinstance(trainer.get("history"), dict)
            and all(isinstance(v, list) for v in trainer["history"].values())
            and isinstance(trainer.get("optimizer"), dict) and isinstance(trainer.get("rng"), dict)
            and isinstance(trainer.get("best_weights"), (list, type(None))))


def _describe_data(data):
    return f"shape {tuple(data['shape'])} {data['dtype']} (sha256 {data['sha256'][:12]}...)"


class Checkpointing:
    """Where ``fit`` writes checkpoints, and the checkpoint it resumes from.

    A checkpoint's training state is ``{"calls": [...]}``, one record per
    ``_train`` call of the fit that wrote it: the generator state when the
    call began (``rng``), a fingerprint of its data (``data``), the
    ``epochs`` it was asked for, and either, for a call that had finished,
    its ``history`` and the network's ``weights`` at its end, or, for the
    one in progress (always the last), the ``trainer`` state
    (``Trainer.state_dict()``).
    """

    def __init__(self, estimator, path, every, resumed=None, saved_calls=(), lock=None):
        self.estimator = estimator
        self.path = path
        self.every = every
        self.resumed = resumed  # (header, arrays) of the checkpoint resumed from
        self.saved_calls = list(saved_calls)
        self.calls = []  # this fit's finished calls
        self.current = None
        # The run's lock, let go of by close() or when this record is dropped.
        self._release = None if lock is None else weakref.finalize(self, _unlock, *lock)

    def close(self):
        """Let go of the checkpoint's lock (the fit is over, or stopped); idempotent."""
        if self._release is not None:
            self._release()

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
        try:  # before the first epoch: where the checkpoint goes must take a file
            target, _ = writable_target(path)
        except (OSError, ValueError) as err:
            raise type(err)(f"{owner}: checkpoint: {err}") from None
        if not resume and os.path.lexists(path):
            raise FileExistsError(
                f"{owner}: {path!r} already exists; pass resume=True to continue the "
                "training it holds, or remove it (or choose another path) to start over"
            )
        lock = None if fcntl is None else (_lock(target, path, owner), target + ".lock")
        try:
            if not resume:
                return cls(estimator, path, every, lock=lock)
            header, arrays, state = model_files.read_checkpoint(path)
            try:
                cls._vet(estimator, X, header, state, path)
            except CheckpointError:
                raise
            except MalformedHeaderError.CAUSES as err:  # a hand-edited header
                raise CheckpointError(f"{path!r}: its header is malformed ({err})") from err
        except BaseException:
            if lock is not None:
                _unlock(*lock)
            raise
        return cls(estimator, path, every, resumed=(header, arrays),
                   saved_calls=state["calls"], lock=lock)

    @staticmethod
    def _vet(estimator, X, header, state, path):
        """Refuse a checkpoint of another class, other hyperparameters or other data shape."""
        name = type(estimator).__name__
        if header["class"] != name:
            raise CheckpointError(
                f"{path!r} is a checkpoint of a {header['class']}, not of a {name}")
        saved = header["params"]
        mine = model_files.encode_value(estimator.get_params(deep=False), "hyperparameters")
        changed = sorted(k for k in set(saved) | set(mine)
                         if not _is_epoch_count(k) and saved.get(k) != mine.get(k))
        if changed:
            details = ", ".join(
                f"{k}={model_files.decode_value(saved.get(k))!r} there, "
                f"{model_files.decode_value(mine.get(k))!r} here" for k in changed)
            raise CheckpointError(
                f"{path!r} was written by a {name} with other hyperparameters ({details}): "
                "resume with the same ones (only epochs and verbose may change)"
            )
        attributes = header["attributes"]
        then = (tuple(model_files.decode_value(attributes.get("input_shape_", []))),
                model_files.decode_value(attributes.get("dtype_")))
        if then != (tuple(X.shape[1:]), X.dtype):
            raise CheckpointError(
                f"{path!r} was written while training on samples of shape {then[0]} and dtype "
                f"{then[1]}, got samples of shape {tuple(X.shape[1:])} and dtype {X.dtype}"
            )
        calls = state.get("calls") if isinstance(state, dict) else None
        if (not isinstance(calls, list) or not calls
                or not all(_is_call(c, finished=True) for c in calls[:-1])
                or not _is_call(calls[-1], finished=False)):
            raise CheckpointError(f"{path!r}: its training state is malformed")

    def load_resumed_weights(self):
        """Set the estimator's weights to the checkpoint's (when resuming; else nothing)."""
        if self.resumed is not None:
            model_files.load_weights(self.estimator, *self.resumed, repr(self.path))

    def begin_call(self, rng, X, Y, epochs):
        """Start a ``_train`` call; returns its record in the checkpoint resumed from, or None."""
        index = len(self.calls)
        saved = self.saved_calls[index] if index < len(self.saved_calls) else None
        if saved is not None:
            try:
                rng.bit_generator.state = saved["rng"]
            except MalformedHeaderError.CAUSES as err:
                raise CheckpointError(
                    f"{self.path!r}: its generator state does not fit this model's: {err}"
                ) from None
        data = {"X": self._fingerprint(X), "Y": None if Y is None else self._fingerprint(Y)}
        self.current = {"rng": rng.bit_generator.state, "data": data, "epochs": epochs}
        if saved is None:
            return None
        if "history" in saved and saved["epochs"] != epochs:
            raise CheckpointError(
                f"{self.path!r}: training stage {index} had finished its {saved['epochs']} "
                f"epochs; it cannot run {epochs} now (only the stage in progress may change)"
            )
        if "trainer" in saved and saved["data"] != data:
            which = "X" if saved["data"]["X"] != data["X"] else "Y"
            then, now = saved["data"][which], data[which]
            raise CheckpointError(
                f"{self.path!r} was written while training on other data: {which} of "
                f"{_describe_data(then) if then else 'None'}, got "
                f"{_describe_data(now) if now else 'None'}"
            )
        return saved

    @staticmethod
    def _fingerprint(array):
        return {"shape": list(array.shape), "dtype": array.dtype.name,
                "sha256": model_files.array_sha256(array)}

    def skip_call(self, saved):
        """A call that had finished before the checkpoint: set the weights it ended with."""
        try:
            self.estimator.network_.load_state_dict(saved["weights"])
        except MalformedHeaderError.CAUSES as err:
            raise CheckpointError(
                f"{self.path!r}: its saved weights do not fit this model: {err}") from None
        self.end_call(saved["history"])

    def resume_trainer(self, trainer, saved):
        """Put the weights and the trainer of the call in progress back to their saved state."""
        state = saved["trainer"]
        if state["epoch"] > trainer.epochs:
            raise CheckpointError(
                f"{self.path!r} holds {state['epoch']} epochs of training, more than the "
                f"{trainer.epochs} asked for: resume with at least {state['epoch']} epochs"
            )
        model_files.load_weights(self.estimator, *self.resumed, repr(self.path))
        try:
            trainer.load_state_dict(state)
        except MalformedHeaderError.CAUSES as err:
            raise CheckpointError(
                f"{self.path!r}: its training state does not fit this model: {err}") from None
        self.resumed = None  # the file's arrays are not needed any more

    def end_call(self, history):
        """A call finished: remember its history and the weights it ended with."""
        self.calls.append({**self.current, "history": {k: list(v) for k, v in history.items()},
                           "weights": self.estimator.network_.state_dict()})
        self.current = None

    def writer(self):
        """The hook that makes the training loop of the call in progress write checkpoints."""
        return CheckpointWriter(self.write, self.every)

    def write(self, trainer):
        """Write the model and every call's record so far (the in-progress one from ``trainer``)."""
        state = {"calls": [*self.calls, {**self.current, "trainer": trainer.state_dict()}]}
        model_files.save_checkpoint(self.estimator, self.path, state)
