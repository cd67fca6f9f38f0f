"""Regularizers: the L1 and sparsity-KL penalties on the code, the contractive penalty
(closed form and deep), the encoder Jacobian, and the penalties on a code computed by layers."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from npae import regularizers
from npae.gradcheck import check_arrays, check_loss
from npae.layers import Dense, Identity, Sigmoid, Softplus, Tanh
from npae.network import dense_blocks, mlp
from npae.regularizers import (
    add_contractive_penalty,
    block_arrays,
    contractive_penalty_mlp,
    encoder_jacobian,
    jacobian_sq_norms,
)

SMOOTH = {"sigmoid": Sigmoid, "tanh": Tanh, "softplus": Softplus, "identity": Identity}
seeds = st.integers(0, 2**16)
widths = st.integers(1, 5)
smooth = st.sampled_from(sorted(SMOOTH))
batches = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6)


def _mlp_arrays(rng, sizes, names):
    # Scaled like an initialization: a saturated sigmoid's f' = s (1 - s) has few
    # correct digits, which central differences would magnify into noise.
    weights = [rng.normal(size=(a, b)) / np.sqrt(a) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [0.5 * rng.normal(size=b) for b in sizes[1:]]
    return weights, biases, [SMOOTH[name]() for name in names]


def _encode(x, weights, biases, activations):
    h = x
    for W, b, f in zip(weights, biases, activations):
        h = f.function(h @ W + b)
    return h


def _finite_difference_jacobian(encode, x, eps=1e-6):
    """J[n, j, i] = d encode(x)_nj / d x_ni by central differences."""
    columns = []
    for i in range(x.shape[1]):
        step = np.zeros(x.shape[1])
        step[i] = eps
        columns.append((encode(x + step) - encode(x - step)) / (2 * eps))
    return np.stack(columns, axis=-1)


# -- one dense layer: the closed form ------------------------------------------------

def _unsaturated(x, W, b, limit=4.0):
    """W and b scaled down, if need be, so that every pre-activation x W + b is within +-limit.

    Where tanh or sigmoid saturate, f' (and the penalty's gradient) is so small
    that central differences' round-off, ~1e-10, is no longer small against it:
    tanh at a pre-activation of 6.4 (n=1, d=3, k=1, seed 55) gave 3e-6.
    """
    scale = min(1.0, limit / np.abs(x @ W + b).max())
    return W * scale, b * scale


@given(n=widths, d=widths, k=widths, name=smooth, lam=st.floats(0.01, 10), seed=seeds)
def test_contractive_penalty_gradient(n, d, k, name, lam, seed):
    rng = np.random.default_rng(seed)
    x, W, b = rng.normal(size=(n, d)), rng.normal(size=(d, k)), rng.normal(size=k)
    W, b = _unsaturated(x, W, b)
    f = SMOOTH[name]()
    _, dx, dW, db = regularizers.contractive_penalty(x, W, b, f, lam)
    result = check_arrays(lambda: regularizers.contractive_penalty(x, W, b, f, lam)[0],
                          {"x": x, "W": W, "b": b}, {"x": dx, "W": dW, "b": db})
    assert result.max_error < 1e-6, result.table()


@given(n=widths, d=widths, k=widths, name=smooth, seed=seeds)
def test_contractive_penalty_is_the_mean_squared_jacobian_norm(n, d, k, name, seed):
    rng = np.random.default_rng(seed)
    x, W, b = rng.normal(size=(n, d)), rng.normal(size=(d, k)), rng.normal(size=k)
    f = SMOOTH[name]()
    J = _finite_difference_jacobian(lambda z: f.function(z @ W + b), x)
    value = regularizers.contractive_penalty(x, W, b, f, 0.5)[0]
    assert value == pytest.approx(0.5 * np.sum(J**2) / n, rel=1e-6, abs=1e-12)


def test_contractive_penalty_by_hand():
    # a = 0 everywhere, sigmoid'(0) = 1/4: ||J||^2 = (1/16) * sum_ij W_ij^2 per example
    W = np.array([[1.0, -2.0], [3.0, 0.5]])
    value, dx, dW, db = regularizers.contractive_penalty(np.zeros((3, 2)), W, np.zeros(2),
                                                         Sigmoid(), lam=2.0)
    assert value == pytest.approx(2.0 * (1 + 4 + 9 + 0.25) / 16)
    # sigmoid''(0) = 0, so only the path through the column norms remains
    np.testing.assert_allclose(dW, 2 * 2.0 / 3 * W * 3 / 16)
    assert not db.any() and not dx.any()


def test_contractive_penalty_keeps_float32():
    rng = np.random.default_rng(0)
    x, W, b = (rng.normal(size=s).astype(np.float32) for s in [(4, 3), (3, 2), (2,)])
    _, dx, dW, db = regularizers.contractive_penalty(x, W, b, Sigmoid(dtype="float32"), 0.1)
    assert dx.dtype == dW.dtype == db.dtype == np.float32


def test_contractive_penalty_rejects_negative_lam():
    with pytest.raises(ValueError, match="lam must be >= 0, got -1.0"):
        regularizers.contractive_penalty(np.ones((2, 2)), np.ones((2, 2)), np.ones(2), Sigmoid(),
                                         -1.0)


# -- deeper encoders --------------------------------------------------------------------

@given(n=widths, sizes=st.lists(widths, min_size=2, max_size=4), data=st.data(),
       lam=st.floats(0.01, 10), seed=seeds)
def test_contractive_penalty_mlp_gradient(n, sizes, data, lam, seed):
    rng = np.random.default_rng(seed)
    names = data.draw(st.lists(smooth, min_size=len(sizes) - 1, max_size=len(sizes) - 1))
    weights, biases, activations = _mlp_arrays(rng, sizes, names)
    x = rng.normal(size=(n, sizes[0]))
    _, dx, dweights, dbiases = contractive_penalty_mlp(x, weights, biases, activations, lam)
    arrays = {"x": x, **{f"W{i}": W for i, W in enumerate(weights)},
              **{f"b{i}": b for i, b in enumerate(biases)}}
    analytic = {"x": dx, **{f"W{i}": g for i, g in enumerate(dweights)},
                **{f"b{i}": g for i, g in enumerate(dbiases)}}
    result = check_arrays(
        lambda: contractive_penalty_mlp(x, weights, biases, activations, lam)[0],
        arrays, analytic)
    assert result.max_error < 1e-6, result.table()


@given(n=widths, sizes=st.lists(widths, min_size=2, max_size=4), data=st.data(), seed=seeds)
def test_encoder_jacobian_matches_finite_differences(n, sizes, data, seed):
    rng = np.random.default_rng(seed)
    names = data.draw(st.lists(smooth, min_size=len(sizes) - 1, max_size=len(sizes) - 1))
    arrays = _mlp_arrays(rng, sizes, names)
    x = rng.normal(size=(n, sizes[0]))
    J = encoder_jacobian(x, *arrays)
    assert J.shape == (n, sizes[-1], sizes[0])
    np.testing.assert_allclose(J, _finite_difference_jacobian(lambda z: _encode(z, *arrays), x),
                               atol=1e-7)
    value = contractive_penalty_mlp(x, *arrays, lam=0.3)[0]
    assert value == pytest.approx(0.3 * np.sum(J**2) / n, rel=1e-12)


@given(n=widths, d=widths, k=widths, name=smooth, seed=seeds)
def test_one_layer_mlp_penalty_equals_closed_form(n, d, k, name, seed):
    rng = np.random.default_rng(seed)
    (W,), (b,), (f,) = _mlp_arrays(rng, [d, k], [name])
    x = rng.normal(size=(n, d))
    closed = regularizers.contractive_penalty(x, W, b, f, 0.7)
    deep = contractive_penalty_mlp(x, [W], [b], [f], 0.7)
    assert deep[0] == pytest.approx(closed[0], rel=1e-12)
    for mine, theirs in [(deep[1], closed[1]), (deep[2][0], closed[2]), (deep[3][0], closed[3])]:
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-14)


def test_jacobian_sq_norms_in_chunks(rng):
    arrays = _mlp_arrays(rng, [5, 4, 3], ["tanh", "sigmoid"])
    x = rng.normal(size=(11, 5))
    expected = np.sum(encoder_jacobian(x, *arrays) ** 2, axis=(1, 2))
    np.testing.assert_allclose(jacobian_sq_norms(x, *arrays, chunk_size=4), expected, rtol=1e-12)


# -- from layers to the penalty -----------------------------------------------------------

def test_block_arrays_give_identity_where_no_activation_follows():
    encoder = mlp([6, 5, 4, 3], "tanh", None, rng=0)  # no layer after the last Dense
    weights, biases, activations = block_arrays(dense_blocks(encoder))
    assert [type(f).__name__ for f in activations] == ["Tanh", "Tanh", "Identity"]
    assert activations[0] is encoder[1]
    assert weights[1] is encoder[2].params["W"] and biases[2] is encoder[4].params["b"]


def test_add_contractive_penalty_adds_into_layer_grads(rng):
    encoder = mlp([5, 4, 3], "sigmoid", "sigmoid", rng=0)
    x = rng.normal(size=(6, 5))
    blocks = dense_blocks(encoder)
    encoder.zero_grad()
    encoder[0].grads["W"] += 1.0  # something already there: it must be kept
    value = add_contractive_penalty(x, blocks, 0.2)
    expected, _, dweights, dbiases = contractive_penalty_mlp(x, *block_arrays(blocks), 0.2)
    assert value == expected
    np.testing.assert_allclose(encoder[0].grads["W"], dweights[0] + 1.0)
    np.testing.assert_allclose(encoder[2].grads["b"], dbiases[1])


# -- sparsity penalties on a code made by layers -------------------------------------------

def _code_penalty_check(penalty, n, d, k, seed):
    """Gradient check of penalty(sigmoid(x W + b)) w.r.t. x, W, b through the layers."""
    rng = np.random.default_rng(seed)
    dense, sigmoid = Dense(d, k, rng=seed), Sigmoid()
    # Codes near 0.5, away from a small rho (dR/dh is not ~0), and no W_ij ~ 0 (dR/dx is not).
    signs = rng.choice([-1.0, 1.0], size=(d, k))
    dense.params["W"][...] = signs * rng.uniform(0.5, 1.5, size=(d, k)) / np.sqrt(d)
    dense.params["b"][...] = 0.5 * rng.normal(size=k)
    x = 0.5 * rng.normal(size=(n, d))

    def value():
        return penalty(sigmoid.forward(dense.forward(x)))[0]

    dense.zero_grad()
    _, dcode = penalty(sigmoid.forward(dense.forward(x)))
    dx = dense.backward(sigmoid.backward(dcode))
    return check_arrays(value, {"x": x, **dense.params}, {"x": dx, **dense.grads})


@given(n=widths, d=widths, k=widths, rho=st.floats(0.01, 0.1), beta=st.floats(0.01, 10),
       seed=seeds)
def test_sparsity_kl_through_a_sigmoid_code(n, d, k, rho, beta, seed):
    result = _code_penalty_check(lambda h: regularizers.sparsity_kl(h, rho, beta), n, d, k, seed)
    assert result.max_error < 1e-6, result.table()


@given(n=widths, d=widths, k=widths, lam=st.floats(0.01, 10), seed=seeds)
def test_l1_activity_through_a_sigmoid_code(n, d, k, lam, seed):
    # sigmoid codes are > 0, away from the kink of |h|
    result = _code_penalty_check(lambda h: regularizers.l1_activity(h, lam), n, d, k, seed)
    assert result.max_error < 1e-6, result.table()


# -- the penalties on the code: L1 activity and sparsity KL ---------------------------

@given(shape=batches, lam=st.floats(0.01, 10), seed=seeds)
def test_l1_activity_gradient(shape, lam, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=shape)
    a = np.where(a >= 0, a + 0.05, a - 0.05)  # away from the kink at 0
    result = check_loss(regularizers.l1_activity, a, lam)
    assert result.max_error < 1e-6, result.table()


@given(shape=batches, rho=st.floats(0.01, 0.5), beta=st.floats(0.1, 5), seed=seeds)
def test_sparsity_kl_gradient(shape, rho, beta, seed):
    a = np.random.default_rng(seed).uniform(0.05, 0.95, size=shape)
    result = check_loss(regularizers.sparsity_kl, a, rho, beta)
    assert result.max_error < 1e-6, result.table()


def test_l1_activity_by_hand():
    a = np.array([[1.0, -2.0], [0.0, 3.0]])
    value, grad = regularizers.l1_activity(a, lam=0.5)
    assert value == pytest.approx(0.5 * 6 / 2)
    np.testing.assert_allclose(grad, 0.5 * np.sign(a) / 2)


def test_sparsity_kl_by_hand():
    a = np.array([[0.1, 0.5], [0.3, 0.3]])  # rho_hat = (0.2, 0.4)
    rho, beta = 0.2, 3.0
    value, grad = regularizers.sparsity_kl(a, rho, beta)

    def kl(r):
        return rho * np.log(rho / r) + (1 - rho) * np.log((1 - rho) / (1 - r))

    assert value == pytest.approx(beta * (kl(0.2) + kl(0.4)))
    d = beta * (-rho / np.array([0.2, 0.4]) + (1 - rho) / (1 - np.array([0.2, 0.4]))) / 2
    np.testing.assert_allclose(grad, np.tile(d, (2, 1)))
    assert grad[0, 0] == pytest.approx(0)  # rho_hat = rho: no pull
    assert grad[0, 1] > 0  # rho_hat > rho: push activations down


def test_sparsity_kl_equals_bernoulli_kl():
    a = np.array([[0.3], [0.5]])
    value, _ = regularizers.sparsity_kl(a, rho=0.05, beta=1.0)
    assert value == pytest.approx(stats.entropy([0.05, 0.95], [0.4, 0.6]))


@pytest.mark.parametrize("penalty, args", [(regularizers.l1_activity, (0.1,)),
                                           (regularizers.sparsity_kl, (0.1, 2.0))])
def test_code_penalties_keep_float32(penalty, args, rng):
    a = rng.uniform(0.1, 0.9, size=(4, 3)).astype(np.float32)
    value, grad = penalty(a, *args)
    assert isinstance(value, float) and np.isfinite(value)
    assert grad.dtype == np.float32 and grad.shape == a.shape


@pytest.mark.parametrize("call, error, message", [
    (lambda a: regularizers.l1_activity(a, -1.0), ValueError, "lam must be >= 0, got -1.0"),
    (lambda a: regularizers.l1_activity(a.tolist(), 1.0), TypeError,
     "a as a numpy array, got list"),
    (lambda a: regularizers.sparsity_kl(a, 1.0, 1.0), ValueError, "rho must be < 1, got 1.0"),
    (lambda a: regularizers.sparsity_kl(a, 0.0, 1.0), ValueError, "rho must be > 0, got 0.0"),
    (lambda a: regularizers.sparsity_kl(a, 0.1, -2.0), ValueError, "beta must be >= 0, got -2.0"),
    (lambda a: regularizers.sparsity_kl(a[:0], 0.1, 1.0), ValueError, "non-empty batch"),
])
def test_code_penalties_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call(np.full((2, 2), 0.5))
