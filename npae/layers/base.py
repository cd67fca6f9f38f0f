"""The layer protocol every npae layer follows.

A layer maps a batch ``x`` to ``y = f(x; params)``. ``forward`` keeps in
``self._cache`` only what ``backward`` needs; ``backward(grad_out)`` receives
dL/dy, *adds* dL/dparam into ``self.grads`` (so shared or tied weights work)
and returns dL/dx. Layers never update their own parameters: optimizers do.
"""

import math

import numpy as np

from npae._validation import NonFiniteInputError, check_float_dtype
from npae.utils import as_generator


def _free_shape_matches(shape, got):
    """``got`` equals ``shape`` where ``shape`` is not None (its free entries)."""
    return len(shape) == len(got) and all(s is None or s == d for s, d in zip(shape, got))


class Layer:
    """Base class: parameters, gradients, cache and input checks.

    Parameters
    ----------
    dtype : {"float64", "float32"}
        Floating type of parameters, inputs and outputs. float64 (the
        default) is for gradient checks, float32 for speed.
    rng : int, numpy.random.Generator or None
        Seed or generator for parameter initialization.

    Attributes
    ----------
    params : dict of str to ndarray
        Trainable arrays, e.g. ``{"W": ..., "b": ...}``; ``{}`` if none.
    grads : dict of str to ndarray
        Same keys and shapes as ``params``; ``backward`` adds into them.
    trainable : bool
        If False, optimizers leave ``params`` alone.
    """

    trainable = True

    def __init__(self, dtype="float64", rng=None):
        self.dtype = check_float_dtype(dtype, type(self).__name__)
        self.rng = rng
        self.params = {}
        self.grads = {}
        self._cache = None

    # -- the protocol -----------------------------------------------------
    def forward(self, x, training=True):
        """Return the layer output for the batch ``x``."""
        raise NotImplementedError

    def backward(self, grad_out):
        """Given dL/dy, add dL/dparams into ``grads`` and return dL/dx."""
        raise NotImplementedError

    def zero_grad(self):
        """Reset every gradient to zero, in place."""
        for g in self.grads.values():
            g.fill(0)

    def output_shape(self, input_shape):
        """Per-example output shape for a per-example ``input_shape``."""
        return tuple(input_shape)

    def get_config(self):
        """Constructor arguments that rebuild this layer (JSON-able)."""
        return {"dtype": self.dtype.name}

    # -- helpers for subclasses -------------------------------------------
    @property
    def name(self):
        return type(self).__name__

    def _generator(self):
        """The initialization generator (a fresh one per layer from a seed)."""
        return as_generator(self.rng)

    def _add_param(self, key, value):
        self.params[key] = np.ascontiguousarray(value, dtype=self.dtype)
        self.grads[key] = np.zeros_like(self.params[key])

    def _saved(self):
        """The forward cache, or a clear error if there was no forward."""
        if self._cache is None:
            raise RuntimeError(
                f"{self.name}.backward called before forward: run forward(x) "
                "with training=True first"
            )
        return self._cache

    def _check_input(self, x, ndim, shape=None):
        """Check a forward input: array, dtype, ndim, non-empty, per-example shape, finite.

        ``shape`` gives the expected per-example shape, ``None`` entries free.
        Every layer call runs this, so the usual case is one chained test;
        ``_refuse_input`` finds what is wrong and says it.
        """
        if not (isinstance(x, np.ndarray) and x.dtype == self.dtype and x.ndim == ndim
                and x.shape[0] != 0 and (shape is None or x.shape[1:] == shape
                                         or _free_shape_matches(shape, x.shape[1:]))):
            self._refuse_input(x, ndim, shape)
        # x . x is NaN or inf when an entry is (squares never cancel), found in
        # one BLAS pass that raises no overflow warning; only then (or when a
        # huge but finite x overflows it) does the full test run.
        flat = x.reshape(-1)
        if not math.isfinite(np.dot(flat, flat)) and not np.isfinite(x).all():
            raise NonFiniteInputError(
                f"{self.name} expected finite input, got an input containing NaN or inf"
            )
        return x

    def _refuse_input(self, x, ndim, shape):
        """Raise the error that says how the forward input ``x`` is wrong."""
        if not isinstance(x, np.ndarray):
            raise TypeError(
                f"{self.name} expected a numpy array, got {type(x).__name__}"
            )
        if x.dtype != self.dtype:
            raise ValueError(
                f"{self.name} expected input of dtype {self.dtype.name}, "
                f"got {x.dtype}"
            )
        if x.ndim != ndim:
            raise ValueError(
                f"{self.name} expected a {ndim}-d input, got shape {x.shape}"
            )
        if x.shape[0] == 0:
            raise ValueError(f"{self.name} expected a non-empty batch, got shape {x.shape}")
        want = ", ".join("?" if s is None else str(s) for s in shape)
        raise ValueError(
            f"{self.name} expected input of shape (N, {want}), got {x.shape}"
        )

    def _check_grad(self, grad_out, shape):
        """Check that dL/dy has the output's ``shape`` and the layer's dtype."""
        if not isinstance(grad_out, np.ndarray) or grad_out.shape != tuple(shape):
            got = getattr(grad_out, "shape", type(grad_out).__name__)
            raise ValueError(
                f"{self.name}.backward expected grad_out of shape {tuple(shape)}, "
                f"got {got}"
            )
        if grad_out.dtype != self.dtype:
            raise ValueError(
                f"{self.name}.backward expected grad_out of dtype "
                f"{self.dtype.name}, got {grad_out.dtype}"
            )
        return grad_out

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{self.name}({args})"
