"""Elementwise loops of the dense path: activation gradients in one pass.

NumPy spends a pass and a temporary array on every operation of
``g * y * (1 - y)``, and the ``np.where`` of the ReLU gradient is slower
still; each loop here reads the incoming gradient ``g`` and the saved
activation once and writes ``dx`` once. Arrays are flat (1-d views of
C-contiguous arrays of one dtype) and ``dx`` is written in place. NumPy
twins: the ``_backward`` methods in ``npae.layers.activations``
(``backend="numpy"``).
"""

import numpy as np
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


# -- a whole small MLP in one call -------------------------------------------
#
# For a chain Dense -> activation -> Dense -> ... whose matrix products are
# small, Python's per-layer overhead costs more than the arithmetic; these two
# loops run the chain in one call each (``npae.network.Sequential`` picks
# them; the layer-by-layer path is their twin). Layer l computes
# ``pre[l] = h W_l + b_l`` and ``post[l] = f_l(pre[l])`` from its input h
# (``x``, then ``post[l - 1]``); ``kinds[l]`` names f_l, NONE when no
# activation layer follows the Dense (then ``post[l]`` is ``pre[l]``).

NONE, IDENTITY, RELU, LEAKY_RELU, SIGMOID, TANH = range(6)


@njit(cache=True, error_model="numpy")
def add_bias(z, b):
    """z += b on every row, in place; returns False if z now holds NaN or inf."""
    finite = True
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            v = z[i, j] + b[j]
            z[i, j] = v
            finite &= v - v == 0  # NaN for NaN and inf
    return finite


@njit(cache=True, error_model="numpy")
def activation_forward(kind, alpha, z, y):
    """y = f(z) over flat arrays for the activation ``kind`` (not NONE)."""
    one, slope = y.dtype.type(1), y.dtype.type(alpha)
    if kind == IDENTITY:
        for i in range(y.size):
            y[i] = z[i]
    elif kind == RELU:
        for i in range(y.size):
            y[i] = z[i] if z[i] > 0 else 0
    elif kind == LEAKY_RELU:
        for i in range(y.size):
            y[i] = z[i] if z[i] > 0 else slope * z[i]
    elif kind == SIGMOID:
        for i in range(y.size):
            y[i] = one / (one + np.exp(-z[i]))
    elif kind == TANH:
        for i in range(y.size):
            y[i] = np.tanh(z[i])


@njit(cache=True, error_model="numpy")
def activation_backward(kind, alpha, grad_out, z, y, dz):
    """dz = g f'(z) over flat arrays for the activation ``kind`` (not NONE)."""
    if kind == IDENTITY:
        for i in range(dz.size):
            dz[i] = grad_out[i]
    elif kind == RELU:
        relu_backward(grad_out, y, dz)
    elif kind == LEAKY_RELU:
        leaky_relu_backward(grad_out, z, alpha, dz)
    elif kind == SIGMOID:
        sigmoid_backward(grad_out, y, dz)
    elif kind == TANH:
        tanh_backward(grad_out, y, dz)


@njit(cache=True, error_model="numpy")
def mlp_forward(x, weights, biases, kinds, alphas, pre, post, check):
    """Fill ``pre`` and ``post`` layer by layer; return the first bad layer or -1.

    ``check[l]`` says that a layer reads ``pre[l]`` (the activation, or the
    next Dense); the return value is the first such l whose ``pre[l]``
    holds NaN or inf, as that layer's input check would refuse it.
    """
    h = x
    for l in range(len(weights)):
        z, y = pre[l], post[l]
        np.dot(h, weights[l], z)
        if not add_bias(z, biases[l]) and check[l]:
            return l
        if kinds[l] != NONE:
            activation_forward(kinds[l], alphas[l], z.ravel(), y.ravel())
        h = y
    return -1


@njit(cache=True, error_model="numpy")
def mlp_backward(grad_out, inputs, weights, kinds, alphas, pre, post, grad_w, grad_b,
                 input_grad):
    """Add every dL/dW_l and dL/db_l into ``grad_w``, ``grad_b``; return dL/dx.

    ``inputs[l]`` is the input layer l saw and ``grad_out`` is dL/dpost of
    the last layer. Per layer, with g = dL/dpost[l]: dz = g f'(pre[l]),
    dW += h^T dz, db += sum_n dz and g <- dz W^T for the layer below.
    dL/dx is an empty array when ``input_grad`` is False.
    """
    g = grad_out
    for l in range(len(weights) - 1, -1, -1):
        if kinds[l] == NONE:
            dz = g
        else:
            dz = np.empty_like(g)
            activation_backward(kinds[l], alphas[l], g.ravel(), pre[l].ravel(),
                                post[l].ravel(), dz.ravel())
        db = np.zeros(dz.shape[1], dtype=dz.dtype)  # summed first, then added, as Dense does
        for i in range(dz.shape[0]):
            for j in range(dz.shape[1]):
                db[j] += dz[i, j]
        gb, gw = grad_b[l], grad_w[l]
        gb += db
        gw += np.dot(inputs[l].T, dz)
        if l > 0 or input_grad:
            g = np.dot(dz, weights[l].T)
        else:
            g = np.empty((0, 0), dtype=dz.dtype)
    return g
