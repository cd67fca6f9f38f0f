"""npae.datasets.mnist: load_mnist on local files, and the checks it makes before use."""

import doctest

import numpy as np
import pytest
from fake_mnist import TEST, TRAIN, assert_matches, idx_bytes, write_files

import npae.datasets.mnist
from npae.datasets import IDXFormatError, load_mnist


def test_docstring_examples_run():
    result = doctest.testmod(npae.datasets.mnist)
    assert result.attempted > 0 and result.failed == 0


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


def test_bad_magic_rejected(tmp_path, mnist_like):
    # the labels file where the images file should be
    write_files(tmp_path, {TRAIN[0]: mnist_like.raw[TRAIN[1]], TRAIN[1]: mnist_like.raw[TRAIN[1]]})
    with pytest.raises(IDXFormatError, match=r"train-images-idx3-ubyte: expected magic number "
                                             r"2051 \(uint8, 3-d\), got 2049 \(uint8, 1-d\)"):
        load_mnist(tmp_path)


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
