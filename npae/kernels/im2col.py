"""im2col and col2im: unfold convolution windows into columns and fold them back.

With ``x_pad`` the input zero-padded by ``(ph, pw)``, image ``n`` gets its own
column matrix

    cols[n, (c, i, j), (oh, ow)] = x_pad[n, c, oh * sh + i, ow * sw + j]

so a convolution becomes the batched matrix product ``W.reshape(c_out, -1) @ cols``
whose result is already in NCHW order. ``col2im`` is the adjoint (transpose)
of ``im2col``: it adds every column entry back onto the input pixel it was
read from, which is how the gradient of a convolution reaches its input.
NumPy twins: ``npae.layers.conv``.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def im2col(x, kh, kw, sh, sw, ph, pw):
    """(n, c, h, w) -> cols of shape (n, c * kh * kw, h_out * w_out)."""
    n, c, h, w = x.shape
    h_out = (h + 2 * ph - kh) // sh + 1
    w_out = (w + 2 * pw - kw) // sw + 1
    cols = np.empty((n, c, kh, kw, h_out, w_out), dtype=x.dtype)
    for ni in range(n):
        for ci in range(c):
            for i in range(kh):
                for j in range(kw):
                    for oh in range(h_out):
                        r = oh * sh + i - ph
                        row_inside = 0 <= r < h
                        for ow in range(w_out):
                            q = ow * sw + j - pw
                            if row_inside and 0 <= q < w:
                                cols[ni, ci, i, j, oh, ow] = x[ni, ci, r, q]
                            else:
                                cols[ni, ci, i, j, oh, ow] = 0
    return cols.reshape(n, c * kh * kw, h_out * w_out)


@njit(cache=True)
def col2im(cols, h, w, kh, kw, sh, sw, ph, pw):
    """Adjoint of ``im2col``: cols -> (n, c, h, w), summing overlapping windows."""
    n = cols.shape[0]
    c = cols.shape[1] // (kh * kw)
    h_out = (h + 2 * ph - kh) // sh + 1
    w_out = (w + 2 * pw - kw) // sw + 1
    cols6 = cols.reshape(n, c, kh, kw, h_out, w_out)
    x = np.zeros((n, c, h, w), dtype=cols.dtype)
    for ni in range(n):
        for ci in range(c):
            for i in range(kh):
                for j in range(kw):
                    for oh in range(h_out):
                        r = oh * sh + i - ph
                        if 0 <= r < h:
                            for ow in range(w_out):
                                q = ow * sw + j - pw
                                if 0 <= q < w:
                                    x[ni, ci, r, q] += cols6[ni, ci, i, j, oh, ow]
    return x
