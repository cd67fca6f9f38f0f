"""Fetch IDX files into npae's data cache: atomic, verified (SHA-256, IDX checks), retried."""

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from npae.datasets.idx import _read_idx
from npae.io import ChecksumError
from npae.utils import atomic_write

_RETRY_HTTP_CODES = (408, 429, 500, 502, 503, 504)
RETRY_BACKOFF = 1.0
"""Seconds before the first retry of a download; doubled for each further one."""
DOWNLOAD_DEADLINE = 600.0
"""Seconds one file's download may take in all, attempts and waits included.

``timeout`` bounds each wait for data; this bounds the whole, so a server
that sends a byte now and then cannot hold a download forever.
"""


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


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe_error(err, timeout):
    if isinstance(err, urllib.error.URLError) and isinstance(err.reason, TimeoutError):
        err = err.reason
    if isinstance(err, _DeadlineExceeded):
        return str(err)
    if isinstance(err, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return f"{type(err).__name__}: {err}"


class _DeadlineExceeded(TimeoutError):
    """The download took longer than ``DOWNLOAD_DEADLINE`` in all."""


def _fetch_once(url, tmp, timeout, deadline, dest):
    """Stream ``url`` into the open file ``tmp`` until the ``time.monotonic()`` ``deadline``.

    Fails if the body is short; a failed write (a full disk) raises
    ``DownloadError`` naming ``dest``, which is not worth retrying.
    """
    with urllib.request.urlopen(url, timeout=timeout) as response:
        declared = response.headers.get("Content-Length")
        received = 0
        for block in iter(lambda: response.read1(1 << 16), b""):
            try:
                tmp.write(block)
            except OSError as err:
                raise DownloadError(f"could not save {url} to {dest}: {err.strerror or err}") \
                    from err
            received += len(block)
            if time.monotonic() > deadline:
                raise _DeadlineExceeded(f"still downloading after {DOWNLOAD_DEADLINE:g} s "
                                        f"({received} bytes received)")
    if declared is not None and received != int(declared):
        raise http.client.IncompleteRead(b"", int(declared) - received)


def _make_folder(folder):
    """Create ``folder`` (and its parents); a file in the way is a clear error."""
    for part in (folder, *folder.parents):
        if part.exists():
            if not part.is_dir():
                raise NotADirectoryError(
                    f"cannot download into {folder}: {part} is a file, not a folder")
            break
    folder.mkdir(parents=True, exist_ok=True)


def check_checksums(checksums, owner):
    """Require None or a dict of file name -> SHA-256 hex digest (64 hex digits)."""
    if checksums is None:
        return None
    if not isinstance(checksums, dict):
        raise TypeError(f"{owner}: checksums must be a dict of file name -> SHA-256 hex "
                        f"digest, got {type(checksums).__name__}")
    for name, digest in checksums.items():
        if (not isinstance(digest, str) or len(digest) != 64
                or any(c not in "0123456789abcdefABCDEF" for c in digest)):
            raise ValueError(f"{owner}: checksums[{name!r}] must be a SHA-256 hex digest "
                             f"(64 hex digits), got {digest!r}")
    return checksums


def _download(url, dest, sha256, magic, timeout, retries):
    """Download ``url`` to ``dest`` atomically, verified, and return its IDX array.

    The body goes to a temporary file beside ``dest``; it is checked against
    ``sha256`` (if given) and parsed as IDX with ``magic``, and only then renamed onto
    ``dest``. On any failure the temporary file is removed, so ``dest``
    exists only if it is complete and verified. Network failures, time-outs,
    short bodies and HTTP 408/429/5xx are retried ``retries`` times in all,
    with exponential back-off; other HTTP errors, a failed write (a full
    disk) and passing ``DOWNLOAD_DEADLINE`` are not.
    """
    _make_folder(dest.parent)
    deadline = time.monotonic() + DOWNLOAD_DEADLINE
    with atomic_write(dest, prefix=f".{dest.name}.", suffix=".part") as tmp:
        for attempt in range(1, retries + 1):
            tmp.seek(0)
            tmp.truncate()
            try:
                _fetch_once(url, tmp, timeout, deadline, dest)
                break
            except DownloadError:
                raise  # the disk, not the network: retrying cannot help
            except (OSError, http.client.HTTPException) as err:
                retryable = not isinstance(err, (urllib.error.HTTPError, _DeadlineExceeded)) or (
                    isinstance(err, urllib.error.HTTPError) and err.code in _RETRY_HTTP_CODES
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
