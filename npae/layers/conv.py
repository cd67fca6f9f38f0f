"""Convolution and transposed convolution on NCHW batches, via im2col + GEMM.

A convolution is a matrix product once every input window is unfolded into a
column (``im2col``); with the columns of all images side by side,

    cols = im2col(x)                      (c_in kh kw, n h_out w_out)
    y    = W.reshape(c_out, -1) @ cols    (c_out, n h_out w_out), then NCHW

is one GEMM for the whole batch, which BLAS runs on two threads far better
than a batch of one small product per image (which also stalls badly when
the cores are shared). Its backward pass needs the adjoint of ``im2col``,
``col2im``, which adds each column entry back onto the pixel it was read
from. A transposed convolution is exactly that adjoint used as a forward
pass. ``IM2COL_KERNELS`` pairs the loops of ``npae.kernels.im2col`` with
their NumPy twins here (see ``npae.backend``).
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from npae._validation import check_int
from npae.backend import KernelTable, check_backend, pinned_config
from npae.layers._geometry import (
    as_pair,
    check_example_shape,
    check_images,
    pad_images,
    transposed_output_hw,
    window_output_hw,
)
from npae.layers.base import Layer
from npae.layers.initializers import initialize


# -- NumPy twins of the im2col kernels ---------------------------------------
def _im2col_numpy(x, kh, kw, sh, sw, ph, pw):
    """cols[(c, i, j), (n, oh, ow)] = x_pad[n, c, oh sh + i, ow sw + j]."""
    c = x.shape[1]
    x_pad = pad_images(x, (ph, pw))
    windows = sliding_window_view(x_pad, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return windows.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, -1)


def _col2im_numpy(cols, h, w, kh, kw, sh, sw, ph, pw):
    """Adjoint of im2col: add every column entry back onto the pixel it came from."""
    h_out = (h + 2 * ph - kh) // sh + 1
    w_out = (w + 2 * pw - kw) // sw + 1
    c = cols.shape[0] // (kh * kw)
    n = cols.shape[1] // (h_out * w_out)
    cols = cols.reshape(c, kh, kw, n, h_out, w_out)
    x_pad = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i, i + sh * h_out, sh)
            columns = slice(j, j + sw * w_out, sw)
            x_pad[:, :, rows, columns] += cols[:, i, j].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(x_pad[:, :, ph:ph + h, pw:pw + w])


IM2COL_KERNELS = KernelTable("npae.kernels.im2col", {
    "im2col": _im2col_numpy,
    "col2im": _col2im_numpy,
})


# -- the math: W2 = W reshaped to a matrix, g = dL/dy --------------------------------
# A matrix of "rows" has one row per channel and one column per (image, pixel),
# the layout of the GEMMs; images are (n, c, h, w). Converting costs one copy.
def _images_to_rows(x):
    """(n, c, h, w) -> (c, n h w)."""
    n, c = x.shape[:2]
    return np.ascontiguousarray(x.reshape(n, c, -1).transpose(1, 0, 2)).reshape(c, -1)


def _rows_to_images(rows, n, hw, b=None):
    """(c, n h w) -> (n, c, h, w), adding ``b[c]`` on the way when given."""
    c = rows.shape[0]
    images = rows.reshape(c, n, -1).transpose(1, 0, 2)
    if b is None:
        return np.ascontiguousarray(images).reshape(n, c, *hw)
    y = np.empty((n, c, images.shape[2]), dtype=rows.dtype)
    np.add(images, b[:, None], out=y)
    return y.reshape(n, c, *hw)


def _conv2d_forward(x, W, b, stride, padding, out_hw, im2col):
    """y = W2 cols + b with cols = im2col(x); also returns cols for backward."""
    c_out, _, kh, kw = W.shape
    cols = im2col(x, kh, kw, *stride, *padding)
    y = _rows_to_images(W.reshape(c_out, -1) @ cols, x.shape[0], out_hw, b)
    return y, cols


def _conv2d_backward(grad_out, cols, W, x_hw, stride, padding, col2im):
    """dW2 = g cols^T,  db = sum of g,  dx = col2im(W2^T g), with g = dL/dy as rows."""
    c_out, _, kh, kw = W.shape
    g = _images_to_rows(grad_out)
    dW = (g @ cols.T).reshape(W.shape)
    db = g.sum(axis=1)
    dx = col2im(W.reshape(c_out, -1).T @ g, *x_hw, kh, kw, *stride, *padding)
    return dx, dW, db


def _conv_transpose2d_forward(x, W, b, stride, padding, out_hw, col2im):
    """y = col2im(W2^T x) + b with x as rows; also returns x as rows for backward."""
    c_in, _, kh, kw = W.shape
    x_rows = _images_to_rows(x)
    y = col2im(W.reshape(c_in, -1).T @ x_rows, *out_hw, kh, kw, *stride, *padding)
    y += b[:, None, None]
    return y, x_rows


def _conv_transpose2d_backward(grad_out, x_rows, x_shape, W, stride, padding, im2col):
    """dx = W2 im2col(g) (a Conv2D of g),  dW2 = x im2col(g)^T,  db = sum of g."""
    c_in, _, kh, kw = W.shape
    g_cols = im2col(grad_out, kh, kw, *stride, *padding)
    dx = _rows_to_images(W.reshape(c_in, -1) @ g_cols, x_shape[0], x_shape[2:])
    dW = (x_rows @ g_cols.T).reshape(W.shape)
    db = grad_out.sum(axis=(0, 2, 3))
    return dx, dW, db


# -- the layers ------------------------------------------------------------------
class _ConvNd(Layer):
    """Hyperparameters, weights, shapes and config shared by Conv2D and ConvTranspose2D.

    ``W`` is ``(out_channels, in_channels, kh, kw)`` for a convolution and
    ``(in_channels, out_channels, kh, kw)`` for its adjoint (``transposed``),
    with ``fan_in = in_channels kh kw`` and ``fan_out = out_channels kh kw``
    either way; ``b`` is ``(out_channels,)`` and starts at zero. Subclasses
    give ``_output_hw``, ``forward`` and ``backward``.
    """

    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, init, dtype,
                 rng, backend):
        super().__init__(dtype=dtype, rng=rng)
        self.in_channels = check_int(in_channels, "in_channels", self.name)
        self.out_channels = check_int(out_channels, "out_channels", self.name)
        self.kernel_size = as_pair(kernel_size, "kernel_size", self.name)
        self.stride = as_pair(stride, "stride", self.name)
        self.padding = as_pair(padding, "padding", self.name, minimum=0)
        self.init = init
        self.backend = check_backend(backend, self.name)
        kh, kw = self.kernel_size
        channels = (self.in_channels, self.out_channels)
        shape = (*(channels if self.transposed else channels[::-1]), kh, kw)
        fan_in, fan_out = self.in_channels * kh * kw, self.out_channels * kh * kw
        self._add_param("W", initialize(init, shape, fan_in, fan_out, self._generator(),
                                        self.dtype))
        self._add_param("b", np.zeros(self.out_channels))

    def _output_hw(self, hw):
        """Output (height, width) for an input of spatial size ``hw``."""
        raise NotImplementedError

    def _check_backward(self, grad_out, x_shape):
        """Check dL/dy against the output shape of an input of ``x_shape``."""
        out_shape = (x_shape[0], self.out_channels, *self._output_hw(x_shape[2:]))
        return self._check_grad(grad_out, out_shape)

    def output_shape(self, input_shape):
        _, h, w = check_example_shape(self, input_shape, self.in_channels)
        return (self.out_channels, *self._output_hw((h, w)))

    def get_config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding), "init": self.init,
                **pinned_config(self.backend), **super().get_config()}


class Conv2D(_ConvNd):
    """2-d convolution (cross-correlation) ``y = W * x + b`` over NCHW batches.

    ``y[n, o, r, q] = b[o] + sum_{c, i, j} W[o, c, i, j] x_pad[n, c, r s_h + i, q s_w + j]``
    with ``x_pad`` the input zero-padded by ``padding`` on every side.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of input and output.
    kernel_size, stride, padding : int or (int, int)
        Window size, step and zero padding, as ``(height, width)`` or one
        int for both. ``stride`` >= 1, ``padding`` >= 0.
    init : {"glorot_uniform", "he_normal", "zeros"}
        Initializer of ``W`` with ``fan_in = in_channels kh kw`` and
        ``fan_out = out_channels kh kw``; ``b`` starts at zero.
    dtype, rng : see ``Layer``.
    backend : {"numba", "numpy"} or None, default None
        Pins im2col/col2im to the compiled loops or the readable NumPy
        twins; None follows ``npae.set_backend``.

    Shape
    -----
    x : (N, in_channels, H, W) -> y : (N, out_channels, H_out, W_out) with
    ``H_out = (H + 2 p_h - k_h) // s_h + 1`` (likewise ``W_out``); rows or
    columns left over when the stride does not divide evenly are ignored.

    Attributes
    ----------
    params["W"] : (out_channels, in_channels, kh, kw)
    params["b"] : (out_channels,)

    Notes
    -----
    Forward is one GEMM ``y = W2 cols + b`` for the whole batch, with
    ``W2 = W.reshape(out_channels, -1)`` and ``cols = im2col(x)`` (one
    column per image and output pixel). Backward, with ``g`` = dL/dy as an
    (out_channels, N H_out W_out) matrix:
    ``dL/dW2 = g cols^T``, ``dL/db = sum of g over batch and pixels``,
    ``dL/dx = col2im(W2^T g)``, where ``col2im`` is the adjoint of ``im2col``.

    Examples
    --------
    >>> import numpy as np
    >>> layer = Conv2D(1, 4, kernel_size=3, padding=1, rng=0)
    >>> layer.forward(np.ones((2, 1, 28, 28))).shape
    (2, 4, 28, 28)
    """
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 init="glorot_uniform", dtype="float64", rng=None, backend=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, init, dtype,
                         rng, backend)

    def _output_hw(self, hw):
        return window_output_hw(self.name, hw, self.kernel_size, self.stride, self.padding)

    def forward(self, x, training=True):
        x = check_images(self, x, self.in_channels)
        y, cols = _conv2d_forward(x, self.params["W"], self.params["b"], self.stride,
                                  self.padding, self._output_hw(x.shape[2:]),
                                  IM2COL_KERNELS(self.backend).im2col)
        if training:
            self._cache = (x.shape, cols)
        return y

    def backward(self, grad_out):
        x_shape, cols = self._saved()
        self._check_backward(grad_out, x_shape)
        dx, dW, db = _conv2d_backward(grad_out, cols, self.params["W"], x_shape[2:],
                                      self.stride, self.padding,
                                      IM2COL_KERNELS(self.backend).col2im)
        self.grads["W"] += dW
        self.grads["b"] += db
        return dx


class ConvTranspose2D(_ConvNd):
    """Transposed convolution: the adjoint of ``Conv2D``, plus a bias.

    Each input pixel scatters ``x[n, c, r, q] W[c, o, :, :]`` onto the output
    window at ``(r s_h - p_h, q s_w - p_w)``; the sum over pixels and input
    channels, plus ``b[o]``, is ``y``. With ``b = 0`` this is exactly
    ``Conv2D.backward``'s map from dL/dy to dL/dx for the same ``W``, and it
    matches ``torch.nn.ConvTranspose2d``. It upsamples by ``stride``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of input and output.
    kernel_size, stride, padding : int or (int, int)
        As in the ``Conv2D`` this is the adjoint of; ``padding`` trims the
        output on every side.
    output_padding : int or (int, int)
        Extra rows/columns added at the bottom/right of the output, each
        smaller than the stride; picks one of the input sizes a strided
        ``Conv2D`` maps to the same output size.
    init : {"glorot_uniform", "he_normal", "zeros"}
        Initializer of ``W`` with ``fan_in = in_channels kh kw`` and
        ``fan_out = out_channels kh kw``; ``b`` starts at zero.
    dtype, rng : see ``Layer``.
    backend : {"numba", "numpy"} or None, default None
        Pins im2col/col2im to the compiled loops or the readable NumPy
        twins; None follows ``npae.set_backend``.

    Shape
    -----
    x : (N, in_channels, H, W) -> y : (N, out_channels, H_out, W_out) with
    ``H_out = (H - 1) s_h - 2 p_h + k_h + output_padding_h`` (likewise ``W_out``).

    Attributes
    ----------
    params["W"] : (in_channels, out_channels, kh, kw)
    params["b"] : (out_channels,)

    Notes
    -----
    Forward is ``y = col2im(W2^T x) + b`` with ``W2 = W.reshape(in_channels, -1)``
    and ``x`` as an (in_channels, N H W) matrix. Backward, with ``g`` = dL/dy:
    ``dL/dx = W2 im2col(g)`` (a ``Conv2D`` of ``g``), ``dL/dW2 = x im2col(g)^T``,
    ``dL/db = sum of g over batch and pixels``.

    Examples
    --------
    >>> import numpy as np
    >>> layer = ConvTranspose2D(8, 1, kernel_size=2, stride=2, rng=0)
    >>> layer.forward(np.ones((2, 8, 14, 14))).shape
    (2, 1, 28, 28)
    """
    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, init="glorot_uniform", dtype="float64", rng=None,
                 backend=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, init, dtype,
                         rng, backend)
        self.output_padding = as_pair(output_padding, "output_padding", self.name, minimum=0)
        if any(op >= s for op, s in zip(self.output_padding, self.stride)):
            raise ValueError(
                f"{self.name}: output_padding must be smaller than stride, got "
                f"output_padding={self.output_padding}, stride={self.stride}"
            )

    def _output_hw(self, hw):
        return transposed_output_hw(self.name, hw, self.kernel_size, self.stride, self.padding,
                                    self.output_padding)

    def forward(self, x, training=True):
        x = check_images(self, x, self.in_channels)
        y, x_rows = _conv_transpose2d_forward(x, self.params["W"], self.params["b"],
                                              self.stride, self.padding,
                                              self._output_hw(x.shape[2:]),
                                              IM2COL_KERNELS(self.backend).col2im)
        if training:
            self._cache = (x.shape, x_rows)
        return y

    def backward(self, grad_out):
        x_shape, x_rows = self._saved()
        grad_out = np.ascontiguousarray(self._check_backward(grad_out, x_shape))
        dx, dW, db = _conv_transpose2d_backward(grad_out, x_rows, x_shape, self.params["W"],
                                                self.stride, self.padding,
                                                IM2COL_KERNELS(self.backend).im2col)
        self.grads["W"] += dW
        self.grads["b"] += db
        return dx

    def get_config(self):
        return {"output_padding": list(self.output_padding), **super().get_config()}
