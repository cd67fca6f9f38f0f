"""SparseAutoencoder: gradients, the sparsity it reaches on digits, filters, interface."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.utils.estimator_checks import parametrize_with_checks

import npae
from npae import SparseAutoencoder
from npae.datasets import load_digits
from npae.gradcheck import check_model

# Ng's objective, (1/2) sum of squared errors per example + beta KL + (lam/2)||W||^2,
# divided by n_features / 2 = 32 is ours (MSE over features): his weights become ours * 2 / 64.
NG = 2 / 64


@pytest.fixture(scope="module")
def digits():
    return load_digits()[0]


@given(n=st.integers(1, 5), d=st.integers(2, 5), hidden=st.lists(st.integers(2, 4), max_size=2),
       code=st.integers(1, 6), penalty=st.sampled_from(["kl", "l1"]), seed=st.integers(0, 99))
def test_full_loss_gradient(n, d, hidden, code, penalty, seed):
    X = np.random.default_rng(seed).random((n, d))
    model = SparseAutoencoder(hidden_sizes=hidden, code_size=code, penalty=penalty, rho=0.1,
                              beta=2.0, lam=0.5, activation="tanh", random_state=seed)
    # Widths >= 2 and eps = 1e-5: with width-1 layers (or behind several saturating
    # layers) an array's whole gradient can be 1e-8 of the loss, below what central
    # differences resolve (round-off ~1e-16 L / eps), although the analytic one is right.
    result = check_model(model, X, eps=1e-5)
    assert result.max_error < 1e-6, result.table()


def test_the_penalty_is_part_of_the_loss(rng):
    X = rng.random((8, 5))
    model = SparseAutoencoder(code_size=4, beta=3.0, random_state=0)
    model._initialize(X)
    with_penalty = model._step(X, X)
    model.beta = 0.0
    code = model.encoder_.forward(X)
    penalty = npae.regularizers.sparsity_kl(code, model.rho, 3.0)[0]
    assert with_penalty == pytest.approx(model._step(X, X) + penalty, rel=1e-12)
    assert penalty > 0.1


# -- behaviour on digits: the classic exercise -------------------------------------------

def _ng_exercise(X, beta):
    """Ng's CS294A sparse autoencoder: one sigmoid layer, rho = 0.01, beta = 3, decay 1e-4."""
    return SparseAutoencoder(code_size=100, rho=0.01, beta=beta * NG, weight_decay=1e-4 * NG,
                             output_activation="identity", learning_rate=1e-2, epochs=100,
                             random_state=0).fit(X)


def test_kl_penalty_brings_mean_activation_to_rho(digits):
    sae = _ng_exercise(digits, beta=3.0)
    assert abs(sae.mean_activation_.mean() - 0.01) < 0.005
    # ... while still reconstructing: far better than predicting the mean image
    assert -sae.score(digits) < 0.5 * digits.var(axis=0).sum() / digits.shape[1]


def test_without_the_penalty_mean_activation_is_far_from_rho(digits):
    sae = _ng_exercise(digits, beta=0.0)
    assert abs(sae.mean_activation_.mean() - 0.01) > 0.1


def test_l1_penalty_makes_codes_sparse(digits):
    def fraction_near_zero(lam):
        sae = SparseAutoencoder(code_size=100, penalty="l1", lam=lam, epochs=10,
                                random_state=0).fit(digits)
        return np.mean(sae.transform(digits) < 0.05)

    assert fraction_near_zero(1e-3) > 0.3 > fraction_near_zero(0.0)


def test_overcomplete_filters(digits):
    sae = SparseAutoencoder(code_size=100, epochs=2, random_state=0).fit(digits)
    assert sae.code_shape_ == (100,) and sae.mean_activation_.shape == (100,)
    F = sae.filters()
    assert F.shape == (100, 64)
    np.testing.assert_allclose(np.linalg.norm(F, axis=1), 1.0)
    W = sae.encoder_[0].params["W"]
    np.testing.assert_allclose(F[7] * np.linalg.norm(W[:, 7]), W[:, 7])
    assert F.reshape(-1, 8, 8).shape == (100, 8, 8)


def test_mean_activation_is_over_the_training_data(digits):
    sae = SparseAutoencoder(code_size=10, epochs=1, random_state=0).fit(digits[:100])
    np.testing.assert_array_equal(sae.mean_activation_, sae.transform(digits[:100]).mean(axis=0))


# -- the common interface ---------------------------------------------------------------

def test_interface(digits):
    X = digits[:200]
    sae = SparseAutoencoder(hidden_sizes=(16,), code_size=8, epochs=3, random_state=0)
    assert sae.fit(X) is sae
    Z = sae.transform(X)
    assert Z.shape == (200, 8) and np.all((Z > 0) & (Z < 1))
    np.testing.assert_array_equal(sae.inverse_transform(Z), sae.reconstruct(X))
    assert sae.score(X) == pytest.approx(-np.mean((sae.reconstruct(X) - X) ** 2))
    assert len(sae.history_["loss"]) == 3
    assert sae.network_.layers == sae.encoder_.layers + sae.decoder_.layers


def test_same_seed_same_model(digits):
    fits = [SparseAutoencoder(code_size=20, penalty=p, epochs=2, random_state=3).fit(digits)
            for p in ("kl", "kl", "l1")]
    for a, b in zip(fits[0].network_.params(), fits[1].network_.params()):
        np.testing.assert_array_equal(a, b)
    assert fits[0].history_ == fits[1].history_
    assert fits[0].history_ != fits[2].history_


def test_rebuilt_from_hyperparameters_and_saved(digits, tmp_path):
    sae = SparseAutoencoder(hidden_sizes=(12,), code_size=30, epochs=1, random_state=0).fit(digits)
    twin = type(sae)(**sae.get_params())
    twin._initialize(digits)
    twin.network_.load_state_dict(sae.network_.state_dict())
    np.testing.assert_array_equal(twin.reconstruct(digits), sae.reconstruct(digits))
    loaded = npae.load(sae.save(tmp_path / "sparse.npz"))
    np.testing.assert_array_equal(loaded.reconstruct(digits), sae.reconstruct(digits))
    np.testing.assert_array_equal(loaded.mean_activation_, sae.mean_activation_)


@pytest.mark.parametrize("params, error, match", [
    ({"penalty": "l2"}, ValueError, "penalty must be one of 'kl', 'l1', got 'l2'"),
    ({"rho": 0.0}, ValueError, "rho must be > 0, got 0.0"),
    ({"rho": 1.0}, ValueError, "rho must be < 1, got 1.0"),
    ({"rho": "small"}, TypeError, "rho must be a number, got 'small'"),
    ({"beta": -1}, ValueError, "beta must be >= 0, got -1.0"),
    ({"lam": -0.5}, ValueError, "lam must be >= 0, got -0.5"),
    ({"code_activation": "relu"}, ValueError,
     "penalty='kl' needs .* code_activation='sigmoid', got 'relu'"),
    ({"code_size": 0}, ValueError, "code_size must be >= 1, got 0"),
    ({"learning_rate": 0}, ValueError, "learning_rate must be > 0"),
])
def test_bad_hyperparameters(params, error, match):
    with pytest.raises(error, match=match):
        SparseAutoencoder(**params).fit(np.ones((4, 3)))


def test_l1_accepts_any_code_activation(rng):
    SparseAutoencoder(penalty="l1", code_activation="relu", code_size=3, epochs=1,
                      random_state=0).fit(rng.random((10, 4)))


@parametrize_with_checks([SparseAutoencoder(code_size=3, epochs=2, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
