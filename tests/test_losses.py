"""Losses and likelihoods: values by hand, gradient checks, stability, dtypes, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import integrate, stats
from scipy.special import expit

from npae import losses
from npae.gradcheck import check_loss

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)
batches = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6)
seeds = st.integers(0, 2**16)


# -- gradient checks (float64, central differences) ----------------------------

@given(shape=shapes, seed=seeds)
def test_mse_gradient(shape, seed):
    rng = np.random.default_rng(seed)
    result = check_loss(losses.mean_squared_error, rng.normal(size=shape), rng.normal(size=shape))
    assert result.max_error < 1e-6, result.table()


@given(shape=shapes, seed=seeds)
def test_bce_gradient(shape, seed):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, size=shape)
    t = rng.uniform(0, 1, size=shape)
    result = check_loss(losses.binary_cross_entropy, p, t)
    assert result.max_error < 1e-6, result.table()


@given(shape=shapes, seed=seeds)
def test_bce_with_logits_gradient(shape, seed):
    rng = np.random.default_rng(seed)
    z = 4 * rng.normal(size=shape)
    t = rng.uniform(0, 1, size=shape)
    result = check_loss(losses.binary_cross_entropy_with_logits, z, t)
    assert result.max_error < 1e-6, result.table()


@given(n=st.integers(1, 5), classes=st.integers(1, 6), spatial=st.sampled_from([(), (2,), (2, 3)]),
       seed=seeds)
def test_softmax_cross_entropy_gradient(n, classes, spatial, seed):
    rng = np.random.default_rng(seed)
    z = 3 * rng.normal(size=(n, classes, *spatial))
    labels = rng.integers(0, classes, size=(n, *spatial))
    result = check_loss(losses.softmax_cross_entropy, z, labels)
    assert result.max_error < 1e-6, result.table()


@given(shape=batches, seed=seeds)
def test_gaussian_kl_gradient(shape, seed):
    rng = np.random.default_rng(seed)
    result = check_loss(losses.gaussian_kl, rng.normal(size=shape), rng.normal(size=shape))
    assert set(result) == {"mu", "logvar"}
    assert result.max_error < 1e-6, result.table()


examples = hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=4)  # rows or images


@given(shape=examples, seed=seeds)
def test_bernoulli_nll_gradient(shape, seed):
    rng = np.random.default_rng(seed)
    logits, x = 3 * rng.standard_normal(shape), rng.random(shape)
    result = check_loss(losses.bernoulli_nll, logits, x)
    assert result.max_error < 1e-6, result.table()


@given(shape=examples, seed=seeds, sigma=st.floats(0.1, 3.0))
def test_gaussian_nll_gradient(shape, seed, sigma):
    rng = np.random.default_rng(seed)
    mean, x = rng.standard_normal(shape), rng.standard_normal(shape)
    result = check_loss(losses.gaussian_nll, mean, x, sigma)
    assert result.max_error < 1e-6, result.table()


# -- values against hand computation -------------------------------------------

def test_mse_by_hand():
    y, t = np.array([[1.0, 2.0], [3.0, 5.0]]), np.array([[0.0, 2.0], [1.0, 1.0]])
    value, grad = losses.mean_squared_error(y, t)
    assert value == pytest.approx((1 + 0 + 4 + 16) / 4)
    np.testing.assert_allclose(grad, 2 * (y - t) / 4)


def test_bce_by_hand():
    p, t = np.array([[0.9, 0.2]]), np.array([[1.0, 0.0]])
    value, grad = losses.binary_cross_entropy(p, t)
    assert value == pytest.approx(-(np.log(0.9) + np.log(0.8)) / 2)
    np.testing.assert_allclose(grad, [[-1 / 0.9 / 2, 1 / 0.8 / 2]])


def test_bce_clips_and_has_zero_gradient_where_clipped():
    p, t = np.array([[0.0, 1.0, 0.5]]), np.array([[1.0, 0.0, 1.0]])
    value, grad = losses.binary_cross_entropy(p, t)
    assert np.isfinite(value)
    assert value == pytest.approx(-(2 * np.log(1e-7) + np.log(0.5)) / 3, rel=1e-6)
    np.testing.assert_array_equal(grad[0, :2], [0, 0])
    assert grad[0, 2] == pytest.approx(-1 / 0.5 / 3)


@given(shape=shapes, seed=seeds)
def test_bce_with_logits_equals_bce_of_sigmoid(shape, seed):
    rng = np.random.default_rng(seed)
    z = rng.uniform(-8, 8, size=shape)
    t = rng.uniform(0, 1, size=shape)
    value, grad = losses.binary_cross_entropy_with_logits(z, t)
    p = expit(z)
    value_p, grad_p = losses.binary_cross_entropy(p, t)
    assert value == pytest.approx(value_p, rel=1e-9)
    # chain rule through the sigmoid: dL/dz = dL/dp * p (1 - p)
    np.testing.assert_allclose(grad, grad_p * p * (1 - p), rtol=1e-7, atol=1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bce_with_logits_is_finite_for_huge_logits(dtype):
    z = np.array([1000.0, -1000.0, 1000.0, -1000.0], dtype=dtype)
    t = np.array([0.0, 1.0, 1.0, 0.0], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value, grad = losses.binary_cross_entropy_with_logits(z, t)
    assert value == pytest.approx((1000 + 1000 + 0 + 0) / 4)
    np.testing.assert_allclose(grad, [0.25, -0.25, 0, 0], atol=1e-7)


def test_softmax_cross_entropy_by_hand():
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    labels = np.array([2, 0])
    value, grad = losses.softmax_cross_entropy(z, labels)
    p0 = np.exp(z[0]) / np.exp(z[0]).sum()
    assert value == pytest.approx((-np.log(p0[2]) - np.log(1 / 3)) / 2)
    np.testing.assert_allclose(grad[0], (p0 - [0, 0, 1]) / 2)
    np.testing.assert_allclose(grad[1], (np.full(3, 1 / 3) - [1, 0, 0]) / 2)


def test_softmax_cross_entropy_images_average_over_pixels(rng):
    """(N, C, H, W) logits and (N, H, W) labels equal the flattened (N H W, C) problem."""
    z = rng.normal(size=(2, 4, 3, 5))
    labels = rng.integers(0, 4, size=(2, 3, 5))
    value, grad = losses.softmax_cross_entropy(z, labels)
    flat_z = np.moveaxis(z, 1, -1).reshape(-1, 4)
    flat_value, flat_grad = losses.softmax_cross_entropy(flat_z, labels.reshape(-1))
    assert value == pytest.approx(flat_value, rel=1e-12)
    np.testing.assert_allclose(np.moveaxis(grad, 1, -1).reshape(-1, 4), flat_grad, rtol=1e-12)
    value_last, _ = losses.softmax_cross_entropy(np.moveaxis(z, 1, -1), labels, axis=-1)
    assert value_last == pytest.approx(value, rel=1e-12)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    z = np.array([[1000.0, 0.0], [-1000.0, 0.0]])
    with np.errstate(over="raise", invalid="raise"):
        value, grad = losses.softmax_cross_entropy(z, np.array([1, 1]))
    assert value == pytest.approx(1000 / 2)
    assert np.isfinite(grad).all()


def test_gaussian_kl_by_hand_and_by_integration():
    mu, logvar = np.array([[1.0], [0.0]]), np.array([[1.0], [0.0]])
    value, dmu, dlogvar = losses.gaussian_kl(mu, logvar)
    assert value == pytest.approx(0.5 * (np.e + 1 - 1 - 1) / 2)
    np.testing.assert_allclose(dmu, mu / 2)
    np.testing.assert_allclose(dlogvar, 0.5 * (np.exp(logvar) - 1) / 2)
    # KL(N(1, e) || N(0, 1)) by numerical integration of p log(p / q)
    p, q = stats.norm(1.0, np.sqrt(np.e)), stats.norm(0.0, 1.0)
    kl, _ = integrate.quad(lambda x: p.pdf(x) * (p.logpdf(x) - q.logpdf(x)), -30, 30)
    assert 2 * value == pytest.approx(kl, rel=1e-8)


def test_gaussian_kl_is_zero_at_the_prior():
    value, dmu, dlogvar = losses.gaussian_kl(np.zeros((3, 2)), np.zeros((3, 2)))
    assert value == 0 and not dmu.any() and not dlogvar.any()


@given(n=st.integers(1, 5), d=st.integers(1, 6), seed=seeds)
def test_bernoulli_likelihood_is_minus_the_summed_cross_entropy(n, d, seed):
    rng = np.random.default_rng(seed)
    logits, x = 3 * rng.standard_normal((n, d)), rng.random((n, d))
    p = expit(logits)
    expected = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)
    log_p = losses.bernoulli_log_likelihood(logits, x)
    assert log_p.shape == (n,)
    np.testing.assert_allclose(log_p, expected, rtol=1e-10)
    assert losses.bernoulli_nll(logits, x)[0] == pytest.approx(-np.mean(expected), rel=1e-10)


@given(n=st.integers(1, 5), d=st.integers(1, 6), seed=seeds, sigma=st.floats(0.1, 3.0))
def test_gaussian_likelihood_is_the_normal_density(n, d, seed, sigma):
    rng = np.random.default_rng(seed)
    mean, x = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    expected = stats.multivariate_normal(np.zeros(d), sigma**2 * np.eye(d)).logpdf(x - mean)
    log_p = losses.gaussian_log_likelihood(mean, x, sigma)
    np.testing.assert_allclose(log_p, np.reshape(expected, (n,)), rtol=1e-10)
    assert losses.gaussian_nll(mean, x, sigma)[0] == pytest.approx(-np.mean(expected), rel=1e-10)


def test_likelihoods_of_images_sum_over_channels_and_pixels(rng):
    logits, x = rng.standard_normal((3, 2, 4, 5)), rng.random((3, 2, 4, 5))
    flat = losses.bernoulli_log_likelihood(logits.reshape(3, -1), x.reshape(3, -1))
    np.testing.assert_allclose(losses.bernoulli_log_likelihood(logits, x), flat, rtol=1e-14)
    flat = losses.gaussian_log_likelihood(logits.reshape(3, -1), x.reshape(3, -1), 0.5)
    np.testing.assert_allclose(losses.gaussian_log_likelihood(logits, x, 0.5), flat, rtol=1e-14)


def test_bernoulli_nll_is_finite_for_huge_logits():
    logits, x = np.array([[1000.0, -1000.0]]), np.array([[0.0, 1.0]])
    value, grad = losses.bernoulli_nll(logits, x)
    assert value == pytest.approx(2000.0)
    np.testing.assert_allclose(grad, [[1.0, -1.0]])


@given(shape=batches, seed=seeds)
def test_gaussian_kl_per_example_rows_average_to_gaussian_kl(shape, seed):
    rng = np.random.default_rng(seed)
    mu, logvar = rng.normal(size=shape), rng.normal(size=shape)
    rows = losses.gaussian_kl_per_example(mu, logvar)
    assert rows.shape == (shape[0],) and np.all(rows >= 0)
    np.testing.assert_allclose(rows, 0.5 * np.sum(np.exp(logvar) + mu**2 - 1 - logvar, axis=1),
                               rtol=1e-12)
    assert losses.gaussian_kl(mu, logvar)[0] == pytest.approx(np.mean(rows), rel=1e-12)


# -- dtypes -----------------------------------------------------------------------

def _float32_cases(rng):
    x = rng.uniform(0.1, 0.9, size=(4, 3)).astype(np.float32)
    t = rng.uniform(0, 1, size=(4, 3)).astype(np.float32)
    return [
        (losses.mean_squared_error, (x, t)),
        (losses.mean_squared_error, (x, t.astype(np.float64))),  # float64 target
        (losses.binary_cross_entropy, (x, t)),
        (losses.binary_cross_entropy_with_logits, (x, t)),
        (losses.softmax_cross_entropy, (x, np.array([0, 2, 1, 1]))),
        (losses.gaussian_kl, (x, t)),
        (losses.bernoulli_nll, (x, t)),
        (losses.gaussian_nll, (x, t, 0.5)),
    ]


@pytest.mark.parametrize("case", range(8))
def test_float32_gradients_stay_float32(case, rng):
    fn, args = _float32_cases(rng)[case]
    value, *grads = fn(*args)
    assert isinstance(value, float) and np.isfinite(value)
    assert grads and all(g.dtype == np.float32 for g in grads), fn.__name__
    assert all(g.shape == args[0].shape for g in grads)


# -- bad input ----------------------------------------------------------------------

PAIR_LOSSES = [losses.mean_squared_error, losses.binary_cross_entropy,
               losses.binary_cross_entropy_with_logits, losses.bernoulli_nll,
               lambda y_pred, y_true: losses.gaussian_nll(y_pred, y_true, 1.0)]


@pytest.mark.parametrize("fn", PAIR_LOSSES)
@pytest.mark.parametrize("y_pred, y_true, error, message", [
    (np.ones((2, 3)), np.ones((3, 2)), ValueError,
     r"expected y_true of shape \(2, 3\) \(as y_pred\), got \(3, 2\)"),
    ([[0.5, 0.5]], np.ones((1, 2)), TypeError, "expected y_pred as a numpy array, got list"),
    (np.ones((1, 2)) / 2, [[0.5, 0.5]], TypeError, "expected y_true as a numpy array, got list"),
    (np.ones((2, 3), dtype=np.int64), np.ones((2, 3)), TypeError,
     "expected y_pred of dtype float32 or float64, got int64"),
    (np.ones((0, 3)), np.ones((0, 3)), ValueError, r"non-empty batch .*got shape \(0, 3\)"),
])
def test_pair_loss_bad_input(fn, y_pred, y_true, error, message):
    with pytest.raises(error, match=message):
        fn(y_pred, y_true)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("fn", PAIR_LOSSES)
def test_nan_propagates_so_training_can_report_divergence(fn):
    value, _ = fn(np.array([[0.5, np.nan]]), np.array([[1.0, 0.0]]))
    assert np.isnan(value)


@pytest.mark.parametrize("labels, error, message", [
    (np.array([0, 3]), ValueError, r"expected labels in \[0, 3\), got values from 0 to 3"),
    (np.array([-1, 0]), ValueError, r"expected labels in \[0, 3\), got values from -1 to 0"),
    (np.array([0.0, 1.0]), TypeError, "expected integer class labels, got dtype float64"),
    (np.array([0, 1, 2]), ValueError, r"expected labels of shape \(2,\), got \(3,\)"),
])
def test_softmax_cross_entropy_bad_labels(labels, error, message):
    with pytest.raises(error, match=message):
        losses.softmax_cross_entropy(np.zeros((2, 3)), labels)


@pytest.mark.parametrize("call, error, message", [
    (lambda a: losses.gaussian_kl(a, a[:, :1]), ValueError,
     r"expected logvar of shape \(2, 2\) \(as mu\), got \(2, 1\)"),
    (lambda a: losses.gaussian_kl(a.astype(int), a.astype(int)), TypeError,
     "expected mu of dtype float32 or float64, got int64"),
    (lambda a: losses.gaussian_kl_per_example(a, a[:, :1]), ValueError,
     r"gaussian_kl_per_example expected logvar of shape \(2, 2\) \(as mu\), got \(2, 1\)"),
    (lambda a: losses.gaussian_nll(a, a, 0.0), ValueError, "sigma must be > 0, got 0.0"),
    (lambda a: losses.gaussian_log_likelihood(a, a[:1], 1.0), ValueError,
     r"gaussian_log_likelihood expected y_true of shape \(2, 2\)"),
])
def test_loss_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call(np.full((2, 2), 0.5))


def test_get_loss():
    assert losses.get_loss("mse") is losses.mean_squared_error
    assert losses.get_loss("bce") is losses.binary_cross_entropy
    assert losses.get_loss(losses.binary_cross_entropy_with_logits) is \
        losses.binary_cross_entropy_with_logits
    with pytest.raises(ValueError, match=r"loss must be one of \['bce', 'mse'\], got 'mae'"):
        losses.get_loss("mae")
