"""DenoisingAutoencoder: gradients, fresh seeded corruption, denoising digits, interface."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.utils.estimator_checks import parametrize_with_checks

import npae
from npae import PCA, Autoencoder, DenoisingAutoencoder
from npae.datasets import load_digits, train_test_split
from npae.gradcheck import check_model
from npae.losses import mean_squared_error
from npae.noise import corrupt

NOISES = [("gaussian", 0.3), ("masking", 0.3), ("salt_pepper", 0.2)]


@pytest.fixture(scope="module")
def digits():
    return load_digits()[0]


@given(n=st.integers(1, 5), d=st.integers(2, 5), hidden=st.lists(st.integers(2, 4), max_size=2),
       code=st.integers(1, 4), noise=st.sampled_from(NOISES), seed=st.integers(0, 99))
def test_full_loss_gradient(n, d, hidden, code, noise, seed):
    X = np.random.default_rng(seed).random((n, d))
    model = DenoisingAutoencoder(hidden_sizes=hidden, code_size=code, noise=noise[0],
                                 noise_level=noise[1], activation="tanh", random_state=seed)
    # Widths >= 2 and eps = 1e-5: with width-1 layers (or behind several saturating
    # layers) an array's whole gradient can be 1e-8 of the loss, below what central
    # differences resolve (round-off ~1e-16 L / eps), although the analytic one is right.
    result = check_model(model, X, seed=seed, eps=1e-5)
    assert result.max_error < 1e-6, result.table()


@pytest.mark.parametrize("noise, level", NOISES)
def test_step_reconstructs_the_clean_batch_from_a_seeded_corruption(noise, level, rng):
    X = rng.random((6, 5))
    model = DenoisingAutoencoder(hidden_sizes=(4,), code_size=3, noise=noise, noise_level=level,
                                 random_state=0)
    model._initialize(X)
    model._rng = np.random.default_rng(7)
    loss = model._step(X, X)
    X_tilde = corrupt(X, noise, level, random_state=np.random.default_rng(7))
    assert not np.array_equal(X_tilde, X)
    expected = mean_squared_error(model.reconstruct(X_tilde), X)[0]
    assert loss == pytest.approx(expected, rel=1e-12)


def test_corruption_is_fresh_every_batch(rng):
    X = rng.random((50, 8))
    model = DenoisingAutoencoder(noise="masking", noise_level=0.5, random_state=0)
    model._initialize(X)
    first, second = model._corrupt(X), model._corrupt(X)
    assert not np.array_equal(first, second)
    assert np.all((first == 0) | (first == X)) and np.mean(first == 0) > 0.3


def test_encoder_sees_corrupted_input_in_training_only(rng):
    X = rng.random((20, 6)) + 0.1  # no zeros: a zero is a masked entry
    model = DenoisingAutoencoder(hidden_sizes=(4,), code_size=2, noise_level=0.5, epochs=2,
                                 batch_size=10, random_state=0)
    model._initialize(X)
    seen = []
    forward = model.encoder_.forward
    model.encoder_.forward = lambda x, training=True: (
        seen.append((training, x.copy())) or forward(x, training))
    model._train(model.network_, model._step, model._evaluate, X)
    trained = [x for training, x in seen if training]
    assert len(trained) == 4 and all(0.2 < np.mean(x == 0) < 0.8 for x in trained)
    # The divergence guard's check of the final weights sees the clean rows.
    assert all(np.mean(x == 0) == 0 for training, x in seen if not training)
    seen.clear()
    model.transform(X)  # a batch at a time, every row clean
    assert not any(training for training, _ in seen)
    np.testing.assert_array_equal(np.concatenate([x for _, x in seen]), X)


# -- behaviour on digits --------------------------------------------------------------

def test_denoises_digits_better_than_autoencoder_and_pca(digits):
    """Clean test digits from masked ones (30% of pixels zeroed): DAE < AE and PCA.

    All three have a 16-d code; the AE and PCA are fitted on clean data.
    """
    X_train, X_test = train_test_split(digits, test_size=0.2, random_state=0)
    X_noisy = corrupt(X_test, "masking", 0.3, random_state=1)
    size = {"hidden_sizes": (64,), "code_size": 16, "epochs": 50, "random_state": 0}
    dae = DenoisingAutoencoder(noise="masking", noise_level=0.3, **size).fit(X_train)
    ae = Autoencoder(**size).fit(X_train)
    pca = PCA(16).fit(X_train)
    errors = {
        "dae": float(np.mean((dae.reconstruct(X_noisy) - X_test) ** 2)),
        "ae": float(np.mean((ae.reconstruct(X_noisy) - X_test) ** 2)),
        "pca": float(np.mean((pca.inverse_transform(pca.transform(X_noisy)) - X_test) ** 2)),
    }
    print("denoising MSE on masked test digits:", errors)
    assert errors["dae"] < 0.8 * errors["ae"]
    assert errors["dae"] < 0.8 * errors["pca"]


# -- the common interface ---------------------------------------------------------------

def test_interface(digits):
    X = digits[:200]
    dae = DenoisingAutoencoder(hidden_sizes=(16,), code_size=8, epochs=3, random_state=0)
    assert dae.fit(X) is dae
    Z = dae.transform(X)
    assert Z.shape == (200, 8)
    np.testing.assert_array_equal(dae.inverse_transform(Z), dae.reconstruct(X))
    assert dae.score(X) == pytest.approx(-np.mean((dae.reconstruct(X) - X) ** 2))
    assert len(dae.history_["loss"]) == 3
    assert dae.filters().shape == (16, 64)


@pytest.mark.parametrize("noise, level", NOISES)
def test_same_seed_same_model(digits, noise, level):
    fits = [DenoisingAutoencoder(code_size=8, noise=noise, noise_level=level, epochs=2,
                                 random_state=seed).fit(digits[:300]) for seed in (3, 3, 4)]
    for a, b in zip(fits[0].network_.params(), fits[1].network_.params()):
        np.testing.assert_array_equal(a, b)
    assert fits[0].history_ == fits[1].history_
    assert fits[0].history_ != fits[2].history_


def test_rebuilt_from_hyperparameters_and_saved(digits, tmp_path):
    dae = DenoisingAutoencoder(hidden_sizes=(12,), code_size=6, noise="gaussian", noise_level=0.1,
                               epochs=1, random_state=0).fit(digits)
    twin = type(dae)(**dae.get_params())
    twin._initialize(digits)
    twin.network_.load_state_dict(dae.network_.state_dict())
    np.testing.assert_array_equal(twin.reconstruct(digits), dae.reconstruct(digits))
    loaded = npae.load(dae.save(tmp_path / "dae.npz"))
    assert loaded.get_params() == dae.get_params()
    np.testing.assert_array_equal(loaded.reconstruct(digits), dae.reconstruct(digits))


@pytest.mark.parametrize("params, error, match", [
    ({"noise": "dropout"}, ValueError,
     "noise must be one of 'gaussian', 'masking', 'salt_pepper', got 'dropout'"),
    ({"noise": "masking", "noise_level": 1.5}, ValueError, "noise_level must be <= 1.0, got 1.5"),
    ({"noise": "salt_pepper", "noise_level": -0.1}, ValueError,
     "noise_level must be >= 0, got -0.1"),
    ({"noise": "gaussian", "noise_level": -1}, ValueError, "noise_level must be >= 0, got -1.0"),
    ({"noise_level": None}, TypeError, "noise_level must be a number, got None"),
    ({"hidden_sizes": (0,)}, ValueError, "each of hidden_sizes must be >= 1, got 0"),
])
def test_bad_hyperparameters(params, error, match):
    with pytest.raises(error, match=match):
        DenoisingAutoencoder(**params).fit(np.ones((4, 3)))


def test_gaussian_level_may_exceed_one(rng):
    DenoisingAutoencoder(noise="gaussian", noise_level=2.0, code_size=2, epochs=1,
                         random_state=0).fit(rng.random((10, 4)))


@parametrize_with_checks([DenoisingAutoencoder(hidden_sizes=(4,), code_size=2, epochs=2,
                                               random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
