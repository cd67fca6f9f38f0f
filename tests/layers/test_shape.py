"""Flatten and Reshape: order of values, gradient checks, dtypes, errors, config.

(Crop2D and Concat are tested in test_crop.py.)
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from npae.gradcheck import check_layer
from npae.layers import Flatten, Reshape

example_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def test_flatten_by_hand():
    x = np.arange(2 * 2 * 3, dtype=np.float64).reshape(2, 2, 3)
    y = Flatten().forward(x)
    assert y.shape == (2, 6)
    # row n holds x[n, i, j] at position 3 i + j (C order)
    for n in range(2):
        for i in range(2):
            for j in range(3):
                assert y[n, 3 * i + j] == x[n, i, j]


def test_reshape_by_hand():
    x = np.arange(12, dtype=np.float64).reshape(2, 6)
    y = Reshape((1, 2, 3)).forward(x)
    assert y.shape == (2, 1, 2, 3)
    for n in range(2):
        for i in range(2):
            for j in range(3):
                assert y[n, 0, i, j] == x[n, 3 * i + j]


@given(n=st.integers(1, 4), shape=example_shapes, seed=st.integers(0, 2**16))
def test_flatten_gradient_check(n, shape, seed):
    x = np.random.default_rng(seed).normal(size=(n, *shape))
    result = check_layer(Flatten(), x, seed=seed)
    assert result.max_error < 1e-6, result.table()


@given(n=st.integers(1, 4), shape=example_shapes, seed=st.integers(0, 2**16))
def test_reshape_gradient_check(n, shape, seed):
    x = np.random.default_rng(seed).normal(size=(n, math.prod(shape)))
    result = check_layer(Reshape(shape), x, seed=seed)
    assert result.max_error < 1e-6, result.table()


@given(n=st.integers(1, 4), shape=example_shapes, seed=st.integers(0, 2**16))
def test_reshape_then_flatten_is_identity(n, shape, seed):
    x = np.random.default_rng(seed).normal(size=(n, math.prod(shape)))
    reshape, flatten = Reshape(shape), Flatten()
    np.testing.assert_array_equal(flatten.forward(reshape.forward(x)), x)
    g = np.random.default_rng(seed + 1).normal(size=x.shape)
    np.testing.assert_array_equal(reshape.backward(flatten.backward(g)), g)


@pytest.mark.parametrize("layer, shape_in, shape_out", [
    (Flatten(), (1, 28, 28), (784,)), (Flatten(), (5,), (5,)),
    (Reshape((1, 8, 8)), (64,), (1, 8, 8)), (Reshape([4, 16]), (64,), (4, 16)),
])
def test_output_shape(layer, shape_in, shape_out):
    assert layer.output_shape(shape_in) == shape_out
    assert layer.forward(np.zeros((2, *shape_in))).shape == (2, *shape_out)


@pytest.mark.parametrize("layer, x", [
    (Flatten(dtype="float32"), np.ones((2, 3, 4), dtype=np.float32)),
    (Reshape((3, 4), dtype="float32"), np.ones((2, 12), dtype=np.float32)),
])
def test_float32_stays_float32(layer, x):
    y = layer.forward(x)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32


@pytest.mark.parametrize("layer", [Flatten(), Reshape((2, 2))])
def test_backward_before_forward_raises(layer):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.ones((1, 4)))


@pytest.mark.parametrize("layer", [Flatten(), Reshape((2, 2))])
@pytest.mark.parametrize("x, error, message", [
    ([[1.0, 2.0, 3.0, 4.0]], TypeError, "expected a numpy array, got list"),
    (np.ones((2, 4), dtype=np.int64), ValueError, "expected input of dtype float64, got int64"),
    (np.ones(4), ValueError, r"expected a 2-d input, got shape \(4,\)"),
    (np.ones((0, 4)), ValueError, r"expected a non-empty batch, got shape \(0, 4\)"),
    (np.array([[0.0, np.nan, 0.0, 0.0]]), ValueError, "expected finite input"),
])
def test_bad_input_names_expected_and_received(layer, x, error, message):
    with pytest.raises(error, match=message):
        layer.forward(x)


def test_reshape_wrong_size_names_the_numbers():
    with pytest.raises(ValueError, match=r"expected 6 values per example to make \(2, 3\), "
                                         r"got shape \(4, 5\)"):
        Reshape((2, 3)).forward(np.ones((4, 5)))


def test_bad_grad_out():
    layer = Flatten()
    layer.forward(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"grad_out of shape \(2, 12\), got \(2, 3, 4\)"):
        layer.backward(np.ones((2, 3, 4)))


@pytest.mark.parametrize("shape, error, message", [
    ((2, 0), ValueError, "each of shape must be >= 1, got 0"),
    ((), ValueError, "shape must not be empty"),
    ((2.0, 3), TypeError, "each of shape must be an int"),
    (None, TypeError, "shape must be a sequence of ints"),
])
def test_reshape_bad_shape(shape, error, message):
    with pytest.raises(error, match=message):
        Reshape(shape)


@pytest.mark.parametrize("layer", [Flatten(), Flatten(dtype="float32"), Reshape((1, 8, 8)),
                                   Reshape([4, 4], dtype="float32")])
def test_get_config_round_trip(layer):
    rebuilt = type(layer)(**layer.get_config())
    assert rebuilt.get_config() == layer.get_config()
    assert rebuilt.output_shape((64,)) == layer.output_shape((64,))
    assert rebuilt.dtype == layer.dtype


def test_no_parameters():
    for layer in (Flatten(), Reshape((2,))):
        assert layer.params == {} and not layer.trainable
