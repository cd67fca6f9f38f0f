"""Sequential and mlp: composition, parameters, state, summary, end-to-end gradients."""

import numpy as np
import pytest

from npae import losses
from npae._validation import NonFiniteInputError
from npae.gradcheck import check_network
from npae.layers import Dense, Flatten, ReLU, Reshape, Sigmoid, Tanh
from npae.network import Sequential, mlp
from npae.optim import Adam
from npae.train import Trainer


def small_net():
    return Sequential([Dense(4, 3, rng=0), Tanh(), Dense(3, 2, rng=1), Sigmoid()])


def test_forward_backward_equal_composition_by_hand(rng):
    net = small_net()
    d1, act1, d2, act2 = (type(layer)(**layer.get_config()) for layer in net.layers)
    for mine, theirs in zip(net.layers, (d1, act1, d2, act2)):
        for key in mine.params:
            theirs.params[key][...] = mine.params[key]
    x, g = rng.normal(size=(5, 4)), rng.normal(size=(5, 2))
    y = act2.forward(d2.forward(act1.forward(d1.forward(x))))
    np.testing.assert_array_equal(net.forward(x), y)
    dx = d1.backward(act1.backward(d2.backward(act2.backward(g))))
    np.testing.assert_array_equal(net.backward(g), dx)
    for mine, theirs in zip(net.layers, (d1, act1, d2, act2)):
        for key in mine.grads:
            np.testing.assert_array_equal(mine.grads[key], theirs.grads[key])
    np.testing.assert_array_equal(net(x), y)  # __call__ is forward


@pytest.mark.parametrize("layers", [
    lambda: [Dense(4, 3, rng=0), Tanh(), Dense(3, 2, rng=1)],  # a Dense sees the data
    lambda: [Tanh(), Dense(4, 2, rng=1)],  # an activation does
])
def test_backward_without_input_grad(layers, rng):
    """input_grad=False returns None and the same parameter gradients."""
    full, lean = Sequential(layers()), Sequential(layers())
    x, g = rng.normal(size=(5, 4)), rng.normal(size=(5, 2))
    full.forward(x)
    lean.forward(x)
    assert full.backward(g) is not None
    assert lean.backward(g, input_grad=False) is None
    for (_, _, a), (_, _, b) in zip(full.named_parameters(), lean.named_parameters()):
        np.testing.assert_array_equal(a, b)


def test_params_and_grads_are_aligned_live_arrays():
    net = Sequential([Flatten(), Dense(4, 3, rng=0), ReLU(), Dense(3, 4, rng=1), Reshape((2, 2))])
    names = [name for name, _, _ in net.named_parameters()]
    assert names == ["1.W", "1.b", "3.W", "3.b"]
    params, grads = net.params(), net.grads()
    assert [p.shape for p in params] == [g.shape for g in grads] == [(4, 3), (3,), (3, 4), (4,)]
    assert params[0] is net[1].params["W"] and grads[3] is net[3].grads["b"]
    assert net.n_params == 4 * 3 + 3 + 3 * 4 + 4
    assert len(net) == 5


def test_non_trainable_layers_are_not_handed_to_optimizers():
    frozen = Dense(3, 3, rng=0)
    frozen.trainable = False
    net = Sequential([frozen, Dense(3, 2, rng=1)])
    assert [name for name, _, _ in net.named_parameters()] == ["1.W", "1.b"]
    assert set(net.state_dict()) == {"0.W", "0.b", "1.W", "1.b"}  # saved all the same


def test_zero_grad_resets_every_layer(rng):
    net = small_net()
    net.forward(rng.normal(size=(2, 4)))
    net.backward(np.ones((2, 2)))
    assert any(g.any() for g in net.grads())
    net.zero_grad()
    assert not any(g.any() for g in net.grads())


def test_state_dict_round_trip():
    net, other = small_net(), Sequential([Dense(4, 3, rng=5), Tanh(), Dense(3, 2, rng=6),
                                          Sigmoid()])
    state = net.state_dict()
    assert set(state) == {"0.W", "0.b", "2.W", "2.b"}
    state["0.W"][0, 0] += 1  # copies, not views
    assert net[0].params["W"][0, 0] != state["0.W"][0, 0]
    state = net.state_dict()
    other.load_state_dict(state)
    x = np.linspace(-1, 1, 8).reshape(2, 4)
    np.testing.assert_array_equal(other.forward(x), net.forward(x))
    assert other[0].params["W"] is not state["0.W"]


def test_load_state_dict_errors_leave_the_network_unchanged():
    net = small_net()
    before = net.state_dict()
    bad = small_net().state_dict()
    for key in bad:
        bad[key] = bad[key] + 1
    bad["2.W"] = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"array '2.W': expected shape \(3, 2\), got \(2, 3\)"):
        net.load_state_dict(bad)
    del bad["2.W"]
    with pytest.raises(KeyError, match="state has no array '2.W'"):
        net.load_state_dict(bad)
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_summary_lists_shapes_and_counts(capsys):
    net = Sequential([Flatten(), Dense(64, 32, rng=0), ReLU(), Dense(32, 8, rng=0),
                      Reshape((2, 4))])
    text = net.summary((1, 8, 8))
    printed = capsys.readouterr().out
    assert printed.strip() == text.strip()
    lines = text.splitlines()
    assert lines[0].split() == ["layer", "output", "shape", "params"]
    rows = [line.split(None, 2) for line in lines[1:-1]]
    assert [r[0] for r in rows] == ["input", "0:", "1:", "2:", "3:", "4:"]
    assert "(1, 8, 8)" in lines[1]
    assert "Flatten" in lines[2] and "(64,)" in lines[2] and lines[2].rstrip().endswith("-")
    assert "Dense" in lines[3] and "(32,)" in lines[3] and lines[3].rstrip().endswith("2080")
    assert "ReLU" in lines[4] and "(32,)" in lines[4]
    assert "Dense" in lines[5] and "(8,)" in lines[5] and lines[5].rstrip().endswith("264")
    assert "Reshape" in lines[6] and "(2, 4)" in lines[6]
    assert lines[-1] == "total parameters: 2344"


def test_sequential_rejects_non_layers():
    with pytest.raises(TypeError, match="Sequential expected Layer instances, got ufunc at 1"):
        Sequential([Dense(2, 2), np.tanh])


def test_repr_lists_layers():
    text = repr(Sequential([Dense(2, 3), ReLU()]))
    assert text.startswith("Sequential([") and "Dense(in_features=2" in text and "ReLU(" in text


def dense_layers(net):
    return [layer for layer in net.layers if isinstance(layer, Dense)]


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_mlp_widths_and_he_init_for_relu(activation):
    net = mlp([64, 32, 8, 32, 64], activation, rng=0)
    dense = dense_layers(net)
    widths = [(d.in_features, d.out_features) for d in dense]
    assert widths == [(64, 32), (32, 8), (8, 32), (32, 64)]
    assert [d.init for d in dense] == ["he_normal"] * 3 + ["glorot_uniform"]
    kinds = [type(layer).__name__ for layer in net.layers]
    act = "ReLU" if activation == "relu" else "LeakyReLU"
    assert kinds == ["Dense", act, "Dense", act, "Dense", act, "Dense"]  # no final activation
    # He: Var W = 2 / fan_in, visible on the 64 x 32 matrix
    assert dense[0].params["W"].std() == pytest.approx(np.sqrt(2 / 64), rel=0.1)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_mlp_glorot_init_otherwise_and_final_activation(activation):
    net = mlp([10, 6, 3], activation, final_activation="sigmoid", dtype="float32", rng=0)
    dense = dense_layers(net)
    assert [d.init for d in dense] == ["glorot_uniform", "glorot_uniform"]
    assert [type(layer).__name__ for layer in net.layers][-1] == "Sigmoid"
    assert all(p.dtype == np.float32 for p in net.params())
    limit = np.sqrt(6 / (10 + 6))
    assert np.abs(dense[0].params["W"]).max() <= limit


def test_mlp_seeded():
    a, b, c = mlp([5, 4, 3], rng=0), mlp([5, 4, 3], rng=0), mlp([5, 4, 3], rng=1)
    for key in a.state_dict():
        np.testing.assert_array_equal(a.state_dict()[key], b.state_dict()[key])
    assert not np.array_equal(a.state_dict()["0.W"], c.state_dict()["0.W"])
    assert not np.array_equal(a[0].params["W"][:4, :3], a[2].params["W"][:4, :3])


@pytest.mark.parametrize("sizes, error, message", [
    ([64], ValueError, r"sizes needs an input and an output width, got \[64\]"),
    ([64, 0, 8], ValueError, "each of sizes must be >= 1, got 0"),
    ([64, 8.5], TypeError, "each of sizes must be an int"),
])
def test_mlp_bad_sizes(sizes, error, message):
    with pytest.raises(error, match=message):
        mlp(sizes)


def test_mlp_unknown_activation():
    with pytest.raises(ValueError, match="activation must be one of .*got 'swish'"):
        mlp([4, 3, 2], "swish")


@pytest.mark.parametrize("activation, final, loss", [
    ("tanh", None, losses.mean_squared_error),
    ("sigmoid", None, losses.mean_squared_error),
    ("sigmoid", "sigmoid", losses.binary_cross_entropy),
    ("tanh", None, losses.binary_cross_entropy_with_logits),
])
def test_autoencoder_network_gradient_check(activation, final, loss):
    rng = np.random.default_rng(0)
    net = mlp([64, 32, 8, 32, 64], activation, final_activation=final, rng=rng)
    for param in net.params():
        if param.ndim == 1:
            param[...] = 0.1 * rng.normal(size=param.shape)  # exercise the biases too
    x = rng.uniform(0.05, 0.95, size=(3, 64))
    # eps = 1e-5, not 1e-6: through four sigmoids dL/dx is about 1e-5, and the
    # loss's rounding error (1e-16) over 2 eps would be 1e-6 of that.
    result = check_network(net, loss, x, eps=1e-5)
    assert len(result) == 1 + 8
    assert result.max_error < 1e-6, result.table()


def test_training_with_adam_reduces_mse():
    rng = np.random.default_rng(0)
    # data on a 4-d subspace: an 8-unit code can reconstruct it
    X = np.tanh(rng.normal(size=(256, 4)) @ rng.normal(size=(4, 64)) / 2)
    net = mlp([64, 32, 8, 32, 64], "tanh", rng=1)

    def step(xb, yb):
        loss, grad = losses.mean_squared_error(net.forward(xb), yb)
        net.backward(grad)
        return loss

    def evaluate(x, y):
        return losses.mean_squared_error(net.forward(x, training=False), y)[0]

    before = evaluate(X, X)
    trainer = Trainer(net, Adam(net.params(), net.grads(), lr=3e-3), step, evaluate,
                      epochs=30, batch_size=32, rng=np.random.default_rng(2))
    history = trainer.fit(X, validation_data=(X, X))
    after = evaluate(X, X)
    assert after < 0.3 * before
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_loss"][-1] == pytest.approx(after)


def test_layers_can_change_between_calls(rng):
    """The plan follows the layer list: an appended layer is run, a replaced weight is used."""
    net = mlp([6, 4, 6], "relu", rng=0)
    x = rng.normal(size=(5, 6))
    net.forward(x)
    net.layers.append(Sigmoid())
    assert (net.forward(x) > 0).all()
    net.layers[0].params["W"] = np.zeros((6, 4))  # then every code is 0 and so is every bias
    np.testing.assert_array_equal(net.forward(x), np.full((5, 6), 0.5))


@pytest.mark.parametrize("activation, reader", [("tanh", "Tanh"), ("identity", "Dense")])
@pytest.mark.parametrize("fill", [np.nan, np.inf])
def test_non_finite_values_inside_raise_as_layer_by_layer(fill, activation, reader, rng):
    """A weight gone NaN or inf is refused by the layer that reads it."""
    net = mlp([5, 4, 3], activation, rng=0)
    net.layers[0].params["W"][0, 0] = fill
    x = rng.normal(size=(2, 5))
    with np.errstate(all="ignore"), pytest.raises(
            NonFiniteInputError, match=f"^{reader} expected finite input, got an input "
                                       "containing NaN or inf$"):
        net.forward(x)


def test_backward_before_forward_names_the_last_layer():
    net = mlp([5, 4, 3], "tanh", final_activation="sigmoid", rng=0)
    with pytest.raises(RuntimeError, match="Sigmoid.backward called before forward"):
        net.backward(np.ones((2, 3)))
    net.forward(np.ones((2, 5)), training=False)  # keeps no caches
    with pytest.raises(RuntimeError, match="Sigmoid.backward called before forward"):
        net.backward(np.ones((2, 3)))
    net.forward(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"Sigmoid.backward expected grad_out of shape \(2, 3\), "
                                         r"got \(3, 3\)"):
        net.backward(np.ones((3, 3)))
