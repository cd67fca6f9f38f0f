"""Activations: known values, gradient checks, f' and f'', dtypes, input errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from npae.gradcheck import check_layer
from npae.layers import (
    ACTIVATIONS,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softplus,
    Tanh,
    get_activation,
)

ALL = [Identity, ReLU, LeakyReLU, Sigmoid, Tanh, Softplus]
KINKED = (ReLU, LeakyReLU)  # not differentiable at 0
# Beyond |x| = 4 tanh' < 1.3e-3, and where every entry of a small batch lies
# there, central differences' round-off (~1e-10) is no longer small against
# the gradient itself: tanh failed 80 of 3000 single-entry draws at |x| ~ 6.
SATURATING = (Sigmoid, Tanh)

shapes = hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=4)


def away_from_zero(x, margin=0.05):
    """Push every entry at least ``margin`` away from 0 (the kink of ReLU)."""
    return np.where(x >= 0, x + margin, x - margin)


@pytest.mark.parametrize("cls", ALL)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_gradient_check(cls, shape, seed):
    x = 3 * np.random.default_rng(seed).normal(size=shape)
    if cls in KINKED:
        x = away_from_zero(x)
    if cls in SATURATING:
        x = np.clip(x, -4, 4)
    result = check_layer(cls(), x, seed=seed)
    assert list(result) == ["x"]
    assert result.max_error < 1e-6, result.table()


@pytest.mark.parametrize("cls", ALL)
def test_derivatives_match_finite_differences(cls, rng):
    """derivative() is f' and second_derivative() is f'' (the contractive penalty uses both)."""
    layer = cls()
    x = away_from_zero(rng.normal(scale=2, size=(50, 3)), margin=0.01)
    h = 1e-5
    numeric_first = (layer.function(x + h) - layer.function(x - h)) / (2 * h)
    numeric_second = (layer.derivative(x + h) - layer.derivative(x - h)) / (2 * h)
    np.testing.assert_allclose(layer.derivative(x), numeric_first, atol=1e-9)
    np.testing.assert_allclose(layer.second_derivative(x), numeric_second, atol=1e-8)


@pytest.mark.parametrize("cls", ALL)
def test_backward_is_grad_times_derivative(cls, rng):
    layer = cls()
    x = away_from_zero(rng.normal(size=(4, 5)))
    g = rng.normal(size=(4, 5))
    layer.forward(x)
    np.testing.assert_allclose(layer.backward(g), g * layer.derivative(x), rtol=1e-12)


def test_known_values():
    x = np.array([[-np.log(3.0), 0.0, np.log(3.0), np.arctanh(0.5)]])
    np.testing.assert_allclose(Sigmoid().forward(x)[0, :3], [0.25, 0.5, 0.75], rtol=1e-15)
    np.testing.assert_allclose(Tanh().forward(x)[0, 3], 0.5, rtol=1e-15)
    np.testing.assert_allclose(Softplus().forward(np.zeros((1, 1))), np.log(2), rtol=1e-15)
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    np.testing.assert_array_equal(ReLU().forward(x), [[0, 0, 0, 0.5, 2]])
    np.testing.assert_allclose(LeakyReLU(alpha=0.1).forward(x), [[-0.2, -0.05, 0, 0.5, 2]])
    np.testing.assert_array_equal(Identity().forward(x), x)


def test_relu_gradient_is_zero_at_the_kink():
    layer = ReLU()
    layer.forward(np.zeros((1, 3)))
    np.testing.assert_array_equal(layer.backward(np.ones((1, 3))), np.zeros((1, 3)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_saturating_activations_stay_finite_at_extremes(dtype):
    x = np.array([[-1000.0, -50.0, 50.0, 1000.0]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = Sigmoid(dtype=dtype).forward(x)
        sp = Softplus(dtype=dtype).forward(x)
        t = Tanh(dtype=dtype).forward(x)
    np.testing.assert_allclose(s, [[0, 0, 1, 1]], atol=1e-20)
    np.testing.assert_allclose(sp, [[0, 0, 50, 1000]], atol=1e-20)
    np.testing.assert_array_equal(t, [[-1, -1, 1, 1]])


@pytest.mark.parametrize("cls", ALL)
def test_identity_output_is_not_the_input(cls):
    """No layer returns (an alias of) its input: a caller may change the input later."""
    x = np.ones((2, 3))
    y = cls().forward(x)
    assert not np.shares_memory(x, y)


@pytest.mark.parametrize("cls", ALL)
def test_float32_stays_float32(cls, rng):
    layer = cls(dtype="float32")
    x = away_from_zero(rng.normal(size=(3, 4))).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert layer.derivative(x).dtype == np.float32
    assert layer.second_derivative(x).dtype == np.float32


@pytest.mark.parametrize("cls", ALL)
def test_backward_before_forward_raises(cls):
    with pytest.raises(RuntimeError, match=f"{cls.__name__}.backward called before forward"):
        cls().backward(np.ones((2, 2)))


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("x, error, message", [
    ([[1.0, 2.0]], TypeError, "expected a numpy array, got list"),
    (np.ones((2, 2), dtype=np.int32), ValueError, "expected input of dtype float64, got int32"),
    (np.ones(3), ValueError, r"expected a 2-d input, got shape \(3,\)"),
    (np.ones((0, 2)), ValueError, "non-empty batch"),
    (np.array([[0.0, np.nan]]), ValueError, "expected finite input"),
    (np.array([[-np.inf, 0.0]]), ValueError, "expected finite input"),
])
def test_bad_input_names_expected_and_received(cls, x, error, message):
    with pytest.raises(error, match=message):
        cls().forward(x)


@pytest.mark.parametrize("cls", ALL)
def test_bad_grad_out(cls):
    layer = cls()
    layer.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"grad_out of shape \(2, 3\), got \(3, 2\)"):
        layer.backward(np.ones((3, 2)))


@pytest.mark.parametrize("layer", [cls() for cls in ALL] + [LeakyReLU(alpha=0.2, dtype="float32")])
def test_get_config_round_trip(layer):
    rebuilt = type(layer)(**layer.get_config())
    assert rebuilt.get_config() == layer.get_config()
    x = np.linspace(-2, 2, 12, dtype=layer.dtype).reshape(3, 4)
    np.testing.assert_array_equal(rebuilt.forward(x), layer.forward(x))


def test_leaky_relu_rejects_negative_alpha():
    with pytest.raises(ValueError, match="alpha must be >= 0, got -0.1"):
        LeakyReLU(alpha=-0.1)


def test_get_activation():
    assert isinstance(get_activation("ReLU"), ReLU)
    assert isinstance(get_activation(None), Identity)
    assert isinstance(get_activation("linear"), Identity)
    assert get_activation("tanh", dtype="float32").dtype == np.float32
    layer = Sigmoid()
    assert get_activation(layer) is layer
    assert set(ACTIVATIONS) >= {"relu", "leaky_relu", "sigmoid", "tanh", "softplus", "identity"}
    with pytest.raises(ValueError, match="activation must be one of .*got 'swish'"):
        get_activation("swish")


@pytest.mark.parametrize("cls", ALL)
def test_no_parameters_and_not_trainable(cls):
    layer = cls()
    assert layer.params == {} and layer.grads == {}
    assert not layer.trainable
    assert layer.output_shape((3, 4, 5)) == (3, 4, 5)


@pytest.mark.parametrize("cls", ALL)
def test_numpy_backend_survives_the_config(cls):
    layer = cls(backend="numpy")
    assert "backend='numpy'" in repr(layer)
    assert type(layer)(**layer.get_config()).backend == "numpy"
    assert "backend" not in repr(cls())
