"""Max and average pooling over (kh, kw) windows of NCHW batches.

Window ``(oh, ow)`` covers input rows ``oh s_h - p_h + i`` and columns
``ow s_w - p_w + j`` (``i < kh``, ``j < kw``). The compiled loops are in
``npae.kernels.pool``; the functions here are their readable NumPy twins,
paired with them in ``POOL_KERNELS`` (see ``npae.backend``).
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from npae.backend import KernelTable, check_backend, pinned_config
from npae.layers._geometry import (
    as_pair,
    check_example_shape,
    check_images,
    pad_images,
    window_output_hw,
)
from npae.layers.base import Layer


def _windows(x, kh, kw, sh, sw, ph, pw, fill):
    """View of every pooling window of x padded with ``fill``: (n, c, h_out, w_out, kh, kw)."""
    x_pad = pad_images(x, (ph, pw), fill)
    return sliding_window_view(x_pad, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def _max_pool_forward_numpy(x, kh, kw, sh, sw, ph, pw):
    """Window maxima, and the flat index ``r w + q`` of each window's first maximum."""
    n, c, h, w = x.shape
    windows = _windows(x, kh, kw, sh, sw, ph, pw, fill=-np.inf)
    h_out, w_out = windows.shape[2:4]
    windows = windows.reshape(n, c, h_out, w_out, kh * kw)
    k = windows.argmax(axis=-1)  # argmax picks the first maximum: row-major ties
    r = np.arange(h_out)[:, None] * sh - ph + k // kw
    q = np.arange(w_out) * sw - pw + k % kw
    return windows.max(axis=-1), r * w + q


def _max_pool_backward_numpy(grad_out, argmax, h, w):
    """dx: scatter-add each output gradient onto its window's maximum."""
    n, c = grad_out.shape[:2]
    dx = np.zeros((n * c, h * w), dtype=grad_out.dtype)
    planes = np.arange(n * c)[:, None]
    np.add.at(dx, (planes, argmax.reshape(n * c, -1)), grad_out.reshape(n * c, -1))
    return dx.reshape(n, c, h, w)


def _avg_pool_forward_numpy(x, kh, kw, sh, sw, ph, pw):
    """y = mean of each zero-padded window."""
    return _windows(x, kh, kw, sh, sw, ph, pw, fill=0).mean(axis=(-2, -1))


def _avg_pool_backward_numpy(grad_out, h, w, kh, kw, sh, sw, ph, pw):
    """dx: each output gradient spread evenly, g / (kh kw), over its window."""
    n, c, h_out, w_out = grad_out.shape
    share = grad_out / (kh * kw)
    dx_pad = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=grad_out.dtype)
    for i in range(kh):
        for j in range(kw):
            dx_pad[:, :, i:i + sh * h_out:sh, j:j + sw * w_out:sw] += share
    return np.ascontiguousarray(dx_pad[:, :, ph:ph + h, pw:pw + w])


POOL_KERNELS = KernelTable("npae.kernels.pool", {
    "max_pool_forward": _max_pool_forward_numpy,
    "max_pool_backward": _max_pool_backward_numpy,
    "avg_pool_forward": _avg_pool_forward_numpy,
    "avg_pool_backward": _avg_pool_backward_numpy,
})


class _Pool2D(Layer):
    """Window geometry, checks and config shared by the pooling layers."""

    trainable = False

    def __init__(self, kernel_size=2, stride=None, padding=0, dtype="float64", rng=None,
                 backend=None):
        super().__init__(dtype=dtype, rng=rng)
        self.kernel_size = as_pair(kernel_size, "kernel_size", self.name)
        self.stride = self.kernel_size if stride is None else as_pair(stride, "stride",
                                                                       self.name)
        self.padding = as_pair(padding, "padding", self.name, minimum=0)
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(
                f"{self.name}: padding must be at most half the kernel size, got "
                f"padding={self.padding}, kernel_size={self.kernel_size}"
            )
        self.backend = check_backend(backend, self.name)

    def _window(self):
        """(kh, kw, sh, sw, ph, pw), the kernels' geometry arguments."""
        return (*self.kernel_size, *self.stride, *self.padding)

    def _check_forward(self, x):
        x = check_images(self, x)
        window_output_hw(self.name, x.shape[2:], self.kernel_size, self.stride, self.padding)
        return x

    def _check_backward(self, grad_out, x_shape):
        out_shape = x_shape[:2] + window_output_hw(self.name, x_shape[2:], self.kernel_size,
                                                   self.stride, self.padding)
        return np.ascontiguousarray(self._check_grad(grad_out, out_shape))

    def output_shape(self, input_shape):
        c, h, w = check_example_shape(self, input_shape)
        return (c, *window_output_hw(self.name, (h, w), self.kernel_size, self.stride,
                                     self.padding))

    def get_config(self):
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding), **pinned_config(self.backend),
                **super().get_config()}


class MaxPool2D(_Pool2D):
    """Max pooling: ``y[n, c, oh, ow] = max of x over window (oh, ow)``.

    Parameters
    ----------
    kernel_size : int or (int, int)
        Window size ``(kh, kw)``.
    stride : int, (int, int) or None
        Window step; None (the default) means ``kernel_size``.
    padding : int or (int, int)
        Padding with -inf on every side, at most half the kernel size (so
        every window holds at least one input pixel).
    dtype, rng : see ``Layer``.
    backend : {"numba", "numpy"} or None, default None
        Pins the compiled loops or the readable NumPy twin; None follows
        ``npae.set_backend``.

    Shape
    -----
    x : (N, C, H, W) -> y : (N, C, H_out, W_out) with
    ``H_out = (H + 2 p_h - k_h) // s_h + 1`` (likewise ``W_out``).

    Notes
    -----
    Backward: the whole output gradient of a window goes to the input pixel
    that was its maximum, ``dL/dx[argmax] += g``, and every other pixel of
    the window gets nothing. On ties the first maximum in row-major order
    takes it, as in PyTorch. Overlapping windows (stride < kernel) add up.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> MaxPool2D(2).forward(x)[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """

    def forward(self, x, training=True):
        x = self._check_forward(x)
        y, argmax = POOL_KERNELS(self.backend).max_pool_forward(x, *self._window())
        if training:
            self._cache = (x.shape, argmax)
        return y

    def backward(self, grad_out):
        x_shape, argmax = self._saved()
        grad_out = self._check_backward(grad_out, x_shape)
        return POOL_KERNELS(self.backend).max_pool_backward(grad_out, argmax, *x_shape[2:])


class AvgPool2D(_Pool2D):
    """Average pooling: ``y[n, c, oh, ow] = mean of x over window (oh, ow)``.

    Parameters
    ----------
    kernel_size : int or (int, int)
        Window size ``(kh, kw)``.
    stride : int, (int, int) or None
        Window step; None (the default) means ``kernel_size``.
    padding : int or (int, int)
        Zero padding on every side, at most half the kernel size. Padded
        zeros count in the mean (it always divides by ``kh kw``), like
        PyTorch's ``count_include_pad=True``.
    dtype, rng : see ``Layer``.
    backend : {"numba", "numpy"} or None, default None
        Pins the compiled loops or the readable NumPy twin; None follows
        ``npae.set_backend``.

    Shape
    -----
    x : (N, C, H, W) -> y : (N, C, H_out, W_out) with
    ``H_out = (H + 2 p_h - k_h) // s_h + 1`` (likewise ``W_out``).

    Notes
    -----
    Backward: every pixel of a window receives an equal share,
    ``dL/dx[window] += g / (kh kw)``; overlapping windows add up.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> AvgPool2D(2).forward(x)[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """

    def forward(self, x, training=True):
        x = self._check_forward(x)
        y = POOL_KERNELS(self.backend).avg_pool_forward(x, *self._window())
        if training:
            self._cache = x.shape
        return y

    def backward(self, grad_out):
        x_shape = self._saved()
        grad_out = self._check_backward(grad_out, x_shape)
        return POOL_KERNELS(self.backend).avg_pool_backward(grad_out, *x_shape[2:],
                                                            *self._window())
