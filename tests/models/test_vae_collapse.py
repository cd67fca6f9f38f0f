"""VAE controls against posterior collapse: KL warm-up, free bits, and the per-epoch diagnostics."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae import VAE, load
from npae.datasets import load_digits
from npae.gradcheck import check_arrays, check_model
from npae.losses import gaussian_kl
from npae.models.vae import _free_bits_kl, _kl_per_dimension, _split
from npae.train import Callback


@pytest.mark.parametrize("params, error, words", [
    ({"kl_warmup": -1}, ValueError, "VAE: kl_warmup must be >= 0, got -1"),
    ({"kl_warmup": 2.5}, TypeError, "VAE: kl_warmup must be an int, got 2.5"),
    ({"free_bits": -0.1}, ValueError, "VAE: free_bits must be >= 0, got -0.1"),
    ({"free_bits": float("inf")}, ValueError, "VAE: free_bits must be finite, got inf"),
    ({"free_bits": "0.5"}, TypeError, "VAE: free_bits must be a number, got '0.5'"),
])
def test_bad_collapse_controls(params, error, words, rng):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        VAE(**params).fit(rng.random((5, 4)))


# -- free bits -------------------------------------------------------------------------

@given(n=st.integers(1, 6), latent=st.integers(1, 5), seed=st.integers(0, 2**16),
       floor_quantile=st.floats(0.0, 1.0))
def test_free_bits_value_and_gradient(n, latent, seed, floor_quantile):
    g = np.random.default_rng(seed)
    mu, logvar = g.standard_normal((n, latent)), g.standard_normal((n, latent))
    kl_dims = _kl_per_dimension(mu, logvar)
    free_bits = float(np.quantile(kl_dims, floor_quantile))
    if np.min(np.abs(kl_dims - free_bits)) < 1e-4:  # the kink: move the floor off it
        free_bits = max(0.0, free_bits - 1e-3)
    value, dmu, dlogvar = _free_bits_kl(mu, logvar, free_bits)
    assert value == pytest.approx(np.sum(np.maximum(kl_dims, free_bits)), rel=1e-12)
    under = kl_dims <= free_bits
    assert np.all(dmu[:, under] == 0) and np.all(dlogvar[:, under] == 0)
    _, dmu_plain, dlogvar_plain = gaussian_kl(mu, logvar)
    np.testing.assert_array_equal(dmu[:, ~under], dmu_plain[:, ~under])
    result = check_arrays(lambda: _free_bits_kl(mu, logvar, free_bits)[0],
                          {"mu": mu, "logvar": logvar}, {"mu": dmu, "logvar": dlogvar})
    assert result.max_error < 1e-6, result.table()


def test_kl_per_dimension_sums_to_the_batch_mean_kl(rng):
    mu, logvar = rng.standard_normal((7, 4)), rng.standard_normal((7, 4))
    assert _kl_per_dimension(mu, logvar).sum() == pytest.approx(gaussian_kl(mu, logvar)[0],
                                                                rel=1e-12)


def _floor_between_dimensions(X, **params):
    """A free-bits floor with initial batch-mean KLs on both sides, far from each."""
    vae = VAE(**params)
    vae._initialize(X)
    kl = np.sort(_kl_per_dimension(*_split(vae.encoder_.forward(X, training=False))))
    middle = len(kl) // 2
    assert kl[middle] - kl[middle - 1] > 1e-3
    return 0.5 * (kl[middle - 1] + kl[middle]), kl


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_full_loss_gradient_with_free_bits(likelihood, rng):
    """Float64, end to end: some latent dimensions under the floor, some above."""
    X = rng.random((7, 6))
    params = dict(hidden_sizes=(5, 4), latent_dim=4, likelihood=likelihood, beta=0.7, sigma=0.7,
                  activation="tanh", random_state=2)
    floor, kl = _floor_between_dimensions(X, **params)
    vae = VAE(free_bits=floor, **params)
    result = check_model(vae, X, seed=3)
    assert result.max_error < 1e-6, result.table()
    # the dimensions under the floor get their encoder gradient from the reconstruction only
    assert np.sum(kl < floor) == 2


def test_free_bits_zero_is_the_plain_elbo(rng):
    X = rng.random((30, 5))
    params = dict(hidden_sizes=(6,), latent_dim=3, epochs=3, batch_size=10, random_state=0)
    plain, zero = VAE(**params).fit(X), VAE(free_bits=0.0, **params).fit(X)
    np.testing.assert_array_equal(plain.transform(X), zero.transform(X))


def test_a_floor_above_every_dimension_leaves_only_the_reconstruction(rng):
    """With the floor above every KL, the encoder's gradient is the beta = 0 one, and the loss
    is the reconstruction plus latent_dim * free_bits."""
    X = rng.random((9, 6))
    params = dict(hidden_sizes=(5,), latent_dim=3, random_state=1)
    steps = {}
    for name, extra in (("floored", {"free_bits": 50.0}), ("beta0", {"beta": 0.0})):
        vae = VAE(**params, **extra)
        vae._initialize(X)
        vae._rng = np.random.default_rng(4)
        vae.network_.zero_grad()
        steps[name] = vae._step(X, X), [g.copy() for g in vae.network_.grads()]
    assert steps["floored"][0] == pytest.approx(steps["beta0"][0] + 3 * 50.0, rel=1e-12)
    for floored, beta0 in zip(steps["floored"][1], steps["beta0"][1]):
        np.testing.assert_array_equal(floored, beta0)


# -- warm-up -----------------------------------------------------------------------------

def test_warmup_schedule_is_recorded_per_epoch(rng):
    X = rng.random((40, 5))
    vae = VAE(hidden_sizes=(6,), latent_dim=2, beta=2.0, kl_warmup=4, epochs=7, batch_size=16,
              random_state=0).fit(X)
    assert vae.history_["beta"] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    plain = VAE(hidden_sizes=(6,), latent_dim=2, beta=2.0, epochs=2, random_state=0).fit(X)
    assert plain.history_["beta"] == [2.0, 2.0]


def test_the_first_warmup_epoch_trains_with_beta_zero(rng):
    """Bit for bit: one epoch of warm-up is one epoch of beta = 0."""
    X = rng.random((40, 5))
    params = dict(hidden_sizes=(6,), latent_dim=2, epochs=1, batch_size=16, random_state=0)
    warm = VAE(kl_warmup=5, **params).fit(X)
    zero = VAE(beta=0.0, **params).fit(X)
    for a, b in zip(warm.network_.params(), zero.network_.params()):
        np.testing.assert_array_equal(a, b)
    assert warm.history_["loss"] == zero.history_["loss"]
    plain = VAE(**params).fit(X)
    assert not np.array_equal(plain.network_.params()[0], warm.network_.params()[0])


def test_warmup_resumes_from_a_checkpoint_where_it_was(rng, tmp_path):
    X = rng.random((40, 5))
    params = dict(hidden_sizes=(6,), latent_dim=2, kl_warmup=4, batch_size=16, random_state=0)
    whole = VAE(epochs=6, **params).fit(X)
    path = tmp_path / "vae.npz"
    VAE(epochs=3, **params).fit(X, checkpoint=path)
    resumed = VAE(epochs=6, **params).fit(X, checkpoint=path, resume=True)
    assert resumed.history_ == whole.history_
    for a, b in zip(resumed.network_.params(), whole.network_.params()):
        np.testing.assert_array_equal(a, b)


# -- diagnostics in history_ ---------------------------------------------------------------

def test_history_records_kl_per_dimension_and_active_units(rng, tmp_path):
    X = load_digits()[0][:300]
    vae = VAE(hidden_sizes=(32,), latent_dim=4, epochs=5, learning_rate=3e-3,
              random_state=0).fit(X)
    kl = vae.kl_history()
    assert kl.shape == (5, 4)
    assert all(len(vae.history_[key]) == 5 for key in ("loss", "beta", "active_units"))
    # the last epoch's records are the fitted model's diagnostics on the training rows
    np.testing.assert_allclose(kl[-1], vae.kl_per_dimension(X), rtol=1e-10)
    assert vae.history_["active_units"][-1] == vae.active_units(X)
    assert np.all(kl >= 0)
    path = tmp_path / "vae.npz"
    vae.save(path)
    np.testing.assert_array_equal(load(path).kl_history(), kl)


def test_diagnostics_use_the_training_rows_only(rng):
    """With a validation split, the records are on the rows trained on."""

    class TrainingRows(Callback):
        def on_train_begin(self, trainer, X, Y):
            self.X = X

    X, rows = rng.random((50, 5)), TrainingRows()
    vae = VAE(hidden_sizes=(6,), latent_dim=3, epochs=2, validation_fraction=0.4,
              random_state=0).fit(X, callbacks=[rows])
    assert rows.X.shape == (30, 5)
    np.testing.assert_allclose(vae.kl_history()[-1], vae.kl_per_dimension(rows.X), rtol=1e-10)
    assert not np.allclose(vae.kl_history()[-1], vae.kl_per_dimension(X), rtol=1e-6)


# -- on the digits: a strong decoder collapses units, warm-up and free bits keep them --------

def test_warmup_and_free_bits_keep_more_active_units_on_the_digits():
    X = load_digits()[0]
    params = dict(hidden_sizes=(256, 256), latent_dim=16, epochs=60, random_state=0)
    active = {name: VAE(**params, **extra).fit(X).active_units(X)
              for name, extra in (("plain", {}), ("warmup", {"kl_warmup": 30}),
                                  ("free_bits", {"free_bits": 0.5}))}
    assert active["plain"] <= 12, active
    assert active["warmup"] >= active["plain"] + 3, active
    assert active["free_bits"] >= active["plain"] + 3, active
