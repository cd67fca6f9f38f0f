"""Max and average pooling over (kh, kw) windows with stride (sh, sw), padding (ph, pw).

Window (oh, ow) covers input rows ``oh * sh - ph + i`` and columns
``ow * sw - pw + j`` for ``i < kh``, ``j < kw``. The loops visit only the part
of a window inside the input, rows ``r0 <= r < r1`` and columns
``q0 <= q < q1``, which is never empty when padding <= kernel // 2: padded
positions count as -inf for the maximum (so they never win) and as 0 for the
average (which always divides by ``kh * kw``, like PyTorch's
``count_include_pad=True``).

Every (n, c) plane is pooled on its own, one small plane at a time, which
stays in the cache. The 2x2 stride-2 unpadded window, the one every
encoder uses, gets a loop of its own with the four comparisons written out.
NumPy twins: ``npae.layers.pool``.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def max_pool_forward(x, kh, kw, sh, sw, ph, pw):
    """Window maxima and, for backward, where each came from.

    Returns ``y`` (n, c, h_out, w_out) and ``argmax`` of the same shape: the
    flat index ``r * w + q`` in the (h, w) plane of the first maximum of the
    window in row-major order (ties go to the first). ``x`` must be C-contiguous.
    """
    n, c, h, w = x.shape
    h_out = (h + 2 * ph - kh) // sh + 1
    w_out = (w + 2 * pw - kw) // sw + 1
    planes = x.reshape(n * c, h, w)
    y = np.empty((n * c, h_out, w_out), dtype=x.dtype)
    argmax = np.empty((n * c, h_out, w_out), dtype=np.int32)
    two_by_two = kh == 2 and kw == 2 and sh == 2 and sw == 2 and ph == 0 and pw == 0
    for p in range(n * c):
        xp = planes[p]
        if two_by_two:
            for oh in range(h_out):
                r = 2 * oh
                for ow in range(w_out):
                    q = 2 * ow
                    best, where = xp[r, q], r * w + q
                    if xp[r, q + 1] > best:
                        best, where = xp[r, q + 1], r * w + q + 1
                    if xp[r + 1, q] > best:
                        best, where = xp[r + 1, q], (r + 1) * w + q
                    if xp[r + 1, q + 1] > best:
                        best, where = xp[r + 1, q + 1], (r + 1) * w + q + 1
                    y[p, oh, ow] = best
                    argmax[p, oh, ow] = where
            continue
        for oh in range(h_out):
            r0, r1 = max(oh * sh - ph, 0), min(oh * sh - ph + kh, h)
            for ow in range(w_out):
                q0, q1 = max(ow * sw - pw, 0), min(ow * sw - pw + kw, w)
                best, where = xp[r0, q0], r0 * w + q0
                for r in range(r0, r1):
                    for q in range(q0, q1):
                        if xp[r, q] > best:
                            best, where = xp[r, q], r * w + q
                y[p, oh, ow] = best
                argmax[p, oh, ow] = where
    return y.reshape(n, c, h_out, w_out), argmax.reshape(n, c, h_out, w_out)


@njit(cache=True)
def max_pool_backward(grad_out, argmax, h, w):
    """dx: each output gradient added onto the input pixel that was the maximum."""
    n, c, h_out, w_out = grad_out.shape
    g = grad_out.reshape(n * c, h_out * w_out)
    where = argmax.reshape(n * c, h_out * w_out)
    dx = np.empty((n * c, h * w), dtype=grad_out.dtype)
    for p in range(n * c):
        dx[p, :] = 0
        for k in range(h_out * w_out):
            dx[p, where[p, k]] += g[p, k]
    return dx.reshape(n, c, h, w)


@njit(cache=True)
def avg_pool_forward(x, kh, kw, sh, sw, ph, pw):
    """y = sum of the window (zeros outside the input) / (kh * kw)."""
    n, c, h, w = x.shape
    h_out = (h + 2 * ph - kh) // sh + 1
    w_out = (w + 2 * pw - kw) // sw + 1
    planes = x.reshape(n * c, h, w)
    y = np.empty((n * c, h_out, w_out), dtype=x.dtype)
    two_by_two = kh == 2 and kw == 2 and sh == 2 and sw == 2 and ph == 0 and pw == 0
    for p in range(n * c):
        xp = planes[p]
        if two_by_two:
            for oh in range(h_out):
                r = 2 * oh
                for ow in range(w_out):
                    q = 2 * ow
                    y[p, oh, ow] = (xp[r, q] + xp[r, q + 1] + xp[r + 1, q] + xp[r + 1, q + 1]) / 4
            continue
        for oh in range(h_out):
            r0, r1 = max(oh * sh - ph, 0), min(oh * sh - ph + kh, h)
            for ow in range(w_out):
                q0, q1 = max(ow * sw - pw, 0), min(ow * sw - pw + kw, w)
                total = xp[r0, q0] - xp[r0, q0]  # a zero of x's dtype
                for r in range(r0, r1):
                    for q in range(q0, q1):
                        total += xp[r, q]
                y[p, oh, ow] = total / (kh * kw)
    return y.reshape(n, c, h_out, w_out)


@njit(cache=True)
def avg_pool_backward(grad_out, h, w, kh, kw, sh, sw, ph, pw):
    """dx: each output gradient spread evenly, g / (kh * kw), over its window."""
    n, c, h_out, w_out = grad_out.shape
    g = grad_out.reshape(n * c, h_out, w_out)
    dx = np.empty((n * c, h, w), dtype=grad_out.dtype)
    two_by_two = kh == 2 and kw == 2 and sh == 2 and sw == 2 and ph == 0 and pw == 0
    for p in range(n * c):
        dx[p] = 0
        if two_by_two:
            for oh in range(h_out):
                for ow in range(w_out):
                    share = g[p, oh, ow] / 4
                    dx[p, 2 * oh, 2 * ow] = share
                    dx[p, 2 * oh, 2 * ow + 1] = share
                    dx[p, 2 * oh + 1, 2 * ow] = share
                    dx[p, 2 * oh + 1, 2 * ow + 1] = share
            continue
        for oh in range(h_out):
            r0, r1 = max(oh * sh - ph, 0), min(oh * sh - ph + kh, h)
            for ow in range(w_out):
                q0, q1 = max(ow * sw - pw, 0), min(ow * sw - pw + kw, w)
                share = g[p, oh, ow] / (kh * kw)
                for r in range(r0, r1):
                    for q in range(q0, q1):
                        dx[p, r, q] += share
    return dx.reshape(n, c, h, w)
