"""im2col and col2im: unfold convolution windows into columns and fold them back.

With ``x_pad`` the input zero-padded by ``(ph, pw)``, the whole batch becomes
one column matrix, a row per (channel, kernel offset) and a column per
(image, output pixel):

    cols[(c, i, j), (n, oh, ow)] = x_pad[n, c, oh * sh + i, ow * sw + j]

so a convolution is a single GEMM ``W.reshape(c_out, -1) @ cols`` over all
images (one large product uses two BLAS threads far better than one small
product per image). ``col2im`` is the adjoint (transpose) of ``im2col``: it
adds every column entry back onto the input pixel it was read from, which is
how the gradient of a convolution reaches its input. NumPy twins:
``npae.layers.conv``.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def im2col(x, kh, kw, sh, sw, ph, pw):
    """(n, c, h, w) -> cols of shape (c * kh * kw, n * h_out * w_out).

    Each image plane is copied once into a zero-bordered buffer, so the
    window loops need no bounds tests; stride 1 gets its own inner loop,
    which LLVM vectorizes (about 1.6 x faster than one loop for all strides).
    """
    n, c, h, w = x.shape
    if _tiles(h, w, kh, kw, sh, sw, ph, pw):
        return _im2col_blocks(x, kh, kw)
    h_out = (h + 2 * ph - kh) // sh + 1
    w_out = (w + 2 * pw - kw) // sw + 1
    cols = np.empty((c, kh, kw, n, h_out, w_out), dtype=x.dtype)
    x_pad = np.zeros((h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    for ni in range(n):
        for ci in range(c):
            for r in range(h):  # the interior; the zero border is never written
                padded, row = x_pad[ph + r], x[ni, ci, r]
                for q in range(w):
                    padded[pw + q] = row[q]
            for i in range(kh):
                for j in range(kw):
                    for oh in range(h_out):
                        src = x_pad[oh * sh + i]
                        dst = cols[ci, i, j, ni, oh]
                        if sw == 1:
                            for ow in range(w_out):
                                dst[ow] = src[ow + j]
                        else:
                            for ow in range(w_out):
                                dst[ow] = src[ow * sw + j]
    return cols.reshape(c * kh * kw, n * h_out * w_out)


@njit(cache=True)
def col2im(cols, h, w, kh, kw, sh, sw, ph, pw):
    """Adjoint of ``im2col``: cols -> (n, c, h, w), summing overlapping windows.

    Sums into a zeroed, padded plane per image and channel (small enough
    to stay in L1), then copies its interior out; no bounds tests.
    """
    if _tiles(h, w, kh, kw, sh, sw, ph, pw):
        return _col2im_blocks(cols, h, w, kh, kw)
    h_out = (h + 2 * ph - kh) // sh + 1
    w_out = (w + 2 * pw - kw) // sw + 1
    c = cols.shape[0] // (kh * kw)
    n = cols.shape[1] // (h_out * w_out)
    cols6 = cols.reshape(c, kh, kw, n, h_out, w_out)
    x = np.empty((n, c, h, w), dtype=cols.dtype)
    x_pad = np.empty((h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for ni in range(n):
        for ci in range(c):
            x_pad.ravel()[:] = 0
            for i in range(kh):
                for j in range(kw):
                    for oh in range(h_out):
                        src = cols6[ci, i, j, ni, oh]
                        dst = x_pad[oh * sh + i]
                        if sw == 1:
                            for ow in range(w_out):
                                dst[ow + j] += src[ow]
                        else:
                            for ow in range(w_out):
                                dst[ow * sw + j] += src[ow]
            for r in range(h):
                out, padded = x[ni, ci, r], x_pad[ph + r]
                for q in range(w):
                    out[q] = padded[pw + q]
    return x


# Windows that tile the image exactly (kernel == stride, no padding, sizes
# divisible by the kernel), as in a 2x2 stride-2 transposed convolution:
# im2col and col2im are pure rearrangements, with no overlap to sum and no
# zeros to write (about 3 x faster than the general loops).
@njit(cache=True)
def _tiles(h, w, kh, kw, sh, sw, ph, pw):
    return kh == sh and kw == sw and ph == 0 and pw == 0 and h % kh == 0 and w % kw == 0


@njit(cache=True)
def _im2col_blocks(x, kh, kw):
    """im2col of windows that tile x: cols[(c, i, j), (n, r, q)] = x[n, c, r kh + i, q kw + j]."""
    n, c, h, w = x.shape
    h_out, w_out = h // kh, w // kw
    cols = np.empty((c, kh, kw, n, h_out, w_out), dtype=x.dtype)
    for ni in range(n):
        for ci in range(c):
            for i in range(kh):
                for j in range(kw):
                    for oh in range(h_out):
                        for ow in range(w_out):
                            cols[ci, i, j, ni, oh, ow] = x[ni, ci, oh * kh + i, ow * kw + j]
    return cols.reshape(c * kh * kw, n * h_out * w_out)


@njit(cache=True)
def _col2im_blocks(cols, h, w, kh, kw):
    """col2im of windows that tile the image: the inverse rearrangement."""
    h_out, w_out = h // kh, w // kw
    c = cols.shape[0] // (kh * kw)
    n = cols.shape[1] // (h_out * w_out)
    cols6 = cols.reshape(c, kh, kw, n, h_out, w_out)
    x6 = np.empty((n, c, h_out, kh, w_out, kw), dtype=cols.dtype)
    for ni in range(n):
        for ci in range(c):
            for i in range(kh):
                for j in range(kw):
                    for oh in range(h_out):
                        for ow in range(w_out):
                            x6[ni, ci, oh, i, ow, j] = cols6[ci, i, j, ni, oh, ow]
    return x6.reshape(n, c, h, w)
