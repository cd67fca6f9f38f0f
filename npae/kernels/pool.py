"""Max and average pooling over (kh, kw) windows with stride (sh, sw), padding (ph, pw).

Window (oh, ow) covers input rows ``oh * sh - ph + i`` and columns
``ow * sw - pw + j`` for ``i < kh``, ``j < kw``; padded positions count as
-inf for the maximum and as 0 for the average (which always divides by
``kh * kw``, like PyTorch's ``count_include_pad=True``). NumPy twins:
``npae.layers.pool``.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def max_pool_forward(x, kh, kw, sh, sw, ph, pw):
    """Window maxima and, for backward, where each came from.

    Returns ``y`` (n, c, h_out, w_out) and ``argmax`` of the same shape: the
    flat index ``r * w + q`` in the (h, w) plane of the first maximum of the
    window in row-major order (ties go to the first).
    """
    n, c, h, w = x.shape
    h_out = (h + 2 * ph - kh) // sh + 1
    w_out = (w + 2 * pw - kw) // sw + 1
    y = np.empty((n, c, h_out, w_out), dtype=x.dtype)
    argmax = np.empty((n, c, h_out, w_out), dtype=np.int64)
    for ni in range(n):
        for ci in range(c):
            for oh in range(h_out):
                for ow in range(w_out):
                    best = -np.inf
                    where = -1
                    for i in range(kh):
                        r = oh * sh - ph + i
                        if 0 <= r < h:
                            for j in range(kw):
                                q = ow * sw - pw + j
                                if 0 <= q < w and x[ni, ci, r, q] > best:
                                    best = x[ni, ci, r, q]
                                    where = r * w + q
                    y[ni, ci, oh, ow] = best
                    argmax[ni, ci, oh, ow] = where
    return y, argmax


@njit(cache=True)
def max_pool_backward(grad_out, argmax, h, w):
    """dx: each output gradient added onto the input pixel that was the maximum."""
    n, c, h_out, w_out = grad_out.shape
    dx = np.zeros((n, c, h * w), dtype=grad_out.dtype)
    for ni in range(n):
        for ci in range(c):
            for oh in range(h_out):
                for ow in range(w_out):
                    dx[ni, ci, argmax[ni, ci, oh, ow]] += grad_out[ni, ci, oh, ow]
    return dx.reshape(n, c, h, w)


@njit(cache=True)
def avg_pool_forward(x, kh, kw, sh, sw, ph, pw):
    """y = sum of the window (zeros outside the input) / (kh * kw)."""
    n, c, h, w = x.shape
    h_out = (h + 2 * ph - kh) // sh + 1
    w_out = (w + 2 * pw - kw) // sw + 1
    y = np.empty((n, c, h_out, w_out), dtype=x.dtype)
    for ni in range(n):
        for ci in range(c):
            for oh in range(h_out):
                for ow in range(w_out):
                    total = 0.0
                    for i in range(kh):
                        r = oh * sh - ph + i
                        if 0 <= r < h:
                            for j in range(kw):
                                q = ow * sw - pw + j
                                if 0 <= q < w:
                                    total += x[ni, ci, r, q]
                    y[ni, ci, oh, ow] = total / (kh * kw)
    return y


@njit(cache=True)
def avg_pool_backward(grad_out, h, w, kh, kw, sh, sw, ph, pw):
    """dx: each output gradient spread evenly, g / (kh * kw), over its window."""
    n, c, h_out, w_out = grad_out.shape
    dx = np.zeros((n, c, h, w), dtype=grad_out.dtype)
    for ni in range(n):
        for ci in range(c):
            for oh in range(h_out):
                for ow in range(w_out):
                    share = grad_out[ni, ci, oh, ow] / (kh * kw)
                    for i in range(kh):
                        r = oh * sh - ph + i
                        if 0 <= r < h:
                            for j in range(kw):
                                q = ow * sw - pw + j
                                if 0 <= q < w:
                                    dx[ni, ci, r, q] += share
    return dx
