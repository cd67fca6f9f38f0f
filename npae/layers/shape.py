"""Layers that only move values around: Flatten, Reshape."""

import math

from npae._validation import check_sizes
from npae.layers.base import Layer


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...).  Backward: reshape g back."""

    trainable = False

    def forward(self, x, training=True):
        self._check_input(x, x.ndim if getattr(x, "ndim", 0) >= 2 else 2)
        if training:
            self._cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out):
        shape = self._saved()
        self._check_grad(grad_out, (shape[0], math.prod(shape[1:])))
        return grad_out.reshape(shape)

    def output_shape(self, input_shape):
        return (math.prod(input_shape),)


class Reshape(Layer):
    """``(N, prod(shape)) -> (N, *shape)``.  Backward: reshape g back.

    Parameters
    ----------
    shape : tuple of int
        Per-example output shape, e.g. ``(1, 8, 8)``.
    """

    trainable = False

    def __init__(self, shape, dtype="float64", rng=None):
        super().__init__(dtype=dtype, rng=rng)
        self.shape = check_sizes(shape, "shape", "Reshape", allow_empty=False)

    def forward(self, x, training=True):
        self._check_input(x, x.ndim if getattr(x, "ndim", 0) >= 2 else 2)
        if math.prod(x.shape[1:]) != math.prod(self.shape):
            raise ValueError(
                f"Reshape expected {math.prod(self.shape)} values per example "
                f"to make {self.shape}, got shape {x.shape}"
            )
        if training:
            self._cache = x.shape
        return x.reshape((x.shape[0],) + self.shape)

    def backward(self, grad_out):
        shape = self._saved()
        self._check_grad(grad_out, (shape[0],) + self.shape)
        return grad_out.reshape(shape)

    def output_shape(self, input_shape):
        return self.shape

    def get_config(self):
        return {"shape": list(self.shape), **super().get_config()}
