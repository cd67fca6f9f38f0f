"""The activation-gradient loops of ``npae.kernels.activations`` against their NumPy twins."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from npae.layers import LeakyReLU, ReLU, Sigmoid, Tanh
from npae.layers.activations import ACTIVATION_KERNELS

# Each kernel and its twin, by the name the table pairs them under.
kernels, twins = ACTIVATION_KERNELS("numba"), ACTIVATION_KERNELS.numpy

FUSED = [ReLU, LeakyReLU, Sigmoid, Tanh]
# The loops do the twins' arithmetic in the same order; allow a rounding or two.
TOLERANCE = {np.float64: 1e-15, np.float32: 1e-6}

shapes = hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=6)


def backward(cls, backend, x, g, **kwargs):
    layer = cls(dtype=x.dtype.name, backend=backend, **kwargs)
    y = layer.forward(x)
    dx = layer.backward(g)
    return y, dx


@pytest.mark.parametrize("cls", FUSED)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(shape=shapes, seed=st.integers(0, 2**16), ties=st.booleans())
def test_numba_backward_equals_numpy_twin(cls, dtype, shape, seed, ties):
    rng = np.random.default_rng(seed)
    # ``ties`` puts many inputs exactly at ReLU's kink, x = 0.
    x = (rng.integers(-2, 3, size=shape) if ties else 3 * rng.normal(size=shape)).astype(dtype)
    g = rng.normal(size=shape).astype(dtype)
    y_fast, dx_fast = backward(cls, "numba", x, g)
    y_twin, dx_twin = backward(cls, "numpy", x, g)
    np.testing.assert_array_equal(y_fast, y_twin)
    assert dx_fast.dtype == dtype and dx_fast.shape == shape
    np.testing.assert_allclose(dx_fast, dx_twin, rtol=TOLERANCE[dtype], atol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ops", [kernels, twins], ids=["numba", "numpy"])
def test_kernels_by_hand(dtype, ops):
    g = np.array([2.0, -3.0, 5.0, 7.0], dtype=dtype)
    x = np.array([-1.0, 0.0, 0.5, 3.0], dtype=dtype)
    dx = np.empty_like(g)
    ops.relu_backward(g, np.maximum(x, 0), dx)
    np.testing.assert_array_equal(dx, [0, 0, 5, 7])  # zero at the kink
    ops.leaky_relu_backward(g, x, 0.5, dx)
    np.testing.assert_array_equal(dx, [1, -1.5, 5, 7])
    y = np.array([0.5, 0.25, 0.0, 1.0], dtype=dtype)
    ops.sigmoid_backward(g, y, dx)
    np.testing.assert_array_equal(dx, [0.5, -0.5625, 0, 0])
    ops.tanh_backward(g, y, dx)
    np.testing.assert_array_equal(dx, [1.5, -2.8125, 5, 0])
    assert dx.dtype == dtype


@pytest.mark.parametrize("cls", FUSED)
def test_non_contiguous_arrays(cls, rng):
    """Transposed (Fortran-ordered) input and gradient give the same dx as C-ordered copies."""
    x = 2 * rng.normal(size=(7, 5))
    g = rng.normal(size=(7, 5))
    _, dx_strided = backward(cls, "numba", x.T, g.T)
    _, dx_copied = backward(cls, "numpy", np.ascontiguousarray(x.T), np.ascontiguousarray(g.T))
    np.testing.assert_allclose(dx_strided, dx_copied, rtol=1e-15)


def test_leaky_relu_alpha_reaches_the_kernel(rng):
    x, g = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    _, dx = backward(LeakyReLU, "numba", x, g, alpha=0.3)
    np.testing.assert_allclose(dx, np.where(x > 0, g, 0.3 * g), rtol=1e-15)


@pytest.mark.parametrize("cls", FUSED)
def test_backward_returns_a_fresh_array(cls, rng):
    """dx never aliases grad_out or the saved arrays: callers may keep and change it."""
    x, g = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    layer = cls()
    y = layer.forward(x)
    dx = layer.backward(g)
    assert not any(np.shares_memory(dx, a) for a in (x, y, g))
    again = layer.backward(g)
    assert again is not dx
    np.testing.assert_array_equal(again, dx)


def test_bad_backend():
    with pytest.raises(ValueError, match="backend must be one of 'numba', 'numpy', got 'cuda'"):
        ReLU(backend="cuda")
