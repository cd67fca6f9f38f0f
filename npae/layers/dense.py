"""Fully connected layer."""

import numpy as np

from npae._validation import check_int
from npae.layers.base import Layer
from npae.layers.initializers import initialize


def _dense_forward(x, W, b, out=None):
    """y = x W + b."""
    y = np.matmul(x, W, out=out)
    y += b
    return y


def _dense_backward(grad_out, x, W, dW=None, db=None, input_grad=True):
    """dx = g W^T, dW = x^T g, db = sum_n g.

    ``dW`` and ``db``, when given, are written in place (no allocation);
    ``input_grad=False`` skips dx (returned as None).
    """
    dW = np.matmul(x.T, grad_out, out=dW)
    db = np.add.reduce(grad_out, axis=0, out=db)
    dx = grad_out @ W.T if input_grad else None
    return dx, dW, db


class Dense(Layer):
    r"""Affine map ``y = x @ W + b``.

    Parameters
    ----------
    in_features, out_features : int
        Widths of input and output.
    init : {"glorot_uniform", "he_normal", "zeros"}
        Initializer of ``W`` (``b`` starts at zero); see
        ``npae.layers.initializers.init_for`` to choose by activation.
    dtype, rng : see ``Layer``.

    Shape
    -----
    x : (N, in_features) -> y : (N, out_features)

    Attributes
    ----------
    params["W"] : (in_features, out_features)
    params["b"] : (out_features,)

    Notes
    -----
    Backward, with g = dL/dy:  dL/dx = g W^T,  dL/dW = x^T g,
    dL/db = sum over the batch of g, that is

    .. math::

        \frac{\partial L}{\partial x} = g W^\top, \qquad
        \frac{\partial L}{\partial W} = x^\top g, \qquad
        \frac{\partial L}{\partial b} = \sum_{n=1}^{N} g_n .

    The products land in scratch arrays kept between steps and are then
    added into ``grads`` (gradients accumulate);
    ``backward(g, input_grad=False)`` skips dL/dx, one of the three matrix
    products, for a layer that sees the data.

    Examples
    --------
    >>> import numpy as np
    >>> layer = Dense(3, 2, rng=0)
    >>> layer.forward(np.ones((4, 3))).shape
    (4, 2)
    """

    def __init__(self, in_features, out_features, init="glorot_uniform",
                 dtype="float64", rng=None):
        super().__init__(dtype=dtype, rng=rng)
        self.in_features = check_int(in_features, "in_features", "Dense")
        self.out_features = check_int(out_features, "out_features", "Dense")
        self.init = init
        shape = (self.in_features, self.out_features)
        rng_ = self._generator()
        self._add_param("W", initialize(init, shape, shape[0], shape[1], rng_, self.dtype))
        self._add_param("b", np.zeros(self.out_features))
        # dW and db of one backward pass, before they are added into grads.
        self._scratch = {key: np.empty_like(p) for key, p in self.params.items()}

    def forward(self, x, training=True):
        self._check_input(x, 2, (self.in_features,))
        if training:
            self._cache = x
        return _dense_forward(x, self.params["W"], self.params["b"])

    def backward(self, grad_out, input_grad=True):
        """Add dL/dW and dL/db into ``grads``; return dL/dx (None if not ``input_grad``)."""
        x = self._saved()
        self._check_grad(grad_out, (x.shape[0], self.out_features))
        dx, dW, db = _dense_backward(grad_out, x, self.params["W"], self._scratch["W"],
                                     self._scratch["b"], input_grad)
        self.grads["W"] += dW
        self.grads["b"] += db
        return dx

    def output_shape(self, input_shape):
        return (self.out_features,)

    def get_config(self):
        return {"in_features": self.in_features, "out_features": self.out_features,
                "init": self.init, **super().get_config()}
