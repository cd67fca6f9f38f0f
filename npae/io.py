"""Save and load fitted estimators without pickle; the model file format.

A model file is one ``.npz`` archive holding

- ``__header__``: UTF-8 JSON as a uint8 array: format name and version, the
  estimator class, its hyperparameters (``get_params()``), its fitted
  scalar attributes (``history_``, ``n_features_in_``, ...), the layer specs
  of its networks, the position of its random generator, and the SHA-256,
  dtype and shape of every array;
- ``__header_sha256__``: the SHA-256 of the header bytes;
- ``attr/<name>``: each fitted ndarray attribute (``components_``, ...);
- ``net/<i>.<key>``: each parameter of ``network_`` (``net/0.W``, ...).

A checkpoint (``fit(X, checkpoint=path)``) is a model file whose header also
holds the training state (``"checkpoint"``: epoch, history, optimizer
scalars, generator state, ...), its arrays stored as ``state/<i>``.

Loading uses ``numpy.load(allow_pickle=False)``, rebuilds the networks
from the hyperparameters, checks every checksum and shape, and refuses a
truncated, altered or newer-format file with a distinct error. Saving
writes a temporary file beside the target and renames it over the target
only when complete (``npae.utils.atomic_write``), so a crash never leaves a
half-written model.

The classes ``load`` can build register themselves (``SaveLoadMixin``);
``encode_value``, ``decode_value`` and ``array_sha256`` are the header's
encoding, public for whoever compares or writes header values
(``npae.checkpoint``).
"""

import hashlib
import inspect
import json
import math
import os
import zipfile
import zlib

import numpy as np

from npae.network import Network
from npae.utils import atomic_write

FORMAT = "npae-model"
FORMAT_VERSION = 1

#: The bit generators whose state a file may restore.
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


#: The kinds of array a model file holds: booleans, integers, floats (never objects).
_ARRAY_KINDS = "biuf"
_DTYPE_NAMES = {np.dtype(c).name for c in "?bhilqBHILQefdg"}

#: The classes ``load`` may build, by name: filled by ``SaveLoadMixin.__init_subclass__``.
_LOADABLE = {}


class SaveLoadMixin:
    """``estimator.save(path)`` and ``Class.load(path)`` for npae estimators.

    Every class of the ``npae`` package that takes this mixin registers
    itself by name for ``load``; ``estimator_classes()`` lists the concrete
    (not abstract) ones. Classes defined elsewhere are not registered, so a
    file can only ever name one of npae's own estimators.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.split(".")[0] == "npae":
            _LOADABLE[cls.__name__] = cls

    def save(self, path):
        """Write the fitted model to ``path`` (.npz, no pickle); see ``npae.load``."""
        save(self, path)
        return path

    @classmethod
    def load(cls, path):
        """Load a model saved by ``save``, refusing a file of another class."""
        return load(path, expected_class=cls)


class ModelFileError(ValueError):
    """Base of every error raised when a model file is refused."""


class NotAModelFileError(ModelFileError):
    """The file is not an npz archive written by ``npae.save``."""


class CorruptFileError(ModelFileError):
    """The archive is truncated or cannot be read."""


class ChecksumError(ModelFileError):
    """Bytes do not match their recorded SHA-256: a file altered after saving (or download).

    npae's one checksum error: model files raise it, and so do downloads
    whose bytes differ from the published digest.
    """


class FormatVersionError(ModelFileError):
    """The file was written by a newer npae file format."""


class WrongClassError(ModelFileError):
    """The file holds a different estimator class than the one asked for."""


class MalformedHeaderError(ModelFileError):
    """The header's checksum matches, but its values are not what npae writes (hand-edited)."""

    #: What building an estimator from such values raises, turned into this error by ``load``.
    CAUSES = (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError,
              RecursionError, MemoryError)


class CheckpointError(ModelFileError):
    """The file cannot be resumed from: not a checkpoint, or one of another model or data."""


# -- JSON encoding of hyperparameters, fitted scalars and training state (public) ---

def encode_value(value, where, arrays=None):
    """Encode ``value`` as JSON-able data, tagging tuples and dtypes.

    Parameters
    ----------
    value : None, bool, int, float, str, numpy scalar or dtype, or a tuple,
        list or dict of these (a ``Generator`` or ``RandomState`` becomes
        None: the position of the generator it seeded is saved apart)
    where : str
        What is encoded, for the error message (``"hyperparameters"``).
    arrays : dict, optional
        Each ndarray met is moved here (under the next ``"<i>"``) and
        replaced by ``{"__array__": "<i>"}``; without it, arrays are refused.

    Returns
    -------
    JSON-able data that ``decode_value`` turns back into ``value``.

    Examples
    --------
    >>> encode_value({"sizes": (4, 2), "dtype": np.dtype("float32")}, "example")
    {'sizes': {'__tuple__': [4, 2]}, 'dtype': {'__dtype__': 'float32'}}
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return {"__dtype__": np.dtype(value).name}
    if isinstance(value, np.ndarray) and arrays is not None:
        key = str(len(arrays))
        arrays[key] = value
        return {"__array__": key}
    if isinstance(value, tuple):
        return {"__tuple__": [encode_value(v, where, arrays) for v in value]}
    if isinstance(value, list):
        return [encode_value(v, where, arrays) for v in value]
    if isinstance(value, dict):
        return {str(k): encode_value(v, where, arrays) for k, v in value.items()}
    if isinstance(value, (np.random.Generator, np.random.RandomState)):
        return None  # a generator as a hyperparameter: the position of the one it seeded is saved
    raise TypeError(f"cannot save {where}: values of type {type(value).__name__} are not supported")


#: How deeply header values may nest (npae's own nest a few levels).
MAX_DEPTH = 32


def decode_value(value, arrays=None):
    """Decode ``encode_value``'s output; ``arrays`` holds the arrays it moved out.

    Raises ``MalformedHeaderError`` for what ``encode_value`` never writes: a
    tag with a value of the wrong kind, an unknown dtype or array, values
    nested deeper than ``MAX_DEPTH``.

    Examples
    --------
    >>> decode_value({"sizes": {"__tuple__": [4, 2]}})
    {'sizes': (4, 2)}
    """
    return _decode(value, arrays, 0)


def _decode(value, arrays, depth):
    if depth > MAX_DEPTH:
        raise MalformedHeaderError(f"header values nest deeper than {MAX_DEPTH} levels")
    if isinstance(value, list):
        return [_decode(v, arrays, depth + 1) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"__tuple__"}:
        if not isinstance(value["__tuple__"], list):
            raise MalformedHeaderError(f"a tuple should be a list, got {value['__tuple__']!r}")
        return tuple(_decode(v, arrays, depth + 1) for v in value["__tuple__"])
    if set(value) == {"__dtype__"}:
        if value["__dtype__"] not in _DTYPE_NAMES:
            raise MalformedHeaderError(f"unknown dtype {value['__dtype__']!r}")
        return np.dtype(value["__dtype__"])
    if set(value) == {"__array__"}:
        key = value["__array__"]
        if arrays is None or not isinstance(key, str) or key not in arrays:
            raise MalformedHeaderError(f"no array {key!r} in the file")
        return arrays[key]
    return {k: _decode(v, arrays, depth + 1) for k, v in value.items()}


def array_sha256(array):
    """SHA-256 of an array's bytes (hashed in place when it is contiguous)."""
    return hashlib.sha256(np.ascontiguousarray(array).data).hexdigest()


def _layer_specs(network):
    return [{"class": layer.name, "config": encode_value(layer.get_config(), layer.name)}
            for layer in network.layers]


def _without_backend(specs):
    """Layer specs without the ``"backend"`` that files before npae.set_backend recorded."""
    if not isinstance(specs, list):
        return specs
    return [{**spec, "config": {k: v for k, v in spec["config"].items() if k != "backend"}}
            if isinstance(spec, dict) and isinstance(spec.get("config"), dict) else spec
            for spec in specs]


def _generator_from_state(state, where):
    """A new Generator positioned at ``bit_generator.state`` ``state``."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in BIT_GENERATORS:
        raise NotAModelFileError(f"{where}: unknown random generator {name!r}")
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError, AttributeError) as err:
        raise NotAModelFileError(f"{where}: invalid {name} generator state: {err}") from None
    return np.random.Generator(bit_generator)


# -- saving ---------------------------------------------------------------------

def save(estimator, path):
    """Write a fitted ``estimator`` to ``path`` atomically (see module docstring).

    Only npae estimators (and subclasses of them, which load with
    ``TheirClass.load``) can be saved: anything else is refused here, not
    when loading.
    """
    _write(estimator, path)


def save_checkpoint(estimator, path, state):
    """Write ``estimator`` and its training ``state`` (JSON-able values and arrays) to ``path``.

    The file is a model file (``npae.load`` reads the model from it) whose
    header also holds ``state``; ``read_checkpoint`` gives it back.
    """
    _write(estimator, path, checkpoint=state)


def _write(estimator, path, checkpoint=None):
    if not isinstance(estimator, SaveLoadMixin):
        kind = type(estimator)
        raise TypeError(f"npae.save saves npae estimators, got a {kind.__module__}."
                        f"{kind.__qualname__}, which npae.load could not rebuild")
    fitted = {k: v for k, v in vars(estimator).items() if k.endswith("_") and not k.startswith("_")}
    if not fitted:
        raise ValueError(f"{type(estimator).__name__} is not fitted: call fit before save")
    arrays, attributes, networks = {}, {}, {}
    for name, value in fitted.items():
        if isinstance(value, Network):
            networks[name] = _layer_specs(value)
        elif isinstance(value, np.ndarray):
            arrays[f"attr/{name}"] = value
        else:
            attributes[name] = encode_value(value, f"fitted attribute {name}")
    if "network_" in fitted:
        arrays.update({f"net/{k}": v for k, v in fitted["network_"].state_dict().items()})
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(estimator).__name__,
        "params": encode_value(estimator.get_params(deep=False), "hyperparameters"),
        "attributes": attributes,
        "networks": networks,
    }
    # The generator's position: a loaded model draws what the saved one would have.
    rng = getattr(estimator, "_rng", None)
    if isinstance(rng, np.random.Generator):
        extra = {}
        header["rng_state"] = encode_value(rng.bit_generator.state, "the generator", extra)
        arrays.update({f"rng/{k}": v for k, v in extra.items()})
    if checkpoint is not None:
        extra = {}
        header["checkpoint"] = encode_value(checkpoint, "the training state", extra)
        arrays.update({f"state/{k}": v for k, v in extra.items()})
    for key, value in arrays.items():  # np.savez would pickle anything else
        if value.dtype.kind not in _ARRAY_KINDS or value.dtype.fields is not None:
            raise TypeError(f"cannot save {key}: an array of dtype {value.dtype}; "
                            "model files hold only numeric arrays (no pickle)")
    header["arrays"] = {k: {"sha256": array_sha256(v), "dtype": v.dtype.name,
                            "shape": list(v.shape)} for k, v in arrays.items()}
    header_bytes = json.dumps(header, sort_keys=True).encode("utf-8")
    payload = {
        "__header__": np.frombuffer(header_bytes, dtype=np.uint8),
        "__header_sha256__": np.frombuffer(
            hashlib.sha256(header_bytes).hexdigest().encode("ascii"), dtype=np.uint8),
        **arrays,
    }
    _atomic_savez(os.fspath(path), payload)


def _atomic_savez(path, payload):
    with atomic_write(path) as fh:
        np.savez(fh, **payload)


# -- loading ----------------------------------------------------------------------

def _read_archive(path):
    """All arrays of the archive and its verified header.

    Nothing is decompressed or allocated before it is checked: the zip's
    directory must declare members stored as they are (as ``np.savez``
    writes them) that fit in the file, so memory stays bounded by the file's
    size; each member's own ``.npy`` header must agree with the dtype and
    shape that the (verified) JSON header records for it.
    """
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
        with zipfile.ZipFile(path) as archive:
            members = _members(archive, path)
            if "__header__" not in members or "__header_sha256__" not in members:
                raise NotAModelFileError(
                    f"{path!r} is an npz archive but not an npae model file")
            header_bytes = _read_npy(archive, members["__header__"], path).tobytes()
            stored = _read_npy(archive, members["__header_sha256__"], path).tobytes()
            if hashlib.sha256(header_bytes).hexdigest() != stored.decode("ascii", "replace"):
                raise ChecksumError(
                    f"{path!r}: the header was altered after saving (checksum mismatch)")
            header = _parse_header(header_bytes, path)
            expected = header["arrays"]
            names = set(members) - {"__header__", "__header_sha256__"}
            if set(expected) != names:
                missing = sorted(set(expected) - names)
                extra = sorted(names - set(expected))
                raise ChecksumError(f"{path!r}: arrays missing {missing} or unexpected {extra}")
            contents = {}
            for key, info in expected.items():
                array = _read_npy(archive, members[key], path, info["dtype"], info["shape"])
                if array_sha256(array) != info["sha256"]:
                    raise ChecksumError(f"{path!r}: array {key!r} was altered after saving")
                contents[key] = array
    except zipfile.BadZipFile as err:
        if "CRC" in str(err):  # the zip's own checksum of a member's bytes
            raise ChecksumError(f"{path!r} was altered after saving: {err}") from None
        raise CorruptFileError(f"{path!r} is truncated or damaged: {err}") from None
    except (EOFError, OSError, zlib.error) as err:
        raise CorruptFileError(f"{path!r} is truncated or damaged: {err}") from None
    return header, contents


def _members(archive, path):
    """The archive's ``.npy`` members by array name, once their declared sizes are checked.

    Every member must be stored uncompressed (``np.savez`` compresses nothing)
    and all of them together must fit in the file: then no declared size can
    make loading allocate more than the file holds.
    """
    members, total = {}, 0
    for info in archive.infolist():
        if not info.filename.endswith(".npy") or info.filename[:-4] in members:
            raise NotAModelFileError(
                f"{path!r}: unexpected archive member {info.filename!r}; not an npae model file")
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
            raise NotAModelFileError(
                f"{path!r}: member {info.filename!r} is compressed ({info.compress_size} bytes "
                f"declaring {info.file_size}); npae writes members uncompressed")
        members[info.filename[:-4]] = info
        total += info.file_size
    size = os.path.getsize(path)
    if total > size:
        raise CorruptFileError(
            f"{path!r}: its members declare {total} bytes, more than the {size} bytes of the "
            "file: truncated or crafted")
    return members


def _read_npy(archive, info, path, dtype="uint8", shape=None):
    """The array in member ``info``; its ``.npy`` header must declare ``dtype`` and ``shape``.

    ``shape`` None means any 1-d shape. The declared size must be exactly
    what the member holds before anything is allocated.
    """
    where = f"{path!r}: array {info.filename[:-4]!r}"
    with archive.open(info) as fh:
        try:
            version = np.lib.format.read_magic(fh)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f"unsupported .npy version {version}")
            got_shape, fortran, got_dtype = read_header(fh)
        except ValueError as err:
            raise CorruptFileError(f"{where} has a damaged .npy header: {err}") from None
        if (got_dtype.name != dtype or got_dtype.hasobject
                or (shape is None and len(got_shape) != 1)
                or (shape is not None and list(got_shape) != shape)):
            raise ChecksumError(f"{where} was altered after saving: it declares "
                                f"{got_dtype} {got_shape}, the header records {dtype} {shape}")
        nbytes = math.prod(got_shape) * got_dtype.itemsize
        if fh.tell() + nbytes != info.file_size:
            raise CorruptFileError(f"{where} declares {nbytes} bytes of data; its member "
                                   f"holds {info.file_size - fh.tell()}")
        array = np.empty(got_shape, dtype=got_dtype, order="F" if fortran else "C")
        view = memoryview(array.reshape(-1, order="A")).cast("B") if nbytes else b""
        filled = 0
        while filled < nbytes:
            count = fh.readinto(view[filled:])
            if not count:
                raise CorruptFileError(f"{where} is truncated")
            filled += count
    return array


def _parse_header(header_bytes, path):
    """The header's JSON, checked: format, version and the fields loading reads."""
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except RecursionError:
        raise MalformedHeaderError(f"{path!r}: the header is nested too deeply") from None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise NotAModelFileError(f"{path!r} is not an npae model file")
    version = header.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise FormatVersionError(f"{path!r}: invalid file format version {version!r}")
    if version > FORMAT_VERSION:
        raise FormatVersionError(
            f"{path!r} has file format version {version}; this npae reads versions up to "
            f"{FORMAT_VERSION}: upgrade npae to load it"
        )
    _check_header(header, path)
    return header


_HEADER_FIELDS = {"class": str, "params": dict, "attributes": dict, "networks": dict,
                  "arrays": dict}


def _check_header(header, path):
    """Refuse a header (with a valid checksum) that lacks what loading reads."""
    for field, kind in _HEADER_FIELDS.items():
        if not isinstance(header.get(field), kind):
            raise NotAModelFileError(
                f"{path!r}: the header's {field!r} should be a {kind.__name__}, "
                f"got {type(header.get(field)).__name__}"
            )
    for key, info in header["arrays"].items():
        if not (isinstance(info, dict) and isinstance(info.get("sha256"), str)
                and info.get("dtype") in _DTYPE_NAMES and isinstance(info.get("shape"), list)
                and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                        for d in info["shape"])):
            raise NotAModelFileError(f"{path!r}: the header's record of array {key!r} is invalid")
    for name in header["attributes"]:
        if name.startswith("_") or not name.endswith("_"):
            raise NotAModelFileError(f"{path!r}: {name!r} is not a fitted attribute name")
    for name, specs in header["networks"].items():
        if name.startswith("_") or not name.endswith("_") or not isinstance(specs, list):
            raise NotAModelFileError(f"{path!r}: invalid network entry {name!r}")


def estimator_classes():
    """Every concrete npae estimator class by name: the classes ``load`` can restore."""
    return {name: cls for name, cls in sorted(_LOADABLE.items()) if not inspect.isabstract(cls)}


def load(path, expected_class=None):
    """Load an estimator saved by ``save``; optionally require its class.

    Parameters
    ----------
    path : str or path-like
        A model file, or a checkpoint (the model as it was when written).
    expected_class : type or str, optional
        Raise ``WrongClassError`` unless the file holds this class.
    """
    header, arrays = _read_archive(path)
    where = repr(os.fspath(path))
    name = header["class"]
    if expected_class is not None:
        if not isinstance(expected_class, (str, type)):
            raise TypeError(f"expected_class must be a class or a class name, "
                            f"got {expected_class!r}")
        want = expected_class if isinstance(expected_class, str) else expected_class.__name__
        if want != name:
            raise WrongClassError(f"{where} holds a {name}, not a {want}")
    cls = estimator_classes().get(name)
    if (isinstance(expected_class, type) and issubclass(expected_class, SaveLoadMixin)
            and not inspect.isabstract(expected_class)):
        cls = expected_class  # asked for by the caller: a subclass of their own, say
    if cls is None:
        raise NotAModelFileError(
            f"{where} holds unknown class {name!r}; if it is a subclass of your own, load "
            f"it with {name}.load(path)")
    try:
        return _rebuild(cls, header, arrays, where)
    except ModelFileError:
        raise
    except MalformedHeaderError.CAUSES as err:
        # Values with a matching checksum that npae never writes: a hand-edited header.
        raise MalformedHeaderError(
            f"{where}: its header holds values this npae's {name} cannot use "
            f"({type(err).__name__}: {err})") from err


def _rebuild(cls, header, arrays, where):
    """A ``cls`` with the file's hyperparameters, networks, fitted attributes and generator."""
    try:
        params = decode_value(header["params"])
        estimator = cls(**params)
    except MalformedHeaderError as err:
        raise MalformedHeaderError(f"{where}: {err}") from None
    except TypeError as err:
        raise ModelFileError(
            f"{where}: its hyperparameters do not fit this npae's {header['class']} ({err}); "
            "was it written by another version?"
        ) from None
    attributes = _attributes(header, arrays)
    if header["networks"]:
        restore_networks(estimator, header, arrays, where)
    for key, value in attributes.items():
        setattr(estimator, key, value)
    if "rng_state" in header:
        rng_arrays = {k[len("rng/"):]: v for k, v in arrays.items() if k.startswith("rng/")}
        estimator._rng = _generator_from_state(decode_value(header["rng_state"], rng_arrays), where)
    return estimator


def _attributes(header, arrays):
    """The saved fitted attributes: JSON values and ``attr/`` arrays."""
    attributes = {k: decode_value(v) for k, v in header["attributes"].items()}
    attributes.update({k[len("attr/"):]: v for k, v in arrays.items() if k.startswith("attr/")})
    return attributes


def restore_networks(estimator, header, arrays, where):
    """Rebuild ``estimator``'s networks from its hyperparameters and fill in the saved weights.

    Raises ``ModelFileError`` when they cannot be rebuilt, and what
    ``load_weights`` raises.
    """
    try:
        estimator._restore_networks(_attributes(header, arrays))
    except MalformedHeaderError.CAUSES as err:
        raise ModelFileError(f"{where}: cannot rebuild the {header['class']}'s networks: "
                             f"{err}") from None
    load_weights(estimator, header, arrays, where)


def load_weights(estimator, header, arrays, where):
    """Copy the saved ``net/`` weights into ``estimator.network_``.

    Raises ``ChecksumError`` when the estimator's networks differ from the
    saved layer specs or the weights do not fit them.
    """
    for attr, specs in header["networks"].items():
        network = getattr(estimator, attr, None)
        if not isinstance(network, Network):
            raise MalformedHeaderError(f"{where}: a {header['class']} has no network {attr!r}")
        rebuilt = _layer_specs(network)
        if _without_backend(rebuilt) != _without_backend(specs):
            raise ChecksumError(
                f"{where}: the saved {attr} does not match the one "
                f"{header['class']} builds from its hyperparameters"
            )
    net = {k[len("net/"):]: v for k, v in arrays.items() if k.startswith("net/")}
    try:
        estimator.network_.load_state_dict(net)
    except (KeyError, ValueError) as err:
        raise ChecksumError(f"{where}: the saved weights do not fit the network: {err}") from None


def read_checkpoint(path):
    """The verified ``(header, arrays, state)`` of a checkpoint written by ``save_checkpoint``.

    Raises ``FileNotFoundError`` when there is no file, the ``ModelFileError``
    of ``load`` for a bad file, and ``CheckpointError`` for a model file
    without training state.
    """
    if not os.path.isfile(os.fspath(path)):
        raise FileNotFoundError(f"no checkpoint at {os.fspath(path)!r} to resume from")
    header, arrays = _read_archive(path)
    if "checkpoint" not in header:
        raise CheckpointError(
            f"{os.fspath(path)!r} is a model file without training state, not a checkpoint: "
            "fit(X, checkpoint=path) writes checkpoints"
        )
    state_arrays = {k[len("state/"):]: v for k, v in arrays.items() if k.startswith("state/")}
    try:
        state = decode_value(header["checkpoint"], state_arrays)
    except MalformedHeaderError as err:
        raise CheckpointError(f"{os.fspath(path)!r}: its training state is malformed: "
                              f"{err}") from None
    return header, arrays, state
