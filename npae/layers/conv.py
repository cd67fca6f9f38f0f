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

The unfolded matrix has ``c_in kh kw`` rows, so a convolution that narrows
the channels (16 -> 1, the last layer of an image decoder) unfolds 16 times
more than it outputs. At stride 1 a convolution is also the transposed
convolution of its kernel rotated by 180 degrees (in and out channels
swapped, padding ``k - 1 - p``), whose matrix has ``c_out kh kw`` rows:
``algorithm="col2im"`` computes it that way,

    y = col2im(W'2^T x) + b,   W' = rot180(W) with its channel axes swapped,

the same sums in another order. At 16 -> 1 on 64 images of 28 x 28 a step
took 1.1 ms this way against 7.2 ms by im2col (float32, one thread).

3x3 stride-1 layers can opt in to ``algorithm="winograd"``: Winograd's
F(2x2, 3x3) computes each 2x2 block of outputs from a 4x4 input tile with
16 multiplications per channel pair instead of 36,

    V = B^T d B (each input tile),  U = G w G^T (each 3x3 kernel),
    M[e] = U[e] V[e] for each of the 16 transform entries e (a GEMM over channels),
    y = A^T M A + b (each output tile),

so the three GEMMs of a step shrink 2.25 x. Its backward pass runs the same
transforms transposed; the result equals the direct convolution up to
rounding.
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
def _im2col_numpy(x, kh, kw, sh, sw, ph, pw, out=None):
    """cols[(c, i, j), (n, oh, ow)] = x_pad[n, c, oh sh + i, ow sw + j], in ``out`` if given."""
    c = x.shape[1]
    x_pad = pad_images(x, (ph, pw))
    windows = sliding_window_view(x_pad, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, -1)
    if out is None:
        return cols
    out[...] = cols
    return out


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


# Winograd F(2x2, 3x3): y (2x2) = A^T [(G w G^T) * (B^T d B)] A for a 4x4 tile d.
WINOGRAD_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], float)
WINOGRAD_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
WINOGRAD_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], float)


def _winograd_tiles_numpy(x, ph, pw, V):
    """V[4 i + j, c, (n, ty, tx)] = (B^T d B)[i, j], d the 4x4 tile of x_pad at (2 ty, 2 tx).

    Written into ``V`` (16, c, n th tw), which is returned.
    """
    n, c, h, w = x.shape
    th, tw = _winograd_tile_counts((h + 2 * ph - 2, w + 2 * pw - 2))
    x_pad = np.zeros((n, c, 2 * th + 2, 2 * tw + 2), dtype=x.dtype)
    x_pad[:, :, ph:ph + h, pw:pw + w] = x
    d = sliding_window_view(x_pad, (4, 4), axis=(2, 3))[:, :, ::2, ::2]
    BT = WINOGRAD_BT.astype(x.dtype)
    V[...] = np.einsum("ik,ncyxkl,jl->ijcnyx", BT, d, BT, optimize=True).reshape(V.shape)
    return V


def _winograd_tiles_adjoint_numpy(dV, n, h, w, ph, pw):
    """Adjoint of the tiling: each tile's B dV B^T added back onto the pixels it came from."""
    c = dV.shape[1]
    th, tw = _winograd_tile_counts((h + 2 * ph - 2, w + 2 * pw - 2))
    BT = WINOGRAD_BT.astype(dV.dtype)
    tiles = dV.reshape(4, 4, c, n, th, tw)
    d = np.einsum("ik,ijcnyx,jl->ncyxkl", BT, tiles, BT, optimize=True)
    x_pad = np.zeros((n, c, 2 * th + 2, 2 * tw + 2), dtype=dV.dtype)
    for k in range(4):
        for m in range(4):
            x_pad[:, :, k:k + 2 * th:2, m:m + 2 * tw:2] += d[..., k, m]
    return np.ascontiguousarray(x_pad[:, :, ph:ph + h, pw:pw + w])


def _winograd_outputs_numpy(M, b, n, h_out, w_out):
    """y[n, o] tile (ty, tx) = A^T M[:, o, (n, ty, tx)] A + b[o], cut to h_out x w_out."""
    o = M.shape[1]
    th, tw = _winograd_tile_counts((h_out, w_out))
    AT = WINOGRAD_AT.astype(M.dtype)
    tiles = M.reshape(4, 4, o, n, th, tw)
    y = np.einsum("ai,ijonyx,bj->noyaxb", AT, tiles, AT, optimize=True)
    return y.reshape(n, o, 2 * th, 2 * tw)[:, :, :h_out, :w_out] + b[:, None, None]


def _winograd_outputs_adjoint_numpy(g, dM):
    """Adjoint of the outputs' transform (without b): A^T g_tile A for each 2x2 tile of g.

    Written into ``dM`` (16, o, n th tw), which is returned.
    """
    n, o, h_out, w_out = g.shape
    th, tw = _winograd_tile_counts((h_out, w_out))
    g_pad = np.zeros((n, o, 2 * th, 2 * tw), dtype=g.dtype)
    g_pad[:, :, :h_out, :w_out] = g
    AT = WINOGRAD_AT.astype(g.dtype)
    tiles = g_pad.reshape(n, o, th, 2, tw, 2)
    dM[...] = np.einsum("ai,noyaxb,bj->ijonyx", AT, tiles, AT, optimize=True).reshape(dM.shape)
    return dM


IM2COL_KERNELS = KernelTable("npae.kernels.im2col", {
    "im2col": _im2col_numpy,
    "col2im": _col2im_numpy,
    "winograd_tiles": _winograd_tiles_numpy,
    "winograd_tiles_adjoint": _winograd_tiles_adjoint_numpy,
    "winograd_outputs": _winograd_outputs_numpy,
    "winograd_outputs_adjoint": _winograd_outputs_adjoint_numpy,
})

ALGORITHMS = ("im2col", "col2im", "winograd")


def _winograd_tile_counts(out_hw):
    """Rows and columns of tiles: each tile gives 2x2 outputs."""
    return tuple((size + 1) // 2 for size in out_hw)


# A column matrix larger than this (bytes) is made for its one call and not kept: such a
# call is an inference forward over a whole data set at once, and keeping its columns
# would hold gigabytes after it (a ConvAutoencoder's last layer unfolds 10,000 images of
# 28 x 28 into 144 x 7.8 million float32 entries, 4.5 GB).
KEEP_AT_MOST = 2**28


def _matrix(rows, cols, dtype):
    """An empty (rows, cols) array."""
    return np.empty((rows, cols), dtype=dtype)


def _entry_matrices(rows, cols, dtype):
    """An empty (16, rows, cols) array whose 16 matrices do not start a multiple of 4 KiB apart.

    The tile kernels stream through all 16 at once; a multiple of 4 KiB apart
    (as at 64 images of 14 x 14) the streams fall on the same L1 cache sets and
    evict each other, which made the kernels 1.5 x slower.
    """
    size = rows * cols
    return np.empty((16, size + 16), dtype=dtype)[:, :size].reshape(16, rows, cols)


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


def _matmul(a, b, out=None):
    """``a @ b``; an outer product (inner dimension 1) by ``np.multiply``, the same
    products, because OpenBLAS's GEMM takes 7 x longer for it (144 x 1 by
    1 x 50,176 in float32: 7.4 against 1.0 ms), as in the backward pass of a
    convolution with one output channel (an autoencoder's last, a U-Net's head)."""
    if a.shape[1] == 1:
        return np.multiply(a, b, out=out)
    return np.matmul(a, b, out=out)


def _times_transpose(a, b):
    """``a @ b.T``, a weight gradient: a product whose inner dimension runs over every
    pixel of the batch. In float32, ``(b @ a.T).T`` (the same products, another
    operand order for OpenBLAS) takes 0.6-0.9 x the time (32 x 12,544 by 12,544 x 144:
    1.21 -> 0.73 ms with OpenBLAS's SkylakeX kernel, 1.15 -> 1.08 ms with Haswell); in
    float64 it took up to 1.3 x longer (SkylakeX), so float64 keeps ``a @ b.T``."""
    if a.dtype == np.float32:
        return (b @ a.T).T
    return a @ b.T


# ``cols`` and ``scratch`` (optional) are where the column matrices go: arrays the
# layer keeps between calls (see ``_ConvNd._buffer``); None allocates them.
def _conv2d_forward(x, W, b, stride, padding, out_hw, im2col, cols=None):
    """y = W2 cols + b with cols = im2col(x); also returns cols for backward."""
    c_out, _, kh, kw = W.shape
    cols = im2col(x, kh, kw, *stride, *padding, cols)
    y = _rows_to_images(W.reshape(c_out, -1) @ cols, x.shape[0], out_hw, b)
    return y, cols


def _conv2d_backward(grad_out, cols, W, x_hw, stride, padding, col2im, scratch=None):
    """dW2 = g cols^T,  db = sum of g,  dx = col2im(W2^T g), with g = dL/dy as rows."""
    c_out, _, kh, kw = W.shape
    g = _images_to_rows(grad_out)
    dW = _times_transpose(g, cols).reshape(W.shape)
    db = g.sum(axis=1)
    dx = col2im(_matmul(W.reshape(c_out, -1).T, g, out=scratch), *x_hw, kh, kw, *stride,
                *padding)
    return dx, dW, db


def _conv_transpose2d_forward(x, W, b, stride, padding, out_hw, col2im, scratch=None):
    """y = col2im(W2^T x) + b with x as rows; also returns x as rows for backward."""
    c_in, _, kh, kw = W.shape
    x_rows = _images_to_rows(x)
    y = col2im(_matmul(W.reshape(c_in, -1).T, x_rows, out=scratch), *out_hw, kh, kw,
               *stride, *padding)
    y += b[:, None, None]
    return y, x_rows


def _conv_transpose2d_backward(grad_out, x_rows, x_shape, W, stride, padding, im2col,
                               scratch=None):
    """dx = W2 im2col(g) (a Conv2D of g),  dW2 = x im2col(g)^T,  db = sum of g."""
    c_in, _, kh, kw = W.shape
    g_cols = im2col(grad_out, kh, kw, *stride, *padding, scratch)
    dx = _rows_to_images(W.reshape(c_in, -1) @ g_cols, x_shape[0], x_shape[2:])
    dW = _times_transpose(x_rows, g_cols).reshape(W.shape)
    db = grad_out.sum(axis=(0, 2, 3))
    return dx, dW, db


# -- Winograd F(2x2, 3x3), stride 1: U = G w G^T, V = tiles of x, M[e] = U[e] V[e] ----
# U is (16, c_out, c_in), V (16, c_in, tiles) and M (16, c_out, tiles), one matrix
# per transform entry e, so that each of the 16 products is one GEMM over channels.
def _winograd_weights(W):
    """U[e] = (G w G^T)[e] for every (c_out, c_in) kernel w, as (16, c_out, c_in)."""
    G = WINOGRAD_G.astype(W.dtype)
    return np.einsum("ik,ockl,jl->ijoc", G, W, G, optimize=True).reshape(16, *W.shape[:2])


def _winograd_weights_adjoint(dU):
    """dL/dW from dL/dU: the transpose of ``_winograd_weights``, (c_out, c_in, 3, 3)."""
    G = WINOGRAD_G.astype(dU.dtype)
    return np.einsum("ik,ijoc,jl->ockl", G, dU.reshape(4, 4, *dU.shape[1:]), G,
                     optimize=True)


# The (16, rows, tiles) arrays come from ``entries(name, rows)``: kept by the layer
# between calls under ``name`` (see ``_ConvNd._buffer``), or fresh.
def _conv2d_winograd_forward(x, W, b, padding, out_hw, kernels, entries):
    """y = A^T [U V] A + b tile by tile; also returns the tiles V, (16, c_in, tiles)."""
    c_out, c_in = W.shape[:2]
    V = kernels.winograd_tiles(x, *padding, entries("tiles", c_in))
    M = np.matmul(_winograd_weights(W), V, out=entries("products", c_out))
    return kernels.winograd_outputs(M, b, x.shape[0], *out_hw), V


def _conv2d_winograd_backward(grad_out, V, W, x_hw, padding, kernels, entries):
    """dM = A g A^T per tile;  dW = adjoint of U from dM V^T;  dx = tiles' adjoint of U^T dM."""
    c_out, c_in = W.shape[:2]
    dM = kernels.winograd_outputs_adjoint(grad_out, entries("products", c_out))
    dW = _winograd_weights_adjoint(dM @ V.transpose(0, 2, 1))
    db = grad_out.sum(axis=(0, 2, 3))
    dV = np.matmul(_winograd_weights(W).transpose(0, 2, 1), dM, out=entries("scratch", c_in))
    dx = kernels.winograd_tiles_adjoint(dV, grad_out.shape[0], *x_hw, *padding)
    return dx, dW, db


def _as_convolution(W):
    """A stride-1 transposed convolution's W as the Conv2D kernel doing the same map:
    swap in and out channels and rotate by 180 degrees (its own inverse)."""
    return np.ascontiguousarray(W.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])


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
                 rng, backend, algorithm):
        super().__init__(dtype=dtype, rng=rng)
        self.in_channels = check_int(in_channels, "in_channels", self.name)
        self.out_channels = check_int(out_channels, "out_channels", self.name)
        self.kernel_size = as_pair(kernel_size, "kernel_size", self.name)
        self.stride = as_pair(stride, "stride", self.name)
        self.padding = as_pair(padding, "padding", self.name, minimum=0)
        self.init = init
        self.backend = check_backend(backend, self.name)
        self.algorithm = self._check_algorithm(algorithm)
        self._buffers = {}
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

    def _buffer(self, name, make, rows, cols, dtype):
        """``make(rows, cols, dtype)``, kept between calls under ``name`` while they agree.

        Writing a fresh array of tens of MB costs a page fault per 4 KiB page
        (in a float64 U-Net step, 48,000 of them: 87 of its 230 ms); a kept
        one is written in place. What backward reads
        ("cols", "tiles") is written only by a training forward; the rest
        ("scratch", "products") only lives within one call. An array larger
        than ``KEEP_AT_MOST`` bytes is not kept.
        """
        spec = (make, rows, cols, np.dtype(dtype))
        kept = self._buffers.get(name)
        if kept is not None and kept[0] == spec:
            return kept[1]
        array = make(rows, cols, dtype)
        if array.nbytes <= KEEP_AT_MOST:
            self._buffers[name] = (spec, array)
        return array

    def _flipped_padding(self):
        """The padding of the stride-1 layer of the other kind (a transposed convolution for a
        convolution, and back) that equals this one with its kernel rotated: k - 1 - p."""
        return tuple(k - 1 - p for k, p in zip(self.kernel_size, self.padding))

    def _scratch(self, x_shape, dtype):
        """The layer's buffer for a transposed convolution's math on an input of ``x_shape``
        (``ConvTranspose2D``, or ``Conv2D`` by "col2im"): W2^T x, then im2col(g), both
        (c_out kh kw, N H W)."""
        return self._buffer("scratch", _matrix,
                            self.out_channels * self.kernel_size[0] * self.kernel_size[1],
                            x_shape[0] * x_shape[2] * x_shape[3], dtype)

    def _winograd_entries(self, n_tiles, dtype, training=True):
        """``entries(name, rows)`` for the Winograd math: (16, rows, n_tiles) buffers."""
        def entries(name, rows):
            kept = name if training or name != "tiles" else "scratch"
            return self._buffer(kept, _entry_matrices, rows, n_tiles, dtype)
        return entries

    def _check_algorithm(self, algorithm):
        """One of ``ALGORITHMS``; "winograd" only for 3x3 kernels at stride 1, "col2im" only
        for a Conv2D at stride 1 with padding below the kernel size."""
        if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
            names = ", ".join(repr(a) for a in ALGORITHMS)
            raise ValueError(f"{self.name}: algorithm must be one of {names}, got {algorithm!r}")
        if algorithm == "col2im" and (self.transposed or self.stride != (1, 1) or any(
                p >= k for p, k in zip(self.padding, self.kernel_size))):
            raise ValueError(
                f"{self.name}: algorithm='col2im' is for a Conv2D at stride (1, 1) with padding "
                f"smaller than kernel_size (a transposed convolution always folds with col2im), "
                f"got stride {self.stride}, padding {self.padding}, kernel_size "
                f"{self.kernel_size}"
            )
        if algorithm == "winograd" and (self.kernel_size != (3, 3) or self.stride != (1, 1)):
            raise ValueError(
                f"{self.name}: algorithm='winograd' needs kernel_size (3, 3) and stride (1, 1), "
                f"got kernel_size {self.kernel_size} and stride {self.stride}"
            )
        return algorithm

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
                **({"algorithm": self.algorithm} if self.algorithm != "im2col" else {}),
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
    algorithm : {"im2col", "col2im", "winograd"}, default "im2col"
        "col2im" (stride 1, padding < kernel_size) computes the same
        convolution, up to rounding, as the transposed convolution of the
        rotated kernel: it unfolds ``out_channels kh kw`` rows instead of
        ``in_channels kh kw``, so it is the faster one when the layer
        narrows the channels (see the module docstring). "winograd" (3x3
        kernels, stride 1 only) computes it with Winograd's F(2x2, 3x3):
        2.25 x fewer multiplications in its products.

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
    With ``algorithm="col2im"`` the layer runs ``ConvTranspose2D``'s math
    (its Notes) on ``W' = rot180(W)`` with in and out channels swapped and
    padding ``k - 1 - p``, and ``dL/dW`` is ``dL/dW'`` turned back the same way.

    Examples
    --------
    >>> import numpy as np
    >>> layer = Conv2D(1, 4, kernel_size=3, padding=1, rng=0)
    >>> layer.forward(np.ones((2, 1, 28, 28))).shape
    (2, 4, 28, 28)
    """
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 init="glorot_uniform", dtype="float64", rng=None, backend=None,
                 algorithm="im2col"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, init, dtype,
                         rng, backend, algorithm)

    def _output_hw(self, hw):
        return window_output_hw(self.name, hw, self.kernel_size, self.stride, self.padding)

    def _cols(self, name, x_shape, dtype):
        """The layer's buffer ``name`` for im2col(x): (c_in kh kw, N H_out W_out)."""
        h_out, w_out = self._output_hw(x_shape[2:])
        return self._buffer(name, _matrix, x_shape[1] * self.kernel_size[0] * self.kernel_size[1],
                            x_shape[0] * h_out * w_out, dtype)

    def forward(self, x, training=True):
        x = check_images(self, x, self.in_channels)
        kernels, W, b = IM2COL_KERNELS(self.backend), self.params["W"], self.params["b"]
        out_hw = self._output_hw(x.shape[2:])
        if self.algorithm == "winograd":
            n_tiles = x.shape[0] * int(np.prod(_winograd_tile_counts(out_hw)))
            y, unfolded = _conv2d_winograd_forward(
                x, W, b, self.padding, out_hw, kernels,
                self._winograd_entries(n_tiles, x.dtype, training))
        elif self.algorithm == "col2im":
            y, unfolded = _conv_transpose2d_forward(
                x, _as_convolution(W), b, (1, 1), self._flipped_padding(), out_hw,
                kernels.col2im, self._scratch(x.shape, x.dtype))
        else:
            cols = self._cols("cols" if training else "scratch", x.shape, x.dtype)
            y, unfolded = _conv2d_forward(x, W, b, self.stride, self.padding, out_hw,
                                          kernels.im2col, cols)
        if training:
            self._cache = (x.shape, unfolded)
        return y

    def backward(self, grad_out):
        x_shape, unfolded = self._saved()
        grad_out = np.ascontiguousarray(self._check_backward(grad_out, x_shape))
        kernels, W = IM2COL_KERNELS(self.backend), self.params["W"]
        if self.algorithm == "winograd":
            dx, dW, db = _conv2d_winograd_backward(
                grad_out, unfolded, W, x_shape[2:], self.padding, kernels,
                self._winograd_entries(unfolded.shape[2], unfolded.dtype))
        elif self.algorithm == "col2im":
            dx, dW_transposed, db = _conv_transpose2d_backward(
                grad_out, unfolded, x_shape, _as_convolution(W), (1, 1), self._flipped_padding(),
                kernels.im2col, self._scratch(x_shape, unfolded.dtype))
            dW = _as_convolution(dW_transposed)
        else:
            dx, dW, db = _conv2d_backward(grad_out, unfolded, W, x_shape[2:], self.stride,
                                          self.padding, kernels.col2im,
                                          self._cols("scratch", x_shape, unfolded.dtype))
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
    algorithm : {"im2col", "winograd"}, default "im2col"
        "winograd" (3x3 kernels, stride 1 only): run the layer as the
        ``Conv2D(algorithm="winograd")`` it equals at stride 1, with the
        kernel rotated by 180 degrees and padding ``2 - padding``.

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
                 backend=None, algorithm="im2col"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, init, dtype,
                         rng, backend, algorithm)
        if self.algorithm == "winograd" and max(self.padding) > 2:
            raise ValueError(f"{self.name}: algorithm='winograd' needs padding <= 2, "
                             f"got {self.padding}")
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
        kernels, W, b = IM2COL_KERNELS(self.backend), self.params["W"], self.params["b"]
        out_hw = self._output_hw(x.shape[2:])
        if self.algorithm == "winograd":
            n_tiles = x.shape[0] * int(np.prod(_winograd_tile_counts(out_hw)))
            y, saved = _conv2d_winograd_forward(
                x, _as_convolution(W), b, self._flipped_padding(), out_hw, kernels,
                self._winograd_entries(n_tiles, x.dtype, training))
        else:
            y, saved = _conv_transpose2d_forward(x, W, b, self.stride, self.padding, out_hw,
                                                 kernels.col2im, self._scratch(x.shape, x.dtype))
        if training:
            self._cache = (x.shape, saved)
        return y

    def backward(self, grad_out):
        x_shape, saved = self._saved()
        grad_out = np.ascontiguousarray(self._check_backward(grad_out, x_shape))
        kernels, W = IM2COL_KERNELS(self.backend), self.params["W"]
        if self.algorithm == "winograd":
            dx, dW_conv, db = _conv2d_winograd_backward(
                grad_out, saved, _as_convolution(W), x_shape[2:], self._flipped_padding(),
                kernels, self._winograd_entries(saved.shape[2], saved.dtype))
            dW = _as_convolution(dW_conv)
        else:
            dx, dW, db = _conv_transpose2d_backward(grad_out, saved, x_shape, W, self.stride,
                                                    self.padding, kernels.im2col,
                                                    self._scratch(x_shape, saved.dtype))
        self.grads["W"] += dW
        self.grads["b"] += db
        return dx

    def get_config(self):
        return {"output_padding": list(self.output_padding), **super().get_config()}
