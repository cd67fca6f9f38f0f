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
