"""Rows read, converted and checked one batch at a time, so that data can outgrow memory.

``fit`` used to convert all of ``X`` to float and check it for NaN before
the first batch: 60,000 MNIST images (47 MB as uint8) became 376 MB of
float64, and the finiteness test alone allocated a boolean array as large
as the data. Now the estimators take their input through ``as_rows``:

- an in-memory float array of the model's dtype is used as it is (checked
  once, without a copy, as before: results are unchanged bit for bit);
- anything else that is large and array-like, a ``np.memmap`` of any real
  or integer dtype, an in-memory integer array, a Dask array or a
  ``ScaledArray``, becomes ``Rows``: shape and dtype are checked at once,
  the values a batch at a time, when the training loop gathers the batch's
  rows (``rows[index]``) and converts them to the model's dtype.

Shuffling stays exact: the loop draws a permutation of the row indices and
gathers each batch's rows from it. From a memory map or a Dask array the
rows are read in sorted order (disk and chunk locality) and put back in the
permutation's order, so a batch is the same as from an array in memory.

Passes that only read (scores, validation losses, PCA's statistics) go
through ``Rows.blocks``: ``block_rows`` rows at a time, about
``BLOCK_BYTES`` of the model's dtype. Peak memory grows with the batch,
the block and the model, not with the number of rows. The pages of a
memory map that a read mapped are handed back to the operating system
after it (``madvise(MADV_DONTNEED)``; they stay in the page cache, outside
this process's resident memory).

``ScaledArray(X, scale=1/255)`` is the lazy ``X * scale`` for uint8
images: each batch is scaled as it is read.

A ``UNet`` streams its images this way; its masks or labels are validated
whole and held in memory (they are checked for values 0 and 1, or for class
numbers, before training). Checkpoints fingerprint the data, which reads
all of it once into memory: leave checkpoints off for data that does not
fit.
"""

import mmap
import numbers
import sys

import numpy as np

from npae._validation import check_array, check_float_dtype

#: Bytes (in the model's dtype) of one block of a reading pass.
BLOCK_BYTES = 8 * 2**20

#: Rows of a shuffled batch read from a memory map between two hand-backs of its pages.
ROWS_BETWEEN_RELEASES = 8


def _is_dask(X):
    dask_array = sys.modules.get("dask.array")
    return dask_array is not None and isinstance(X, dask_array.Array)


def _is_large(X):
    """Array-likes that ``as_rows`` streams instead of converting all at once."""
    return isinstance(X, (np.memmap, ScaledArray)) or _is_dask(X)


def require_dask(what):
    """Import ``dask.array``, or say which extra installs it."""
    try:
        import dask.array
    except ImportError:
        raise ImportError(f"{what} needs Dask: pip install 'npae[dask]' (or dask[array])") from None
    return dask.array


class ScaledArray:
    """The rows of ``X`` multiplied by ``scale``, computed as they are read: ``X * scale``.

    For uint8 images on disk: ``npae.Autoencoder().fit(ScaledArray(X, 1 / 255))``
    trains on values in [0, 1] while only a batch at a time is ever
    converted. Any npae estimator takes it where it takes an array (``fit``,
    ``partial_fit``, ``transform``, ``score_samples``...).

    Parameters
    ----------
    X : np.memmap, ndarray or Dask array of real or integer dtype
        (n_samples, ...) rows.
    scale : float
        Each value is converted to ``dtype``, then multiplied by ``scale``
        (in ``dtype``).
    dtype : {"float64", "float32"}, default "float64"
        The type of the rows read; an estimator with ``dtype=None`` trains
        in it.

    Attributes
    ----------
    shape, ndim : the shape of ``X``
    dtype : numpy.dtype

    Examples
    --------
    >>> import numpy as np
    >>> images = np.array([[0, 255], [51, 102]], dtype=np.uint8)
    >>> ScaledArray(images, 1 / 255)[[1]]
    array([[0.2, 0.4]])
    """

    def __init__(self, X, scale, dtype="float64"):
        if not hasattr(X, "shape") or not hasattr(X, "dtype"):
            raise TypeError(f"ScaledArray expected an array (NumPy, memory map or Dask), "
                            f"got {type(X).__name__}")
        if np.dtype(X.dtype).kind not in "fiub":
            raise TypeError(f"ScaledArray expected a real or integer array, got dtype {X.dtype}")
        if (isinstance(scale, bool) or not isinstance(scale, numbers.Real)
                or not np.isfinite(scale)):
            raise TypeError(f"ScaledArray: scale must be a finite number, got {scale!r}")
        self.data = X
        self.scale = float(scale)
        self.dtype = check_float_dtype(dtype, "ScaledArray")
        self.shape = tuple(X.shape)
        self.ndim = len(self.shape)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        """Rows ``key`` (an index array or a slice), converted and scaled."""
        rows = np.asarray(_read(self.data, key), dtype=self.dtype)
        rows *= self.dtype.type(self.scale)
        return rows

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self[0:len(self)], dtype=dtype)

    def __repr__(self):
        return (f"ScaledArray({type(self.data).__name__} of shape {self.shape}, "
                f"scale={self.scale!r})")


def _read(data, key):
    """``data[key]`` as a NumPy array, ``key`` a slice or an index array.

    A memory map or a Dask array is read in sorted row order, then the rows
    are put back in the order of ``key``.
    """
    if isinstance(data, ScaledArray):
        return data[key]
    if isinstance(key, slice):
        block = data[key]
    elif isinstance(data, np.memmap):
        # A few rows at a time, the pages they mapped handed back after each few
        # (``_release``): one fault may map a whole large folio around its row.
        order = np.argsort(key, kind="stable")
        block = np.empty((len(key), *data.shape[1:]), dtype=data.dtype)
        mapping = _mapping(data)
        for start in range(0, len(key), ROWS_BETWEEN_RELEASES):
            rows = order[start:start + ROWS_BETWEEN_RELEASES]
            block[rows] = data[key[rows]]
            _release(mapping)
    elif _is_dask(data):
        order = np.argsort(key, kind="stable")
        read = data[key[order]]
        read = np.asarray(read.compute() if _is_dask(read) else read)
        block = np.empty_like(read)
        block[order] = read
    else:
        block = data[key]
    return np.asarray(block.compute() if _is_dask(block) else block)


def _release(mapping):
    """Hand a memory map's pages back to the operating system (``MADV_DONTNEED``).

    On a read-only file mapping this only unmaps them: they stay in the page
    cache, outside this process's resident memory, and a read maps them again.
    """
    if mapping is not None and hasattr(mmap, "MADV_DONTNEED"):
        mapping.madvise(mmap.MADV_DONTNEED)


def _mapping(array):
    """The ``mmap.mmap`` behind a ``np.memmap`` (or a view or ``ScaledArray`` of one), else None."""
    base = array.data if isinstance(array, ScaledArray) else array
    if not isinstance(base, np.memmap):
        return None
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    return base


class Rows:
    """Rows of a large array, read, converted to ``dtype`` and checked per batch; see the module.

    Parameters
    ----------
    data : np.memmap, ndarray, Dask array or ScaledArray
        Validated for shape and dtype kind by ``as_rows``.
    dtype : numpy.dtype
        The model's float dtype.
    owner : str
        The estimator's name, for messages.
    index : ndarray of int, optional
        The rows of ``data`` these are (a subset, e.g. the training rows
        after a validation split), in order.
    maps : tuple of (callable, shape), optional
        Functions applied in turn to the rows read, each with the
        per-row shape it returns (``map``).
    """

    def __init__(self, data, dtype, owner, index=None, maps=()):
        self.data = data
        self.dtype = np.dtype(dtype)
        self.owner = owner
        self.index = index
        self.maps = tuple(maps)
        n = data.shape[0] if index is None else len(index)
        self.shape = (n, *(self.maps[-1][1] if self.maps else data.shape[1:]))
        self.ndim = len(self.shape)
        row_bytes = max(1, int(np.prod(self.shape[1:])) * self.dtype.itemsize)
        self.block_rows = max(1, BLOCK_BYTES // row_bytes)
        self._mmap = _mapping(data)
        self._may_hold_nan = np.dtype(getattr(data, "dtype", np.float64)).kind == "f"

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        """The rows ``key`` (an index array or a slice) as a C-contiguous array of ``dtype``."""
        if self.index is not None:
            key = self.index[key]
        elif not isinstance(key, slice):
            key = np.asarray(key)
        rows = np.ascontiguousarray(_read(self.data, key), dtype=self.dtype)
        if self._may_hold_nan:
            with np.errstate(over="ignore", invalid="ignore"):
                total = rows.sum()
            if not (np.isfinite(total) or np.isfinite(rows).all()):
                first = int(np.flatnonzero(~np.isfinite(rows.reshape(len(rows), -1)).all(1))[0])
                raise ValueError(f"{self.owner} expected finite input, got NaN or inf in "
                                 f"row {self._row_number(key, first)}")
        # One fault may map far more than the row it reads (the cached neighbours,
        # a whole large folio): without this, shuffled batches would map the file.
        _release(self._mmap)
        for function, _ in self.maps:
            rows = function(rows)
        return rows

    def _row_number(self, key, i):
        if isinstance(key, slice):
            return range(len(self.data))[key][i]
        return int(key[i])

    def subset(self, index):
        """These rows' ``index``-th rows, as ``Rows`` (nothing is read)."""
        index = np.asarray(index)
        return Rows(self.data, self.dtype, self.owner,
                    index if self.index is None else self.index[index], self.maps)

    def map(self, function, shape):
        """``Rows`` that are ``function`` of these, computed as they are read.

        ``function`` maps rows (n, ...) to rows (n, ``*shape``), e.g. the
        codes of an encoder (greedy pretraining trains each stage on the
        codes of the stage before).
        """
        return Rows(self.data, self.dtype, self.owner, self.index,
                    (*self.maps, (function, tuple(shape))))

    def blocks(self):
        """The rows in order, ``block_rows`` at a time."""
        for start in range(0, len(self), self.block_rows):
            yield self[start:start + self.block_rows]

    def __array__(self, dtype=None, copy=None):
        """All the rows at once (for the few users that need them so)."""
        return np.asarray(self[0:len(self)], dtype=dtype)


def as_rows(X, owner, ndim=2, dtype=None, n_features=None):
    """``X`` checked as an estimator's input: an ndarray, or ``Rows`` read batch by batch.

    Memory maps, Dask arrays, ``ScaledArray`` and in-memory integer arrays
    become ``Rows`` (their shape and dtype checked here, their values per
    batch); everything else goes through ``check_array`` as before. The
    model's dtype is ``dtype``, or with None the input's if it is float32
    or float64, else float64. ``n_features`` as in ``check_array``.
    """
    streamed = _is_large(X) or (isinstance(X, np.ndarray) and X.dtype.kind in "iub"
                                and X.nbytes > BLOCK_BYTES)
    if not streamed:
        return check_array(X, owner, ndim=ndim, dtype=dtype, n_features=n_features)
    source_dtype = np.dtype(X.dtype)
    if source_dtype.kind not in "fiub":
        raise TypeError(f"{owner} expected a real numeric array, got dtype {source_dtype}")
    # check_array's shape checks and messages, on a zero-stride stand-in of X's shape.
    probe = np.lib.stride_tricks.as_strided(np.zeros(1), X.shape, (0,) * len(X.shape))
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if len(X.shape) not in allowed or 0 in X.shape:
        check_array(probe, owner, ndim=ndim)
    check_array(probe[:0], owner, ndim=ndim, n_features=n_features, allow_empty=True)
    if dtype is None:
        dtype = source_dtype if source_dtype.kind == "f" and source_dtype.itemsize in (4, 8) \
            else np.float64
    if _is_dask(X) and X.ndim > 1 and len(X.chunks[1]) > 1:
        X = X.rechunk({i: -1 for i in range(1, X.ndim)})
    return Rows(X, check_float_dtype(dtype, owner), owner)


def blocks(X):
    """The rows of ``X`` (an ndarray or ``Rows``) in order: all at once or block by block."""
    if isinstance(X, Rows):
        return X.blocks()
    return iter((X,))


def map_rows(X, function):
    """``function`` of the rows of ``X`` (an ndarray or ``Rows``), one output row per input
    row: of the array at once, or of each block in turn, joined."""
    if isinstance(X, Rows):
        return np.concatenate([function(block) for block in X.blocks()])
    return function(X)
