"""Tests of npae.models.vae: the ELBO pieces, their gradients, the bounds, the estimator."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import multivariate_normal, norm
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

import npae
from npae import VAE
from npae.datasets import load_digits, train_test_split
from npae.gradcheck import check_arrays, check_model
from npae.losses import bernoulli_nll, gaussian_kl, gaussian_kl_per_example
from npae.models.vae import (
    _reparameterize,
    _reparameterize_backward,
    _standard_normal_log_density,
)
from npae.plot import plot_interpolation, plot_latent_manifold, plot_samples


def _digits_split(return_images=False):
    """Digits in [0, 1], 80/20 split with a fixed seed."""
    X, _, _ = load_digits(return_images=return_images)
    return train_test_split(X, test_size=0.2, random_state=0)


# -- the KL term ------------------------------------------------------------------------

def test_kl_is_zero_at_the_prior():
    mu, logvar = np.zeros((3, 4)), np.zeros((3, 4))
    assert np.array_equal(gaussian_kl_per_example(mu, logvar), np.zeros(3))
    value, dmu, dlogvar = gaussian_kl(mu, logvar)
    assert value == 0.0
    assert not dmu.any() and not dlogvar.any()


def test_kl_matches_monte_carlo(rng):
    mu = np.array([[0.7, -1.2, 0.1]])
    logvar = np.array([[0.5, -1.0, 0.2]])
    n = 200_000
    eps = rng.standard_normal((n, 3))
    z = _reparameterize(mu, logvar, eps)
    # log q(z|x) - log p(z), with log q(z|x) = log N(eps; 0, I) - sum(logvar) / 2
    log_ratio = (_standard_normal_log_density(eps) - 0.5 * logvar.sum()
                 - _standard_normal_log_density(z))
    standard_error = log_ratio.std() / np.sqrt(n)
    exact = gaussian_kl_per_example(mu, logvar)[0]
    assert exact > 0.5
    assert abs(log_ratio.mean() - exact) < 5 * standard_error
    assert gaussian_kl(mu, logvar)[0] == pytest.approx(exact, rel=1e-12)


# -- sampling -----------------------------------------------------------------------------

def _untrained(X, **params):
    """A VAE built for X (weights at initialization, no training)."""
    return VAE(**{"epochs": 0, "random_state": 0, **params}).fit(X)


def test_sampled_z_has_the_posterior_mean_and_variance(rng):
    vae = _untrained(rng.random((5, 6)), hidden_sizes=(4,), latent_dim=2)
    vae.encoder_[-1].params["b"][2:] = [1.0, -1.5]  # logvar far from 0
    X = np.tile(rng.random((1, 6)), (20_000, 1))
    mu, logvar = vae.transform_distribution(X[:1])
    seen = []
    forward = vae.decoder_.forward
    vae.decoder_.forward = lambda z, training=True: seen.append(z.copy()) or forward(z, training)
    vae.network_.zero_grad()
    vae._step(X, X)
    z = seen[0]
    var = np.exp(logvar[0])
    np.testing.assert_allclose(z.var(axis=0), var, rtol=0.05)
    assert np.all(np.abs(z.mean(axis=0) - mu[0]) < 5 * np.sqrt(var / len(z)))


# -- gradients of the objective ----------------------------------------------------------

shapes = dict(n=st.integers(1, 5), d=st.integers(1, 6), seed=st.integers(0, 2**16))


@given(**shapes, latent=st.integers(1, 4), beta=st.floats(0.0, 4.0))
def test_gradient_through_the_sampling_step(n, d, seed, latent, beta):
    """A fixed decoder z -> z M: the loss in (mu, logvar) with eps held fixed."""
    g = np.random.default_rng(seed)
    mu, logvar = g.standard_normal((n, latent)), g.standard_normal((n, latent))
    eps, M, x = g.standard_normal((n, latent)), g.standard_normal((latent, d)), g.random((n, d))

    def loss():
        z = _reparameterize(mu, logvar, eps)
        return bernoulli_nll(z @ M, x)[0] + beta * gaussian_kl(mu, logvar)[0]

    _, grad_output = bernoulli_nll(_reparameterize(mu, logvar, eps) @ M, x)
    dmu, dlogvar = _reparameterize_backward(grad_output @ M.T, logvar, eps)
    _, dmu_kl, dlogvar_kl = gaussian_kl(mu, logvar)
    analytic = {"mu": dmu + beta * dmu_kl, "logvar": dlogvar + beta * dlogvar_kl}
    result = check_arrays(loss, {"mu": mu, "logvar": logvar}, analytic)
    assert result.max_error < 1e-6, result.table()


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("beta", [1.0, 0.3])
def test_full_negative_elbo_gradient(likelihood, beta, rng):
    vae = VAE(hidden_sizes=(5, 4), latent_dim=3, likelihood=likelihood, beta=beta, sigma=0.7,
              activation="tanh")
    result = check_model(vae, rng.random((7, 6)), seed=3)
    assert result.max_error < 1e-6, result.table()


def test_loss_is_reconstruction_plus_beta_kl(rng):
    X = rng.random((9, 6))
    losses = {}
    for beta in (0.0, 2.5):
        vae = _untrained(X, hidden_sizes=(5,), latent_dim=3, beta=beta)
        vae._rng = np.random.default_rng(1)
        losses[beta] = vae._step(X, X)
    mu, logvar = vae.transform_distribution(X)
    assert losses[2.5] - losses[0.0] == pytest.approx(2.5 * gaussian_kl(mu, logvar)[0], rel=1e-9)


# -- the bounds on a model whose log p(x) is known ---------------------------------------

def _linear_gaussian_vae(rng, n=20, n_features=5, latent_dim=2, sigma=0.5):
    """x = z W + b + sigma * noise with an encoder set to the exact posterior.

    W has orthogonal rows, so the posterior covariance (I + W W^T / s^2)^-1 is
    diagonal, v_j = 1 / (1 + |w_j|^2 / s^2), and its mean (x - b) W^T diag(v) / s^2
    is linear in x: a VAE with no hidden layers represents it exactly.
    """
    Q, _ = np.linalg.qr(rng.standard_normal((n_features, latent_dim)))
    W = np.diag(np.linspace(1.5, 0.8, latent_dim)) @ Q.T
    b = rng.standard_normal(n_features)
    X = rng.standard_normal((n, latent_dim)) @ W + b + sigma * rng.standard_normal((n, n_features))
    vae = _untrained(X, hidden_sizes=(), latent_dim=latent_dim, likelihood="gaussian",
                     sigma=sigma)
    v = 1 / (1 + np.sum(W * W, axis=1) / sigma**2)
    A = W.T * v / sigma**2
    vae.encoder_[0].params["W"][...] = np.hstack([A, np.zeros((n_features, latent_dim))])
    vae.encoder_[0].params["b"][...] = np.concatenate([-b @ A, np.log(v)])
    vae.decoder_[0].params["W"][...] = W
    vae.decoder_[0].params["b"][...] = b
    cov = W.T @ W + sigma**2 * np.eye(n_features)
    return vae, X, multivariate_normal(b, cov).logpdf(X)


def test_bounds_are_exact_with_the_exact_posterior(rng):
    vae, X, log_px = _linear_gaussian_vae(rng)
    for k in (1, 7, 50):
        np.testing.assert_allclose(vae.log_likelihood(X, n_samples=k), log_px, atol=1e-10)
    elbo = vae.elbo(X, n_samples=2000, random_state=0)
    assert abs(np.mean(elbo - log_px)) < 0.05


def test_importance_weighted_bound_rises_to_log_likelihood(rng):
    vae, X, log_px = _linear_gaussian_vae(rng)
    vae.encoder_[0].params["b"] += 0.5  # a wrong posterior: shifted mean, wider variance
    gaps = [np.mean([np.mean(log_px - vae.log_likelihood(X, k, random_state=seed))
                     for seed in range(8)]) for k in (1, 10, 100, 1000)]
    assert gaps[0] > 0.3
    assert gaps[0] > gaps[1] > gaps[2] > gaps[3] > -0.01
    assert gaps[3] < 0.05 * gaps[0]
    elbo_gap = np.mean(log_px - vae.elbo(X, n_samples=200, random_state=0))
    assert elbo_gap == pytest.approx(gaps[0], rel=0.3)


# -- the estimator --------------------------------------------------------------------

def test_fit_is_reproducible(rng):
    X = rng.random((40, 8))
    params = dict(hidden_sizes=(6,), latent_dim=2, epochs=3, batch_size=16)
    a, b, c = (VAE(**params, random_state=s).fit(X) for s in (5, 5, 6))
    assert a.history_["loss"] == b.history_["loss"] != c.history_["loss"]
    for (_, pa, _), (_, pb, _) in zip(a.network_.named_parameters(), b.network_.named_parameters()):
        assert np.array_equal(pa, pb)
    assert np.array_equal(a.sample(4), b.sample(4))
    assert np.array_equal(a.log_likelihood(X, 5), b.log_likelihood(X, 5))
    assert np.array_equal(a.sample(3, random_state=1), a.sample(3, random_state=1))
    assert not np.array_equal(a.sample(3), a.sample(3))  # the model's stream moves on


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sample_shape_and_dtype(dtype, rng):
    vae = VAE(hidden_sizes=(6,), latent_dim=3, epochs=1, dtype=dtype, random_state=0)
    vae.fit(rng.random((20, 8)))
    samples = vae.sample(11, random_state=0)
    assert samples.shape == (11, 8) and samples.dtype == np.dtype(dtype)
    assert np.all((samples > 0) & (samples < 1))  # Bernoulli means
    assert vae.transform(rng.random((4, 8))).shape == (4, 3)
    assert vae.elbo(rng.random((4, 8))).dtype == np.float64


def test_transform_is_the_posterior_mean_and_decoding_gives_means(rng):
    X = rng.random((10, 6))
    vae = _untrained(X, hidden_sizes=(5,), latent_dim=2)
    h = vae.encoder_.forward(X, training=False)
    assert np.array_equal(vae.transform(X), h[:, :2])
    assert np.array_equal(vae.transform_distribution(X)[1], h[:, 2:])
    logits = vae.decoder_.forward(h[:, :2], training=False)
    np.testing.assert_allclose(vae.reconstruct(X), 1 / (1 + np.exp(-logits)), rtol=1e-12)
    assert vae.score(X) == pytest.approx(-np.mean((vae.reconstruct(X) - X) ** 2))
    gaussian = _untrained(X, hidden_sizes=(5,), latent_dim=2, likelihood="gaussian")
    Z = rng.standard_normal((3, 2))
    assert np.array_equal(gaussian.inverse_transform(Z), gaussian.decoder_.forward(Z))
    with pytest.raises(ValueError, match="2 features"):
        vae.inverse_transform(rng.standard_normal((3, 4)))


@pytest.mark.parametrize("params, error, words", [
    ({"latent_dim": 0}, ValueError, "latent_dim must be >= 1, got 0"),
    ({"latent_dim": 2.5}, TypeError, "latent_dim must be an int, got 2.5"),
    ({"beta": -1.0}, ValueError, "beta must be >= 0, got -1.0"),
    ({"beta": "big"}, TypeError, "beta must be a number, got 'big'"),
    ({"likelihood": "poisson"}, ValueError, "likelihood must be one of 'bernoulli', 'gaussian'"),
    ({"sigma": 0.0}, ValueError, "sigma must be > 0, got 0.0"),
    ({"activation": "swish"}, ValueError, "activation must be one of"),
    ({"hidden_sizes": (8, 0)}, ValueError, "hidden_sizes must be >= 1, got 0"),
    ({"learning_rate": 0}, ValueError, "learning_rate must be > 0"),
    ({"architecture": "resnet"}, ValueError, "architecture must be one of 'mlp', 'conv'"),
    ({"channels": ()}, ValueError, "channels must not be empty"),
    ({"channels": (4, 0)}, ValueError, "channels must be >= 1, got 0"),
])
def test_bad_hyperparameters(params, error, words, rng):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        VAE(**params).fit(rng.random((5, 4)))


def test_bad_arguments_of_the_methods(rng):
    X = rng.random((5, 4))
    vae = _untrained(X, hidden_sizes=(3,))
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        vae.sample(0)
    with pytest.raises(TypeError, match="n_samples must be an int"):
        vae.log_likelihood(X, n_samples=2.0)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        vae.elbo(X, n_samples=0)
    with pytest.raises(ValueError, match="expecting 4 features"):
        vae.elbo(rng.random((5, 3)))


@pytest.mark.parametrize("method", ["transform", "reconstruct", "elbo", "log_likelihood",
                                    "score"])
def test_not_fitted(method, rng):
    with pytest.raises(NotFittedError):
        getattr(VAE(), method)(rng.random((3, 4)))
    with pytest.raises(NotFittedError):
        VAE().sample(3)


@pytest.mark.parametrize("architecture, shape", [("mlp", (6,)), ("conv", (1, 5, 6))])
def test_save_and_load_round_trip(architecture, shape, rng, tmp_path):
    X = rng.random((12, *shape))
    vae = VAE(architecture=architecture, hidden_sizes=(4,), channels=(2,), latent_dim=2,
              epochs=2, random_state=0).fit(X)
    loaded = npae.load(vae.save(tmp_path / "vae.npz"))
    assert isinstance(loaded, VAE) and loaded.get_params() == vae.get_params()
    assert np.array_equal(loaded.transform(X), vae.transform(X))
    assert np.array_equal(loaded.sample(3, random_state=1), vae.sample(3, random_state=1))
    assert np.array_equal(loaded.log_likelihood(X, 4, random_state=2),
                          vae.log_likelihood(X, 4, random_state=2))
    assert loaded.sample(2).shape == (2, *shape)


@parametrize_with_checks([VAE(hidden_sizes=(4,), latent_dim=2, epochs=2, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# -- the convolutional variant ----------------------------------------------------------

@given(channels=st.integers(1, 3), height=st.integers(1, 11), width=st.integers(1, 11),
       n_convs=st.integers(1, 3))
def test_conv_decoder_mirrors_the_input_shape(channels, height, width, n_convs):
    X = np.random.default_rng(0).random((2, channels, height, width))
    vae = _untrained(X, architecture="conv", channels=tuple(range(2, 2 + n_convs)),
                     hidden_sizes=(3,), latent_dim=2)
    assert vae.encoder_[0].output_shape(X.shape[1:])[1:] == ((height + 1) // 2, (width + 1) // 2)
    assert vae.transform(X).shape == (2, 2)
    assert vae.reconstruct(X).shape == X.shape
    assert vae.sample(3, random_state=0).shape == (3, channels, height, width)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_conv_negative_elbo_gradient(likelihood, rng):
    vae = VAE(architecture="conv", channels=(2, 3), hidden_sizes=(4,), latent_dim=2,
              likelihood=likelihood, sigma=0.7, activation="tanh")
    # The loss sums 70 pixel terms (tens of nats) while the gradients are ~0.1, so with
    # eps=1e-6 rounding in the loss alone reaches ~1e-7; eps=1e-5 keeps rounding below
    # the (eps^2) truncation error.
    result = check_model(vae, rng.random((3, 2, 5, 7)), seed=3, eps=1e-5)
    assert result.max_error < 1e-6, result.table()


def test_conv_needs_images(rng):
    with pytest.raises(ValueError, match=r"expected a 4-d array, got shape \(5, 64\)"):
        VAE(architecture="conv").fit(rng.random((5, 64)))


# -- figures (the VAE functions of npae.plot) -------------------------------------------

@pytest.fixture
def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def _panels(fig):
    """The image drawn in each panel (blank, masked pixels as NaN)."""
    return [np.ma.filled(ax.images[0].get_array(), np.nan) for ax in fig.axes if ax.images]


def test_plot_samples_shows_the_samples(pyplot, rng):
    vae = _untrained(rng.random((10, 12)), hidden_sizes=(4,))
    fig = plot_samples(vae, 5, image_shape=(3, 4), random_state=7)
    expected = vae.sample(5, random_state=7).reshape(5, 3, 4)
    assert np.array_equal(np.array(_panels(fig)), expected)


def test_plot_latent_manifold_decodes_the_quantile_grid(pyplot, rng):
    vae = _untrained(rng.random((10, 1, 3, 2)), architecture="conv", channels=(2,),
                     hidden_sizes=(4,), latent_dim=3)
    n = 4
    (mosaic,) = _panels(plot_latent_manifold(vae, n=n, dims=(2, 0)))
    assert mosaic.shape == (n * 4 - 1, n * 3 - 1)
    assert np.isnan(mosaic[3]).all() and np.isnan(mosaic[:, 2]).all()  # separators
    lo, hi = norm.ppf(0.05), norm.ppf(0.95)
    # top left: z[2] (across) smallest, z[0] (up) largest; dimension 1 stays 0
    top_left = vae.inverse_transform(np.array([[hi, 0.0, lo]]))[0, 0]
    bottom_right = vae.inverse_transform(np.array([[lo, 0.0, hi]]))[0, 0]
    np.testing.assert_allclose(mosaic[:3, :2], top_left, rtol=1e-12)
    np.testing.assert_allclose(mosaic[-3:, -2:], bottom_right, rtol=1e-12)
    with pytest.raises(ValueError, match=r"two different dims in \[0, 3\), got \(1, 1\)"):
        plot_latent_manifold(vae, dims=(1, 1))


def test_plot_interpolation_runs_between_the_two_reconstructions(pyplot, rng):
    X = rng.random((10, 16))
    vae = _untrained(X, hidden_sizes=(4,), latent_dim=2)
    panels = _panels(plot_interpolation(vae, X[0], X[1], n_steps=5))
    assert len(panels) == 5
    np.testing.assert_allclose(panels[0], vae.reconstruct(X[:1]).reshape(4, 4), rtol=1e-12)
    np.testing.assert_allclose(panels[-1], vae.reconstruct(X[1:2]).reshape(4, 4), rtol=1e-12)
    mid = vae.inverse_transform(vae.transform(X[:2]).mean(axis=0, keepdims=True))
    np.testing.assert_allclose(panels[2], mid.reshape(4, 4), rtol=1e-12)


# -- on digits ------------------------------------------------------------------------

def test_on_digits_training_helps_and_the_iwae_bound_beats_the_elbo():
    X_train, X_test = _digits_split()
    untrained = _untrained(X_train, hidden_sizes=(128,), latent_dim=8)
    vae = VAE(hidden_sizes=(128,), latent_dim=8, epochs=30, random_state=0).fit(X_train)
    elbo = vae.elbo(X_test, n_samples=10, random_state=0).mean()
    iwae = vae.log_likelihood(X_test, n_samples=100, random_state=0).mean()
    assert elbo > untrained.elbo(X_test, n_samples=10, random_state=0).mean() + 10
    assert iwae > elbo + 0.1
    # samples look like digits: closer to real test digits than untrained samples are

    def nearest(samples):
        d2 = ((samples[:, None, :] - X_test[None, :, :]) ** 2).sum(axis=2)
        return np.sqrt(d2.min(axis=1)).mean()

    assert nearest(vae.sample(100, random_state=0)) < 0.7 * nearest(
        untrained.sample(100, random_state=0))


def test_conv_vae_on_digits_learns():
    X_train, X_test = _digits_split(return_images=True)
    untrained = _untrained(X_train, architecture="conv", latent_dim=8)
    vae = VAE(architecture="conv", latent_dim=8, epochs=5, random_state=0).fit(X_train)
    gain = (vae.elbo(X_test, n_samples=5, random_state=0).mean()
            - untrained.elbo(X_test, n_samples=5, random_state=0).mean())
    assert gain > 10
    assert vae.sample(4, random_state=0).shape == (4, 1, 8, 8)


def test_kl_per_dimension_and_active_units():
    X = load_digits()[0][:400]
    model = VAE(hidden_sizes=(32,), latent_dim=6, epochs=40, learning_rate=3e-3,
                random_state=0).fit(X)
    kl = model.kl_per_dimension(X)
    mu, logvar = model.transform_distribution(X)
    assert kl.shape == (6,) and np.all(kl >= 0)
    np.testing.assert_allclose(kl.sum(), np.mean(gaussian_kl_per_example(mu, logvar)), rtol=1e-12)
    variances = mu.var(axis=0)
    assert model.active_units(X) == np.sum(variances > 0.01)
    assert model.active_units(X, threshold=0) == 6
    assert model.active_units(X, threshold=variances.max()) == 0
    # a collapsed dimension (mean fixed at 0, variance 1 whatever x) is inactive with KL 0
    encoder_out = model.encoder_.layers[-1]
    encoder_out.params["W"][:, [0, 6]] = 0.0
    encoder_out.params["b"][[0, 6]] = 0.0
    assert model.kl_per_dimension(X)[0] == 0.0
    assert model.active_units(X) == np.sum(np.delete(variances, 0) > 0.01)
