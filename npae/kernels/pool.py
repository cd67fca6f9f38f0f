"""Max and average pooling over (kh, kw) windows with stride (sh, sw), padding (ph, pw).

Window (oh, ow) covers input rows ``oh * sh - ph + i`` and columns
``ow * sw - pw + j`` for ``i < kh``, ``j < kw``. The loops visit only the part
of a window inside the input, rows ``r0 <= r < r1`` and columns
``q0 <= q < q1``, which is never empty when padding <= kernel // 2: padded
positions count as -inf for the maximum (so they never win) and as 0 for the
average (which always divides by ``kh * kw``, like PyTorch's
``count_include_pad=True``). NumPy twins: ``npae.layers.pool``.
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
                r0, r1 = max(oh * sh - ph, 0), min(oh * sh - ph + kh, h)
                for ow in range(w_out):
                    q0, q1 = max(ow * sw - pw, 0), min(ow * sw - pw + kw, w)
                    best = x[ni, ci, r0, q0]
                    where = r0 * w + q0
                    for r in range(r0, r1):
                        for q in range(q0, q1):
                            if x[ni, ci, r, q] > best:
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
                r0, r1 = max(oh * sh - ph, 0), min(oh * sh - ph + kh, h)
                for ow in range(w_out):
                    q0, q1 = max(ow * sw - pw, 0), min(ow * sw - pw + kw, w)
                    total = 0.0
                    for r in range(r0, r1):
                        for q in range(q0, q1):
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
                r0, r1 = max(oh * sh - ph, 0), min(oh * sh - ph + kh, h)
                for ow in range(w_out):
                    q0, q1 = max(ow * sw - pw, 0), min(ow * sw - pw + kw, w)
                    share = grad_out[ni, ci, oh, ow] / (kh * kw)
                    for r in range(r0, r1):
                        for q in range(q0, q1):
                            dx[ni, ci, r, q] += share
    return dx
