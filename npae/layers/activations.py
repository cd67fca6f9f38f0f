"""Elementwise activations ``y = f(x)``; backward is ``dx = g * f'(x)``.

Each activation also exposes ``derivative(x)`` (f'(x)) and
``second_derivative(x)`` (f''(x)), which the contractive penalty needs.

ReLU, LeakyReLU, Sigmoid and Tanh compute their backward with a kernel of
``ACTIVATION_KERNELS``: a one-pass loop from ``npae.kernels.activations``
(2 to 25 times faster on a batch of 128 x 784) or its NumPy twin below,
the rule written as one NumPy expression (see ``npae.backend``).
"""

import numpy as np

from npae._validation import check_number
from npae.backend import KernelTable, check_backend, pinned_config
from npae.layers.base import Layer


def _sigmoid(x):
    """1 / (1 + exp(-x)) in four passes over one new array (NumPy's exp is vectorized).

    Where exp(-x) overflows (x below about -88 in float32, -709 in
    float64) it is inf and the result is exactly 0, the correct limit.
    """
    y = np.negative(x)
    with np.errstate(over="ignore"):
        np.exp(y, out=y)
    y += 1
    return np.reciprocal(y, out=y)


# -- NumPy twins of the kernels: flat arrays in, dx written in place ----------------
def _relu_backward_numpy(grad_out, y, dx):
    """dx = g where y > 0, else 0 (ReLU's output is positive exactly where its input is)."""
    dx[...] = np.where(y > 0, grad_out, 0)


def _leaky_relu_backward_numpy(grad_out, x, alpha, dx):
    """dx = g where x > 0, else alpha g."""
    dx[...] = np.where(x > 0, grad_out, dx.dtype.type(alpha) * grad_out)


def _sigmoid_backward_numpy(grad_out, y, dx):
    """dx = g y (1 - y), with y = sigmoid(x) the saved output."""
    dx[...] = grad_out * y * (1 - y)


def _tanh_backward_numpy(grad_out, y, dx):
    """dx = g (1 - y^2), with y = tanh(x) the saved output."""
    dx[...] = grad_out * (1 - y * y)


ACTIVATION_KERNELS = KernelTable("npae.kernels.activations", {
    "relu_backward": _relu_backward_numpy,
    "leaky_relu_backward": _leaky_relu_backward_numpy,
    "sigmoid_backward": _sigmoid_backward_numpy,
    "tanh_backward": _tanh_backward_numpy,
})


def _flat(a):
    """A 1-d C-ordered view of ``a`` (a copy only if ``a`` is not C-contiguous)."""
    return np.ascontiguousarray(a).reshape(-1)


def _one_pass_backward(kernel, grad_out, saved, *args):
    """dx from ``kernel(g, saved, *args, dx)`` over flat arrays."""
    dx = np.empty(grad_out.shape, dtype=grad_out.dtype)
    kernel(_flat(grad_out), _flat(saved), *args, dx.reshape(-1))
    return dx


class Activation(Layer):
    """Base of the elementwise activations: any input shape, no parameters.

    Parameters
    ----------
    dtype, rng : see ``Layer``.
    backend : {"numba", "numpy"} or None, default None
        Pins the backward kernel (the loop of ``npae.kernels.activations``
        or its NumPy twin) where the activation has one; None follows
        ``npae.set_backend``.
    """

    trainable = False

    def __init__(self, dtype="float64", rng=None, backend=None):
        super().__init__(dtype=dtype, rng=rng)
        self.backend = check_backend(backend, self.name)

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
        """dx = g f'(x), from the saved input ``x`` and output ``y``."""
        return grad_out * self.derivative(x)

    def function(self, x):
        raise NotImplementedError

    def derivative(self, x):
        raise NotImplementedError

    def second_derivative(self, x):
        raise NotImplementedError

    def get_config(self):
        return {**pinned_config(self.backend), **super().get_config()}


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
        return _one_pass_backward(ACTIVATION_KERNELS(self.backend).relu_backward, grad_out, y)


class LeakyReLU(Activation):
    """y = x if x > 0 else alpha x.  Backward: dx = g * (1 if x > 0 else alpha)."""

    def __init__(self, alpha=0.01, dtype="float64", rng=None, backend=None):
        super().__init__(dtype=dtype, rng=rng, backend=backend)
        self.alpha = check_number(alpha, "alpha", "LeakyReLU", low=0)

    def function(self, x):
        return np.where(x > 0, x, self.dtype.type(self.alpha) * x)

    def derivative(self, x):
        return np.where(x > 0, 1, self.alpha).astype(x.dtype)

    def second_derivative(self, x):
        return np.zeros_like(x)

    def _backward(self, grad_out, x, y):
        return _one_pass_backward(ACTIVATION_KERNELS(self.backend).leaky_relu_backward,
                                  grad_out, x, self.alpha)

    def get_config(self):
        return {"alpha": self.alpha, **super().get_config()}


class Sigmoid(Activation):
    """y = 1 / (1 + exp(-x)).  Backward: dx = g * y (1 - y)."""

    def function(self, x):
        return _sigmoid(x)

    def derivative(self, x):
        s = _sigmoid(x)
        return s * (1 - s)

    def second_derivative(self, x):
        s = _sigmoid(x)
        return s * (1 - s) * (1 - 2 * s)

    def _backward(self, grad_out, x, y):
        return _one_pass_backward(ACTIVATION_KERNELS(self.backend).sigmoid_backward, grad_out, y)


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
        return _one_pass_backward(ACTIVATION_KERNELS(self.backend).tanh_backward, grad_out, y)


class Softplus(Activation):
    """y = log(1 + exp(x)), computed stably.  Backward: dx = g * sigmoid(x)."""

    def function(self, x):
        return np.logaddexp(0, x).astype(x.dtype, copy=False)

    def derivative(self, x):
        return _sigmoid(x)

    def second_derivative(self, x):
        s = _sigmoid(x)
        return s * (1 - s)


ACTIVATIONS = {
    "identity": Identity, "linear": Identity, "relu": ReLU, "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid, "tanh": Tanh, "softplus": Softplus,
}


def get_activation(name, dtype="float64", backend=None):
    """Build an activation layer from its name (see ``ACTIVATIONS``)."""
    if isinstance(name, Activation):
        return name
    key = str(name).lower() if name is not None else "identity"
    if key not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}"
        )
    return ACTIVATIONS[key](dtype=dtype, backend=backend)
