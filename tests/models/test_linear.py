import numpy as np
import pytest
from scipy.linalg import subspace_angles
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA as SklearnPCA
from sklearn.model_selection import train_test_split

from npae import PCA, LinearAutoencoder
from npae.gradcheck import check_model


@pytest.fixture(scope="module")
def digits_split():
    X = load_digits().data / 16.0
    return train_test_split(X, test_size=0.2, random_state=0)


@pytest.fixture(scope="module")
def gd_model(digits_split):
    X_train, _ = digits_split
    return LinearAutoencoder(8, solver="gd", random_state=0).fit(X_train)


def test_closed_form_equals_pca(digits_split):
    X_train, X_test = digits_split
    lae = LinearAutoencoder(8).fit(X_train)
    pca = PCA(8).fit(X_train)
    np.testing.assert_allclose(lae.transform(X_test), pca.transform(X_test), atol=1e-10)
    np.testing.assert_allclose(lae.reconstruct(X_test),
                               pca.inverse_transform(pca.transform(X_test)), atol=1e-10)
    assert subspace_angles(lae.components_.T, pca.components_.T).max() < 1e-8


def test_closed_form_components_are_pcas_axes_entry_by_entry(digits_split):
    # The same axes in the same order with the same signs, not a rotation of them.
    X_train, _ = digits_split
    components = LinearAutoencoder(8).fit(X_train).components_
    np.testing.assert_allclose(components, PCA(8).fit(X_train).components_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(components, SklearnPCA(8).fit(X_train).components_, rtol=0,
                               atol=1e-10)


def test_gd_converges_to_principal_subspace(digits_split, gd_model):
    X_train, X_test = digits_split
    pca = PCA(8).fit(X_train)
    assert subspace_angles(gd_model.components_.T, pca.components_.T).max() < 0.05
    pca_mse = np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2)
    assert -gd_model.score(X_test) <= 1.01 * pca_mse


def test_optimal_error_is_sum_of_discarded_eigenvalues(digits_split):
    X_train, _ = digits_split
    n = X_train.shape[0]
    eigenvalues = np.linalg.eigvalsh(np.cov(X_train, rowvar=False))[::-1]
    lae = LinearAutoencoder(8).fit(X_train)
    expected = eigenvalues[8:].sum() * (n - 1) / n
    assert lae.reconstruction_error(X_train) == pytest.approx(expected, rel=1e-9)


def test_solution_is_not_unique(gd_model, digits_split):
    """Any invertible A: encoder W_e A, decoder A^-1 W_d reconstructs the same."""
    _, X_test = digits_split
    enc, dec = gd_model.encoder_.layers[0], gd_model.decoder_.layers[0]
    A = np.random.default_rng(1).normal(size=(8, 8))
    z = gd_model.transform(X_test) @ A
    x_hat = z @ np.linalg.solve(A, dec.params["W"]) + dec.params["b"]
    np.testing.assert_allclose(x_hat, gd_model.reconstruct(X_test), atol=1e-9)
    assert not np.allclose(z, gd_model.transform(X_test))
    assert enc.params["W"].shape == (64, 8)


def test_gradient_check_end_to_end():
    X = np.random.default_rng(0).normal(size=(7, 5))
    assert check_model(LinearAutoencoder(2, solver="gd", random_state=0), X).max_error < 1e-6


def test_bad_hyperparameters():
    X = np.random.default_rng(0).normal(size=(20, 5))
    with pytest.raises(ValueError, match="solver"):
        LinearAutoencoder(2, solver="svd").fit(X)
    with pytest.raises(ValueError, match="n_components must be <= n_features=5, got 6"):
        LinearAutoencoder(6).fit(X)
    with pytest.raises(ValueError, match="n_components must be >= 1"):
        LinearAutoencoder(0).fit(X)
