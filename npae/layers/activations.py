"""Elementwise activations ``y = f(x)``; backward is ``dx = g * f'(x)``.

Each activation also exposes ``derivative(x)`` (f'(x)) and
``second_derivative(x)`` (f''(x)), which the contractive penalty needs.
"""

import numpy as np
from scipy.special import expit

from npae._validation import check_number
from npae.layers.base import Layer


class Activation(Layer):
    """Base of the elementwise activations: any input shape, no parameters."""

    trainable = False

    def forward(self, x, training=True):
        self._check_input(x, x.ndim if isinstance(x, np.ndarray) and x.ndim >= 2 else 2)
        y = self.function(x)
        if training:
            self._cache = (x, y)
        return y

    def backward(self, grad_out):
        x, y = self._saved()
        self._check_grad(grad_out, x.shape)
        return self._backward(grad_out, x, y)

    def _backward(self, grad_out, x, y):
        return grad_out * self.derivative(x)

    def function(self, x):
        raise NotImplementedError

    def derivative(self, x):
        raise NotImplementedError

    def second_derivative(self, x):
        raise NotImplementedError


class Identity(Activation):
    """y = x.  Backward: dx = g."""

    def function(self, x):
        return x.copy()

    def derivative(self, x):
        return np.ones_like(x)

    def second_derivative(self, x):
        return np.zeros_like(x)

    def _backward(self, grad_out, x, y):
        return grad_out.copy()


class ReLU(Activation):
    """y = max(x, 0).  Backward: dx = g * [x > 0] (0 at x = 0)."""

    def function(self, x):
        return np.maximum(x, 0)

    def derivative(self, x):
        return (x > 0).astype(x.dtype)

    def second_derivative(self, x):
        return np.zeros_like(x)

    def _backward(self, grad_out, x, y):
        return np.where(x > 0, grad_out, 0).astype(self.dtype, copy=False)


class LeakyReLU(Activation):
    """y = x if x > 0 else alpha x.  Backward: dx = g * (1 if x > 0 else alpha)."""

    def __init__(self, alpha=0.01, dtype="float64", rng=None):
        super().__init__(dtype=dtype, rng=rng)
        self.alpha = check_number(alpha, "alpha", "LeakyReLU", low=0)

    def function(self, x):
        return np.where(x > 0, x, self.dtype.type(self.alpha) * x)

    def derivative(self, x):
        return np.where(x > 0, 1, self.alpha).astype(x.dtype)

    def second_derivative(self, x):
        return np.zeros_like(x)

    def get_config(self):
        return {"alpha": self.alpha, **super().get_config()}


class Sigmoid(Activation):
    """y = 1 / (1 + exp(-x)).  Backward: dx = g * y (1 - y)."""

    def function(self, x):
        return expit(x)

    def derivative(self, x):
        s = expit(x)
        return s * (1 - s)

    def second_derivative(self, x):
        s = expit(x)
        return s * (1 - s) * (1 - 2 * s)

    def _backward(self, grad_out, x, y):
        return grad_out * y * (1 - y)


class Tanh(Activation):
    """y = tanh(x).  Backward: dx = g * (1 - y^2)."""

    def function(self, x):
        return np.tanh(x)

    def derivative(self, x):
        return 1 - np.tanh(x) ** 2

    def second_derivative(self, x):
        t = np.tanh(x)
        return -2 * t * (1 - t**2)

    def _backward(self, grad_out, x, y):
        return grad_out * (1 - y * y)


class Softplus(Activation):
    """y = log(1 + exp(x)), computed stably.  Backward: dx = g * sigmoid(x)."""

    def function(self, x):
        return np.logaddexp(0, x).astype(x.dtype, copy=False)

    def derivative(self, x):
        return expit(x)

    def second_derivative(self, x):
        s = expit(x)
        return s * (1 - s)


ACTIVATIONS = {
    "identity": Identity, "linear": Identity, "relu": ReLU, "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid, "tanh": Tanh, "softplus": Softplus,
}


def get_activation(name, dtype="float64"):
    """Build an activation layer from its name (see ``ACTIVATIONS``)."""
    if isinstance(name, Activation):
        return name
    key = str(name).lower() if name is not None else "identity"
    if key not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}"
        )
    return ACTIVATIONS[key](dtype=dtype)
