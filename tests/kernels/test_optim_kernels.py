"""The fused optimizer loops of ``npae.kernels.optim`` against the NumPy updates."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae.optim import OPTIM_KERNELS, SGD, Adam

# Each kernel and its twin, by the name the table pairs them under.
kernels, twins = OPTIM_KERNELS("numba"), OPTIM_KERNELS.numpy

TOLERANCE = {np.float64: 1e-13, np.float32: 2e-6}
SGD_CASES = [
    {"lr": 0.1},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"lr": 0.05, "momentum": 0.5, "nesterov": True, "weight_decay": 0.1},
]
ADAM_CASES = [
    {"lr": 0.01},
    {"lr": 0.1, "beta1": 0.5, "beta2": 0.9, "eps": 1e-6},
    {"lr": 0.01, "weight_decay": 0.1},
]


NOISE = [np.random.default_rng(i).normal(size=12) for i in range(3)]


def run(cls, backend, params, steps, **kwargs):
    """``steps`` updates with a gradient that depends on the parameters; returns the optimizer."""
    params = [p.copy() for p in params]
    grads = [np.zeros_like(p) for p in params]
    opt = cls(params, grads, backend=backend, **kwargs)
    for t in range(steps):
        for p, g, noise in zip(params, grads, NOISE):
            g[...] = np.sin(p) + (t + 1) * noise[: p.size].reshape(p.shape)
        opt.step()
    return opt


def problem(dtype, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype(dtype) for s in [(4, 3), (3,), (2, 2, 2)]]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs", ADAM_CASES)
@given(seed=st.integers(0, 2**16), steps=st.integers(1, 6))
def test_adam_numba_equals_numpy(dtype, kwargs, seed, steps):
    params = problem(dtype, seed)
    fast = run(Adam, "numba", params, steps, **kwargs)
    twin = run(Adam, "numpy", params, steps, **kwargs)
    for a, b in zip(fast.params + fast.m + fast.v, twin.params + twin.m + twin.v):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs", SGD_CASES)
@given(seed=st.integers(0, 2**16), steps=st.integers(1, 6))
def test_sgd_numba_equals_numpy(dtype, kwargs, seed, steps):
    params = problem(dtype, seed)
    fast = run(SGD, "numba", params, steps, **kwargs)
    twin = run(SGD, "numpy", params, steps, **kwargs)
    for a, b in zip(fast.params + fast.velocity, twin.params + twin.velocity):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.parametrize("ops", [kernels, twins], ids=["numba", "numpy"])
def test_adam_kernel_by_hand(ops):
    """First step from zero moments: m = (1 - b1) g, v = (1 - b2) g^2, p moves by about lr."""
    p, g = np.array([1.0, -2.0]), np.array([0.5, -4.0])
    m, v = np.zeros(2), np.zeros(2)
    b1, b2, lr = 0.9, 0.999, 0.1
    ops.adam_update(p, g, m, v, b1, b2, lr * np.sqrt(1 - b2) / (1 - b1),
                    1e-8 * np.sqrt(1 - b2), 0.0)
    np.testing.assert_allclose(m, 0.1 * g, rtol=1e-15)
    np.testing.assert_allclose(v, 0.001 * g * g, rtol=1e-15)
    np.testing.assert_allclose(p, [0.9, -1.9], rtol=1e-7)


@pytest.mark.parametrize("ops", [kernels, twins], ids=["numba", "numpy"])
def test_sgd_kernel_by_hand(ops):
    p, g, velocity = np.array([1.0, 2.0]), np.array([1.0, -1.0]), np.array([0.5, 0.5])
    ops.sgd_update(p, g, velocity, 0.1, 0.9, 0.0, False)
    np.testing.assert_allclose(velocity, [1.45, -0.55])
    np.testing.assert_allclose(p, [1 - 0.145, 2 + 0.055])
    ops.sgd_update(p, g, velocity, 0.1, 0.0, 1.0, False)  # plain step with weight decay
    np.testing.assert_allclose(p, [0.855 - 0.1 * 1.855, 2.055 - 0.1 * 1.055])


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_non_contiguous_parameter_takes_the_numpy_path(cls):
    """A strided parameter cannot be flattened without a copy: it is still updated in place."""
    base = np.ones((4, 6))
    strided = base[:, ::2]
    grads = [np.full(strided.shape, 0.5), np.full(3, 0.5)]
    params = [strided, np.ones(3)]
    opt = cls(params, grads, lr=0.1)
    assert opt._flat[0] is None and opt._flat[1] is not None
    opt.step()
    assert (base[:, ::2] < 1).all() and (base[:, 1::2] == 1).all()
    np.testing.assert_allclose(params[0], params[1][0])


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_bad_backend(cls):
    with pytest.raises(ValueError, match="backend must be one of 'numba', 'numpy', got 'gpu'"):
        cls([np.zeros(2)], [np.zeros(2)], backend="gpu")
