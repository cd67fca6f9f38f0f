import doctest

import numpy as np
import pytest
import scipy.sparse
import sklearn.decomposition
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

import npae.decomposition
from npae.decomposition import PCA, _choose_solver, discarded_variance

TOL = 1e-10


@pytest.fixture(scope="module")
def digits():
    return load_digits().data / 16.0


def structured(rng, n, d, rank=None):
    """Correlated data with distinct variances (well-separated eigenvalues)."""
    rank = min(n, d) if rank is None else rank
    scales = np.geomspace(5.0, 0.2, rank)
    return (rng.normal(size=(n, rank)) * scales) @ rng.normal(size=(rank, d)) + 3.0


def assert_agrees_with_sklearn(X, k, svd_solver):
    ours = PCA(n_components=k).fit(X)
    ref = sklearn.decomposition.PCA(n_components=k, svd_solver=svd_solver).fit(X)
    for name in ("components_", "mean_", "explained_variance_", "explained_variance_ratio_",
                 "singular_values_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=0, atol=TOL,
                                   err_msg=name)
    if svd_solver != "covariance_eigh" or X.shape[0] >= X.shape[1]:
        # sklearn's covariance_eigh on wide data averages over all d eigenvalues
        # (d - n + 1 of them zero); npae, like its SVD path, over min(n, d) - k.
        assert abs(ours.noise_variance_ - ref.noise_variance_) < TOL
    assert ours.n_components_ == ref.n_components_
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.reconstruct(X), ref.inverse_transform(ref.transform(X)),
                               rtol=0, atol=TOL)


@pytest.mark.parametrize("svd_solver", ["auto", "full", "covariance_eigh"])
@pytest.mark.parametrize("k", [1, 10, 40])
def test_agrees_with_sklearn_on_digits(digits, k, svd_solver):
    assert_agrees_with_sklearn(digits, k, svd_solver)


# All components of wide data with sklearn's covariance solver are left out:
# beyond the rank n - 1 they are arbitrary, so there is nothing to agree on.
@pytest.mark.parametrize(("n", "d", "k", "svd_solver"), [
    (n, d, k, solver)
    for n, d, k in [(600, 20, 5), (600, 20, None), (120, 40, 7), (30, 80, 4), (30, 80, None)]
    for solver in ("auto", "full", "covariance_eigh")
    if not (solver == "covariance_eigh" and k is None and n < d)
])
def test_agrees_with_sklearn_on_random_data(rng, n, d, k, svd_solver):
    assert_agrees_with_sklearn(structured(rng, n, d), k, svd_solver)


def test_solvers_agree_with_each_other(rng):
    X = structured(rng, 400, 30)
    svd = PCA(8, solver="svd").fit(X)
    eigh = PCA(8, solver="covariance_eigh").fit(X)
    np.testing.assert_allclose(svd.components_, eigh.components_, atol=TOL)
    np.testing.assert_allclose(svd.explained_variance_, eigh.explained_variance_, atol=TOL)


def test_exact_far_from_the_origin(rng):
    # The covariance is formed from centred data, so a large offset costs no
    # accuracy (X^T X - n m m^T, without centring, loses ~12 digits here).
    X = structured(rng, 300, 10) + 1e6
    svd = PCA(solver="svd").fit(X)
    eigh = PCA(solver="covariance_eigh").fit(X)
    np.testing.assert_allclose(svd.components_, eigh.components_, atol=1e-9)


@pytest.mark.parametrize(("dtype", "tol"), [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize(("n", "block_rows"), [(1000, 64), (1000, 333), (1024, 256), (50, 1024)])
def test_blocked_gram_equals_centred_gemm(rng, n, block_rows, dtype, tol):
    # Row blocks centred into a buffer and added with SYRK (one triangle) give
    # the plain Xc^T Xc, even far from the origin and with a short last block.
    X = (structured(rng, n, 30) + 1e6).astype(dtype)
    mean = X.mean(axis=0)
    Xc = X - mean
    expected = Xc.T @ Xc
    gram = npae.decomposition._centred_gram(X, mean, block_rows)
    assert gram.dtype == dtype
    np.testing.assert_allclose(np.tril(gram), np.tril(expected), rtol=0,
                               atol=tol * np.abs(expected).max())
    np.testing.assert_array_equal(np.triu(gram, 1), 0)


def test_auto_rule_matches_sklearn():
    assert _choose_solver(10_000, 784) == "covariance_eigh"
    assert _choose_solver(7_839, 784) == "svd"
    assert _choose_solver(100_000, 1_001) == "svd"
    assert _choose_solver(30, 80) == "svd"


@pytest.mark.parametrize("k", [1, 3, 10, 29])
def test_training_error_is_sum_of_discarded_eigenvalues(rng, k):
    # (1/n) sum_i ||x_i - x_hat_i||^2 = sum_{j>k} s_j^2 / n = (n-1)/n sum_{j>k} lambda_j
    X = structured(rng, 200, 30)
    n, d = X.shape
    all_variances = PCA().fit(X).explained_variance_
    pca = PCA(k).fit(X)
    per_sample = np.sum((X - pca.reconstruct(X)) ** 2) / n
    expected = (n - 1) / n * discarded_variance(all_variances, k)
    assert pca.discarded_variance_ == pytest.approx(discarded_variance(all_variances, k))
    assert per_sample == pytest.approx(expected, rel=1e-10)
    assert pca.score(X) == pytest.approx(-expected / d, rel=1e-10)
    assert pca.noise_variance_ == pytest.approx(all_variances[k:].mean(), rel=1e-10)


def test_no_rank_k_projection_does_better(rng):
    # Eckart-Young: PCA's subspace beats any other k-dimensional one.
    X = structured(rng, 300, 12)
    pca = PCA(4).fit(X)
    Xc = X - pca.mean_
    best = np.sum((Xc - Xc @ pca.components_.T @ pca.components_) ** 2)
    for _ in range(20):
        Q, _ = np.linalg.qr(rng.normal(size=(12, 4)))
        assert best <= np.sum((Xc - Xc @ Q @ Q.T) ** 2)


@pytest.mark.parametrize(("n", "d"), [(200, 15), (10, 25)])
def test_full_rank_round_trip(rng, n, d):
    X = rng.normal(size=(n, d))
    pca = PCA().fit(X)
    assert pca.n_components_ == min(n, d)
    np.testing.assert_allclose(pca.inverse_transform(pca.transform(X)), X, atol=1e-12)
    assert pca.discarded_variance_ == 0 and pca.noise_variance_ == 0


@given(n=st.integers(2, 25), d=st.integers(1, 25), data=st.data())
def test_properties_on_any_shape(n, d, data):
    k = data.draw(st.integers(1, min(n, d)))
    X = np.random.default_rng(n * 100 + d).normal(size=(n, d))
    pca = PCA(k).fit(X)
    V, ev = pca.components_, pca.explained_variance_
    assert V.shape == (k, d) and ev.shape == (k,)
    np.testing.assert_allclose(V @ V.T, np.eye(k), atol=1e-10)
    assert np.all(ev >= 0) and np.all(np.diff(ev) <= 1e-12)
    Z = pca.transform(X)
    # the codes of the training data are uncorrelated with variances ev
    np.testing.assert_allclose(Z.T @ Z / (n - 1), np.diag(ev), atol=1e-9)
    assert pca.explained_variance_ratio_.sum() <= 1 + 1e-12


def test_fit_transform_equals_fit_then_transform(rng):
    X = structured(rng, 100, 12)
    np.testing.assert_allclose(PCA(3).fit_transform(X), PCA(3).fit(X).transform(X))


@pytest.mark.parametrize("solver", ["svd", "covariance_eigh"])
def test_float32_is_preserved_and_accurate(rng, solver):
    X = structured(rng, 500, 20)
    pca32 = PCA(5, solver=solver).fit(X.astype(np.float32))
    pca64 = PCA(5, solver=solver).fit(X)
    for name in ("components_", "mean_", "explained_variance_", "explained_variance_ratio_",
                 "singular_values_"):
        assert getattr(pca32, name).dtype == np.float32, name
    Z = pca32.transform(X.astype(np.float32))
    assert Z.dtype == np.float32
    assert pca32.inverse_transform(Z).dtype == np.float32
    np.testing.assert_allclose(pca32.components_, pca64.components_, atol=1e-4)
    np.testing.assert_allclose(pca32.explained_variance_, pca64.explained_variance_, rtol=1e-4)


def test_constant_data_has_zero_variance_and_no_nan():
    pca = PCA(2).fit(np.full((6, 3), 4.0))
    np.testing.assert_array_equal(pca.explained_variance_, 0)
    np.testing.assert_array_equal(pca.explained_variance_ratio_, 0)
    np.testing.assert_array_equal(pca.reconstruct(np.full((2, 3), 4.0)), 4.0)


def test_integer_input_is_float64():
    X = np.arange(40).reshape(10, 4) % 7
    assert PCA(2).fit(X).components_.dtype == np.float64


def test_unfitted_raises_not_fitted_error():
    with pytest.raises(NotFittedError):
        PCA(2).transform(np.ones((3, 4)))
    with pytest.raises(NotFittedError):
        PCA(2).inverse_transform(np.ones((3, 2)))


@pytest.mark.parametrize(
    ("n_components", "error", "match"),
    [
        (0, ValueError, r"between 1 and min\(n_samples, n_features\)=6, got 0"),
        (-1, ValueError, "got -1"),
        (7, ValueError, r"min\(n_samples, n_features\)=6, got 7"),
        (2.5, TypeError, "n_components must be an int or None, got 2.5"),
        (True, TypeError, "got True"),
        ("2", TypeError, "got '2'"),
    ],
)
def test_bad_n_components(n_components, error, match, rng):
    with pytest.raises(error, match=match):
        PCA(n_components).fit(rng.normal(size=(10, 6)))


def test_bad_solver(rng):
    with pytest.raises(ValueError, match="solver must be one of 'auto', 'svd'.*got 'qr'"):
        PCA(solver="qr").fit(rng.normal(size=(10, 3)))


def test_wrong_feature_count(rng):
    pca = PCA(2).fit(rng.normal(size=(10, 4)))
    with pytest.raises(ValueError, match="X has 5 features, but PCA is expecting 4"):
        pca.transform(rng.normal(size=(3, 5)))
    with pytest.raises(ValueError, match="X has 3 features, but PCA is expecting 2"):
        pca.inverse_transform(rng.normal(size=(3, 3)))
    with pytest.raises(ValueError, match="X has 5 features"):
        pca.score(rng.normal(size=(3, 5)))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_refused(rng, bad):
    X = rng.normal(size=(10, 4))
    pca = PCA(2).fit(X)
    X[3, 1] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        PCA(2).fit(X)
    with pytest.raises(ValueError, match="NaN or inf"):
        pca.transform(X)


def test_shape_and_sample_errors(rng):
    with pytest.raises(ValueError, match="at least 2 samples.*got n_samples = 1"):
        PCA().fit(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"expected a 2-d array, got shape \(5,\)"):
        PCA().fit(np.ones(5))
    with pytest.raises(TypeError, match="sparse"):
        PCA().fit(scipy.sparse.random(10, 4, density=0.5, random_state=0))


def test_discarded_variance_function():
    assert discarded_variance([3.0, 2.0, 0.5], 0) == 5.5
    assert discarded_variance([3.0, 2.0, 0.5], 3) == 0.0
    with pytest.raises(ValueError, match=r"n_components must be in \[0, 3\], got 4"):
        discarded_variance([3.0, 2.0, 0.5], 4)


def test_works_in_model_selection(rng):
    X = structured(rng, 120, 10)
    search = GridSearchCV(PCA(), {"n_components": [1, 3, 6]}, cv=3).fit(X)
    assert search.best_params_ == {"n_components": 6}
    assert clone(PCA(3, solver="svd")).get_params() == {"n_components": 3, "solver": "svd",
                                                        "contamination": "auto"}
    assert list(PCA(2).fit(X).get_feature_names_out()) == ["pca0", "pca1"]


def test_docstring_examples_run():
    assert doctest.testmod(npae.decomposition).failed == 0


@parametrize_with_checks([PCA(n_components=2)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
