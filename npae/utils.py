"""Small shared helpers: seeded generators and atomic file writes."""

import contextlib
import numbers
import os
import secrets

import numpy as np


def as_generator(seed, owner=None):
    """Return a ``numpy.random.Generator`` for ``seed``: the one rule for every ``random_state``.

    ``None`` gives a fresh unseeded generator, an int >= 0 a seeded one, a
    ``RandomState`` a generator seeded from its next draw, and a generator is
    returned as it is (so callers can share one stream). Anything else is
    refused; ``owner`` (e.g. the estimator's name) starts the message.
    """
    where = f"{owner}: " if owner else ""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.RandomState):
        return np.random.default_rng(seed.randint(0, 2**31 - 1))
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(
            f"{where}random_state must be None, an int >= 0 or a numpy.random.Generator, "
            f"got {type(seed).__name__} {seed!r}"
        )
    if seed is not None and seed < 0:
        raise ValueError(f"{where}random_state must be a non-negative int, got {seed}")
    return np.random.default_rng(seed)


@contextlib.contextmanager
def atomic_write(path, prefix=".npae-", suffix=".tmp"):
    """Write a file all at once: yield a binary file beside ``path``, then rename it over.

    The temporary file (``prefix``, random hex, ``suffix``) is flushed and
    synced to disk before ``os.replace`` puts it in place, and the directory
    is synced after; if the ``with`` body raises (or the process is stopped),
    the temporary file is removed and whatever stood at ``path`` is left as
    it was. The file gets the permissions of any file the user creates
    (0666 minus the umask), not ``tempfile``'s private 0600.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path!r}: no directory {directory!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {path!r}: it is a directory, not a file")
    tmp = os.path.join(directory, f"{prefix}{secrets.token_hex(8)}{suffix}")
    try:
        with open(tmp, "xb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    """Make a rename durable (a power cut could otherwise undo it).

    Best effort: the file is already complete and in place, so a file system
    that cannot sync a directory (Windows, some network mounts) is no error.
    """
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
