"""The Layer protocol: dtype, caches, input and gradient checks."""

import numpy as np
import pytest

from npae._validation import NonFiniteInputError
from npae.layers import (
    Dense,
    Identity,
    Layer,
    LeakyReLU,
)


class Scale(Layer):
    """y = s x with one trainable scalar s: the smallest complete layer."""

    def __init__(self, dtype="float64", rng=None):
        super().__init__(dtype=dtype, rng=rng)
        self._add_param("s", np.full(1, 2.0))

    def forward(self, x, training=True):
        self._check_input(x, 2, (3,))
        if training:
            self._cache = x
        return x * self.params["s"]

    def backward(self, grad_out):
        x = self._saved()
        self._check_grad(grad_out, x.shape)
        self.grads["s"] += np.sum(grad_out * x, keepdims=True).reshape(1)
        return grad_out * self.params["s"]


def test_add_param_makes_contiguous_arrays_of_the_layer_dtype():
    layer = Scale(dtype="float32")
    assert layer.params["s"].dtype == np.float32
    assert layer.grads["s"].dtype == np.float32
    assert layer.params["s"].flags.c_contiguous
    assert not layer.grads["s"].any()
    assert layer.grads["s"] is not layer.params["s"]


def test_subclass_protocol_round_trip():
    layer = Scale()
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(layer.forward(x), 2 * x)
    np.testing.assert_array_equal(layer.backward(np.ones((2, 3))), 2 * np.ones((2, 3)))
    assert layer.grads["s"][0] == x.sum()
    layer.zero_grad()
    assert layer.grads["s"][0] == 0


def test_base_layer_methods_are_abstract():
    layer = Layer()
    with pytest.raises(NotImplementedError):
        layer.forward(np.ones((1, 1)))
    with pytest.raises(NotImplementedError):
        layer.backward(np.ones((1, 1)))
    assert layer.output_shape((4, 5)) == (4, 5)
    assert layer.get_config() == {"dtype": "float64"}
    assert layer.trainable


@pytest.mark.parametrize("dtype, error, message", [
    ("float16", ValueError, "Scale expected dtype float32 or float64, got float16"),
    ("int64", ValueError, "Scale expected dtype float32 or float64, got int64"),
    ("no-such-type", TypeError, "Scale expected dtype float32 or float64, got 'no-such-type'"),
])
def test_bad_dtype(dtype, error, message):
    with pytest.raises(error, match=message):
        Scale(dtype=dtype)


def test_dtype_accepts_numpy_forms():
    assert Scale(dtype=np.float32).dtype == np.float32
    assert Scale(dtype=np.dtype("float64")).dtype == np.float64


def test_check_input_messages():
    layer = Scale()
    with pytest.raises(ValueError, match=r"Scale expected input of shape \(N, 3\), got \(2, 4\)"):
        layer.forward(np.ones((2, 4)))
    with pytest.raises(TypeError, match="Scale expected a numpy array, got tuple"):
        layer.forward((1.0, 2.0, 3.0))


def test_non_finite_input_error_is_a_value_error():
    with pytest.raises(NonFiniteInputError) as info:
        Scale().forward(np.array([[1.0, np.nan, 2.0]]))
    assert isinstance(info.value, ValueError)


def test_large_finite_input_is_accepted():
    """The cheap finite test sums the input; a sum that overflows must not be taken for inf."""
    x = np.full((2, 3), np.finfo(np.float64).max / 2)
    with np.errstate(over="ignore"):
        assert np.isinf(x.sum())
        np.testing.assert_array_equal(Identity().forward(x), x)


def test_check_grad_messages():
    layer = Scale()
    layer.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"Scale.backward expected grad_out of shape \(2, 3\), "
                                         r"got list"):
        layer.backward([[1.0, 1.0, 1.0]] * 2)
    with pytest.raises(ValueError, match="expected grad_out of dtype float64, got int64"):
        layer.backward(np.ones((2, 3), dtype=np.int64))


def test_repr_shows_config():
    assert repr(Dense(3, 2, rng=0)) == (
        "Dense(in_features=3, out_features=2, init='glorot_uniform', dtype='float64')")
    assert repr(LeakyReLU(0.2)) == "LeakyReLU(alpha=0.2, dtype='float64')"
    assert Dense(3, 2).name == "Dense"


def test_layer_keeps_seed_for_initialization():
    assert Scale(rng=5).rng == 5
    assert isinstance(Scale(rng=5)._generator(), np.random.Generator)
