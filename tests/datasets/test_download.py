"""npae.datasets.download: the data home and downloads from a local HTTP server on 127.0.0.1."""

import contextlib
import doctest
import errno
import gzip
import hashlib
import io
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from fake_mnist import TRAIN, assert_matches

import npae.datasets.download
from npae.datasets import (
    MNIST_SHA256,
    ChecksumError,
    DownloadError,
    IDXFormatError,
    get_data_home,
    load_mnist,
)


def test_docstring_examples_run():
    result = doctest.testmod(npae.datasets.download)
    assert result.attempted > 0 and result.failed == 0


def test_data_home_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("NPAE_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_data_home() == tmp_path / "home" / ".cache" / "npae"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert get_data_home() == tmp_path / "xdg" / "npae"
    monkeypatch.setenv("NPAE_DATA", str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address):
        """Clients that time out leave broken pipes behind; that is expected."""


@pytest.fixture
def server(monkeypatch):
    """An HTTP server on 127.0.0.1 serving ``state.files``, with scripted misbehaviour.

    ``slow``: paths answered only after the client gave up; ``truncated``:
    paths whose body stops halfway through the declared Content-Length;
    ``drip``: paths whose body comes one byte every 0.05 s;
    ``failures[path]``: that many 503 answers before serving.
    """
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(npae.datasets.download, "RETRY_BACKOFF", 0.0)
    state = SimpleNamespace(files={}, slow=set(), truncated=set(), drip=set(),
                            failures=Counter(), hits=Counter(), release=threading.Event())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            name = self.path.lstrip("/")
            state.hits[name] += 1
            if name in state.slow:
                state.release.wait(10)
                return
            if state.failures[name] > 0:
                state.failures[name] -= 1
                self.send_error(503, "Busy")
                return
            if name not in state.files:
                self.send_error(404, "Not Found")
                return
            body = state.files[name]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if name in state.drip:  # a byte now and then, each well within the timeout
                for byte in body:
                    if state.release.wait(0.05):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                return
            self.wfile.write(body[: len(body) // 2] if name in state.truncated else body)

        def log_message(self, *args):
            """Keep test output clean."""

    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def fetch(server, cache, **kwargs):
    kwargs = {"cache_dir": cache, "download": True, "base_url": server.url, "timeout": 5,
              **kwargs}
    return load_mnist(**kwargs)


def cached_files(cache):
    folder = cache / "mnist"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_then_cache(server, mnist_like, tmp_path):
    server.files.update(mnist_like.gz)
    assert_matches(fetch(server, tmp_path, checksums=mnist_like.sha), mnist_like)
    assert cached_files(tmp_path) == sorted(mnist_like.gz)
    assert server.hits == Counter({name: 1 for name in mnist_like.gz})
    # the second call reads the cache, with or without download=True
    assert_matches(fetch(server, tmp_path, checksums=mnist_like.sha), mnist_like)
    assert_matches(load_mnist(cache_dir=tmp_path), mnist_like)
    assert server.hits == Counter({name: 1 for name in mnist_like.gz})


def test_download_into_path_and_env_cache(server, mnist_like, tmp_path, monkeypatch):
    server.files.update(mnist_like.gz)
    assert_matches(fetch(server, None, path=tmp_path / "here", checksums={}), mnist_like)
    assert sorted(p.name for p in (tmp_path / "here").iterdir()) == sorted(mnist_like.gz)
    monkeypatch.setenv("NPAE_DATA", str(tmp_path / "env"))
    assert_matches(fetch(server, None, checksums={}), mnist_like)
    assert (tmp_path / "env" / "mnist" / (TRAIN[0] + ".gz")).is_file()


def test_corrupted_download_fails_checksum_and_leaves_nothing(server, mnist_like, tmp_path):
    name = TRAIN[0] + ".gz"
    corrupted = bytearray(mnist_like.gz[name])
    corrupted[100] ^= 0xFF
    server.files.update({**mnist_like.gz, name: bytes(corrupted)})
    got = hashlib.sha256(corrupted).hexdigest()
    with pytest.raises(ChecksumError, match=f"{name} downloaded from .*: expected SHA-256 "
                                            f"{mnist_like.sha[name]}, got {got}"):
        fetch(server, tmp_path, checksums=mnist_like.sha)
    assert cached_files(tmp_path) == []
    assert server.hits[name] == 1  # a wrong checksum is not a transient error


def test_published_checksums_are_the_default(server, mnist_like, tmp_path):
    # the generated files are not the real MNIST, so the real digests refuse them
    server.files.update(mnist_like.gz)
    with pytest.raises(ChecksumError, match=MNIST_SHA256["digits"][TRAIN[0] + ".gz"]):
        fetch(server, tmp_path)
    assert cached_files(tmp_path) == []


def test_malformed_download_leaves_nothing(server, mnist_like, tmp_path):
    name = TRAIN[0] + ".gz"
    server.files.update({**mnist_like.gz, name: mnist_like.gz[name][:-20]})
    with pytest.raises(IDXFormatError, match="not a complete gzip file"):
        fetch(server, tmp_path, checksums={})
    assert cached_files(tmp_path) == []
    server.files[name] = gzip.compress(mnist_like.raw[TRAIN[1]])  # labels served as images
    with pytest.raises(IDXFormatError, match="expected magic number 2051"):
        fetch(server, tmp_path, checksums={})
    assert cached_files(tmp_path) == []


def test_truncated_body_is_retried_then_refused(server, mnist_like, tmp_path):
    name = TRAIN[0] + ".gz"
    server.files.update(mnist_like.gz)
    server.truncated.add(name)
    with pytest.raises(DownloadError, match=r"3 of 3 attempts.*IncompleteRead"):
        fetch(server, tmp_path, checksums=mnist_like.sha)
    assert server.hits[name] == 3
    assert cached_files(tmp_path) == []


def test_transient_errors_are_retried(server, mnist_like, tmp_path):
    server.files.update(mnist_like.gz)
    server.failures[TRAIN[0] + ".gz"] = 2
    assert_matches(fetch(server, tmp_path, checksums=mnist_like.sha, retries=3), mnist_like)
    assert server.hits[TRAIN[0] + ".gz"] == 3


def test_retries_exhausted_gives_clear_error(server, mnist_like, tmp_path):
    server.files.update(mnist_like.gz)
    server.failures[TRAIN[0] + ".gz"] = 5
    with pytest.raises(DownloadError, match=r"train-images-idx3-ubyte.gz \(2 of 2 attempts\): "
                                            r"HTTP 503"):
        fetch(server, tmp_path, checksums=mnist_like.sha, retries=2)
    assert server.hits[TRAIN[0] + ".gz"] == 2
    assert cached_files(tmp_path) == []


def test_not_found_is_not_retried(server, tmp_path):
    with pytest.raises(DownloadError, match=r"\(1 of 3 attempts\): HTTP 404"):
        fetch(server, tmp_path)
    assert server.hits[TRAIN[0] + ".gz"] == 1
    assert cached_files(tmp_path) == []


def test_slow_server_times_out(server, mnist_like, tmp_path):
    server.files.update(mnist_like.gz)
    server.slow.add(TRAIN[0] + ".gz")
    start = time.perf_counter()
    with pytest.raises(DownloadError, match=r"\(2 of 2 attempts\): timed out after 0.2 s"):
        fetch(server, tmp_path, checksums=mnist_like.sha, timeout=0.2, retries=2)
    assert time.perf_counter() - start < 3
    assert server.hits[TRAIN[0] + ".gz"] == 2
    assert cached_files(tmp_path) == []


def test_download_error_is_an_oserror_and_format_errors_are_valueerrors():
    assert issubclass(DownloadError, OSError)
    assert issubclass(IDXFormatError, ValueError) and issubclass(ChecksumError, ValueError)


def test_a_dripping_server_meets_the_overall_deadline(server, mnist_like, tmp_path,
                                                       monkeypatch):
    monkeypatch.setattr(npae.datasets.download, "DOWNLOAD_DEADLINE", 0.5)
    name = TRAIN[0] + ".gz"
    server.files.update(mnist_like.gz)
    server.drip.add(name)
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"still downloading after 0.5 s"):
        fetch(server, tmp_path, checksums={}, timeout=1)
    assert time.monotonic() - start < 3
    assert server.hits[name] == 1  # not retried
    assert cached_files(tmp_path) == []


def test_a_full_disk_is_not_retried(server, mnist_like, tmp_path, monkeypatch):
    server.files.update(mnist_like.gz)

    class FullDisk(io.BytesIO):
        name = str(tmp_path / "partial")

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    @contextlib.contextmanager
    def full_disk(path, prefix, suffix):
        yield FullDisk()

    monkeypatch.setattr(npae.datasets.download, "atomic_write", full_disk)
    with pytest.raises(DownloadError, match=r"could not save .* No space left on device"):
        fetch(server, tmp_path, checksums={})
    assert server.hits[TRAIN[0] + ".gz"] == 1


@pytest.mark.parametrize("checksums, error, message", [
    (["abc"], TypeError, "checksums must be a dict of file name -> SHA-256 hex digest, got list"),
    ("abc", TypeError, "got str"),
    ({TRAIN[0] + ".gz": 5}, ValueError, "must be a SHA-256 hex digest .* got 5"),
    ({TRAIN[0] + ".gz": "xyz"}, ValueError, "64 hex digits"),
])
def test_a_checksums_argument_of_the_wrong_type_is_a_clear_error(tmp_path, checksums, error,
                                                                 message):
    with pytest.raises(error, match=message):
        load_mnist(cache_dir=tmp_path, download=True, checksums=checksums)


@pytest.mark.parametrize("where", ["cache", "folder"])
def test_a_cache_folder_that_is_a_file_is_a_clear_error(server, mnist_like, tmp_path, where):
    server.files.update(mnist_like.gz)
    cache = tmp_path / "cache"
    if where == "cache":
        cache.write_text("not a folder")
    else:
        cache.mkdir()
        (cache / "mnist").write_text("not a folder")
    blocker = cache if where == "cache" else cache / "mnist"
    with pytest.raises(NotADirectoryError, match=f"{blocker} is a file, not a folder"):
        fetch(server, cache, checksums={})
