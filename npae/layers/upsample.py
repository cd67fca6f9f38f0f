"""Upsampling of NCHW batches by an integer factor: nearest neighbour or bilinear.

Both modes are linear and separable: along each axis, output index ``o``
reads two source indices ``taps[o]`` with weights ``weights[o]``, so

    y = A_h x A_w^T,    dL/dx = A_h^T g A_w

with ``A`` the 1-d interpolation matrix ``A[o, taps[o, a]] += weights[o, a]``.
The NumPy twins here use those matrices; the compiled loops in
``npae.kernels.upsample`` use the taps directly. ``UPSAMPLE_KERNELS`` pairs
the two (see ``npae.backend``).
"""

import numpy as np

from npae._validation import check_choice
from npae.backend import KernelTable, check_backend, pinned_config
from npae.layers._geometry import as_pair, check_example_shape, check_images
from npae.layers.base import Layer

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
    """y = A_h x A_w^T (the twin of the bilinear kernel, and of nearest's with its tables)."""
    A_h = _interpolation_matrix(rows, row_weights, x.shape[2])
    A_w = _interpolation_matrix(cols, col_weights, x.shape[3])
    return A_h @ x @ A_w.T


def _interpolate_backward_numpy(grad_out, h, w, rows, row_weights, cols, col_weights):
    """dx = A_h^T g A_w."""
    A_h = _interpolation_matrix(rows, row_weights, h)
    A_w = _interpolation_matrix(cols, col_weights, w)
    return A_h.T @ grad_out @ A_w


def _nearest_tables(h, w, sh, sw, dtype):
    """The (taps, weights) of both axes for nearest, weights in ``dtype``."""
    rows, row_weights = _nearest_taps(h, sh)
    cols, col_weights = _nearest_taps(w, sw)
    return rows, row_weights.astype(dtype), cols, col_weights.astype(dtype)


def _nearest_forward_numpy(x, sh, sw):
    """y = A_h x A_w^T with nearest's matrices (one 1 per row)."""
    return _interpolate_numpy(x, *_nearest_tables(*x.shape[2:], sh, sw, x.dtype))


def _nearest_backward_numpy(grad_out, h, w, sh, sw):
    """dx = A_h^T g A_w: the sum of g over each (sh, sw) block."""
    return _interpolate_backward_numpy(grad_out, h, w,
                                       *_nearest_tables(h, w, sh, sw, grad_out.dtype))


UPSAMPLE_KERNELS = KernelTable("npae.kernels.upsample", {
    "nearest_forward": _nearest_forward_numpy,
    "nearest_backward": _nearest_backward_numpy,
    "bilinear_forward": _interpolate_numpy,
    "bilinear_backward": _interpolate_backward_numpy,
})


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
    backend : {"numba", "numpy"} or None, default None
        Pins the compiled loops or the readable NumPy twins (interpolation
        matrices); None follows ``npae.set_backend``.

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

    def __init__(self, scale=2, mode="nearest", dtype="float64", rng=None, backend=None):
        super().__init__(dtype=dtype, rng=rng)
        self.scale = as_pair(scale, "scale", self.name)
        self.mode = check_choice(mode, "mode", self.name, MODES)
        self.backend = check_backend(backend, self.name)

    def _bilinear_tables(self, h, w):
        """The per-axis (taps, weights) of bilinear interpolation, weights in ``dtype``."""
        rows, row_weights = _bilinear_taps(h, self.scale[0])
        cols, col_weights = _bilinear_taps(w, self.scale[1])
        return rows, row_weights.astype(self.dtype), cols, col_weights.astype(self.dtype)

    def forward(self, x, training=True):
        x = check_images(self, x)
        if training:
            self._cache = x.shape
        kernels = UPSAMPLE_KERNELS(self.backend)
        if self.mode == "nearest":
            return kernels.nearest_forward(x, *self.scale)
        return kernels.bilinear_forward(x, *self._bilinear_tables(*x.shape[2:]))

    def backward(self, grad_out):
        x_shape = self._saved()
        n, c, h, w = x_shape
        self._check_grad(grad_out, (n, c, h * self.scale[0], w * self.scale[1]))
        grad_out = np.ascontiguousarray(grad_out)
        kernels = UPSAMPLE_KERNELS(self.backend)
        if self.mode == "nearest":
            return kernels.nearest_backward(grad_out, h, w, *self.scale)
        return kernels.bilinear_backward(grad_out, h, w, *self._bilinear_tables(h, w))

    def output_shape(self, input_shape):
        c, h, w = check_example_shape(self, input_shape)
        return (c, h * self.scale[0], w * self.scale[1])

    def get_config(self):
        return {"scale": list(self.scale), "mode": self.mode, **pinned_config(self.backend),
                **super().get_config()}
