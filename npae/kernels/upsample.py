"""Nearest and bilinear upsampling of (n, c, h, w) batches, and their adjoints.

Bilinear interpolation is separable and two-tap: output row ``o`` reads input
rows ``rows[o, 0]`` and ``rows[o, 1]`` with weights ``row_weights[o, 0]`` and
``row_weights[o, 1]`` (likewise for columns), so

    y[o, p] = sum_{a, b in {0, 1}} row_weights[o, a] col_weights[p, b] x[rows[o, a], cols[p, b]]

The kernels do it one axis at a time, ``y = A_h (x A_w^T)``: first every
input row is interpolated along the columns into a (h, w_out) buffer, then
output rows are mixed from two buffer rows. The tables are built by
``npae.layers.upsample`` (PyTorch's ``align_corners=False`` rule), which
also holds the NumPy twins. The planes are done one at a time, so the
(h, w_out) buffer stays in the cache; factor 2 has loops of its own.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def nearest_forward(x, sh, sw):
    """y[n, c, i sh + a, j sw + b] = x[n, c, i, j] for a < sh, b < sw."""
    n, c, h, w = x.shape
    planes = x.reshape(n * c, h, w)
    y = np.empty((n * c, h * sh, w * sw), dtype=x.dtype)
    for p in range(n * c):
        for i in range(h):
            row = y[p, i * sh]
            if sw == 2:
                for j in range(w):
                    row[2 * j] = row[2 * j + 1] = planes[p, i, j]
            else:
                for j in range(w):
                    for b in range(sw):
                        row[j * sw + b] = planes[p, i, j]
            for a in range(1, sh):  # the other rows of the block repeat the first
                copy = y[p, i * sh + a]
                for q in range(w * sw):
                    copy[q] = row[q]
    return y.reshape(n, c, h * sh, w * sw)


@njit(cache=True)
def nearest_backward(grad_out, h, w, sh, sw):
    """dx[n, c, i, j] = sum of grad_out over the (sh, sw) block that copied x[i, j]."""
    n, c, _, _ = grad_out.shape
    g = grad_out.reshape(n * c, h * sh, w * sw)
    dx = np.empty((n * c, h, w), dtype=grad_out.dtype)
    for p in range(n * c):
        if sh == 2 and sw == 2:
            for i in range(h):
                top, bottom = g[p, 2 * i], g[p, 2 * i + 1]
                for j in range(w):
                    dx[p, i, j] = top[2 * j] + top[2 * j + 1] + bottom[2 * j] + bottom[2 * j + 1]
            continue
        for i in range(h):
            for j in range(w):
                total = g[p, i * sh, j * sw]
                for b in range(1, sw):
                    total += g[p, i * sh, j * sw + b]
                for a in range(1, sh):
                    for b in range(sw):
                        total += g[p, i * sh + a, j * sw + b]
                dx[p, i, j] = total
    return dx.reshape(n, c, h, w)


@njit(cache=True)
def bilinear_forward(x, rows, row_weights, cols, col_weights):
    """y = the two-tap interpolation of x (module docstring), shape (n, c, h_out, w_out)."""
    n, c, h, w = x.shape
    h_out = rows.shape[0]
    w_out = cols.shape[0]
    planes = x.reshape(n * c, h, w)
    y = np.empty((n * c, h_out, w_out), dtype=x.dtype)
    for p in range(n * c):
        along_columns = np.empty((h, w_out), dtype=x.dtype)  # x A_w^T
        for i in range(h):
            for q in range(w_out):
                along_columns[i, q] = (col_weights[q, 0] * planes[p, i, cols[q, 0]]
                                       + col_weights[q, 1] * planes[p, i, cols[q, 1]])
        for o in range(h_out):
            a0, a1 = row_weights[o, 0], row_weights[o, 1]
            r0, r1 = rows[o, 0], rows[o, 1]
            for q in range(w_out):
                y[p, o, q] = a0 * along_columns[r0, q] + a1 * along_columns[r1, q]
    return y.reshape(n, c, h_out, w_out)


@njit(cache=True)
def bilinear_backward(grad_out, h, w, rows, row_weights, cols, col_weights):
    """dx = A_h^T g A_w: each output gradient reaches its four source pixels, times weights."""
    n, c, h_out, w_out = grad_out.shape
    g = grad_out.reshape(n * c, h_out, w_out)
    dx = np.empty((n * c, h, w), dtype=grad_out.dtype)
    along_rows = np.empty((h, w_out), dtype=grad_out.dtype)  # A_h^T g of one plane
    for p in range(n * c):
        along_rows[:] = 0
        for o in range(h_out):
            a0, a1 = row_weights[o, 0], row_weights[o, 1]
            r0, r1 = rows[o, 0], rows[o, 1]
            for q in range(w_out):
                along_rows[r0, q] += a0 * g[p, o, q]
                along_rows[r1, q] += a1 * g[p, o, q]
        dx[p] = 0
        for q in range(w_out):  # one column's taps and weights, read once for all rows
            q0, q1 = cols[q, 0], cols[q, 1]
            b0, b1 = col_weights[q, 0], col_weights[q, 1]
            for i in range(h):
                dx[p, i, q0] += b0 * along_rows[i, q]
                dx[p, i, q1] += b1 * along_rows[i, q]
    return dx.reshape(n, c, h, w)
