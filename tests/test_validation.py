"""Input and hyperparameter checks: what they accept, convert and refuse, and what they say."""

import numpy as np
import pytest
import scipy.sparse

from npae._validation import (
    NonFiniteInputError,
    check_array,
    check_choice,
    check_float_dtype,
    check_int,
    check_number,
    check_sizes,
)


class ArrayLike:
    def __init__(self, data):
        self.data = data

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.data, dtype=dtype)


@pytest.mark.parametrize("X, dtype, expected_dtype", [
    ([[1, 2], [3, 4]], None, np.float64),
    (np.ones((2, 2), dtype=np.int32), None, np.float64),
    (np.ones((2, 2), dtype=bool), None, np.float64),
    (np.ones((2, 2), dtype=np.float32), None, np.float32),
    (np.ones((2, 2), dtype=np.float32), "float64", np.float64),
    (np.ones((2, 2)), "float32", np.float32),
    (np.array([[1, 2.5]], dtype=object), None, np.float64),
    (ArrayLike([[1.0, 2.0]]), None, np.float64),
])
def test_accepted_and_converted(X, dtype, expected_dtype):
    out = check_array(X, "Est", dtype=dtype)
    assert out.dtype == expected_dtype
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, np.asarray(X, dtype=np.float64))


def test_returns_the_same_array_when_nothing_to_do():
    X = np.ones((3, 2))
    assert check_array(X, "Est") is X


def test_fortran_order_becomes_c_order():
    X = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    out = check_array(X, "Est")
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, X)


@pytest.mark.parametrize("X, kwargs, error, message", [
    (np.ones(3), {}, ValueError,
     r"Est expected a 2-d array, got shape \(3,\): Reshape your data"),
    (np.ones((2, 2, 2)), {}, ValueError, r"Est expected a 2-d array, got shape \(2, 2, 2\)"),
    (np.ones((2, 2)), {"ndim": 4}, ValueError, r"Est expected a 4-d array, got shape \(2, 2\)"),
    (np.ones((2, 2)), {"ndim": (3, 4)}, ValueError, "Est expected a 3-d or 4-d array"),
    (np.ones((0, 3)), {}, ValueError,
     r"0 sample\(s\) \(shape=\(0, 3\)\) while a minimum of 1 is required"),
    (np.ones((3, 0)), {}, ValueError,
     r"0 feature\(s\) \(shape=\(3, 0\)\) while a minimum of 1 is required"),
    (np.ones((2, 3)), {"n_features": 4}, ValueError,
     "X has 3 features, but Est is expecting 4 features as input"),
    (np.ones((2, 1, 8, 8)), {"ndim": 4, "n_features": (1, 8, 9)}, ValueError,
     r"Est expected input with per-sample shape \(1, 8, 9\) \(as seen in fit\), "
     r"got shape \(2, 1, 8, 8\)"),
    (np.array([[1.0, np.nan]]), {}, NonFiniteInputError, "Est expected finite input"),
    (np.array([[1.0, -np.inf]]), {}, ValueError, "containing NaN or inf"),
    (np.ones((2, 2), dtype=complex), {}, ValueError,
     "Est: Complex data not supported, got dtype complex128"),
    (np.array([["a", "b"]]), {}, TypeError, "Est expected a real numeric array, got dtype <U1"),
    (np.array([[{"a": 1}, 2.0]], dtype=object), {}, TypeError,
     "argument must be a string.* number"),
    ("abc", {}, TypeError, "Est expected an array-like of numbers, got str"),
    (3.0, {}, TypeError, "Est expected an array-like of numbers, got float"),
    ([[1.0, 2.0], [3.0]], {}, ValueError, "Est expected a rectangular array-like"),
    (scipy.sparse.csr_matrix(np.eye(3)), {}, TypeError, "sparse data is not supported"),
    (np.ones((2, 2)), {"dtype": "int8"}, ValueError, "expected dtype float32 or float64"),
])
def test_refused_with_a_clear_message(X, kwargs, error, message):
    with pytest.raises(error, match=message):
        check_array(X, "Est", **kwargs)


def test_allow_empty():
    assert check_array(np.ones((0, 3)), "Est", allow_empty=True).shape == (0, 3)


def test_check_float_dtype():
    assert check_float_dtype("float32") == np.float32
    assert check_float_dtype(np.float64) == np.float64
    with pytest.raises(ValueError, match="Own expected dtype float32 or float64, got float16"):
        check_float_dtype("float16", "Own")
    with pytest.raises(TypeError, match="Own expected dtype float32 or float64, got 'x'"):
        check_float_dtype("x", "Own")


@pytest.mark.parametrize("value, kwargs, error, message", [
    (True, {}, TypeError, "Est: epochs must be an int, got True"),
    (2.0, {}, TypeError, "Est: epochs must be an int, got 2.0"),
    ("3", {}, TypeError, "Est: epochs must be an int, got '3'"),
    (0, {}, ValueError, "Est: epochs must be >= 1, got 0"),
    (-1, {"minimum": 0}, ValueError, "Est: epochs must be >= 0, got -1"),
])
def test_check_int_refuses(value, kwargs, error, message):
    with pytest.raises(error, match=message):
        check_int(value, "epochs", "Est", **kwargs)


def test_check_int_accepts():
    assert check_int(np.int64(3), "n", "Est") == 3
    assert type(check_int(np.int64(3), "n", "Est")) is int
    assert check_int(0, "n", "Est", minimum=0) == 0


@pytest.mark.parametrize("value, kwargs, error, message", [
    (True, {}, TypeError, "Est: lr must be a number, got True"),
    ("0.1", {}, TypeError, "Est: lr must be a number, got '0.1'"),
    (None, {}, TypeError, "Est: lr must be a number, got None"),
    (float("nan"), {}, ValueError, "Est: lr must be finite, got nan"),
    (float("inf"), {}, ValueError, "Est: lr must be finite, got inf"),
    (-1, {"low": 0}, ValueError, "Est: lr must be >= 0, got -1.0"),
    (0, {"low": 0, "low_open": True}, ValueError, "Est: lr must be > 0, got 0.0"),
    (2, {"high": 1}, ValueError, "Est: lr must be <= 1, got 2.0"),
    (1, {"high": 1, "high_open": True}, ValueError, "Est: lr must be < 1, got 1.0"),
])
def test_check_number_refuses(value, kwargs, error, message):
    with pytest.raises(error, match=message):
        check_number(value, "lr", "Est", **kwargs)


def test_check_number_accepts():
    assert check_number(np.float32(0.5), "x", "Est", low=0, high=1) == 0.5
    assert check_number(3, "x", "Est") == 3.0 and type(check_number(3, "x", "Est")) is float
    assert check_number(0, "x", "Est", low=0) == 0
    assert check_number(1, "x", "Est", high=1) == 1


def test_check_choice():
    assert check_choice("adam", "optimizer", "Est", ("adam", "sgd")) == "adam"
    with pytest.raises(ValueError, match="Est: optimizer must be one of 'adam', 'sgd', got 'rms'"):
        check_choice("rms", "optimizer", "Est", ("adam", "sgd"))
    with pytest.raises(ValueError, match="got None"):
        check_choice(None, "optimizer", "Est", ("adam", "sgd"))


def test_check_sizes():
    assert check_sizes([64, np.int64(8)], "hidden_sizes", "Est") == (64, 8)
    assert check_sizes(16, "hidden_sizes", "Est") == (16,)
    assert check_sizes((), "hidden_sizes", "Est") == ()
    with pytest.raises(ValueError, match="Est: hidden_sizes must not be empty"):
        check_sizes((), "hidden_sizes", "Est", allow_empty=False)
    with pytest.raises(ValueError, match="each of hidden_sizes must be >= 1, got 0"):
        check_sizes((64, 0), "hidden_sizes", "Est")
    with pytest.raises(TypeError, match="each of hidden_sizes must be an int, got '6'"):
        check_sizes("64", "hidden_sizes", "Est")
    with pytest.raises(TypeError, match="hidden_sizes must be a sequence of ints, got 6.5"):
        check_sizes(6.5, "hidden_sizes", "Est")
