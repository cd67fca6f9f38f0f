"""IDX files, the format of MNIST and Fashion-MNIST: parse, read and write them, checked."""

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

IDX_IMAGES_MAGIC = 0x00000803  # 2051: unsigned bytes, 3 dimensions (n, rows, cols)
IDX_LABELS_MAGIC = 0x00000801  # 2049: unsigned bytes, 1 dimension (n,)
_IDX_TYPES = {0x08: "uint8", 0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32",
              0x0E: "float64"}


class IDXFormatError(ValueError):
    """A file is not a well-formed IDX file of the expected kind."""


def _describe_magic(magic):
    ndim, code = magic & 0xFF, (magic >> 8) & 0xFF
    return f"{magic} ({_IDX_TYPES.get(code, f'unknown type 0x{code:02X}')}, {ndim}-d)"


def parse_idx(raw, name="IDX data", magic=None):
    """Decode IDX bytes (uncompressed) into an array of unsigned bytes.

    Layout: a big-endian int32 magic number ``0x0000TTDD`` (type code TT,
    0x08 for unsigned bytes; DD dimensions), DD big-endian int32 sizes, then
    the data, row-major. Only unsigned-byte files are accepted, and the
    byte count must be exactly what the header declares.

    Parameters
    ----------
    raw : bytes
    name : str
        Used in error messages (the file name).
    magic : int or None
        Required magic number, e.g. ``IDX_IMAGES_MAGIC`` (2051).

    Returns
    -------
    ndarray of uint8, read-only, shaped as the header declares.

    Raises
    ------
    IDXFormatError
        Bad magic number, non-ubyte type, no items or a zero dimension, or a
        size that disagrees with the header (truncated or trailing data).

    Examples
    --------
    >>> parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]), magic=IDX_LABELS_MAGIC)
    array([7, 8, 9], dtype=uint8)
    """
    dims, header = _parse_header(raw, name, magic)
    expected = header + math.prod(dims)
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "trailing data"
        raise IDXFormatError(
            f"{name}: {problem}: header declares shape {dims}, i.e. {expected} bytes, "
            f"got {len(raw)} bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _parse_header(raw, name, magic):
    """``(dims, header length)`` from the start of IDX bytes ``raw``, checked."""
    if len(raw) < 4:
        raise IDXFormatError(f"{name}: expected an IDX file (>= 4 bytes), got {len(raw)} bytes")
    got = int.from_bytes(raw[:4], "big")
    if magic is not None and got != magic:
        raise IDXFormatError(
            f"{name}: expected magic number {_describe_magic(magic)}, got {_describe_magic(got)}"
        )
    if got >> 16 != 0 or (got >> 8) & 0xFF != 0x08:
        raise IDXFormatError(
            f"{name}: expected an unsigned-byte IDX magic number 0x000008DD, got "
            f"{_describe_magic(got)}"
        )
    ndim = got & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXFormatError(
            f"{name}: truncated header: expected {header} bytes, got {len(raw)} bytes"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if ndim == 0 or 0 in dims:
        raise IDXFormatError(
            f"{name}: expected at least one item of at least one value, got shape {dims}")
    return dims, header


#: The most bytes a gzipped IDX file may declare (MNIST's largest holds 47 MB).
MAX_IDX_BYTES = 1 << 30


def read_idx(path, magic=None):
    """Read an IDX file, gzipped if its name ends in ``.gz``; see ``parse_idx``.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "labels-idx1-ubyte.gz"
    ...     write_idx(path, np.array([3, 1, 4], dtype=np.uint8))
    ...     read_idx(path, magic=IDX_LABELS_MAGIC)
    array([3, 1, 4], dtype=uint8)
    """
    return _read_idx(Path(path), Path(path).name, magic)


def _read_idx(path, name, magic, max_bytes=MAX_IDX_BYTES):
    """``read_idx`` of ``path``, decompressing if ``name`` ends in ``.gz``.

    A gzipped file's header is read first: one declaring more than
    ``max_bytes`` is refused before the rest is decompressed, and no more
    than it declares (and one byte, to see trailing data) is decompressed.
    """
    if not name.endswith(".gz"):
        return parse_idx(path.read_bytes(), name, magic)
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read(4)
            raw += fh.read(4 * (int.from_bytes(raw, "big") & 0xFF) if len(raw) == 4 else 0)
            dims, header = _parse_header(raw, name, magic)
            size = header + math.prod(dims)
            if size > max_bytes:
                raise IDXFormatError(
                    f"{name}: header declares shape {dims}, i.e. {size} bytes, more than "
                    f"the {max_bytes} bytes npae reads from a gzipped IDX file")
            raw += fh.read(size - len(raw) + 1)
    except (OSError, EOFError, zlib.error) as err:
        raise IDXFormatError(f"{name}: not a complete gzip file: {err}") from None
    return parse_idx(raw, name, magic)


def write_idx(path, array):
    """Write a uint8 array as an IDX file, gzipped if ``path`` ends in ``.gz``.

    The inverse of ``read_idx``: handy for making small test files or subsets.
    """
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"write_idx expected a uint8 array, got dtype {array.dtype}")
    header = (0x0800 + array.ndim).to_bytes(4, "big")
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + np.ascontiguousarray(array).tobytes()
    Path(path).write_bytes(gzip.compress(raw) if str(path).endswith(".gz") else raw)
