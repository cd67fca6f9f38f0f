"""Dense: forward by hand, gradient checks, dtypes, input errors, config, init."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from npae.gradcheck import check_layer
from npae.layers import Dense, init_for


def test_forward_equals_loops_by_hand():
    layer = Dense(3, 2, rng=0)
    W, b = layer.params["W"], layer.params["b"]
    b[...] = [0.5, -1.0]
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 4.0]])
    expected = np.zeros((2, 2))
    for n in range(2):
        for j in range(2):
            expected[n, j] = b[j] + sum(x[n, i] * W[i, j] for i in range(3))
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-14)


def test_backward_by_hand():
    layer = Dense(2, 2, rng=0)
    layer.params["W"][...] = [[1.0, 2.0], [3.0, 4.0]]
    x = np.array([[1.0, -1.0]])
    layer.forward(x)
    g = np.array([[1.0, 10.0]])
    dx = layer.backward(g)
    np.testing.assert_array_equal(dx, [[1 + 20, 3 + 40]])  # g W^T
    np.testing.assert_array_equal(layer.grads["W"], [[1, 10], [-1, -10]])  # x^T g
    np.testing.assert_array_equal(layer.grads["b"], [1, 10])


@given(n=st.integers(1, 5), fan_in=st.integers(1, 6), fan_out=st.integers(1, 6),
       seed=st.integers(0, 2**16))
def test_gradient_check(n, fan_in, fan_out, seed):
    rng = np.random.default_rng(seed)
    layer = Dense(fan_in, fan_out, rng=rng)
    layer.params["b"][...] = rng.normal(size=fan_out)
    result = check_layer(layer, rng.normal(size=(n, fan_in)), seed=seed)
    assert set(result) == {"x", "W", "b"}
    assert result.max_error < 1e-6, result.table()


def test_backward_accumulates_and_zero_grad_resets(rng):
    layer = Dense(4, 3, rng=0)
    x, g = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    layer.forward(x)
    layer.backward(g)
    once = {k: v.copy() for k, v in layer.grads.items()}
    layer.backward(g)
    for key in once:
        np.testing.assert_allclose(layer.grads[key], 2 * once[key])
    layer.zero_grad()
    assert all(not v.any() for v in layer.grads.values())


def test_float32_stays_float32(rng):
    layer = Dense(4, 3, dtype="float32", rng=0)
    assert all(p.dtype == np.float32 for p in layer.params.values())
    y = layer.forward(rng.normal(size=(5, 4)).astype(np.float32))
    assert y.dtype == np.float32
    dx = layer.backward(np.ones((5, 3), dtype=np.float32))
    assert dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())


def test_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="backward called before forward"):
        Dense(2, 2).backward(np.ones((1, 2)))


def test_inference_forward_keeps_no_cache():
    layer = Dense(2, 2)
    layer.forward(np.ones((1, 2)), training=False)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((1, 2)))


@pytest.mark.parametrize("x, error, message", [
    (np.ones((4, 5)), ValueError, r"expected input of shape \(N, 3\), got \(4, 5\)"),
    (np.ones((4, 3, 1)), ValueError, r"expected a 2-d input, got shape \(4, 3, 1\)"),
    (np.ones(3), ValueError, r"expected a 2-d input, got shape \(3,\)"),
    (np.ones((0, 3)), ValueError, r"expected a non-empty batch, got shape \(0, 3\)"),
    (np.ones((2, 3), dtype=np.int64), ValueError, "expected input of dtype float64, got int64"),
    (np.ones((2, 3), dtype=np.float32), ValueError, "expected input of dtype float64, got float32"),
    ([[1.0, 2.0, 3.0]], TypeError, "expected a numpy array, got list"),
    (np.array([[1.0, np.nan, 0.0]]), ValueError, "expected finite input, got .*NaN"),
    (np.array([[1.0, np.inf, 0.0]]), ValueError, "expected finite input, got .*inf"),
])
def test_bad_input_names_expected_and_received(x, error, message):
    with pytest.raises(error, match=message):
        Dense(3, 2).forward(x)


def test_bad_grad_out_names_expected_and_received():
    layer = Dense(3, 2)
    layer.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"grad_out of shape \(4, 2\), got \(4, 3\)"):
        layer.backward(np.ones((4, 3)))
    with pytest.raises(ValueError, match="grad_out of dtype float64, got float32"):
        layer.backward(np.ones((4, 2), dtype=np.float32))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"in_features": 0, "out_features": 2}, ValueError, "in_features must be >= 1, got 0"),
    ({"in_features": 2.5, "out_features": 2}, TypeError, "in_features must be an int"),
    ({"in_features": 2, "out_features": 2, "init": "ones"}, ValueError,
     "init must be one of .*got 'ones'"),
    ({"in_features": 2, "out_features": 2, "dtype": "float16"}, ValueError,
     "expected dtype float32 or float64, got float16"),
])
def test_bad_hyperparameters(kwargs, error, message):
    with pytest.raises(error, match=message):
        Dense(**kwargs)


@pytest.mark.parametrize("init", ["glorot_uniform", "he_normal", "zeros"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_get_config_round_trip(init, dtype):
    layer = Dense(5, 3, init=init, dtype=dtype, rng=0)
    config = layer.get_config()
    rebuilt = type(layer)(**config)
    assert rebuilt.get_config() == config
    assert {k: (v.shape, v.dtype) for k, v in rebuilt.params.items()} == \
        {k: (v.shape, v.dtype) for k, v in layer.params.items()}
    assert repr(rebuilt) == repr(layer)


def test_seeded_init_is_reproducible():
    a, b, c = Dense(6, 4, rng=3), Dense(6, 4, rng=3), Dense(6, 4, rng=4)
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    assert not np.array_equal(a.params["W"], c.params["W"])
    # a shared generator gives each layer its own draw
    gen = np.random.default_rng(0)
    assert not np.array_equal(Dense(6, 4, rng=gen).params["W"], Dense(6, 4, rng=gen).params["W"])


def test_bias_starts_at_zero():
    assert not Dense(6, 4, rng=0).params["b"].any()


def test_glorot_uniform_scale():
    fan_in, fan_out = 300, 200
    W = Dense(fan_in, fan_out, init="glorot_uniform", rng=0).params["W"].ravel()
    limit = np.sqrt(6 / (fan_in + fan_out))
    assert np.abs(W).max() <= limit
    assert np.abs(W).max() > 0.99 * limit
    # Var U(-a, a) = a^2 / 3 = 2 / (fan_in + fan_out)
    assert W.var() == pytest.approx(2 / (fan_in + fan_out), rel=0.03)
    assert stats.kstest(W, stats.uniform(-limit, 2 * limit).cdf).pvalue > 1e-3


def test_he_normal_scale():
    fan_in, fan_out = 300, 200
    W = Dense(fan_in, fan_out, init="he_normal", rng=0).params["W"].ravel()
    std = np.sqrt(2 / fan_in)
    assert W.mean() == pytest.approx(0, abs=4 * std / np.sqrt(W.size))
    assert W.std() == pytest.approx(std, rel=0.02)
    assert stats.kstest(W, stats.norm(0, std).cdf).pvalue > 1e-3


@pytest.mark.parametrize("activation, expected", [
    ("relu", "he_normal"), ("leaky_relu", "he_normal"), ("ReLU", "he_normal"),
    ("tanh", "glorot_uniform"), ("sigmoid", "glorot_uniform"), ("identity", "glorot_uniform"),
    (None, "glorot_uniform"),
])
def test_init_for(activation, expected):
    assert init_for(activation) == expected


def test_output_shape():
    assert Dense(7, 3).output_shape((7,)) == (3,)


def test_backward_without_input_grad(rng):
    """input_grad=False returns None and leaves exactly the same parameter gradients."""
    full, lean = Dense(4, 3, rng=0), Dense(4, 3, rng=0)
    x, g = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    full.forward(x)
    lean.forward(x)
    assert full.backward(g) is not None
    assert lean.backward(g, input_grad=False) is None
    for key in full.grads:
        np.testing.assert_array_equal(lean.grads[key], full.grads[key])


def test_scratch_buffers_serve_any_batch_size(rng):
    """Gradients land through fixed scratch arrays: batches of any size, still accumulated."""
    layer = Dense(3, 2, rng=0)
    expected = {"W": np.zeros((3, 2)), "b": np.zeros(2)}
    for n in (4, 1, 7):
        x, g = rng.normal(size=(n, 3)), rng.normal(size=(n, 2))
        layer.forward(x)
        dx = layer.backward(g)
        expected["W"] += x.T @ g
        expected["b"] += g.sum(axis=0)
        np.testing.assert_allclose(dx, g @ layer.params["W"].T, rtol=1e-14)
    for key in expected:
        np.testing.assert_allclose(layer.grads[key], expected[key], rtol=1e-14)
    assert not any(np.shares_memory(dx, a) for a in layer.grads.values())
