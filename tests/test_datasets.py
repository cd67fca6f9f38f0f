import doctest
import gzip
import hashlib
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import numpy as np
import pytest

import npae.datasets
from npae.datasets import (
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    MNIST_SHA256,
    SHAPE_KINDS,
    ChecksumError,
    DownloadError,
    IDXFormatError,
    _inside,
    get_data_home,
    load_digits,
    load_mnist,
    make_shapes,
    parse_idx,
    read_idx,
    train_test_split,
    write_idx,
)

TRAIN = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def test_docstring_examples_run():
    assert doctest.testmod(npae.datasets).failed == 0


# ------------------------------------------------------------------- digits


def test_load_digits():
    X, y, image_shape = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert X.min() == 0.0 and X.max() == 1.0
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    assert image_shape == (1, 8, 8)
    images, y2, _ = load_digits(return_images=True)
    assert images.shape == (1797, 1, 8, 8)
    np.testing.assert_array_equal(images.reshape(1797, 64), X)
    np.testing.assert_array_equal(y, y2)


# ------------------------------------------------------------------- split


def test_split_sizes_alignment_and_determinism():
    X = np.arange(100).reshape(50, 2)
    y = np.arange(50)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25)
    assert len(X_test) == 13 and len(X_train) == 37  # ceil(0.25 * 50)
    np.testing.assert_array_equal(X_train[:, 0], 2 * y_train)
    np.testing.assert_array_equal(X_test[:, 0], 2 * y_test)
    assert sorted(np.concatenate([y_train, y_test])) == list(range(50))
    again = train_test_split(X, y, test_size=0.25)
    np.testing.assert_array_equal(again[3], y_test)
    other = train_test_split(X, y, test_size=0.25, random_state=1)
    assert not np.array_equal(other[3], y_test)
    assert not np.array_equal(y_train, np.sort(y_train))  # shuffled


def test_split_int_test_size_and_lists():
    train, test = train_test_split(list(range(10)), test_size=3)
    assert test.shape == (3,) and train.shape == (7,)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((), {}, ValueError, "at least one array, got none"),
        ((np.ones(5), np.ones(4)), {}, ValueError, r"same number of samples, got lengths \[5, 4\]"),
        ((np.ones(5),), {"test_size": 0.0}, ValueError, "test_size must be > 0.0"),
        ((np.ones(5),), {"test_size": 1.0}, ValueError, "gives 5 test and 0 train"),
        ((np.ones(5),), {"test_size": 5}, ValueError, "gives 5 test and 0 train"),
        ((np.ones(5),), {"test_size": "half"}, TypeError, "test_size must be a number"),
        ((np.float64(3.0),), {}, ValueError, "a scalar"),
    ],
)
def test_split_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        train_test_split(*args, **kwargs)


# ------------------------------------------------------------------- shapes


def test_make_shapes_outputs():
    images, masks, labels = make_shapes(50, size=24, return_labels=True, random_state=0)
    assert images.shape == masks.shape == (50, 1, 24, 24)
    assert labels.shape == (50, 24, 24) and labels.dtype == np.int64
    assert images.dtype == masks.dtype == np.float64
    assert images.min() >= 0 and images.max() <= 1
    assert set(np.unique(masks)) == {0.0, 1.0}
    np.testing.assert_array_equal(masks[:, 0] == 1, labels > 0)
    assert set(np.unique(labels)) == {0, 1, 2, 3}
    assert (labels > 0).any(axis=(1, 2)).all()  # every image shows a shape
    two = make_shapes(50, size=24, random_state=0)
    assert len(two) == 2
    np.testing.assert_array_equal(two[0], images)


def test_make_shapes_without_noise_is_exactly_the_drawing():
    images, masks = make_shapes(30, noise=0.0, random_state=1)
    on = masks == 1
    assert np.all(images[~on] == 0)
    assert np.all((images[on] >= 0.5) & (images[on] <= 1.0))


def test_make_shapes_kinds_counts_and_seed():
    _, _, labels = make_shapes(40, kinds=("square",), n_shapes=1, return_labels=True,
                               random_state=np.random.default_rng(3))
    assert set(np.unique(labels)) == {0, SHAPE_KINDS.index("square") + 1}
    _, _, labels = make_shapes(40, kinds="triangle", return_labels=True, random_state=3)
    assert set(np.unique(labels)) == {0, 3}
    a = make_shapes(5, random_state=7)[0]
    b = make_shapes(5, random_state=8)[0]
    assert not np.array_equal(a, b)


def test_make_shapes_float32():
    images, masks = make_shapes(10, dtype="float32", random_state=0)
    assert images.dtype == masks.dtype == np.float32


def test_make_shapes_is_fast():
    make_shapes(10)
    start = time.perf_counter()
    images, _ = make_shapes(2000, size=32, random_state=0)
    assert time.perf_counter() - start < 1.0
    assert images.shape == (2000, 1, 32, 32)


def naive_inside(kind, dy, dx, r):
    """The shape tests written point by point."""
    if kind == 1:
        return dy * dy + dx * dx <= r * r
    if kind == 2:
        return abs(dy) <= r and abs(dx) <= r
    return -r <= dy <= r and abs(dx) <= (dy + r) / 2


def test_inside_matches_pointwise_definition(rng):
    kind = rng.integers(1, 4, size=300)
    dy, dx = rng.uniform(-6, 6, size=(2, 300))
    r = rng.uniform(1, 5, size=300)
    got = _inside(kind, dy, dx, r)
    want = [naive_inside(*args) for args in zip(kind, dy, dx, r)]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 0}, ValueError, "n_samples must be >= 1, got 0"),
        ({"size": 2}, ValueError, "size must be >= 4, got 2"),
        ({"noise": -0.1}, ValueError, "noise must be >= 0.0"),
        ({"n_shapes": (3, 1)}, ValueError, r"min <= max"),
        ({"n_shapes": (0, 0)}, ValueError, "at least one shape"),
        ({"n_shapes": (1, 2, 3)}, ValueError, "a pair"),
        ({"n_shapes": None}, ValueError, r"a number or a pair \(min, max\), got None"),
        ({"kinds": ("circle", "hexagon")}, ValueError, "kinds must be one of .*'hexagon'"),
        ({"kinds": ("circle", "circle")}, ValueError, "distinct"),
        ({"radius": (0.0, 0.2)}, ValueError, "radius must be > 0.0"),
        ({"radius": 0.6}, ValueError, r"max <= 0.5"),
        ({"dtype": "int32"}, ValueError, "float32 or float64"),
    ],
)
def test_make_shapes_errors(kwargs, error, match):
    kwargs = {"n_samples": 2, **kwargs}
    with pytest.raises(error, match=match):
        make_shapes(**kwargs)


# ------------------------------------------------------------------- IDX files


def idx_bytes(array, magic=None):
    """An IDX file for ``array``, with an optional wrong magic number."""
    magic = 0x0800 + array.ndim if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


@pytest.fixture
def mnist_like(rng):
    """20 random 28 x 28 images and labels, as arrays and as IDX bytes (plain and .gz)."""
    images = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=20, dtype=np.uint8)
    raw = {TRAIN[0]: idx_bytes(images), TRAIN[1]: idx_bytes(labels)}
    gz = {name + ".gz": gzip.compress(data, mtime=0) for name, data in raw.items()}
    sha = {name: hashlib.sha256(data).hexdigest() for name, data in gz.items()}
    return SimpleNamespace(images=images, labels=labels, raw=raw, gz=gz, sha=sha)


def write_files(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def assert_matches(result, data):
    X, y, image_shape = result
    np.testing.assert_array_equal(X, data.images.reshape(20, 784) / 255.0)
    np.testing.assert_array_equal(y, data.labels)
    assert y.dtype == np.int64 and image_shape == (1, 28, 28)


@pytest.mark.parametrize("compressed", [False, True])
def test_reads_plain_and_gzipped_files(tmp_path, mnist_like, compressed):
    write_files(tmp_path, mnist_like.gz if compressed else mnist_like.raw)
    assert_matches(load_mnist(tmp_path), mnist_like)


def test_images_option_and_float32(tmp_path, mnist_like):
    write_files(tmp_path, mnist_like.raw)
    X, _, image_shape = load_mnist(tmp_path, return_images=True, dtype="float32")
    assert X.shape == (20, *image_shape) and X.dtype == np.float32
    np.testing.assert_allclose(X[:, 0], mnist_like.images / 255.0, rtol=1e-6)


def test_test_split_reads_t10k_files(tmp_path, mnist_like):
    write_files(tmp_path, {TEST[0]: mnist_like.raw[TRAIN[0]], TEST[1]: mnist_like.raw[TRAIN[1]]})
    assert_matches(load_mnist(tmp_path, split="test"), mnist_like)


def test_write_idx_read_idx_round_trip(tmp_path, rng):
    array = rng.integers(0, 256, size=(3, 4, 5), dtype=np.uint8)
    for name in ("a-idx3-ubyte", "a-idx3-ubyte.gz"):
        write_idx(tmp_path / name, array)
        np.testing.assert_array_equal(read_idx(tmp_path / name, IDX_IMAGES_MAGIC), array)
    with pytest.raises(TypeError, match="uint8 array, got dtype float64"):
        write_idx(tmp_path / "b", array / 2)


def test_bad_magic_rejected(tmp_path, mnist_like):
    # the labels file where the images file should be
    write_files(tmp_path, {TRAIN[0]: mnist_like.raw[TRAIN[1]], TRAIN[1]: mnist_like.raw[TRAIN[1]]})
    with pytest.raises(IDXFormatError, match=r"train-images-idx3-ubyte: expected magic number "
                                             r"2051 \(uint8, 3-d\), got 2049 \(uint8, 1-d\)"):
        load_mnist(tmp_path)


def test_non_byte_idx_rejected():
    floats = np.zeros((2, 2), dtype=">f4")
    with pytest.raises(IDXFormatError, match=r"got 3330 \(float32, 2-d\)"):
        parse_idx(idx_bytes(floats, magic=0x0D02), "f")
    with pytest.raises(IDXFormatError, match="expected magic number 2049"):
        parse_idx(idx_bytes(floats, magic=0x0D02), "f", IDX_LABELS_MAGIC)


@pytest.mark.parametrize(
    ("cut", "match"),
    [
        (lambda b: b[:-1], r"truncated: header declares shape \(20, 28, 28\), i.e. 15696 bytes, "
                           r"got 15695 bytes"),
        (lambda b: b + b"\0", "trailing data"),
        (lambda b: b[:10], r"truncated header: expected 16 bytes, got 10"),
        (lambda b: b[:2], "expected an IDX file"),
    ],
)
def test_wrong_size_rejected(tmp_path, mnist_like, cut, match):
    write_files(tmp_path, {**mnist_like.raw, TRAIN[0]: cut(mnist_like.raw[TRAIN[0]])})
    with pytest.raises(IDXFormatError, match=match):
        load_mnist(tmp_path)


def test_truncated_gzip_rejected(tmp_path, mnist_like):
    name = TRAIN[0] + ".gz"
    write_files(tmp_path, {**mnist_like.gz, name: mnist_like.gz[name][:-20]})
    with pytest.raises(IDXFormatError, match="train-images-idx3-ubyte.gz: not a complete gzip"):
        load_mnist(tmp_path)


def test_count_mismatch_rejected(tmp_path, mnist_like):
    write_files(tmp_path, {**mnist_like.raw, TRAIN[1]: idx_bytes(mnist_like.labels[:19])})
    with pytest.raises(IDXFormatError, match="holds 20 images but .* holds 19 labels"):
        load_mnist(tmp_path)


def test_missing_file_without_download(tmp_path, mnist_like):
    write_files(tmp_path, {TRAIN[0]: mnist_like.raw[TRAIN[0]]})
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte or .*download=True"):
        load_mnist(tmp_path)


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


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kind": "kmnist"}, ValueError, "kind must be one of 'digits', 'fashion'"),
        ({"split": "val"}, ValueError, "split must be one of 'train', 'test'"),
        ({"retries": 0}, ValueError, "retries must be >= 1, got 0"),
        ({"timeout": 0}, ValueError, "timeout must be > 0.0"),
        ({"path": "a", "cache_dir": "b"}, ValueError, "not both"),
    ],
)
def test_load_mnist_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_mnist(**kwargs)


# ------------------------------------------------------------------- downloads


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
    ``failures[path]``: that many 503 answers before serving.
    """
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(npae.datasets, "RETRY_BACKOFF", 0.0)
    state = SimpleNamespace(files={}, slow=set(), truncated=set(), failures=Counter(),
                            hits=Counter(), release=threading.Event())

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
