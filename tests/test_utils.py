"""as_generator (any random_state to a numpy Generator) and atomic_write (safe saving)."""

import os
import stat
import time

import numpy as np
import pytest

from npae.utils import STALE_AFTER, NotARegularFileError, as_generator, atomic_write


def test_int_seed_is_reproducible():
    assert as_generator(3).random() == as_generator(3).random()
    assert as_generator(3).random() != as_generator(4).random()
    assert as_generator(np.int64(3)).random() == as_generator(3).random()


def test_generator_is_returned_as_is_so_callers_share_one_stream():
    gen = np.random.default_rng(0)
    assert as_generator(gen) is gen


def test_none_gives_a_fresh_unseeded_generator():
    a, b = as_generator(None), as_generator(None)
    assert isinstance(a, np.random.Generator) and a is not b
    assert a.random() != b.random()


def test_random_state_is_converted_deterministically():
    a = as_generator(np.random.RandomState(1)).random()
    b = as_generator(np.random.RandomState(1)).random()
    assert a == b


@pytest.mark.parametrize("seed, error, message", [
    (-1, ValueError, "random_state must be a non-negative int, got -1"),
    ("0", TypeError, "random_state must be None, an int >= 0 or a numpy.random.Generator, "
                     "got str '0'"),
    (1.5, TypeError, "random_state must be None, .* got float 1.5"),
    (True, TypeError, "random_state must be None, .* got bool True"),
])
def test_bad_seed(seed, error, message):
    with pytest.raises(error, match=message):
        as_generator(seed)
    with pytest.raises(error, match=f"^Autoencoder: {message}"):
        as_generator(seed, "Autoencoder")


# -- atomic_write: saving never destroys what is at the path ---------------------------

def _write(path, data=b"new"):
    with atomic_write(path) as fh:
        fh.write(data)


def test_atomic_write_replaces_a_regular_file_and_keeps_its_permission_bits(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    os.chmod(path, 0o600)
    _write(path)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_atomic_write_writes_through_a_symlink_and_keeps_the_link(tmp_path):
    target = tmp_path / "real.npz"
    target.write_bytes(b"old")
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    _write(link)
    assert link.is_symlink()
    assert target.read_bytes() == b"new"


def test_atomic_write_refuses_a_fifo_and_leaves_it(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(NotARegularFileError, match=r"pipe.*FIFO"):
        _write(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["pipe"]


def test_atomic_write_refuses_a_character_device(tmp_path):
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        device = "/dev/null"  # only read: refusing it writes nothing
    with pytest.raises(NotARegularFileError, match="character device"):
        _write(device)
    assert stat.S_ISCHR(os.stat(device).st_mode)


@pytest.mark.parametrize("path, error, message", [
    ("", ValueError, "the path is empty"),
    ("folder/", IsADirectoryError, r"'folder/'.*names a directory"),
    ("missing/model.npz", FileNotFoundError, r"'missing/model.npz'.*directory .* does not exist"),
])
def test_atomic_write_names_the_users_path_when_it_cannot_write(tmp_path, monkeypatch, path,
                                                                 error, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    with pytest.raises(error, match=message):
        _write(path)
    assert sorted(os.listdir(tmp_path)) == ["folder"]


def test_atomic_write_names_the_users_path_when_the_open_fails(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr("builtins.open", refuse)
    with pytest.raises(PermissionError, match=r"model\.npz.*Permission denied") as info:
        _write(tmp_path / "model.npz")
    assert ".tmp" not in str(info.value)


def test_atomic_write_removes_stale_temporary_files_only(tmp_path):
    stale = tmp_path / ".npae-0123456789abcdef.tmp"
    fresh = tmp_path / ".npae-fedcba9876543210.tmp"
    other = tmp_path / ".npae-notours.tmp"
    for path in (stale, fresh, other):
        path.write_bytes(b"partial")
    old = time.time() - STALE_AFTER - 10
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    _write(tmp_path / "model.npz")
    assert sorted(os.listdir(tmp_path)) == sorted([fresh.name, other.name, "model.npz"])
