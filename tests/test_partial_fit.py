"""Tests of partial_fit: PCA exactly from merged statistics, other estimators one pass a call."""

import numpy as np
import pytest
from test_reliability import NAMES, make_tiny, same_arrays, tiny_data, tiny_targets, weights

import npae
from npae import PCA
from npae.decomposition import block_statistics, merge_statistics

TRAINED = sorted(set(NAMES) - {"PCA"})


def well_conditioned(n=600, d=12, seed=0):
    rng = np.random.default_rng(seed)
    scales = np.geomspace(4.0, 0.5, d)
    return rng.normal(size=(n, d)) * scales @ np.linalg.qr(rng.normal(size=(d, d)))[0] + 5.0


def aligned(components, reference):
    """``components`` with each row's sign chosen to match ``reference``'s."""
    signs = np.sign(np.sum(components * reference, axis=1))
    return components * signs[:, None]


@pytest.mark.parametrize("sizes", [(600,), (100, 250, 250), (5, 1, 594), (7,) * 85 + (5,)])
def test_pca_partial_fit_equals_a_full_fit(sizes):
    X = well_conditioned()
    full = PCA(n_components=4).fit(X)
    pca = PCA(n_components=4)
    start = 0
    for size in sizes:
        pca.partial_fit(X[start:start + size])
        start += size
    assert pca.n_samples_ == 600
    np.testing.assert_allclose(aligned(pca.components_, full.components_), full.components_,
                               rtol=0, atol=1e-8)
    for name in ("mean_", "explained_variance_", "explained_variance_ratio_", "scatter_",
                 "singular_values_"):
        np.testing.assert_allclose(getattr(pca, name), getattr(full, name), rtol=1e-10,
                                   err_msg=name)
    assert pca.discarded_variance_ == pytest.approx(full.discarded_variance_, rel=1e-10)


def test_merged_statistics_are_those_of_all_rows_far_from_the_origin():
    X = well_conditioned() + 1e6  # a sum of squares about the origin would lose 12 digits
    n, mean, scatter = merge_statistics(block_statistics(X[:123]), block_statistics(X[123:]))
    centred = X - X.mean(axis=0)
    assert n == 600
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-14)
    reference = centred.T @ centred
    np.testing.assert_allclose(scatter, reference, rtol=0, atol=1e-9 * np.abs(reference).max())


def test_pca_partial_fit_offset_is_the_quantile_of_the_latest_rows():
    X = well_conditioned()
    pca = PCA(n_components=3, contamination=0.1).partial_fit(X[:300]).partial_fit(X[300:])
    assert pca.offset_ == np.percentile(pca.score_samples(X[300:]), 10)


def test_pca_partial_fit_after_save_and_load_continues(tmp_path):
    X = well_conditioned()
    PCA(n_components=3).partial_fit(X[:200]).save(tmp_path / "p.npz")
    loaded = npae.load(tmp_path / "p.npz").partial_fit(X[200:])
    full = PCA(n_components=3).fit(X)
    np.testing.assert_allclose(aligned(loaded.components_, full.components_), full.components_,
                               atol=1e-8)


def test_pca_partial_fit_continues_a_fit_and_refuses_an_svd_of_wide_data():
    X = well_conditioned()
    continued = PCA(n_components=3, solver="covariance_eigh").fit(X[:300]).partial_fit(X[300:])
    full = PCA(n_components=3).fit(X)
    np.testing.assert_allclose(aligned(continued.components_, full.components_),
                               full.components_, atol=1e-8)
    tall = PCA(n_components=3, solver="svd").fit(X[:300]).partial_fit(X[300:])
    np.testing.assert_allclose(aligned(tall.components_, full.components_), full.components_,
                               atol=1e-8)
    wide = PCA(n_components=3, solver="svd").fit(X[:8])  # 8 rows, 12 features
    assert not hasattr(wide, "scatter_")
    with pytest.raises(ValueError, match="SVD of wide data .* keeps no scatter matrix"):
        wide.partial_fit(X[300:])
    refit = PCA(n_components=3).fit(X).fit(X[:8])
    assert not hasattr(refit, "scatter_")  # not the scatter of the earlier rows


def test_pca_partial_fit_checks_the_features_and_the_first_rows():
    pca = PCA(n_components=2).partial_fit(well_conditioned()[:50])
    with pytest.raises(ValueError, match="X has 5 features, but PCA is expecting 12"):
        pca.partial_fit(np.zeros((10, 5)))
    with pytest.raises(ValueError, match="n_components must be between 1 and"):
        PCA(n_components=5).partial_fit(well_conditioned()[:3])


@pytest.mark.parametrize("name", TRAINED)
def test_partial_fit_builds_then_continues(name):
    """First call builds the model; each call is one pass; the optimizer state carries over."""
    X = tiny_data(name, n=16)
    targets = tiny_targets(name, X)
    model = make_tiny(name).partial_fit(X, *targets)
    assert model.n_iter_ == 1 and len(model.history_["loss"]) == 1
    model.partial_fit(X, *targets)
    assert model.n_iter_ == 2
    for method in ("score_samples", "predict") if name != "UNet" else ("predict",):
        assert np.isfinite(getattr(model, method)(X)).all()


@pytest.mark.parametrize("name", ["Autoencoder", "VAE", "DenoisingAutoencoder"])
def test_partial_fit_passes_equal_a_fit_of_as_many_epochs(name):
    """Same rows each call: the passes are a fit's epochs (same seed, same shuffles, same Adam)."""
    X = tiny_data(name, n=16)
    fitted = make_tiny(name, epochs=3).fit(X)
    model = make_tiny(name)
    for _ in range(3):
        model.partial_fit(X)
    assert same_arrays(weights(model), weights(fitted))
    assert model.history_["loss"] == fitted.history_["loss"]
    assert model.offset_ == fitted.offset_


def test_partial_fit_after_fit_continues_with_the_optimizer_state_fit_ended_with():
    X = tiny_data("Autoencoder", n=16)
    a = make_tiny("Autoencoder", epochs=3).fit(X)
    b = make_tiny("Autoencoder", epochs=2).fit(X).partial_fit(X)
    assert same_arrays(weights(a), weights(b)) and b.n_iter_ == 3


def test_a_copied_or_pickled_model_continues_like_the_original():
    """dask-ml's Incremental moves the model between workers: its optimizer state must travel."""
    import copy
    import pickle

    X = tiny_data("Autoencoder", n=24)
    model = make_tiny("Autoencoder").partial_fit(X[:12])
    copied = copy.deepcopy(model).partial_fit(X[12:])
    pickled = pickle.loads(pickle.dumps(model)).partial_fit(X[12:])
    model.partial_fit(X[12:])
    assert same_arrays(weights(copied), weights(model))
    assert same_arrays(weights(pickled), weights(model))
