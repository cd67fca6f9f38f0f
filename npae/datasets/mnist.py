"""MNIST and Fashion-MNIST: where the files come from and how they load into arrays."""

from pathlib import Path

import numpy as np

from npae._validation import check_choice, check_float_dtype, check_int, check_number
from npae.datasets.download import _download, check_checksums, get_data_home
from npae.datasets.idx import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IDXFormatError, read_idx

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

_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_CACHE_FOLDERS = {"digits": "mnist", "fashion": "fashion-mnist"}


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
    >>> from pathlib import Path
    >>> from npae.datasets import write_idx
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
    checksums = MNIST_SHA256[kind] if checksums is None else check_checksums(checksums, owner)

    arrays = []
    for stem, magic in zip(_SPLIT_FILES[split], (IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC)):
        present = [folder / name for name in (stem + ".gz", stem) if (folder / name).is_file()]
        if present:
            arrays.append(read_idx(present[0], magic))
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
