"""Small random MNIST-like data and IDX files for the dataset tests."""

import gzip
import hashlib
from types import SimpleNamespace

import numpy as np

TRAIN = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(array, magic=None):
    """An IDX file for ``array``, with an optional wrong magic number."""
    magic = 0x0800 + array.ndim if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def make_mnist_like(rng):
    """20 random 28 x 28 images and labels, as arrays and as IDX bytes (plain and .gz)."""
    images = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=20, dtype=np.uint8)
    raw = {TRAIN[0]: idx_bytes(images), TRAIN[1]: idx_bytes(labels)}
    gz = {name + ".gz": gzip.compress(data, mtime=0) for name, data in raw.items()}
    sha = {name: hashlib.sha256(data).hexdigest() for name, data in gz.items()}
    return SimpleNamespace(images=images, labels=labels, raw=raw, gz=gz, sha=sha)


def write_files(folder, files):
    """Write ``files`` (name -> bytes) into ``folder``, creating it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def assert_matches(result, data):
    """``load_mnist``'s ``(X, y, image_shape)`` is ``data`` scaled to [0, 1], flat."""
    X, y, image_shape = result
    np.testing.assert_array_equal(X, data.images.reshape(20, 784) / 255.0)
    np.testing.assert_array_equal(y, data.labels)
    assert y.dtype == np.int64 and image_shape == (1, 28, 28)
