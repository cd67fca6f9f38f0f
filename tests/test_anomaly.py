"""Tests of npae.anomaly: every autoencoder and PCA as scikit-learn-style outlier detectors."""

import numpy as np
import pytest
from scipy.special import expit
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from test_reliability import NAMES, fit_tiny, make_tiny, tiny_data

import npae
from npae import PCA, Autoencoder, ConvAutoencoder, LinearAutoencoder
from npae.anomaly import AUTO_FRACTION
from npae.datasets import load_digits

DETECTORS = sorted(set(NAMES) - {"UNet"})


@pytest.mark.parametrize("name", DETECTORS)
def test_conventions(name):
    model, X = fit_tiny(name)
    scores = model.score_samples(X)
    assert scores.shape == (X.shape[0],) and scores.dtype == np.float64
    assert np.isfinite(scores).all()
    np.testing.assert_array_equal(model.decision_function(X), scores - model.offset_)
    labels = model.predict(X)
    assert set(np.unique(labels)) <= {-1, 1}
    np.testing.assert_array_equal(labels == -1, model.decision_function(X) < 0)
    np.testing.assert_array_equal(model.fit_predict(X), labels)
    errors = model.reconstruction_error_map(X)
    assert errors.shape == X.shape
    np.testing.assert_allclose(errors, (model.reconstruct(X) - X) ** 2)
    if name != "VAE":
        np.testing.assert_allclose(scores, -errors.reshape(len(X), -1).mean(axis=1), rtol=1e-12)
        assert np.mean(scores) == pytest.approx(model.score(X), rel=1e-12)
    # one row at a time gives the same scores: nothing depends on the other rows
    np.testing.assert_allclose([model.score_samples(X[i:i + 1])[0] for i in range(3)],
                               scores[:3], rtol=1e-12)


@pytest.mark.parametrize("name", DETECTORS)
@pytest.mark.parametrize("contamination", [0.1, 0.25, 0.5, "auto"])
def test_offset_is_the_contamination_quantile_of_the_training_scores(name, contamination):
    X = tiny_data(name, n=40)
    model = make_tiny(name, contamination=contamination).fit(X)
    fraction = AUTO_FRACTION if contamination == "auto" else contamination
    scores = model.score_samples(X)
    assert model.offset_ == np.percentile(scores, 100 * fraction)
    flagged = np.mean(model.predict(X) == -1)
    assert abs(flagged - fraction) <= 1 / len(X)


@pytest.mark.parametrize("contamination", [0, 0.6, -0.1, "high", True, None])
@pytest.mark.parametrize("name", ["PCA", "Autoencoder", "LinearAutoencoder", "ConvAutoencoder"])
def test_bad_contamination_is_refused_before_training(name, contamination):
    model = make_tiny(name, contamination=contamination)
    assert model.get_params()["contamination"] is contamination  # __init__ only stores
    with pytest.raises(ValueError, match=r"contamination must be 'auto' or a fraction in "
                                         r"\(0, 0.5\], got "):
        model.fit(tiny_data(name))
    assert not hasattr(model, "offset_")


def test_decision_function_of_a_model_without_offset_says_it_is_not_fitted():
    model, X = fit_tiny("Autoencoder")
    del model.offset_  # as a model saved before anomaly scores existed
    with pytest.raises(NotFittedError, match="not fitted"):
        model.predict(X)


@pytest.mark.parametrize("name", DETECTORS)
def test_save_and_load_keep_the_threshold(tmp_path, name):
    model, X = fit_tiny(name, contamination=0.3)
    model.save(tmp_path / "m.npz")
    loaded = npae.load(tmp_path / "m.npz")
    assert loaded.offset_ == model.offset_ and loaded.contamination == 0.3
    np.testing.assert_array_equal(loaded.decision_function(X), model.decision_function(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_vae_scores_are_the_elbo_at_the_posterior_mean():
    model, X = fit_tiny("VAE")
    mu, logvar = model.transform_distribution(X)
    logits = model.decoder_.forward(mu, training=False)
    log_p = np.sum(X * logits - np.logaddexp(0, logits), axis=1)  # Bernoulli log p(x | mu)
    kl = 0.5 * np.sum(np.exp(logvar) + mu**2 - 1 - logvar, axis=1)
    np.testing.assert_allclose(model.score_samples(X), log_p - kl, rtol=1e-12)
    np.testing.assert_allclose(model.reconstruction_error_map(X), (expit(logits) - X) ** 2)
    # the sampled ELBO scatters around it; the score is the same at every call
    np.testing.assert_array_equal(model.score_samples(X), model.score_samples(X))


def test_conv_autoencoder_scores_each_image_and_maps_the_error_per_pixel():
    X, _, _ = load_digits()
    images = X.reshape(-1, 1, 8, 8)[:400]
    model = ConvAutoencoder(channels=(8,), code_size=8, epochs=30, learning_rate=3e-3,
                            random_state=0).fit(images)
    broken = images[:50].copy()
    broken[:, :, :3, :3] = 1.0  # a bright square where digits have no ink
    errors = model.reconstruction_error_map(broken)
    assert errors.shape == broken.shape
    np.testing.assert_allclose(model.score_samples(broken),
                               -errors.mean(axis=(1, 2, 3)), rtol=1e-12)
    assert errors[:, :, :3, :3].mean() > 5 * errors[:, :, 3:, 3:].mean()
    assert np.all(model.score_samples(broken) < model.score_samples(images[:50]))


# -- the anomaly task: digits with one class held out -------------------------------------------

def held_out_digits(held_out=4, n_train=1000, seed=0):
    """Training rows of nine classes; test rows of those (inliers, 0) and the tenth (1)."""
    X, y, _ = load_digits()
    rng = np.random.default_rng(seed)
    inliers = rng.permutation(np.flatnonzero(y != held_out))
    train, test_in = inliers[:n_train], inliers[n_train:]
    X_test = np.vstack([X[test_in], X[y == held_out]])
    is_outlier = np.r_[np.zeros(len(test_in)), np.ones(np.sum(y == held_out))]
    return X[train], X_test, is_outlier


@pytest.mark.parametrize("model", [
    PCA(8),
    LinearAutoencoder(8),
    Autoencoder(hidden_sizes=(64,), code_size=8, epochs=60, learning_rate=3e-3, random_state=0),
], ids=["PCA", "LinearAutoencoder", "Autoencoder"])
def test_a_held_out_digit_scores_as_an_outlier(model):
    X_train, X_test, is_outlier = held_out_digits()
    model.fit(X_train)
    auc = roc_auc_score(is_outlier, -model.score_samples(X_test))
    assert auc > 0.8
    # predict with contamination "auto": outliers are flagged far more often than inliers
    flagged = model.predict(X_test) == -1
    assert flagged[is_outlier == 1].mean() > 4 * flagged[is_outlier == 0].mean()
