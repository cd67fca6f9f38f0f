"""npae.datasets.digits: the bundled 8x8 digits."""

import doctest

import numpy as np

import npae.datasets.digits
from npae.datasets import load_digits


def test_docstring_examples_run():
    result = doctest.testmod(npae.datasets.digits)
    assert result.attempted > 0 and result.failed == 0


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
