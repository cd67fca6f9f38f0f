"""Tied weights: TiedDense shares its source Dense's matrix, and the dense autoencoders use it."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npae
from npae import Autoencoder, ContractiveAutoencoder, DenoisingAutoencoder, SparseAutoencoder
from npae.gradcheck import check_arrays, check_layer, check_model
from npae.layers import Dense, TiedDense
from npae.network import Sequential

TIED = {
    "Autoencoder": (Autoencoder, dict(hidden_sizes=(5, 4), code_size=3, activation="tanh")),
    "SparseAutoencoder": (SparseAutoencoder, dict(hidden_sizes=(5,), code_size=7, beta=0.5)),
    "SparseAutoencoder-l1": (SparseAutoencoder, dict(code_size=4, penalty="l1", lam=0.1,
                                                     activation="tanh",
                                                     code_activation="tanh")),
    "DenoisingAutoencoder": (DenoisingAutoencoder, dict(hidden_sizes=(5,), code_size=3,
                                                        activation="tanh", noise="gaussian",
                                                        noise_level=0.1)),
    "ContractiveAutoencoder": (ContractiveAutoencoder, dict(hidden_sizes=(5,), code_size=3,
                                                            lam=0.3)),
}


# -- the layer ---------------------------------------------------------------------------

@given(n=st.integers(1, 4), n_in=st.integers(1, 6), n_out=st.integers(1, 6),
       seed=st.integers(0, 2**16))
def test_tied_dense_is_the_transposed_dense_and_its_gradients_check(n, n_in, n_out, seed):
    source = Dense(n_in, n_out, rng=seed)
    layer = TiedDense(source)
    layer.params["b"][...] = np.random.default_rng(seed).standard_normal(n_in)
    x = np.random.default_rng(seed + 1).standard_normal((n, n_out))
    np.testing.assert_allclose(layer.forward(x), x @ source.params["W"].T + layer.params["b"],
                               rtol=1e-12)
    assert set(layer.params) == {"b"}  # the weight is the source's, listed once
    result = check_layer(layer, x)  # x and b
    assert result.max_error < 1e-6, result.table()
    # W: the share this layer adds into the source's gradient
    g = np.random.default_rng(seed + 2).standard_normal((n, n_in))
    source.zero_grad()
    layer.forward(x)
    layer.backward(g)
    result = check_arrays(lambda: float(np.sum(layer.forward(x, training=False) * g)),
                          {"W": source.params["W"]}, {"W": source.grads["W"].copy()})
    assert result.max_error < 1e-6, result.table()


def test_both_uses_of_the_shared_weight_add_up(rng):
    """Encoder Dense and decoder TiedDense: W's gradient is the sum of the two uses' gradients."""
    source = Dense(4, 3, rng=0)
    network = Sequential([source, TiedDense(source)])
    x, target = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))

    def loss():
        return 0.5 * float(np.sum((network.forward(x, training=False) - target) ** 2))

    network.zero_grad()
    network.backward(network.forward(x) - target)
    names = [name for name, _, _ in network.named_parameters()]
    assert names == ["0.W", "0.b", "1.b"]  # one W
    analytic = {name: grad.copy() for name, _, grad in network.named_parameters()}
    arrays = {name: param for name, param, _ in network.named_parameters()}
    result = check_arrays(loss, arrays, analytic)
    assert result.max_error < 1e-6, result.table()
    # and each use alone falls short of it
    h = x @ source.params["W"] + source.params["b"]
    g = h @ source.params["W"].T + network.layers[1].params["b"] - target
    decoder_share = g.T @ h
    assert not np.allclose(analytic["0.W"], decoder_share)


def test_tied_dense_refuses_what_it_cannot_share():
    with pytest.raises(TypeError, match="TiedDense expected a Dense layer to share weights "
                                        "with, got TiedDense"):
        TiedDense(TiedDense(Dense(2, 3)))
    with pytest.raises(ValueError, match="TiedDense expected dtype float32 \\(its source's\\), "
                                         "got float64"):
        TiedDense(Dense(2, 3, dtype="float32"))


# -- the estimators ------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(TIED))
def test_full_loss_gradient_with_tied_weights(name, rng):
    cls, params = TIED[name]
    model = cls(tied_weights=True, random_state=0, **params)
    result = check_model(model, rng.random((6, 5)), seed=2)
    assert result.max_error < 1e-6, result.table()


@pytest.mark.parametrize("name", sorted(TIED))
def test_the_decoder_is_the_encoders_transposed_mirror(name, rng):
    cls, params = TIED[name]
    X = rng.random((20, 5))
    model = cls(tied_weights=True, epochs=3, batch_size=8, random_state=0, **params).fit(X)
    encoder = [layer for layer in model.encoder_.layers if isinstance(layer, Dense)]
    decoder = [layer for layer in model.decoder_.layers if isinstance(layer, TiedDense)]
    assert [d.source for d in decoder] == encoder[::-1]
    assert not any(isinstance(layer, Dense) for layer in model.decoder_.layers)
    untied = cls(epochs=3, batch_size=8, random_state=0, **params).fit(X)
    n_weights = sum(layer.params["W"].size for layer in encoder)
    assert untied.network_.n_params - model.network_.n_params == n_weights
    # trained: the shared matrices moved, and decoding reads them
    for d in decoder:
        d.source.params["W"][...] *= 2
    assert not np.allclose(model.inverse_transform(model.transform(X)),
                           untied.inverse_transform(untied.transform(X)))


def test_the_optimizer_updates_the_shared_weight_once_with_the_summed_gradient(rng):
    """One SGD step: W moves by -lr times the sum of both uses' gradients (and only that)."""
    X = rng.random((8, 5))
    model = Autoencoder(hidden_sizes=(), code_size=3, tied_weights=True, optimizer="sgd",
                        learning_rate=0.1, epochs=1, batch_size=8, random_state=0)
    model._initialize(X)
    W = model.encoder_.layers[0].params["W"]
    before = W.copy()
    model.network_.zero_grad()
    model._rng = np.random.default_rng(0)
    model._step(X, X)
    summed = model.encoder_.layers[0].grads["W"].copy()
    model.fit(X)
    after = model.encoder_.layers[0].params["W"]
    np.testing.assert_allclose(after, before - 0.1 * summed, rtol=1e-12, atol=1e-15)
    assert model.decoder_.layers[0].source.params["W"] is after


@pytest.mark.parametrize("name", sorted(TIED))
def test_save_and_load_round_trip(name, rng, tmp_path):
    cls, params = TIED[name]
    X = rng.random((20, 5))
    model = cls(tied_weights=True, epochs=2, batch_size=8, random_state=0, **params).fit(X)
    path = tmp_path / "tied.npz"
    model.save(path)
    loaded = npae.load(path)
    np.testing.assert_array_equal(loaded.reconstruct(X), model.reconstruct(X))
    decoder = [layer for layer in loaded.decoder_.layers if isinstance(layer, TiedDense)]
    encoder = [layer for layer in loaded.encoder_.layers if isinstance(layer, Dense)]
    assert [d.source for d in decoder] == encoder[::-1]  # still shared after loading
    assert all(d.source.params["W"] is e.params["W"] for d, e in zip(decoder, encoder[::-1]))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_both_backends_fit_the_same_tied_model(dtype, rng):
    X = rng.random((24, 5)).astype(dtype)
    fits = {}
    for backend in npae.BACKENDS:
        with npae.use_backend(backend):
            fits[backend] = SparseAutoencoder(code_size=6, tied_weights=True, epochs=3,
                                              batch_size=8, random_state=0).fit(X)
    first, second = (fits[b].network_.params() for b in npae.BACKENDS)
    for a, b in zip(first, second):
        np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == "float32" else 1e-9)


def test_tied_weights_must_be_a_bool(rng):
    with pytest.raises(TypeError, match="Autoencoder: tied_weights must be a bool, got 'yes'"):
        Autoencoder(tied_weights="yes").fit(rng.random((5, 4)))
