"""The gradient checker itself: it must pass right gradients and catch wrong ones."""

import numpy as np
import pytest

from npae import Autoencoder, losses, regularizers
from npae.gradcheck import (
    check_arrays,
    check_layer,
    check_loss,
    check_model,
    check_network,
    numerical_gradient,
    relative_error,
)
from npae.layers import Dense, Sigmoid, Tanh
from npae.layers.dense import _dense_backward
from npae.network import Sequential


class DenseMissingTranspose(Dense):
    """A classic bug: dW = g^T x (the transpose of the right answer) on a square layer."""

    def backward(self, grad_out):
        x = self._saved()
        dx, dW, db = _dense_backward(grad_out, x, self.params["W"])
        self.grads["W"] += dW.T
        self.grads["b"] += db
        return dx


class DenseForgetsBias(Dense):
    """Another: the bias gradient is never accumulated."""

    def backward(self, grad_out):
        x = self._saved()
        dx, dW, _ = _dense_backward(grad_out, x, self.params["W"])
        self.grads["W"] += dW
        return dx


class TanhWrongDerivative(Tanh):
    """dx = g (1 - y) instead of g (1 - y^2)."""

    def _backward(self, grad_out, x, y):
        return grad_out * (1 - y)


def test_catches_a_transposed_weight_gradient(rng):
    result = check_layer(DenseMissingTranspose(4, 4, rng=0), rng.normal(size=(3, 4)))
    assert result["W"] > 0.1
    assert result["x"] < 1e-7 and result["b"] < 1e-7
    assert not result.passed()
    assert result.max_error == result["W"]


def test_catches_a_missing_bias_gradient(rng):
    result = check_layer(DenseForgetsBias(3, 2, rng=0), rng.normal(size=(4, 3)))
    assert result["b"] == pytest.approx(1.0)
    assert result["W"] < 1e-7


def test_catches_a_wrong_activation_derivative(rng):
    result = check_layer(TanhWrongDerivative(), rng.normal(size=(3, 5)))
    assert result["x"] > 0.1


def test_catches_a_wrong_layer_inside_a_network(rng):
    net = Sequential([Dense(5, 4, rng=0), TanhWrongDerivative(), Dense(4, 5, rng=1)])
    result = check_network(net, losses.mean_squared_error, rng.normal(size=(3, 5)))
    assert result["x"] > 0.05 and result["0.W"] > 0.05
    assert result["2.W"] < 1e-7  # the layers after the bug are still right


def test_catches_a_wrong_loss_gradient(rng):
    def mse_missing_two(y_pred, y_true):
        value, grad = losses.mean_squared_error(y_pred, y_true)
        return value, grad / 2

    result = check_loss(mse_missing_two, rng.normal(size=(3, 4)), rng.normal(size=(3, 4)))
    assert result["y_pred"] == pytest.approx(0.5)


def test_catches_a_wrong_gradient_of_a_second_input(rng):
    def kl_wrong_logvar(mu, logvar):
        value, dmu, dlogvar = losses.gaussian_kl(mu, logvar)
        return value, dmu, -dlogvar

    result = check_loss(kl_wrong_logvar, rng.normal(size=(3, 2)), rng.normal(size=(3, 2)))
    assert result["mu"] < 1e-7 and result["logvar"] > 1


def test_table_shows_names_shapes_errors_and_verdicts(rng):
    result = check_layer(DenseMissingTranspose(4, 4, rng=0), rng.normal(size=(3, 4)))
    lines = result.table().splitlines()
    assert lines[0] == "DenseMissingTranspose gradient check"
    assert lines[1].split() == ["array", "shape", "rel.", "error", "ok"]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert list(rows) == ["x", "W", "b"]
    assert "(3, 4)" in rows["x"] and "(4, 4)" in rows["W"] and "(4,)" in rows["b"]
    assert rows["W"].endswith("NO") and rows["x"].endswith("yes") and rows["b"].endswith("yes")
    assert f"{result['W']:.2e}" in rows["W"]
    assert str(result) == result.table()
    assert result.table(tol=10).count("yes") == 3


def test_pretty_printing_uses_the_table(rng):
    result = check_layer(Dense(2, 2, rng=0), rng.normal(size=(2, 2)))
    printed = []

    class Printer:
        def text(self, s):
            printed.append(s)

    result._repr_pretty_(Printer(), cycle=False)
    assert printed == [result.table()]


def test_numerical_gradient_of_a_known_function():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-8)
    np.testing.assert_array_equal(x, [[1.0, -2.0], [0.5, 3.0]])  # restored


def test_relative_error():
    assert relative_error(np.ones(3), np.ones(3)) == 0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0
    assert relative_error(np.zeros(0), np.zeros(0)) == 0
    assert relative_error([1.0, 0.0], [1.0, 0.5]) == pytest.approx(0.5)
    assert relative_error([2.0, 0.0], [-2.0, 0.0]) == pytest.approx(2.0)
    with pytest.raises(ValueError, match=r"analytic \(2,\), numeric \(3,\)"):
        relative_error(np.zeros(2), np.zeros(3))


def test_float32_arrays_are_refused():
    x = np.ones(3, dtype=np.float32)
    with pytest.raises(ValueError, match="need float64 arrays, got float32 for 'x'"):
        check_arrays(lambda: float(x.sum()), {"x": x}, {"x": np.ones(3)})
    with pytest.raises(ValueError, match="need a float64 layer, got Dense in float32"):
        check_layer(Dense(2, 2, dtype="float32"), np.ones((1, 2)))


def test_check_loss_passes_extra_arguments_through(rng):
    result = check_loss(regularizers.sparsity_kl, rng.uniform(0.1, 0.9, size=(4, 3)), 0.1, beta=2.0)
    assert list(result) == ["a"] and result.passed()
    result = check_loss(losses.softmax_cross_entropy, rng.normal(size=(4, 3)),
                        np.array([0, 2, 1, 0]))
    assert list(result) == ["logits"] and result.passed()


def test_check_loss_of_an_unnamed_callable(rng):
    class Loss:
        def __call__(self, *args):
            return losses.mean_squared_error(*args)

    result = check_loss(Loss(), rng.normal(size=(2, 2)), rng.normal(size=(2, 2)))
    assert result.title == "Loss gradient check" and result.passed()


def test_check_network_with_a_separate_target(rng):
    net = Sequential([Dense(3, 2, rng=0), Sigmoid()])
    result = check_network(net, losses.binary_cross_entropy, rng.normal(size=(4, 3)),
                           target=rng.uniform(size=(4, 2)))
    assert set(result) == {"x", "0.W", "0.b"} and result.passed()


@pytest.mark.parametrize("loss, output", [("mse", "identity"), ("bce", "sigmoid")])
def test_check_model_autoencoder(loss, output, rng):
    model = Autoencoder(hidden_sizes=(6,), code_size=3, loss=loss, output_activation=output,
                        activation="tanh", random_state=0)
    result = check_model(model, rng.uniform(0.05, 0.95, size=(5, 8)))
    assert len(result) == 8  # W and b of four Dense layers
    assert result.max_error < 1e-6, result.table()
    assert result.title == "Autoencoder loss gradient check"


def test_check_model_catches_a_wrong_model_gradient(rng):
    class BrokenAutoencoder(Autoencoder):
        def _step(self, xb, yb):
            loss = super()._step(xb, yb)
            self.decoder_.layers[0].grads["W"] *= 1.5
            return loss

    result = check_model(BrokenAutoencoder(hidden_sizes=(4,), code_size=2, random_state=0),
                         rng.uniform(size=(5, 6)))
    assert result["3.W"] == pytest.approx(1 / 3, rel=1e-3)
    assert not result.passed()
