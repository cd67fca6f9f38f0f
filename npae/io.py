"""Save and load fitted estimators without pickle.

A model file is one ``.npz`` archive holding

- ``__header__``: UTF-8 JSON as a uint8 array: format name and version, the
  estimator class, its hyperparameters (``get_params()``), its fitted
  scalar attributes (``history_``, ``n_features_in_``, ...), the layer specs
  of its networks, and the SHA-256, dtype and shape of every array;
- ``__header_sha256__``: the SHA-256 of the header bytes;
- ``attr/<name>``: each fitted ndarray attribute (``components_``, ...);
- ``net/<i>.<key>``: each parameter of ``network_`` (``net/0.W``, ...).

Loading uses ``numpy.load(allow_pickle=False)``, rebuilds the networks
from the hyperparameters, checks every checksum and shape, and refuses a
truncated, altered or newer-format file with a distinct error. Saving
writes a temporary file beside the target and renames it over the target
only when complete, so a crash never leaves a half-written model.
"""

import hashlib
import json
import os
import secrets
import zipfile

import numpy as np

from npae.network import Sequential

FORMAT = "npae-model"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """Base of every error raised when a model file is refused."""


class NotAModelFileError(ModelFileError):
    """The file is not an npz archive written by ``npae.save``."""


class CorruptFileError(ModelFileError):
    """The archive is truncated or cannot be read."""


class ChecksumError(ModelFileError):
    """The header or an array was altered after saving."""


class FormatVersionError(ModelFileError):
    """The file was written by a newer npae file format."""


class WrongClassError(ModelFileError):
    """The file holds a different estimator class than the one asked for."""


# -- JSON encoding of hyperparameters and fitted scalars ----------------------

def _to_json(value, where):
    """Encode ``value`` as JSON-able data, tagging tuples and dtypes."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return {"__dtype__": np.dtype(value).name}
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(v, where) for v in value]}
    if isinstance(value, list):
        return [_to_json(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v, where) for k, v in value.items()}
    if isinstance(value, np.random.Generator):
        return None  # a generator's stream cannot be stored; the seed is gone
    raise TypeError(f"cannot save {where}: values of type {type(value).__name__} are not supported")


def _from_json(value):
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_from_json(v) for v in value["__tuple__"])
        if set(value) == {"__dtype__"}:
            return np.dtype(value["__dtype__"])
        return {k: _from_json(v) for k, v in value.items()}
    return value


def _digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _layer_specs(network):
    return [{"class": layer.name, "config": _to_json(layer.get_config(), layer.name)}
            for layer in network.layers]


# -- saving ---------------------------------------------------------------------

def save(estimator, path):
    """Write a fitted ``estimator`` to ``path`` atomically (see module docstring)."""
    fitted = {k: v for k, v in vars(estimator).items() if k.endswith("_") and not k.startswith("_")}
    if not fitted:
        raise ValueError(f"{type(estimator).__name__} is not fitted: call fit before save")
    arrays, attributes, networks = {}, {}, {}
    for name, value in fitted.items():
        if isinstance(value, Sequential):
            networks[name] = _layer_specs(value)
        elif isinstance(value, np.ndarray):
            arrays[f"attr/{name}"] = value
        else:
            attributes[name] = _to_json(value, f"fitted attribute {name}")
    if "network_" in fitted:
        arrays.update({f"net/{k}": v for k, v in fitted["network_"].state_dict().items()})
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(estimator).__name__,
        "params": _to_json(estimator.get_params(deep=False), "hyperparameters"),
        "attributes": attributes,
        "networks": networks,
        "arrays": {k: {"sha256": _digest(v), "dtype": v.dtype.name, "shape": list(v.shape)}
                   for k, v in arrays.items()},
    }
    header_bytes = json.dumps(header, sort_keys=True).encode("utf-8")
    payload = {
        "__header__": np.frombuffer(header_bytes, dtype=np.uint8),
        "__header_sha256__": np.frombuffer(
            hashlib.sha256(header_bytes).hexdigest().encode("ascii"), dtype=np.uint8),
        **arrays,
    }
    _atomic_savez(os.fspath(path), payload)


def _atomic_savez(path, payload):
    directory = os.path.dirname(os.path.abspath(path))
    # Not tempfile.mkstemp: its files are private (0600); a model file gets the
    # permissions of any file the user creates (0666 minus the umask).
    tmp = os.path.join(directory, f".npae-{secrets.token_hex(8)}.tmp")
    try:
        with open(tmp, "xb") as fh:
            np.savez(fh, **payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


# -- loading ----------------------------------------------------------------------

def _read_archive(path):
    """All arrays of the archive and its verified header."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            start = fh.read(4)
        if start.startswith(b"PK"):
            raise CorruptFileError(f"{path!r} is a truncated or damaged npz archive")
        raise NotAModelFileError(f"{path!r} is not an npz model file written by npae")
    try:
        with np.load(path, allow_pickle=False) as archive:
            contents = {k: archive[k] for k in archive.files}
    except zipfile.BadZipFile as err:
        if "CRC" in str(err):  # the zip's own checksum of a member's bytes
            raise ChecksumError(f"{path!r} was altered after saving: {err}") from None
        raise CorruptFileError(f"{path!r} is truncated or damaged: {err}") from None
    except (EOFError, OSError, ValueError, KeyError) as err:
        raise CorruptFileError(f"{path!r} is truncated or damaged: {err}") from None
    if "__header__" not in contents or "__header_sha256__" not in contents:
        raise NotAModelFileError(f"{path!r} is an npz archive but not an npae model file")
    header_bytes = contents.pop("__header__").tobytes()
    stored = contents.pop("__header_sha256__").tobytes().decode("ascii", "replace")
    if hashlib.sha256(header_bytes).hexdigest() != stored:
        raise ChecksumError(f"{path!r}: the header was altered after saving (checksum mismatch)")
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise NotAModelFileError(f"{path!r} is not an npae model file")
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise FormatVersionError(
            f"{path!r} has file format version {version}; this npae reads versions up to "
            f"{FORMAT_VERSION}: upgrade npae to load it"
        )
    expected = header["arrays"]
    if set(expected) != set(contents):
        missing = sorted(set(expected) - set(contents))
        extra = sorted(set(contents) - set(expected))
        raise ChecksumError(f"{path!r}: arrays missing {missing} or unexpected {extra}")
    for key, info in expected.items():
        array = contents[key]
        if (array.dtype.name != info["dtype"] or list(array.shape) != info["shape"]
                or _digest(array) != info["sha256"]):
            raise ChecksumError(f"{path!r}: array {key!r} was altered after saving")
    return header, contents


def estimator_classes():
    """Every public npae estimator class by name."""
    import npae

    return {name: getattr(npae, name) for name in npae.__all__
            if isinstance(getattr(npae, name), type) and hasattr(getattr(npae, name), "fit")}


def load(path, expected_class=None):
    """Load an estimator saved by ``save``; optionally require its class.

    Parameters
    ----------
    path : str or path-like
    expected_class : type or str, optional
        Raise ``WrongClassError`` unless the file holds this class.
    """
    header, arrays = _read_archive(path)
    name = header["class"]
    if expected_class is not None:
        want = expected_class if isinstance(expected_class, str) else expected_class.__name__
        if want != name:
            raise WrongClassError(f"{os.fspath(path)!r} holds a {name}, not a {want}")
    classes = estimator_classes()
    if name not in classes:
        raise NotAModelFileError(f"{os.fspath(path)!r} holds unknown class {name!r}")
    estimator = classes[name](**_from_json(header["params"]))
    attributes = {k: _from_json(v) for k, v in header["attributes"].items()}
    attributes.update({k[len("attr/"):]: v for k, v in arrays.items() if k.startswith("attr/")})
    if header["networks"]:
        estimator._restore_networks(attributes)
        for attr, specs in header["networks"].items():
            rebuilt = _layer_specs(getattr(estimator, attr))
            if rebuilt != specs:
                raise ChecksumError(
                    f"{os.fspath(path)!r}: the saved {attr} does not match the one "
                    f"{name} builds from its hyperparameters"
                )
        net = {k[len("net/"):]: v for k, v in arrays.items() if k.startswith("net/")}
        estimator.network_.load_state_dict(net)
    for key, value in attributes.items():
        setattr(estimator, key, value)
    return estimator
