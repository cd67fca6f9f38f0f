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


class TiedDense(Layer):
    r"""Affine map with the transpose of another Dense layer's weights: ``y = x @ W_s^T + b``.

    The decoder half of a tied-weight autoencoder: ``source`` is the
    encoder's ``Dense(n_in, n_out)`` with ``W_s: (n_in, n_out)``, and this
    layer maps ``n_out -> n_in`` with ``W_s^T``. There is ONE weight
    matrix: it lives in ``source.params["W"]``, so a network lists it once
    (this layer's ``params`` hold only its own bias ``b``) and an optimizer
    updates it once, with the sum of the gradients of both uses.

    Parameters
    ----------
    source : Dense
        The layer whose weight matrix is shared (transposed).
    dtype : str
        Must be the source's dtype.

    Shape
    -----
    x : (N, source.out_features) -> y : (N, source.in_features)

    Attributes
    ----------
    source : Dense
    params["b"] : (source.in_features,), starts at zero

    Notes
    -----
    Backward, with g = dL/dy: dL/dx = g W_s, dL/db = sum over the batch of g,
    and the weight's share dL/dW_s = (x^T g)^T = g^T x is ADDED into
    ``source.grads["W"]``, where the source's own backward adds x_s^T g_s:

    .. math::

        \frac{\partial L}{\partial W_s} = x_s^\top g_s + g^\top x .

    ``zero_grad`` of the network resets both (the source's grads belong to
    the source).

    Examples
    --------
    >>> import numpy as np
    >>> encoder = Dense(5, 2, rng=0)
    >>> decoder = TiedDense(encoder)
    >>> decoder.forward(encoder.forward(np.ones((3, 5)))).shape
    (3, 5)
    """

    def __init__(self, source, dtype="float64"):
        super().__init__(dtype=dtype)
        if not isinstance(source, Dense):
            raise TypeError(f"TiedDense expected a Dense layer to share weights with, got "
                            f"{type(source).__name__}")
        if source.dtype != self.dtype:
            raise ValueError(f"TiedDense expected dtype {source.dtype.name} (its source's), "
                             f"got {self.dtype.name}")
        self.source = source
        self.in_features, self.out_features = source.out_features, source.in_features
        self._add_param("b", np.zeros(self.out_features))

    def forward(self, x, training=True):
        self._check_input(x, 2, (self.in_features,))
        if training:
            self._cache = x
        return _dense_forward(x, self.source.params["W"].T, self.params["b"])

    def backward(self, grad_out):
        """Add g^T x into the source's ``grads["W"]`` and dL/db into ``grads``; return dL/dx."""
        x = self._saved()
        self._check_grad(grad_out, (x.shape[0], self.out_features))
        W = self.source.params["W"]
        dx, dWt, db = _dense_backward(grad_out, x, W.T)
        self.source.grads["W"] += dWt.T
        self.grads["b"] += db
        return dx

    def output_shape(self, input_shape):
        return (self.out_features,)

    def get_config(self):
        return {"in_features": self.in_features, "out_features": self.out_features,
                **super().get_config()}
