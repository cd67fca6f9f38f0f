"""Model files: exact round trips, no pickle, and a distinct error for each kind of bad file."""

import hashlib
import io
import json
import os
import pathlib
import struct
import tracemalloc
import zipfile
from functools import cache

import numpy as np
import pytest
from test_reliability import NAMES, fit_tiny, make_tiny, outputs, tiny_data

import npae
from npae import Autoencoder, LinearAutoencoder
from npae.io import (
    CheckpointError,
    ChecksumError,
    CorruptFileError,
    FormatVersionError,
    MalformedHeaderError,
    ModelFileError,
    NotAModelFileError,
    WrongClassError,
    estimator_classes,
)

ERRORS = [NotAModelFileError, CorruptFileError, ChecksumError, FormatVersionError, WrongClassError]


def data(dtype=np.float64):
    return np.random.default_rng(0).uniform(size=(40, 6)).astype(dtype)


def fitted(dtype=np.float64, **params):
    params = {"hidden_sizes": (5,), "code_size": 2, "epochs": 3, "random_state": 0, **params}
    return Autoencoder(**params).fit(data(dtype))


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.npz"
    fitted().save(path)
    return path


def read(path):
    with np.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}


def write(path, arrays):
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def header_of(arrays):
    return json.loads(arrays["__header__"].tobytes().decode("utf-8"))


def with_header(arrays, header):
    """``arrays`` with a new header and a header checksum that matches it."""
    raw = json.dumps(header, sort_keys=True).encode("utf-8")
    digest = hashlib.sha256(raw).hexdigest().encode("ascii")
    return {**arrays, "__header__": np.frombuffer(raw, dtype=np.uint8),
            "__header_sha256__": np.frombuffer(digest, dtype=np.uint8)}


# -- round trips -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_bit_exact(tmp_path, dtype):
    model = fitted(dtype, validation_fraction=0.2)
    path = tmp_path / "ae.npz"
    assert model.save(path) == path
    loaded = npae.load(path)
    assert type(loaded) is Autoencoder
    assert loaded.get_params() == model.get_params()
    for (name, p, _), (name2, q, _) in zip(model.network_.named_parameters(),
                                         loaded.network_.named_parameters()):
        assert name == name2 and p.dtype == q.dtype == dtype
        np.testing.assert_array_equal(p, q)
    X = data(dtype)
    for method in ("transform", "reconstruct"):
        a, b = getattr(model, method)(X), getattr(loaded, method)(X)
        assert b.dtype == dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.inverse_transform(model.transform(X)),
                                  loaded.inverse_transform(model.transform(X)))
    assert loaded.score(X) == model.score(X)
    assert loaded.history_ == model.history_
    assert set(loaded.history_) == {"loss", "val_loss"}
    for attr in ("n_features_in_", "input_shape_", "code_shape_", "dtype_"):
        assert getattr(loaded, attr) == getattr(model, attr)
        assert type(getattr(loaded, attr)) is type(getattr(model, attr))


def test_class_load_and_str_path(saved):
    loaded = Autoencoder.load(str(saved))
    assert isinstance(loaded, Autoencoder)
    npae.save(loaded, os.fspath(saved))


def test_loaded_model_can_be_refit(saved):
    loaded = npae.load(saved)
    loaded.fit(data())
    assert len(loaded.history_["loss"]) == 3


def test_other_estimators_round_trip(tmp_path):
    model = LinearAutoencoder(n_components=2).fit(data())
    path = tmp_path / "linear.npz"
    model.save(path)
    loaded = npae.load(path, expected_class=LinearAutoencoder)
    np.testing.assert_array_equal(loaded.transform(data()), model.transform(data()))


def test_file_permissions_are_the_users_default(tmp_path, saved):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert saved.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


# -- refusals ----------------------------------------------------------------------------

def test_error_classes_are_distinct():
    assert len(set(ERRORS)) == len(ERRORS)
    for error in ERRORS:
        assert issubclass(error, ModelFileError) and issubclass(error, ValueError)
    for a in ERRORS:
        for b in ERRORS:
            assert a is b or not issubclass(a, b)


def _mark_unpickled():
    UNPICKLED.append(True)
    return 0


UNPICKLED = []


class Trap:
    """Unpickling this calls _mark_unpickled."""

    def __reduce__(self):
        return (_mark_unpickled, ())


@pytest.mark.parametrize("key", ["net/0.W", "extra"])
def test_object_arrays_are_refused_without_unpickling(saved, key):
    arrays = read(saved)
    arrays[key] = np.array([Trap(), 1], dtype=object)
    write(saved, arrays)  # np.savez pickles object arrays
    UNPICKLED.clear()
    with pytest.raises(ModelFileError):
        npae.load(saved)
    assert UNPICKLED == []
    np.load(saved, allow_pickle=True)[key]  # the trap works when pickle is allowed
    assert UNPICKLED == [True]


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99, 30])
def test_truncated_file(saved, keep):
    raw = saved.read_bytes()
    n = keep if isinstance(keep, int) else int(len(raw) * keep)
    saved.write_bytes(raw[:n])
    with pytest.raises(CorruptFileError, match="truncated or damaged"):
        npae.load(saved)


def test_altered_header_rewritten(saved):
    arrays = read(saved)
    raw = arrays["__header__"].tobytes().replace(b'"code_size": 2', b'"code_size": 3')
    assert raw != arrays["__header__"].tobytes()
    arrays["__header__"] = np.frombuffer(raw, dtype=np.uint8)  # old checksum kept
    write(saved, arrays)
    with pytest.raises(ChecksumError, match="header was altered"):
        npae.load(saved)


def test_header_bytes_edited_in_place(saved):
    raw = bytearray(saved.read_bytes())
    at = raw.index(b'"code_size": 2')
    raw[at + len(b'"code_size": ')] = ord("3")
    saved.write_bytes(bytes(raw))
    with pytest.raises(ChecksumError, match="altered"):
        npae.load(saved)


def test_altered_array_rewritten(saved):
    arrays = read(saved)
    arrays["net/0.W"] = arrays["net/0.W"].copy()
    arrays["net/0.W"][0, 0] += 1e-12
    write(saved, arrays)
    with pytest.raises(ChecksumError, match="array 'net/0.W' was altered"):
        npae.load(saved)


def test_array_bytes_edited_in_place(saved):
    raw = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as zf:
        info = zf.getinfo("net/0.W.npy")
    # the last byte of the member's data (past its local header and the .npy header)
    raw[info.header_offset + 30 + len(info.filename) + len(info.extra) + info.file_size - 1] ^= 1
    saved.write_bytes(bytes(raw))
    with pytest.raises(ChecksumError, match="altered"):
        npae.load(saved)


def test_array_dropped_or_added(saved):
    arrays = read(saved)
    write(saved, {k: v for k, v in arrays.items() if k != "net/0.b"})
    with pytest.raises(ChecksumError, match=r"missing \['net/0.b'\]"):
        npae.load(saved)
    write(saved, {**arrays, "net/9.W": np.zeros(2)})
    with pytest.raises(ChecksumError, match=r"unexpected \['net/9.W'\]"):
        npae.load(saved)


def test_newer_format_version(saved):
    arrays = read(saved)
    header = header_of(arrays)
    header["format_version"] = 99
    write(saved, with_header(arrays, header))
    with pytest.raises(FormatVersionError, match="format version 99; this npae reads "
                                                 "versions up to 1"):
        npae.load(saved)


def test_wrong_class(saved, tmp_path):
    with pytest.raises(WrongClassError, match="holds a Autoencoder, not a VAE"):
        npae.load(saved, expected_class="VAE")
    other = tmp_path / "linear.npz"
    LinearAutoencoder(n_components=2).fit(data()).save(other)
    with pytest.raises(WrongClassError, match="holds a LinearAutoencoder, not a Autoencoder"):
        Autoencoder.load(other)


def test_unknown_class(saved):
    arrays = read(saved)
    header = header_of(arrays)
    header["class"] = "Mystery"
    write(saved, with_header(arrays, header))
    with pytest.raises(NotAModelFileError, match="unknown class 'Mystery'"):
        npae.load(saved)


def test_network_that_does_not_match_the_hyperparameters(saved):
    arrays = read(saved)
    header = header_of(arrays)
    header["networks"]["network_"][0]["config"]["init"] = "zeros"
    write(saved, with_header(arrays, header))
    with pytest.raises(ChecksumError, match="does not match"):
        npae.load(saved)


def test_not_an_npz_file(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("these are not the weights you are looking for")
    with pytest.raises(NotAModelFileError, match="not an npz model file"):
        npae.load(path)
    np.save(tmp_path / "array.npy", np.zeros(3))
    with pytest.raises(NotAModelFileError):
        npae.load(tmp_path / "array.npy")


def test_an_npz_that_is_not_a_model(tmp_path):
    path = tmp_path / "arrays.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(NotAModelFileError, match="not an npae model file"):
        npae.load(path)


def test_a_header_that_is_not_json(saved):
    arrays = read(saved)
    raw = b"\xff not json"
    digest = hashlib.sha256(raw).hexdigest().encode("ascii")
    arrays["__header__"] = np.frombuffer(raw, dtype=np.uint8)
    arrays["__header_sha256__"] = np.frombuffer(digest, dtype=np.uint8)
    write(saved, arrays)
    with pytest.raises(NotAModelFileError):
        npae.load(saved)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        npae.load(tmp_path / "nothing.npz")


def test_a_directory_that_cannot_be_synced_is_no_error(tmp_path, monkeypatch):
    real_fsync = os.fsync
    synced = []

    def fsync(fd):  # the file's sync works, the directory's (the second) fails
        if synced:
            raise OSError("fsync of a directory is not supported here")
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    fitted().save(tmp_path / "m.npz")
    monkeypatch.undo()
    npae.load(tmp_path / "m.npz")


def test_saving_where_no_file_can_be(tmp_path):
    with pytest.raises(FileNotFoundError, match="directory .*missing.* does not exist"):
        fitted().save(tmp_path / "missing" / "m.npz")
    with pytest.raises(IsADirectoryError, match="it is a directory"):
        fitted().save(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_expected_class_must_be_a_class_or_its_name(saved):
    with pytest.raises(TypeError, match="expected_class must be a class or a class name, "
                                        "got 3"):
        npae.load(saved, expected_class=3)


def test_unfitted_save_raises(tmp_path):
    with pytest.raises(ValueError, match="Autoencoder is not fitted: call fit before save"):
        Autoencoder().save(tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == []


# -- atomic writes ------------------------------------------------------------------------

def _half_write_then_fail(fh, **arrays):
    fh.write(b"PK\x03\x04 half a file")
    raise OSError("disk full")


@pytest.mark.parametrize("target, replacement", [
    ("numpy.savez", _half_write_then_fail),
    ("os.replace", lambda *args: (_ for _ in ()).throw(OSError("rename failed"))),
])
def test_crash_during_save_keeps_the_old_file(saved, monkeypatch, target, replacement):
    before = saved.read_bytes()
    monkeypatch.setattr(target, replacement)
    with pytest.raises(OSError):
        fitted(random_state=1).save(saved)
    monkeypatch.undo()
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]  # no temporary file left
    npae.load(saved)


def test_interrupt_during_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    def interrupted(fh, **arrays):
        raise KeyboardInterrupt

    monkeypatch.setattr("numpy.savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fitted().save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_overwrites_atomically(saved):
    other = fitted(random_state=1)
    other.save(saved)
    np.testing.assert_array_equal(npae.load(saved).transform(data()), other.transform(data()))
    assert isinstance(saved, pathlib.Path)


# -- every public estimator ----------------------------------------------------------------

@cache
def tiny_model(name, dtype=np.float64):
    """A fitted tiny ``name`` (shared: tests only read it) and its data."""
    return fit_tiny(name, dtype)


def saved_tiny(tmp_path, name, dtype=np.float64):
    path = tmp_path / f"{name}.npz"
    npae.save(tiny_model(name, dtype)[0], path)
    return path


def fitted_arrays(model):
    """Every fitted ndarray attribute and every network parameter, by name."""
    arrays = {k: v for k, v in vars(model).items()
              if k.endswith("_") and not k.startswith("_") and isinstance(v, np.ndarray)}
    if hasattr(model, "network_"):
        arrays.update({f"net/{k}": v for k, v in model.network_.state_dict().items()})
    return arrays


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_every_estimator_round_trips_bit_exact(tmp_path, name, dtype):
    model, X = tiny_model(name, dtype)
    path = saved_tiny(tmp_path, name, dtype)
    loaded = npae.load(path)
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    expected, got = fitted_arrays(model), fitted_arrays(loaded)
    assert set(got) == set(expected) and expected
    for key, value in expected.items():
        assert got[key].dtype == value.dtype, key
        np.testing.assert_array_equal(got[key], value, err_msg=key)
    fitted = {k: v for k, v in vars(model).items() if k.endswith("_") and not k.startswith("_")
              and not isinstance(v, np.ndarray) and not hasattr(v, "layers")}
    for key, value in fitted.items():
        assert getattr(loaded, key) == value, key
    before, after = outputs(model, X), outputs(loaded, X)
    assert set(before) == set(after) and before
    for method, out in before.items():
        assert after[method].dtype == out.dtype, method
        np.testing.assert_array_equal(after[method], out, err_msg=method)
    if hasattr(model, "history_"):
        assert loaded.history_ == model.history_
    # The file is the model: saving the loaded one writes the same header and arrays.
    again = tmp_path / "again.npz"
    npae.save(loaded, again)
    assert read(again).keys() == read(path).keys()
    assert header_of(read(again)) == header_of(read(path))


def test_a_loaded_model_continues_the_generator(tmp_path):
    """A VAE draws the same samples after a round trip as before it."""
    model, _ = fit_tiny("VAE")
    model.save(tmp_path / "vae.npz")
    loaded = npae.load(tmp_path / "vae.npz")
    np.testing.assert_array_equal(loaded.sample(4), model.sample(4))
    np.testing.assert_array_equal(loaded.sample(2), model.sample(2))


@pytest.mark.parametrize("name", NAMES)
def test_every_estimator_has_save_and_a_class_load(tmp_path, name):
    model, X = tiny_model(name)
    path = tmp_path / "m.npz"
    assert model.save(path) == path
    loaded = type(model).load(path)
    for method, out in outputs(model, X).items():
        np.testing.assert_array_equal(outputs(loaded, X)[method], out)


def _other_class(name):
    return "VAE" if name == "Autoencoder" else "Autoencoder"


@pytest.mark.parametrize("name", NAMES)
def test_every_kind_of_bad_file_gives_its_own_error(tmp_path, name):
    """Truncated, altered header, altered array, newer version, other class, not npz."""
    good = saved_tiny(tmp_path, name)
    arrays = read(good)
    header = header_of(arrays)
    raised = {}

    def refused(kind, path, **kwargs):
        with pytest.raises(ModelFileError) as info:
            npae.load(path, **kwargs)
        raised[kind] = type(info.value)

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    refused("truncated", truncated)

    altered_header = tmp_path / "header.npz"
    raw = arrays["__header__"].tobytes().replace(b'"format_version": 1',
                                                 b'"format_version": 1 ')
    assert raw != arrays["__header__"].tobytes()
    write(altered_header, {**arrays, "__header__": np.frombuffer(raw, dtype=np.uint8)})
    refused("altered header", altered_header)

    altered_array = tmp_path / "array.npz"
    key = sorted(k for k in arrays if not k.startswith("__"))[0]
    changed = arrays[key].copy()
    changed.flat[0] = changed.flat[0] + 1
    write(altered_array, {**arrays, key: changed})
    refused("altered array", altered_array)

    newer = tmp_path / "newer.npz"
    write(newer, with_header(arrays, {**header, "format_version": 2}))
    refused("newer version", newer)

    refused("other class", good, expected_class=_other_class(name))

    not_npz = tmp_path / "notes.npz"
    not_npz.write_text("hello")
    refused("not npz", not_npz)

    assert raised == {"truncated": CorruptFileError, "altered header": ChecksumError,
                      "altered array": ChecksumError, "newer version": FormatVersionError,
                      "other class": WrongClassError, "not npz": NotAModelFileError}
    npae.load(good)  # the original is untouched


@pytest.mark.parametrize("name", sorted(set(NAMES) - {"Autoencoder", "PCA"}))
def test_a_class_load_refuses_other_classes(tmp_path, name):
    path = saved_tiny(tmp_path, name)
    with pytest.raises(WrongClassError, match=f"holds a {name}, not a Autoencoder"):
        Autoencoder.load(path)
    with pytest.raises(WrongClassError, match=f"holds a {name}, not a Autoencoder"):
        npae.load(path, expected_class=Autoencoder)
    assert type(npae.load(path, expected_class=name)).__name__ == name


@pytest.mark.parametrize("name", NAMES)
def test_loading_never_unpickles(tmp_path, name):
    path = saved_tiny(tmp_path, name)
    arrays = read(path)
    key = sorted(k for k in arrays if not k.startswith("__"))[0]
    write(path, {**arrays, key: np.array([Trap(), 1], dtype=object)})
    UNPICKLED.clear()
    with pytest.raises(ModelFileError):
        npae.load(path)
    assert UNPICKLED == []


@pytest.mark.parametrize("name", NAMES)
def test_a_crash_during_save_keeps_the_previous_file(tmp_path, monkeypatch, name):
    path = saved_tiny(tmp_path, name)
    before = path.read_bytes()
    other, _ = fit_tiny(name, random_state=1) if name != "PCA" else fit_tiny(name,
                                                                             n_components=1)
    monkeypatch.setattr("numpy.savez", _half_write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        npae.save(other, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    kept, saved = (outputs(m, tiny_data(name)) for m in (npae.load(path), tiny_model(name)[0]))
    assert kept.keys() == saved.keys() and kept
    for method in kept:
        np.testing.assert_array_equal(kept[method], saved[method])


# -- headers whose checksum matches but whose content does not make a model -----------------

@pytest.mark.parametrize("change, error, message", [
    (lambda h: h.pop("params"), NotAModelFileError, "'params' should be a dict, got NoneType"),
    (lambda h: h.update(arrays={"net/0.W": "oops"}), NotAModelFileError,
     "record of array 'net/0.W' is invalid"),
    (lambda h: h["attributes"].update(_private=1), NotAModelFileError,
     "'_private' is not a fitted attribute name"),
    (lambda h: h["params"].update(colour="red"), ModelFileError,
     "hyperparameters do not fit this npae's Autoencoder"),
    (lambda h: h["attributes"].pop("input_shape_"), ModelFileError,
     "cannot rebuild the Autoencoder's networks"),
    (lambda h: h.update(rng_state={"bit_generator": "os.system"}), NotAModelFileError,
     "unknown random generator 'os.system'"),
    (lambda h: h["rng_state"].update(state={"state": "x"}), NotAModelFileError,
     "invalid PCG64 generator state"),
    # The hand-made cases of issue 14: none may escape as a TypeError, KeyError, ...
    (lambda h: h.update(format_version=0), FormatVersionError, "invalid file format version 0"),
    (lambda h: h.update(format_version=-1), FormatVersionError, "version -1"),
    (lambda h: h.update(format_version=True), FormatVersionError, "version True"),
    (lambda h: h.update(format_version="1"), FormatVersionError, "version '1'"),
    (lambda h: h.update(format_version=1.0), FormatVersionError, "version 1.0"),
    (lambda h: h.update(format_version=None), FormatVersionError, "version None"),
    (lambda h: h.update({"class": 5}), NotAModelFileError, "'class' should be a str"),
    (lambda h: h.update(arrays=[]), NotAModelFileError, "'arrays' should be a dict"),
    (lambda h: h["params"].update(hidden_sizes={"__tuple__": 5}), MalformedHeaderError,
     "a tuple should be a list"),
    (lambda h: h["params"].update(hidden_sizes=["a"]), ModelFileError, "hidden_sizes"),
    (lambda h: h["params"].update(hidden_sizes={"__tuple__": [10**12]}), ModelFileError,
     "cannot rebuild"),
    (lambda h: h["params"].update(code_size=10**40), ModelFileError, "cannot rebuild"),
    (lambda h: h["params"].update(code_size={"__dtype__": "os.system"}), MalformedHeaderError,
     "unknown dtype 'os.system'"),
    (lambda h: h["params"].update(dtype={"__array__": "0"}), MalformedHeaderError,
     "no array '0'"),
    (lambda h: h["attributes"].update(dtype_={"__dtype__": "object"}), MalformedHeaderError,
     "unknown dtype 'object'"),
    (lambda h: h["attributes"].update(dtype_=5), ModelFileError, "cannot rebuild"),
    (lambda h: h["attributes"].update(input_shape_=5), ModelFileError, "cannot rebuild"),
    (lambda h: h["attributes"].update(input_shape_={"__tuple__": [-3]}), ModelFileError,
     "cannot rebuild"),
    (lambda h: h["attributes"].update(input_shape_={"__tuple__": ["6"]}), ModelFileError,
     "cannot rebuild"),
    (lambda h: h["networks"].update(bogus_=[]), MalformedHeaderError, "no network 'bogus_'"),
    (lambda h: h["networks"].update(_private=[]), NotAModelFileError, "invalid network entry"),
    (lambda h: h["networks"].update(network_="x"), NotAModelFileError, "invalid network entry"),
    (lambda h: h["networks"].update(network_=[]), ChecksumError, "does not match"),
    (lambda h: h["networks"].update(network_=[5]), ChecksumError, "does not match"),
    (lambda h: h["arrays"]["net/0.W"].update(dtype="object"), NotAModelFileError,
     "record of array 'net/0.W' is invalid"),
    (lambda h: h["arrays"]["net/0.W"].update(shape=[10**30]), ChecksumError,
     "'net/0.W' was altered"),
    (lambda h: h["arrays"]["net/0.W"].update(shape=[True]), NotAModelFileError,
     "record of array"),
    (lambda h: h["arrays"]["net/0.W"].update(shape=[-1]), NotAModelFileError,
     "record of array"),
    (lambda h: h["arrays"]["net/0.W"].update(sha256=5), NotAModelFileError, "record of array"),
    (lambda h: h["params"].update(deep=json.loads("[" * 60 + "]" * 60)),
     MalformedHeaderError, "nest deeper than"),
    (lambda h: h.update(rng_state=5), NotAModelFileError, "unknown random generator None"),
    (lambda h: h.update(rng_state=[]), NotAModelFileError, "unknown random generator"),
    (lambda h: h["rng_state"].update(state=None), NotAModelFileError, "invalid PCG64"),
    (lambda h: h["rng_state"]["state"].update(state=2**300), NotAModelFileError,
     "invalid PCG64"),
    (lambda h: h["rng_state"].update(bit_generator="MT19937"), NotAModelFileError,
     "invalid MT19937"),
    (lambda h: h["attributes"].update(history_={"__array__": "nope"}), MalformedHeaderError,
     "no array 'nope'"),
])
def test_a_recomputed_checksum_does_not_get_a_bad_header_through(saved, change, error,
                                                                 message):
    arrays = read(saved)
    header = header_of(arrays)
    change(header)
    write(saved, with_header(arrays, header))
    with pytest.raises(error, match=message):
        npae.load(saved)


def test_a_header_nested_5000_deep_is_refused(saved):
    arrays = read(saved)
    header = header_of(arrays)
    header["params"]["deep"] = "DEEP"
    raw = json.dumps(header, sort_keys=True).replace('"DEEP"', "[" * 5000 + "]" * 5000)
    digest = hashlib.sha256(raw.encode()).hexdigest().encode("ascii")
    write(saved, {**arrays, "__header__": np.frombuffer(raw.encode(), dtype=np.uint8),
                  "__header_sha256__": np.frombuffer(digest, dtype=np.uint8)})
    with pytest.raises(MalformedHeaderError, match="nested too deeply"):
        npae.load(saved)


def test_checkpoint_errors_are_model_file_errors():
    assert issubclass(CheckpointError, ModelFileError)
    assert set(estimator_classes()) == set(NAMES) | {"ConditionalVAE"}


VARIANTS = [
    ("VAE", dict(architecture="conv", channels=(2,), likelihood="gaussian"), (8, 1, 8, 8)),
    ("ConvAutoencoder", dict(decoder="transposed", channels=(2, 3)), (8, 1, 7, 9)),
    ("UNet", dict(out_channels=3, up="upsample", padding=0), (8, 1, 20, 20)),
    ("StackedAutoencoder", dict(pretrain=False), (8, 6)),
    ("SparseAutoencoder", dict(penalty="l1", dtype="float32"), (8, 6)),
]


@pytest.mark.parametrize("name, params, shape", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_architecture_variants_round_trip_bit_exact(tmp_path, name, params, shape):
    X = np.random.default_rng(0).uniform(size=shape)
    model = make_tiny(name, **params)
    if name == "UNet":
        model.fit(X, (X[:, 0] * 3).astype(np.int64))
    else:
        model.fit(X)
    model.save(tmp_path / "m.npz")
    loaded = npae.load(tmp_path / "m.npz")
    assert same_state(loaded, model)
    for method, out in outputs(model, X).items():
        np.testing.assert_array_equal(outputs(loaded, X)[method], out, err_msg=method)


def same_state(a, b):
    arrays_a, arrays_b = fitted_arrays(a), fitted_arrays(b)
    return arrays_a.keys() == arrays_b.keys() and all(
        np.array_equal(arrays_a[k], arrays_b[k]) and arrays_a[k].dtype == arrays_b[k].dtype
        for k in arrays_a)


# -- the registry of loadable classes and the public encoding helpers ----------------------

def test_the_registry_fills_itself_with_npaes_concrete_classes_only():
    from npae.io import _LOADABLE

    class MyAutoencoder(Autoencoder):  # defined outside npae: a file cannot name it
        pass

    assert "MyAutoencoder" not in _LOADABLE and "MyAutoencoder" not in estimator_classes()
    assert {"TrainedEstimator", "BaseAutoencoder"} <= set(_LOADABLE)  # registered, abstract
    assert estimator_classes() == {name: getattr(npae, name) for name in [*NAMES, "ConditionalVAE"]}


def test_io_finds_the_classes_without_importing_the_package():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(npae.io))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "npae" not in imported and not any(m.startswith("npae.models") for m in imported)


def test_encode_and_decode_values_round_trip():
    from npae.io import array_sha256, decode_value, encode_value

    value = {"sizes": (4, (2, 1)), "dtype": np.dtype("float32"), "n": np.int64(3),
             "rows": [None, True, "a", 1.5], "w": np.arange(3.0)}
    arrays = {}
    encoded = encode_value(value, "a test value", arrays)
    assert json.loads(json.dumps(encoded)) == encoded  # plain JSON
    decoded = decode_value(encoded, arrays)
    np.testing.assert_array_equal(decoded.pop("w"), value.pop("w"))
    assert decoded == value and type(decoded["n"]) is int
    with pytest.raises(TypeError, match="cannot save a test value: values of type ndarray"):
        encode_value(np.arange(3.0), "a test value")
    a = np.arange(6.0).reshape(2, 3)
    assert array_sha256(a.T) == hashlib.sha256(np.ascontiguousarray(a.T).tobytes()).hexdigest()


# -- what saves, loads; what cannot load, does not save -----------------------------------

def test_a_randomstate_random_state_saves_checkpoints_and_loads(tmp_path):
    X = data()
    model = fitted(random_state=np.random.RandomState(0))
    model.save(tmp_path / "m.npz")
    loaded = npae.load(tmp_path / "m.npz")
    assert np.array_equal(loaded.reconstruct(X), model.reconstruct(X))
    assert loaded._rng.bit_generator.state == model._rng.bit_generator.state
    run = Autoencoder(hidden_sizes=(5,), code_size=2, epochs=2,
                      random_state=np.random.RandomState(0))
    run.fit(X, checkpoint=tmp_path / "run.npz")
    assert npae.load(tmp_path / "run.npz").history_ == run.history_


class MyAutoencoder(Autoencoder):
    """A user's subclass, with a hyperparameter of its own."""

    def __init__(self, hidden_sizes=(5,), code_size=2, epochs=3, random_state=0, scale=1.0):
        super().__init__(hidden_sizes=hidden_sizes, code_size=code_size, epochs=epochs,
                         random_state=random_state)
        self.scale = scale


def test_a_users_subclass_loads_with_its_own_load(tmp_path):
    X = data()
    model = MyAutoencoder(scale=2.0).fit(X)
    model.save(tmp_path / "mine.npz")
    loaded = MyAutoencoder.load(tmp_path / "mine.npz")
    assert type(loaded) is MyAutoencoder and loaded.scale == 2.0
    assert np.array_equal(loaded.reconstruct(X), model.reconstruct(X))
    with pytest.raises(NotAModelFileError, match=r"MyAutoencoder.load\(path\)"):
        npae.load(tmp_path / "mine.npz")
    with pytest.raises(WrongClassError):
        MyAutoencoder.load(fitted().save(tmp_path / "plain.npz"))


def test_object_arrays_never_reach_the_file(tmp_path):
    model = fitted()
    model.notes_ = np.array([{"pickled": True}], dtype=object)
    with pytest.raises(TypeError, match="attr/notes_.*dtype object.*no pickle"):
        model.save(tmp_path / "m.npz")
    model.notes_ = np.zeros(2, dtype=[("a", "f8")])
    with pytest.raises(TypeError, match="attr/notes_.*only numeric arrays"):
        model.save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_a_foreign_object_is_refused_at_save(tmp_path):
    from sklearn.decomposition import PCA
    pca = PCA(n_components=2).fit(data())
    with pytest.raises(TypeError, match="npae.save saves npae estimators, got a "
                                        "sklearn.decomposition._pca.PCA"):
        npae.save(pca, tmp_path / "pca.npz")
    assert list(tmp_path.iterdir()) == []


# -- crafted archives are refused before anything large is decompressed or allocated ------

def _peak_bytes_of_refusing(path, error, message):
    tracemalloc.start()
    try:
        with pytest.raises(error, match=message):
            npae.load(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_small_file_holding_a_huge_compressed_member_is_refused_cheaply(saved):
    bomb = zipfile.ZipInfo("bomb.npy")
    bomb.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(saved, "a") as archive, archive.open(bomb, "w",
                                                              force_zip64=True) as member:
        block = bytes(1 << 20)
        for _ in range(512):  # 512 MiB of zeros, about 0.5 MB on disk
            member.write(block)
    assert os.path.getsize(saved) < 4 << 20
    peak = _peak_bytes_of_refusing(saved, NotAModelFileError, "'bomb.npy' is compressed")
    assert peak < 16 << 20


def test_a_member_declaring_more_bytes_than_the_file_holds_is_refused_cheaply(saved):
    raw = bytearray(saved.read_bytes())
    entry = raw.index(b"PK\x01\x02")  # the central directory's first record
    raw[entry + 20:entry + 28] = struct.pack("<II", 0xFFFFFFF0, 0xFFFFFFF0)
    saved.write_bytes(bytes(raw))
    peak = _peak_bytes_of_refusing(saved, CorruptFileError, "more than the .* bytes of the file")
    assert peak < 16 << 20


def test_an_npy_header_claiming_terabytes_is_refused_before_allocating(saved):
    arrays = read(saved)
    header = header_of(arrays)
    header["arrays"]["net/0.W"]["shape"] = [10**12]
    fake = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        fake, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    crafted = with_header(arrays, header)
    with open(saved, "wb") as fh, zipfile.ZipFile(fh, "w") as archive:
        for key, value in crafted.items():
            if key == "net/0.W":
                archive.writestr(f"{key}.npy", fake.getvalue() + bytes(8))
            else:
                out = io.BytesIO()
                np.lib.format.write_array(out, value, allow_pickle=False)
                archive.writestr(f"{key}.npy", out.getvalue())
    peak = _peak_bytes_of_refusing(saved, CorruptFileError, "declares 8000000000000 bytes")
    assert peak < 16 << 20
