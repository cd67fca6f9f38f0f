"""Activation gradients in one pass: ``dx = g f'(x)`` from the saved input or output.

NumPy spends a pass and a temporary array on every operation of
``g * y * (1 - y)``, and the ``np.where`` of the ReLU gradient is slower
still; each loop here reads the incoming gradient ``g`` and the saved
activation once and writes ``dx`` once. Arrays are flat (1-d views of
C-contiguous arrays of one dtype) and ``dx`` is written in place. NumPy
twins: ``npae.layers.activations`` (``ACTIVATION_KERNELS``).
"""

from numba import njit


@njit(cache=True)
def relu_backward(grad_out, y, dx):
    """dx = g where y > 0, else 0 (ReLU's output is positive exactly where its input is)."""
    for i in range(dx.size):
        if y[i] > 0:
            dx[i] = grad_out[i]
        else:
            dx[i] = 0


@njit(cache=True)
def leaky_relu_backward(grad_out, x, alpha, dx):
    """dx = g where x > 0, else alpha g."""
    slope = dx.dtype.type(alpha)
    for i in range(dx.size):
        if x[i] > 0:
            dx[i] = grad_out[i]
        else:
            dx[i] = slope * grad_out[i]


@njit(cache=True)
def sigmoid_backward(grad_out, y, dx):
    """dx = g y (1 - y), with y = sigmoid(x) the saved output."""
    one = dx.dtype.type(1)
    for i in range(dx.size):
        dx[i] = grad_out[i] * y[i] * (one - y[i])


@njit(cache=True)
def tanh_backward(grad_out, y, dx):
    """dx = g (1 - y^2), with y = tanh(x) the saved output."""
    one = dx.dtype.type(1)
    for i in range(dx.size):
        dx[i] = grad_out[i] * (one - y[i] * y[i])
