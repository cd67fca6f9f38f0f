"""Exercises on the backward pass of layers: dense, sigmoid, tanh and ReLU.

Each reference solution's docstring is the exercise's statement: the
signature to write, the shapes, and the math, in npae's conventions
(``npae.layers``): a dense layer computes ``y = x W + b`` with ``W`` of
shape (in_features, out_features); a backward pass receives
``grad_out = dL/dy`` and returns the gradients of its inputs.
"""

import numpy as np

from npae.exercises.grading import Case, Exercise, Mistake, random_sizes


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# -- dense ---------------------------------------------------------------------------
def dense_backward(grad_out, x, W):
    """Backward pass of a dense layer ``y = x W + b``.

    Write ``dense_backward(grad_out, x, W)`` returning ``(dx, dW, db)``.

    Parameters
    ----------
    grad_out : ndarray (N, out_features)
        ``g = dL/dy``, the gradient arriving from above.
    x : ndarray (N, in_features)
        The layer's input in the forward pass.
    W : ndarray (in_features, out_features)
        The weights (the bias ``b`` is not needed).

    Returns
    -------
    dx : ndarray (N, in_features)
        ``dL/dx = g W^T``
    dW : ndarray (in_features, out_features)
        ``dL/dW = x^T g``
    db : ndarray (out_features,)
        ``dL/db = sum over the batch of g``

    Notes
    -----
    ``y_nk = sum_i x_ni W_ik + b_k``, so ``dy_nk / dW_ik = x_ni`` and
    ``dL/dW_ik = sum_n x_ni g_nk``; ``dy_nk / dx_ni = W_ik`` gives
    ``dL/dx_ni = sum_k g_nk W_ik``; every example adds to the bias, so
    ``dL/db_k = sum_n g_nk`` (a sum, not a mean: any mean is already in g).
    Graded against ``L = sum(y * grad_out)`` by central differences.
    """
    dx = grad_out @ W.T
    dW = x.T @ grad_out
    db = grad_out.sum(axis=0)
    return dx, dW, db


def _dense_cases(rng):
    cases = []
    for n, d_in, d_out in [(4, 5, 3), (1, 3, 2), (7, 2, 6), (3, 4, 4), random_sizes(rng, 3)]:
        cases.append(Case({"grad_out": rng.normal(size=(n, d_out)),
                           "x": rng.normal(size=(n, d_in)),
                           "W": rng.normal(size=(d_in, d_out)),
                           "b": rng.normal(size=d_out)}))
    return cases


def _dense_objective(v):
    """L = sum((x W + b) * grad_out)"""
    return float(np.sum((v["x"] @ v["W"] + v["b"]) * v["grad_out"]))


DENSE = Exercise(
    "dense_backward", dense_backward, ("grad_out", "x", "W"), ("dx", "dW", "db"),
    _dense_cases, _dense_objective, {"dx": "x", "dW": "W", "db": "b"},
    mistakes=(
        Mistake("db sums over the batch (axis 0): one entry per output unit",
                lambda g, x, W: (g @ W.T, x.T @ g, g.sum(axis=1))),
    ),
)


# -- activations -----------------------------------------------------------------------
def sigmoid_backward(grad_out, y):
    """Backward pass of the sigmoid ``y = 1 / (1 + exp(-x))``, from its output.

    Write ``sigmoid_backward(grad_out, y)`` returning ``dx``.

    Parameters
    ----------
    grad_out : ndarray (any shape)
        ``g = dL/dy``.
    y : ndarray (same shape)
        The forward pass's output ``sigmoid(x)`` (a layer keeps it, so the
        backward pass needs no exponential).

    Returns
    -------
    dx : ndarray (same shape)
        ``dL/dx = g * y * (1 - y)``

    Notes
    -----
    ``sigmoid'(x) = exp(-x) / (1 + exp(-x))^2 = sigmoid(x) (1 - sigmoid(x))``,
    elementwise, so the chain rule multiplies entry by entry.
    """
    return grad_out * y * (1 - y)


def _activation_cases(rng, function, kinks=False):
    cases = []
    for shape in [(4, 5), (1, 3), (3, 2, 4), random_sizes(rng, 2)]:
        x = 2 * rng.normal(size=shape)
        cases.append(Case({"grad_out": rng.normal(size=shape), "x": x, "y": function(x)}))
    if kinks:
        x = rng.normal(size=(5, 4))
        x[rng.random(size=x.shape) < 0.4] = 0.0
        cases.append(Case({"grad_out": rng.normal(size=x.shape), "x": x, "y": function(x)},
                          smooth=False))
    return cases


def _sigmoid_objective(v):
    """L = sum(sigmoid(x) * grad_out)"""
    return float(np.sum(_sigmoid(v["x"]) * v["grad_out"]))


SIGMOID = Exercise(
    "sigmoid_backward", sigmoid_backward, ("grad_out", "y"), ("dx",),
    lambda rng: _activation_cases(rng, _sigmoid), _sigmoid_objective, {"dx": "x"},
    mistakes=(
        Mistake("y is already sigmoid(x): use y (1 - y), not sigmoid(y) (1 - sigmoid(y))",
                lambda g, y: g * _sigmoid(y) * (1 - _sigmoid(y))),
        Mistake("missing grad_out: dx = grad_out * y (1 - y)", lambda g, y: y * (1 - y)),
    ),
)


def tanh_backward(grad_out, y):
    """Backward pass of ``y = tanh(x)``, from its output.

    Write ``tanh_backward(grad_out, y)`` returning ``dx``.

    Parameters
    ----------
    grad_out : ndarray (any shape)
        ``g = dL/dy``.
    y : ndarray (same shape)
        The forward pass's output ``tanh(x)``.

    Returns
    -------
    dx : ndarray (same shape)
        ``dL/dx = g * (1 - y^2)``

    Notes
    -----
    ``tanh'(x) = 1 - tanh(x)^2``, elementwise.
    """
    return grad_out * (1 - y * y)


def _tanh_objective(v):
    """L = sum(tanh(x) * grad_out)"""
    return float(np.sum(np.tanh(v["x"]) * v["grad_out"]))


TANH = Exercise(
    "tanh_backward", tanh_backward, ("grad_out", "y"), ("dx",),
    lambda rng: _activation_cases(rng, np.tanh), _tanh_objective, {"dx": "x"},
    mistakes=(
        Mistake("y is already tanh(x): use 1 - y^2, not 1 - tanh(y)^2",
                lambda g, y: g * (1 - np.tanh(y) ** 2)),
        Mistake("the derivative is 1 - y^2 (y squared), not 1 - y", lambda g, y: g * (1 - y)),
        Mistake("missing grad_out: dx = grad_out * (1 - y^2)", lambda g, y: 1 - y * y),
    ),
)


def relu_backward(grad_out, x):
    """Backward pass of ``y = max(x, 0)``.

    Write ``relu_backward(grad_out, x)`` returning ``dx``.

    Parameters
    ----------
    grad_out : ndarray (any shape)
        ``g = dL/dy``.
    x : ndarray (same shape)
        The forward pass's input.

    Returns
    -------
    dx : ndarray (same shape)
        ``dL/dx = g * [x > 0]``

    Notes
    -----
    The slope is 1 where ``x > 0`` and 0 where ``x < 0``. At ``x = 0`` the
    function has a kink; npae (like PyTorch) takes the slope 0 there, and
    one case of the check has exact zeros in ``x`` to test that.
    """
    return np.where(x > 0, grad_out, 0.0)


def _relu_objective(v):
    """L = sum(max(x, 0) * grad_out)"""
    return float(np.sum(np.maximum(v["x"], 0) * v["grad_out"]))


RELU = Exercise(
    "relu_backward", relu_backward, ("grad_out", "x"), ("dx",),
    lambda rng: _activation_cases(rng, lambda x: np.maximum(x, 0), kinks=True),
    _relu_objective, {"dx": "x"},
    mistakes=(
        Mistake("at x = 0 the slope is 0 in npae: use x > 0, not x >= 0",
                lambda g, x: np.where(x >= 0, g, 0.0)),
        Mistake("missing grad_out: dx = grad_out * [x > 0]", lambda g, x: (x > 0) * 1.0),
    ),
)

EXERCISES = (DENSE, SIGMOID, TANH, RELU)
