"""npae.datasets.splits: train_test_split."""

import doctest

import numpy as np
import pytest

import npae.datasets.splits
from npae.datasets import train_test_split


def test_docstring_examples_run():
    result = doctest.testmod(npae.datasets.splits)
    assert result.attempted > 0 and result.failed == 0


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
