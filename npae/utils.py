"""Small shared helpers: seeded generators and atomic file writes."""

import contextlib
import numbers
import os
import re
import secrets
import stat
import time

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


#: A temporary file older than this (seconds since its last write) was left by a killed save.
STALE_AFTER = 3600.0


class NotARegularFileError(OSError):
    """The path names something ``atomic_write`` must not replace: a device, a FIFO, a socket."""


def _kind(mode):
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def writable_target(path):
    """The file ``atomic_write(path)`` would replace, checked: ``(target, mode or None)``.

    ``target`` is ``path`` with its symbolic links resolved (saving writes
    through a link to the file it names), ``mode`` the permission bits of
    the file there (None if there is none yet). Raises, naming ``path``:
    ``ValueError`` for an empty path, ``IsADirectoryError`` for a directory
    (or a path ending in a separator), ``NotARegularFileError`` for a
    device, FIFO or socket, ``FileNotFoundError`` when its folder is
    missing, ``PermissionError`` when the folder cannot be written.
    """
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise ValueError("cannot write to '': the path is empty; give a file name")
    if path.endswith((os.sep, os.altsep or os.sep)):
        raise IsADirectoryError(f"cannot write {path!r}: it names a directory, not a file")
    target = os.path.realpath(path)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        error = IsADirectoryError if stat.S_ISDIR(mode) else NotARegularFileError
        raise error(f"cannot write {path!r}: it is {_kind(mode)}; npae writes only regular "
                    "files (it never replaces anything else)")
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"cannot write {path!r}: the directory {directory!r} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path!r}: the directory {directory!r} "
                              "is not writable")
    return target, None if mode is None else stat.S_IMODE(mode)


@contextlib.contextmanager
def atomic_write(path, prefix=".npae-", suffix=".tmp"):
    """Write a file all at once: yield a binary file beside ``path``, then rename it over.

    The temporary file (``prefix``, random hex, ``suffix``) is flushed and
    synced to disk before ``os.replace`` puts it in place, and the directory
    is synced after; if the ``with`` body raises (or the process is stopped),
    the temporary file is removed and whatever stood at ``path`` is left as
    it was.

    Only a regular file (or nothing) is ever replaced; see ``writable_target``
    for what is refused, before anything is written. A symbolic link is
    written through: its target is replaced, atomically, and the link stays.
    A replaced file keeps its permission bits; a new one gets those of any
    file the user creates (0666 minus the umask), not ``tempfile``'s private
    0600. Temporary files of this ``prefix`` and ``suffix`` that a killed
    save left in the folder more than ``STALE_AFTER`` seconds ago are removed.
    """
    target, mode = writable_target(path)
    directory = os.path.dirname(target)
    _remove_stale(directory, prefix, suffix)
    tmp = os.path.join(directory, f"{prefix}{secrets.token_hex(8)}{suffix}")
    try:
        fh = open(tmp, "xb")
    except OSError as err:
        raise type(err)(err.errno, f"cannot write {os.fspath(path)!r}: {err.strerror}") from None
    try:
        with fh:
            if mode is not None:
                os.chmod(tmp, mode)
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_directory(directory)


def _remove_stale(directory, prefix, suffix):
    """Remove ``prefix`` + 16 hex digits + ``suffix`` files untouched for ``STALE_AFTER`` s."""
    pattern = re.compile(re.escape(prefix) + "[0-9a-f]{16}" + re.escape(suffix))
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and \
                    now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER:
                os.remove(entry.path)
        except OSError:
            pass  # gone already, or not ours to remove


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
