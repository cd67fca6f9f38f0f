"""Datasets: the 8x8 digits (offline), MNIST / Fashion-MNIST IDX files, synthetic shapes.

Every loader returns ``(X, y, image_shape)``: ``X`` float in [0, 1], flat
(n, d) by default or NCHW images (n, *image_shape) with ``return_images=True``;
``y`` int64 labels; ``image_shape`` the (channels, height, width) of one
example. Nothing here touches the network unless ``load_mnist(download=True)``
is asked to.
"""

import gzip
import hashlib
import http.client
import math
import numbers
import os
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np
import sklearn.datasets

from npae._validation import check_choice, check_float_dtype, check_int, check_number
from npae.utils import as_generator, atomic_write

# --------------------------------------------------------------------------- digits


def load_digits(return_images=False):
    """scikit-learn's bundled 8x8 handwritten digits, scaled to [0, 1].

    1,797 grey-level images of the digits 0-9 (16 grey levels, divided by 16
    here). Shipped inside scikit-learn: no download, always available.

    Parameters
    ----------
    return_images : bool, default=False
        False: ``X`` has shape (1797, 64). True: (1797, 1, 8, 8), NCHW.

    Returns
    -------
    X : ndarray of float64, values in [0, 1]
    y : ndarray of int64, shape (1797,), the digit shown
    image_shape : tuple, (1, 8, 8)

    Examples
    --------
    >>> X, y, image_shape = load_digits()
    >>> X.shape, X.dtype, float(X.max()), image_shape
    ((1797, 64), dtype('float64'), 1.0, (1, 8, 8))
    """
    digits = sklearn.datasets.load_digits()
    image_shape = (1, 8, 8)
    X = digits.data / 16.0
    if return_images:
        X = X.reshape(-1, *image_shape)
    return X, digits.target.astype(np.int64), image_shape


def train_test_split(*arrays, test_size=0.2, random_state=0):
    """Shuffle and split arrays into train and test parts, like scikit-learn's.

    The same permutation is applied to every array, so rows stay aligned.

    Parameters
    ----------
    *arrays : array-likes with the same first dimension n
    test_size : float in (0, 1) or int, default=0.2
        A fraction of n (rounded up) or a number of test samples; both parts
        must get at least one sample.
    random_state : int, numpy.random.Generator or None, default=0
        Seeds the shuffle; the default makes the split reproducible.

    Returns
    -------
    list of ndarray
        ``[a_train, a_test, b_train, b_test, ...]``, two per input array.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.arange(20).reshape(10, 2), np.arange(10)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3)
    >>> X_train.shape, X_test.shape
    ((7, 2), (3, 2))
    >>> bool(np.all(X_test[:, 0] == 2 * y_test))
    True
    """
    owner = "train_test_split"
    if not arrays:
        raise ValueError(f"{owner} expected at least one array, got none")
    arrays = [np.asarray(a) for a in arrays]
    for a in arrays:
        if a.ndim == 0:
            raise ValueError(f"{owner} expected arrays with a first dimension, got a scalar {a}")
    lengths = [a.shape[0] for a in arrays]
    if len(set(lengths)) > 1:
        raise ValueError(
            f"{owner} expected arrays with the same number of samples, got lengths {lengths}"
        )
    n = lengths[0]
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        n_test = int(test_size)
    else:
        fraction = check_number(test_size, "test_size", owner, low=0.0, high=1.0, low_open=True)
        n_test = math.ceil(fraction * n)
    if not 1 <= n_test <= n - 1:
        raise ValueError(
            f"{owner}: test_size={test_size!r} with n_samples={n} gives {n_test} test and "
            f"{n - n_test} train samples; both need at least 1"
        )
    order = as_generator(random_state).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return [part for a in arrays for part in (a[train], a[test])]


# --------------------------------------------------------------------------- shapes

SHAPE_KINDS = ("circle", "square", "triangle")
"""Shape names; the class label of ``SHAPE_KINDS[i]`` is ``i + 1`` (0 is background)."""


def _inside(kind, dy, dx, r):
    """Pixels inside a shape of class ``kind`` centred at offset (dy, dx), size ``r``.

    circle: dy^2 + dx^2 <= r^2; square: |dy|, |dx| <= r; triangle (apex up):
    -r <= dy <= r and |dx| <= (dy + r) / 2.
    """
    circle = dy**2 + dx**2 <= r**2
    square = (np.abs(dy) <= r) & (np.abs(dx) <= r)
    triangle = (np.abs(dy) <= r) & (2 * np.abs(dx) <= dy + r)
    return np.select([kind == 1, kind == 2], [circle, square], triangle)


def _check_range(value, name, owner, low, high, kind):
    """A pair (a, b) with low <= a <= b <= high (an int or float ``kind``)."""
    pair = (value, value) if isinstance(value, numbers.Real) else value
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise ValueError(f"{owner}: {name} must be a number or a pair (min, max), got {value!r}")
    if kind is int:
        a, b = (check_int(v, name, owner, minimum=low) for v in pair)
    else:
        a, b = (check_number(v, name, owner, low=low, low_open=True) for v in pair)
    if not a <= b <= high:
        raise ValueError(f"{owner}: {name} must satisfy min <= max <= {high}, got {value!r}")
    return a, b


def make_shapes(n_samples, size=32, noise=0.1, n_shapes=(1, 3), kinds=SHAPE_KINDS,
                radius=(0.1, 0.25), return_labels=False, random_state=None,
                dtype="float64"):
    """Synthetic segmentation data: filled circles, squares and triangles on a dark field.

    Each image gets between ``n_shapes[0]`` and ``n_shapes[1]`` shapes of a
    random kind, size, position and brightness (in [0.5, 1]); later shapes
    cover earlier ones. Gaussian pixel noise is added and the result clipped
    to [0, 1]. Drawing is vectorized over images and pixels (one pass per
    shape slot): 2,000 images of 32 x 32 take about 0.1 s.

    Parameters
    ----------
    n_samples : int
    size : int, default=32
        Height and width in pixels (>= 4).
    noise : float >= 0, default=0.1
        Standard deviation of the pixel noise.
    n_shapes : int or (int, int), default=(1, 3)
        Number of shapes per image, drawn uniformly from [min, max].
    kinds : sequence of str, default=SHAPE_KINDS
        Which of "circle", "square", "triangle" to draw. Class labels are
        fixed by ``SHAPE_KINDS`` whatever the subset: circle 1, square 2,
        triangle 3.
    radius : float or (float, float), default=(0.1, 0.25)
        Half-width of a shape as a fraction of ``size``, in (0, 0.5].
    return_labels : bool, default=False
        Also return the class-label mask.
    random_state : int, numpy.random.Generator or None
    dtype : {"float64", "float32"}

    Returns
    -------
    images : ndarray of shape (n_samples, 1, size, size), values in [0, 1]
    masks : ndarray of shape (n_samples, 1, size, size), 1.0 on a shape, 0.0
        on background (same dtype as ``images``; a target for a sigmoid
        output).
    labels : ndarray of int64, shape (n_samples, size, size)
        Only if ``return_labels``: 0 background, else the class of the
        visible (topmost) shape.

    Examples
    --------
    >>> images, masks, labels = make_shapes(4, size=16, return_labels=True, random_state=0)
    >>> images.shape, masks.shape, labels.shape
    ((4, 1, 16, 16), (4, 1, 16, 16), (4, 16, 16))
    >>> bool(np.array_equal(masks[:, 0] == 1, labels > 0))
    True
    """
    owner = "make_shapes"
    n_samples = check_int(n_samples, "n_samples", owner)
    size = check_int(size, "size", owner, minimum=4)
    noise = check_number(noise, "noise", owner, low=0.0)
    fewest, most = _check_range(n_shapes, "n_shapes", owner, 0, math.inf, int)
    if most < 1:
        raise ValueError(f"{owner}: n_shapes must allow at least one shape, got {n_shapes!r}")
    r_min, r_max = _check_range(radius, "radius", owner, 0.0, 0.5, float)
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    if not kinds or len(set(kinds)) != len(kinds):
        raise ValueError(f"{owner}: kinds must be distinct names from {SHAPE_KINDS}, got {kinds}")
    for kind in kinds:
        check_choice(kind, "each of kinds", owner, SHAPE_KINDS)
    dtype = check_float_dtype(dtype, owner)

    rng = as_generator(random_state)
    shape = (n_samples, most)  # one row of shape slots per image
    count = rng.integers(fewest, most + 1, size=n_samples)
    kind = rng.choice([SHAPE_KINDS.index(k) + 1 for k in kinds], size=shape)
    # float32 geometry halves the memory traffic of the (n, size, size) tests
    r = (rng.uniform(r_min, r_max, size=shape) * size).astype(np.float32)
    cy = rng.uniform(r, size - r).astype(np.float32)
    cx = rng.uniform(r, size - r).astype(np.float32)
    brightness = rng.uniform(0.5, 1.0, size=shape)

    centres = np.arange(size, dtype=np.float32) + 0.5
    yy, xx = centres[:, None], centres[None, :]
    images = np.zeros((n_samples, size, size), dtype=dtype)
    labels = np.zeros((n_samples, size, size), dtype=np.int64)
    for s in range(most):
        col = (slice(None), s, None, None)  # (n,) parameters -> (n, 1, 1)
        drawn = _inside(kind[col], yy - cy[col], xx - cx[col], r[col])
        drawn &= (s < count)[:, None, None]
        np.copyto(labels, kind[col], where=drawn)
        np.copyto(images, brightness[col], where=drawn, casting="same_kind")

    images += noise * rng.standard_normal(images.shape, dtype=dtype)
    np.clip(images, 0.0, 1.0, out=images)
    masks = (labels > 0).astype(dtype)[:, None]
    if return_labels:
        return images[:, None], masks, labels
    return images[:, None], masks


# --------------------------------------------------------------------------- MNIST

MNIST_URLS = {
    "digits": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion": "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
}
"""Default download mirrors (the ones torchvision and Zalando Research use)."""

MNIST_SHA256 = {
    "digits": {
        "train-images-idx3-ubyte.gz":
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz":
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz":
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz":
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion": {
        "train-images-idx3-ubyte.gz":
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz":
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz":
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz":
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}
"""Published SHA-256 of the eight standard ``.gz`` files, by kind."""

IDX_IMAGES_MAGIC = 0x00000803  # 2051: unsigned bytes, 3 dimensions (n, rows, cols)
IDX_LABELS_MAGIC = 0x00000801  # 2049: unsigned bytes, 1 dimension (n,)
_IDX_TYPES = {0x08: "uint8", 0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32",
              0x0E: "float64"}
_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_CACHE_FOLDERS = {"digits": "mnist", "fashion": "fashion-mnist"}
_RETRY_HTTP_CODES = (408, 429, 500, 502, 503, 504)
RETRY_BACKOFF = 1.0
"""Seconds before the first retry of a download; doubled for each further one."""


class IDXFormatError(ValueError):
    """A file is not a well-formed IDX file of the expected kind."""


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 is not the expected one."""


class DownloadError(OSError):
    """A file could not be downloaded (after retrying where that makes sense)."""


def get_data_home(cache_dir=None):
    """Folder where npae caches downloaded data.

    The first of: ``cache_dir``; the ``NPAE_DATA`` environment variable;
    ``$XDG_CACHE_HOME/npae``; ``~/.cache/npae``. Not created here.

    Examples
    --------
    >>> get_data_home("/tmp/npae-data").as_posix()
    '/tmp/npae-data'
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("NPAE_DATA"):
        return Path(os.environ["NPAE_DATA"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "npae"


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
        Bad magic number, non-ubyte type, or a size that disagrees with the
        header (truncated or trailing data).

    Examples
    --------
    >>> parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]), magic=IDX_LABELS_MAGIC)
    array([7, 8, 9], dtype=uint8)
    """
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
    expected = header + math.prod(dims)
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "trailing data"
        raise IDXFormatError(
            f"{name}: {problem}: header declares shape {dims}, i.e. {expected} bytes, "
            f"got {len(raw)} bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


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


def _read_idx(path, name, magic):
    """``read_idx`` of ``path``, decompressing if ``name`` ends in ``.gz``."""
    raw = path.read_bytes()
    if name.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
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


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe_error(err, timeout):
    if isinstance(err, urllib.error.URLError) and isinstance(err.reason, TimeoutError):
        err = err.reason
    if isinstance(err, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return f"{type(err).__name__}: {err}"


def _fetch_once(url, tmp, timeout):
    """Stream ``url`` into the open file ``tmp``; fail if the body is short."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        declared = response.headers.get("Content-Length")
        received = 0
        for block in iter(lambda: response.read(1 << 16), b""):
            tmp.write(block)
            received += len(block)
    if declared is not None and received != int(declared):
        raise http.client.IncompleteRead(b"", int(declared) - received)


def _download(url, dest, sha256, magic, timeout, retries):
    """Download ``url`` to ``dest`` atomically, verified, and return its IDX array.

    The body goes to a temporary file beside ``dest``; it is checked against
    ``sha256`` (if given) and parsed as IDX with ``magic``, and only then renamed onto
    ``dest``. On any failure the temporary file is removed, so ``dest``
    exists only if it is complete and verified. Network failures, time-outs,
    short bodies and HTTP 408/429/5xx are retried ``retries`` times in all,
    with exponential back-off; other HTTP errors are not.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(dest, prefix=f".{dest.name}.", suffix=".part") as tmp:
        for attempt in range(1, retries + 1):
            tmp.seek(0)
            tmp.truncate()
            try:
                _fetch_once(url, tmp, timeout)
                break
            except (OSError, http.client.HTTPException) as err:
                retryable = not isinstance(err, urllib.error.HTTPError) or (
                    err.code in _RETRY_HTTP_CODES
                )
                if not retryable or attempt == retries:
                    raise DownloadError(
                        f"could not download {url} ({attempt} of {retries} attempts): "
                        f"{_describe_error(err, timeout)}"
                    ) from err
            time.sleep(RETRY_BACKOFF * 2 ** (attempt - 1))
        tmp.flush()
        if sha256 is not None:
            got = _sha256(tmp.name)
            if got != sha256.lower():
                raise ChecksumError(
                    f"{dest.name} downloaded from {url}: expected SHA-256 {sha256.lower()}, "
                    f"got {got}"
                )
        array = _read_idx(Path(tmp.name), dest.name, magic)
    return array


def load_mnist(path=None, kind="digits", split="train", download=False, cache_dir=None,
               timeout=30.0, retries=3, base_url=None, checksums=None,
               return_images=False, dtype="float64"):
    """MNIST or Fashion-MNIST from the standard IDX files, scaled to [0, 1].

    Reads ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` (split
    "train", 60,000 examples) or ``t10k-...`` (split "test", 10,000), each
    plain or gzipped (``.gz`` preferred when both exist). Files are checked
    before use: magic numbers 2051 (images) and 2049 (labels), unsigned-byte
    type, byte counts equal to what the headers declare, and as many labels
    as images; any failure raises ``IDXFormatError`` naming the file.

    Parameters
    ----------
    path : str or Path, optional
        Folder holding the files. Default: ``<data home>/mnist`` or
        ``<data home>/fashion-mnist``, see ``get_data_home``.
    kind : {"digits", "fashion"}
    split : {"train", "test"}
    download : bool, default=False
        Fetch missing ``.gz`` files from ``base_url`` into the folder. Files
        already present are never fetched again.
    cache_dir : str or Path, optional
        Data home instead of ``get_data_home()``'s choice; not with ``path``.
    timeout : float, default=30
        Seconds without progress before a download attempt is abandoned.
    retries : int, default=3
        Attempts per file before ``DownloadError``.
    base_url : str, optional
        Mirror to download from; default ``MNIST_URLS[kind]``.
    checksums : dict, optional
        File name -> SHA-256 hex digest checked after download; default
        ``MNIST_SHA256[kind]`` (the published digests). Files not in the
        table (and everything when ``{}`` is given) are verified by the IDX
        checks alone.
    return_images : bool, default=False
        False: ``X`` is (n, 784). True: (n, 1, 28, 28), NCHW.
    dtype : {"float64", "float32"}

    Returns
    -------
    X : ndarray, values in [0, 1] (pixel / 255)
    y : ndarray of int64, shape (n,)
    image_shape : tuple, (1, 28, 28)

    Raises
    ------
    FileNotFoundError
        A file is missing and ``download`` is False.
    IDXFormatError, ChecksumError
        A file is malformed, or a download does not match its checksum
        (nothing is then left in the folder).
    DownloadError
        The download failed: after ``retries`` attempts for time-outs and
        network errors, at once for HTTP errors such as 404.

    Notes
    -----
    Downloads are atomic: each file is written to a temporary file in the
    same folder, verified, then renamed into place, so an interrupted or
    corrupted download never leaves a file that a later call would trust.

    Examples
    --------
    With a folder of IDX files (here two tiny ones written on the spot):

    >>> import tempfile, numpy as np
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     images = np.full((5, 28, 28), 255, np.uint8)
    ...     write_idx(Path(folder) / "t10k-images-idx3-ubyte.gz", images)
    ...     write_idx(Path(folder) / "t10k-labels-idx1-ubyte", np.arange(5, dtype=np.uint8))
    ...     X, y, image_shape = load_mnist(folder, split="test")
    >>> X.shape, float(X.max()), y.tolist(), image_shape
    ((5, 784), 1.0, [0, 1, 2, 3, 4], (1, 28, 28))

    Fetching the real data once into the cache (needs the network):
    ``load_mnist(kind="fashion", download=True)``.
    """
    owner = "load_mnist"
    check_choice(kind, "kind", owner, tuple(MNIST_URLS))
    check_choice(split, "split", owner, tuple(_SPLIT_FILES))
    timeout = check_number(timeout, "timeout", owner, low=0.0, low_open=True)
    retries = check_int(retries, "retries", owner)
    dtype = check_float_dtype(dtype, owner)
    if path is not None and cache_dir is not None:
        raise ValueError(f"{owner}: give path (the folder of files) or cache_dir, not both")
    folder = Path(path) if path is not None else get_data_home(cache_dir) / _CACHE_FOLDERS[kind]
    base_url = MNIST_URLS[kind] if base_url is None else base_url
    checksums = MNIST_SHA256[kind] if checksums is None else checksums

    arrays = []
    for stem, magic in zip(_SPLIT_FILES[split], (IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC)):
        present = [folder / name for name in (stem + ".gz", stem) if (folder / name).is_file()]
        if present:
            arrays.append(_read_idx(present[0], present[0].name, magic))
            continue
        if not download:
            raise FileNotFoundError(
                f"{owner}: expected {stem} or {stem}.gz in {folder}, found neither; "
                f"pass download=True to fetch it from {base_url}"
            )
        name = stem + ".gz"
        url = base_url.rstrip("/") + "/" + name
        arrays.append(_download(url, folder / name, checksums.get(name), magic, timeout, retries))
    images, labels = arrays
    if images.shape[0] != labels.shape[0]:
        raise IDXFormatError(
            f"{owner}: {_SPLIT_FILES[split][0]} holds {images.shape[0]} images but "
            f"{_SPLIT_FILES[split][1]} holds {labels.shape[0]} labels"
        )
    image_shape = (1, *images.shape[1:])
    X = images.reshape(images.shape[0], -1).astype(dtype)
    X /= 255
    if return_images:
        X = X.reshape(-1, *image_shape)
    return X, labels.astype(np.int64), image_shape
