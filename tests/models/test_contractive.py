"""ContractiveAutoencoder: exact penalty gradients end to end, a flatter encoder, interface."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.utils.estimator_checks import parametrize_with_checks

import npae
from npae import ContractiveAutoencoder
from npae.datasets import load_digits, train_test_split
from npae.gradcheck import check_model
from npae.losses import mean_squared_error


@pytest.fixture(scope="module")
def digits():
    return load_digits()[0]


def _finite_difference_jacobian(model, X, eps=1e-5):
    """J[n, j, i] = d code_j / d x_i at X[n], by central differences of ``transform``."""
    columns = []
    for i in range(X.shape[1]):
        step = np.zeros(X.shape[1])
        step[i] = eps
        columns.append((model.transform(X + step) - model.transform(X - step)) / (2 * eps))
    return np.stack(columns, axis=-1)


@given(n=st.integers(2, 5), d=st.integers(2, 5), hidden=st.lists(st.integers(2, 4), max_size=2),
       code=st.integers(2, 4), activation=st.sampled_from(["tanh", "softplus"]),
       code_activation=st.sampled_from(["sigmoid", "tanh", "identity"]),
       lam=st.floats(0.01, 2), seed=st.integers(0, 99))
def test_full_loss_gradient(n, d, hidden, code, activation, code_activation, lam, seed):
    X = np.random.default_rng(seed).random((n, d))
    model = ContractiveAutoencoder(hidden_sizes=hidden, code_size=code, lam=lam,
                                   activation=activation, code_activation=code_activation,
                                   random_state=seed)
    # Widths >= 2, tanh/softplus hidden layers and eps = 1e-5: with width-1 layers, or
    # behind several sigmoids (checked on fixed nets below), an array's whole gradient
    # can be 1e-8 of the loss, below what central differences resolve (round-off
    # ~1e-16 L / eps), although the analytic one is right.
    result = check_model(model, X, eps=1e-5)
    assert result.max_error < 1e-6, result.table()


@pytest.mark.parametrize("hidden", [(3,), (4, 3)])
def test_full_loss_gradient_with_sigmoid_hidden_layers(hidden, rng):
    model = ContractiveAutoencoder(hidden_sizes=hidden, code_size=2, lam=0.5,
                                   activation="sigmoid", random_state=0)
    result = check_model(model, rng.random((6, 5)), eps=1e-5)
    assert result.max_error < 1e-6, result.table()


@pytest.mark.parametrize("hidden", [(), (5, 4)])
def test_loss_is_reconstruction_plus_lam_times_mean_jacobian_norm(hidden, rng):
    X = rng.random((7, 6))
    model = ContractiveAutoencoder(hidden_sizes=hidden, code_size=3, lam=0.3, random_state=0)
    model._initialize(X)
    loss = model._step(X, X)
    J = _finite_difference_jacobian(model, X)
    reconstruction = mean_squared_error(model.reconstruct(X), X)[0]
    assert loss == pytest.approx(reconstruction + 0.3 * np.mean(np.sum(J**2, axis=(1, 2))),
                                 rel=1e-8)
    assert model._evaluate(X, X) == pytest.approx(loss, rel=1e-12)


@pytest.mark.parametrize("hidden", [(), (8,)])
def test_jacobian_is_exact(hidden, digits):
    model = ContractiveAutoencoder(hidden_sizes=hidden, code_size=5, epochs=1,
                                   random_state=0).fit(digits[:100])
    J = model.jacobian(digits[:10])
    assert J.shape == (10, 5, 64)
    np.testing.assert_allclose(J, _finite_difference_jacobian(model, digits[:10]), atol=1e-9)


# -- behaviour on digits --------------------------------------------------------------

@pytest.mark.parametrize("hidden", [(), (32,)])
def test_penalty_flattens_the_encoder_on_test_data(hidden, digits):
    X_train, X_test = train_test_split(digits, test_size=0.2, random_state=0)

    def mean_jacobian_norm(lam):
        model = ContractiveAutoencoder(hidden_sizes=hidden, code_size=16, lam=lam, epochs=10,
                                       random_state=0).fit(X_train)
        J = _finite_difference_jacobian(model, X_test)
        return np.mean(np.linalg.norm(J, axis=(1, 2)))

    contracted, plain = mean_jacobian_norm(0.01), mean_jacobian_norm(0.0)
    print(f"hidden={hidden}: mean ||J||_F on test digits {contracted:.3f} (lam=0.01), "
          f"{plain:.3f} (lam=0)")
    assert contracted < 0.5 * plain


# -- the common interface ---------------------------------------------------------------

def test_interface(digits):
    X = digits[:200]
    cae = ContractiveAutoencoder(hidden_sizes=(16,), code_size=8, epochs=3, random_state=0)
    assert cae.fit(X) is cae
    Z = cae.transform(X)
    assert Z.shape == (200, 8)
    np.testing.assert_array_equal(cae.inverse_transform(Z), cae.reconstruct(X))
    assert cae.score(X) == pytest.approx(-np.mean((cae.reconstruct(X) - X) ** 2))
    assert len(cae.history_["loss"]) == 3
    assert cae.filters().shape == (16, 64)


@pytest.mark.parametrize("hidden", [(), (8,)])
def test_float32_stays_float32(hidden, digits):
    X = digits[:100].astype(np.float32)
    cae = ContractiveAutoencoder(hidden_sizes=hidden, code_size=4, epochs=2,
                                 random_state=0).fit(X)
    assert all(p.dtype == np.float32 for p in cae.network_.params())
    assert cae.jacobian(X[:3]).dtype == np.float32
    assert np.isfinite(cae.history_["loss"]).all()


def test_validation_loss_includes_the_penalty(digits):
    cae = ContractiveAutoencoder(code_size=8, lam=1.0, epochs=2, validation_fraction=0.2,
                                 random_state=0).fit(digits[:200])
    assert all(v > 0 for v in cae.history_["val_loss"])
    assert cae._evaluate(digits[:50], digits[:50]) > -cae.score(digits[:50])


def test_same_seed_same_model(digits):
    fits = [ContractiveAutoencoder(hidden_sizes=(8,), code_size=4, epochs=2,
                                   random_state=seed).fit(digits[:300]) for seed in (3, 3, 4)]
    for a, b in zip(fits[0].network_.params(), fits[1].network_.params()):
        np.testing.assert_array_equal(a, b)
    assert fits[0].history_ == fits[1].history_
    assert fits[0].history_ != fits[2].history_


def test_rebuilt_from_hyperparameters_and_saved(digits, tmp_path):
    cae = ContractiveAutoencoder(hidden_sizes=(12,), code_size=6, epochs=1,
                                 random_state=0).fit(digits)
    twin = type(cae)(**cae.get_params())
    twin._initialize(digits)
    twin.network_.load_state_dict(cae.network_.state_dict())
    np.testing.assert_array_equal(twin.reconstruct(digits), cae.reconstruct(digits))
    loaded = npae.load(cae.save(tmp_path / "cae.npz"))
    np.testing.assert_array_equal(loaded.jacobian(digits[:5]), cae.jacobian(digits[:5]))


@pytest.mark.parametrize("params, error, match", [
    ({"lam": -0.1}, ValueError, "lam must be >= 0, got -0.1"),
    ({"lam": "big"}, TypeError, "lam must be a number, got 'big'"),
    ({"activation": "swish"}, ValueError, "activation must be one of"),
    ({"epochs": -1}, ValueError, "epochs must be >= 0, got -1"),
])
def test_bad_hyperparameters(params, error, match):
    with pytest.raises(error, match=match):
        ContractiveAutoencoder(**params).fit(np.ones((4, 3)))


@parametrize_with_checks([ContractiveAutoencoder(hidden_sizes=(4,), code_size=2, epochs=2,
                                                 random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
