"""Upsampling of NCHW batches by an integer factor: nearest neighbour or bilinear.

Both modes are linear and separable: along each axis, output index ``o``
reads two source indices ``taps[o]`` with weights ``weights[o]``, so

    y = A_h x A_w^T,    dL/dx = A_h^T g A_w

with ``A`` the 1-d interpolation matrix ``A[o, taps[o, a]] += weights[o, a]``.
The NumPy twins here use those matrices; the compiled loops in
``npae.kernels.upsample`` use the taps directly.
"""

import numpy as np

from npae import kernels
from npae._validation import check_choice
from npae.layers.base import Layer
from npae.layers.conv import as_pair, check_backend, check_example_shape, check_images

MODES = ("nearest", "bilinear")


def _nearest_taps(size_in, scale):
    """Output o copies input o // scale: taps (o // scale, o // scale), weights (1, 0)."""
    source = np.arange(size_in * scale) // scale
    return np.stack([source, source], axis=1), np.tile([1.0, 0.0], (size_in * scale, 1))


def _bilinear_taps(size_in, scale):
    """PyTorch's ``align_corners=False`` rule (half-pixel centres).

    The source coordinate of output ``o`` is ``(o + 1/2) / scale - 1/2``,
    clamped at 0 below; it lies between ``i0 = floor(src)`` and
    ``i1 = min(i0 + 1, size_in - 1)`` with weights ``1 - t`` and ``t``,
    ``t = src - i0``.
    """
    src = np.maximum((np.arange(size_in * scale) + 0.5) / scale - 0.5, 0.0)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, size_in - 1)
    t = src - i0
    return np.stack([i0, i1], axis=1), np.stack([1 - t, t], axis=1)


def _interpolation_matrix(taps, weights, size_in):
    """The (size_out, size_in) matrix A with A[o, taps[o, a]] += weights[o, a]."""
    A = np.zeros((len(taps), size_in), dtype=weights.dtype)
    np.add.at(A, (np.arange(len(taps))[:, None], taps), weights)
    return A


def _interpolate_numpy(x, rows, row_weights, cols, col_weights):
    """y = A_h x A_w^T."""
    A_h = _interpolation_matrix(rows, row_weights, x.shape[2])
    A_w = _interpolation_matrix(cols, col_weights, x.shape[3])
    return A_h @ x @ A_w.T


def _interpolate_backward_numpy(grad_out, h, w, rows, row_weights, cols, col_weights):
    """dx = A_h^T g A_w."""
    A_h = _interpolation_matrix(rows, row_weights, h)
    A_w = _interpolation_matrix(cols, col_weights, w)
    return A_h.T @ grad_out @ A_w


class Upsample2D(Layer):
    """Upsample by an integer ``scale``: nearest neighbour or bilinear.

    ``"nearest"`` copies ``x[i, j]`` into an ``(s_h, s_w)`` block.
    ``"bilinear"`` equals ``torch.nn.Upsample(mode="bilinear",
    align_corners=False)``: pixel centres at half-integers, source
    coordinate ``(o + 1/2) / s - 1/2`` clamped at 0, and the upper
    neighbour clamped at the last row/column.

    Parameters
    ----------
    scale : int or (int, int)
        Integer factor ``(s_h, s_w)``, or one int for both.
    mode : {"nearest", "bilinear"}
    dtype, rng : see ``Layer``.
    backend : {"numba", "numpy"}
        Compiled loops or the readable NumPy twin (interpolation matrices).

    Shape
    -----
    x : (N, C, H, W) -> y : (N, C, s_h H, s_w W)

    Notes
    -----
    The map is linear, ``y = A_h x A_w^T`` with ``A`` the 1-d interpolation
    matrix of each axis, so backward is its transpose:
    ``dL/dx = A_h^T g A_w``. For nearest this sums ``g`` over each block;
    for bilinear each output gradient flows back to its four source pixels
    times their interpolation weights.

    Examples
    --------
    >>> import numpy as np
    >>> Upsample2D(2).forward(np.array([[[[1.0, 2.0]]]]))[0, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.]])
    """

    trainable = False

    def __init__(self, scale=2, mode="nearest", dtype="float64", rng=None, backend="numba"):
        super().__init__(dtype=dtype, rng=rng)
        self.scale = as_pair(scale, "scale", self.name)
        self.mode = check_choice(mode, "mode", self.name, MODES)
        self.backend = check_backend(backend, self.name)

    def _interpolation(self, h, w):
        """The per-axis (taps, weights) of the numpy twin and the bilinear kernel."""
        taps = _nearest_taps if self.mode == "nearest" else _bilinear_taps
        rows, row_weights = taps(h, self.scale[0])
        cols, col_weights = taps(w, self.scale[1])
        return rows, row_weights.astype(self.dtype), cols, col_weights.astype(self.dtype)

    def _upsample(self, x):
        if self.backend == "numpy":
            return _interpolate_numpy(x, *self._interpolation(*x.shape[2:]))
        if self.mode == "nearest":
            return kernels.nearest_forward(x, *self.scale)
        return kernels.bilinear_forward(x, *self._interpolation(*x.shape[2:]))

    def _upsample_backward(self, grad_out, h, w):
        if self.backend == "numpy":
            return _interpolate_backward_numpy(grad_out, h, w, *self._interpolation(h, w))
        if self.mode == "nearest":
            return kernels.nearest_backward(grad_out, h, w, *self.scale)
        return kernels.bilinear_backward(grad_out, h, w, *self._interpolation(h, w))

    def forward(self, x, training=True):
        x = check_images(self, x)
        if training:
            self._cache = x.shape
        return self._upsample(x)

    def backward(self, grad_out):
        x_shape = self._saved()
        n, c, h, w = x_shape
        self._check_grad(grad_out, (n, c, h * self.scale[0], w * self.scale[1]))
        return self._upsample_backward(np.ascontiguousarray(grad_out), h, w)

    def output_shape(self, input_shape):
        c, h, w = check_example_shape(self, input_shape)
        return (c, h * self.scale[0], w * self.scale[1])

    def get_config(self):
        return {"scale": list(self.scale), "mode": self.mode, "backend": self.backend,
                **super().get_config()}
