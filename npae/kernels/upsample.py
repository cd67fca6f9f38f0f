"""Nearest and bilinear upsampling of (n, c, h, w) batches, and their adjoints.

Bilinear interpolation is separable and two-tap: output row ``o`` reads input
rows ``rows[o, 0]`` and ``rows[o, 1]`` with weights ``row_weights[o, 0]`` and
``row_weights[o, 1]`` (likewise for columns), so

    y[o, p] = sum_{a, b in {0, 1}} row_weights[o, a] col_weights[p, b] x[rows[o, a], cols[p, b]]

The tables are built by ``npae.layers.upsample`` (PyTorch's
``align_corners=False`` rule), which also holds the NumPy twins.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def nearest_forward(x, sh, sw):
    """y[n, c, i sh + a, j sw + b] = x[n, c, i, j] for a < sh, b < sw."""
    n, c, h, w = x.shape
    y = np.empty((n, c, h * sh, w * sw), dtype=x.dtype)
    for ni in range(n):
        for ci in range(c):
            for i in range(h):
                for a in range(sh):
                    for j in range(w):
                        for b in range(sw):
                            y[ni, ci, i * sh + a, j * sw + b] = x[ni, ci, i, j]
    return y


@njit(cache=True)
def nearest_backward(grad_out, h, w, sh, sw):
    """dx[n, c, i, j] = sum of grad_out over the (sh, sw) block that copied x[i, j]."""
    n, c, _, _ = grad_out.shape
    dx = np.zeros((n, c, h, w), dtype=grad_out.dtype)
    for ni in range(n):
        for ci in range(c):
            for i in range(h):
                for a in range(sh):
                    for j in range(w):
                        for b in range(sw):
                            dx[ni, ci, i, j] += grad_out[ni, ci, i * sh + a, j * sw + b]
    return dx


@njit(cache=True)
def bilinear_forward(x, rows, row_weights, cols, col_weights):
    """y = the two-tap interpolation of x (module docstring), shape (n, c, h_out, w_out)."""
    n, c, _, _ = x.shape
    h_out = rows.shape[0]
    w_out = cols.shape[0]
    y = np.empty((n, c, h_out, w_out), dtype=x.dtype)
    for ni in range(n):
        for ci in range(c):
            for o in range(h_out):
                r0, r1 = rows[o, 0], rows[o, 1]
                a0, a1 = row_weights[o, 0], row_weights[o, 1]
                for p in range(w_out):
                    q0, q1 = cols[p, 0], cols[p, 1]
                    b0, b1 = col_weights[p, 0], col_weights[p, 1]
                    y[ni, ci, o, p] = (a0 * (b0 * x[ni, ci, r0, q0] + b1 * x[ni, ci, r0, q1])
                                       + a1 * (b0 * x[ni, ci, r1, q0] + b1 * x[ni, ci, r1, q1]))
    return y


@njit(cache=True)
def bilinear_backward(grad_out, h, w, rows, row_weights, cols, col_weights):
    """dx: each output gradient added onto its four source pixels, times their weights."""
    n, c, h_out, w_out = grad_out.shape
    dx = np.zeros((n, c, h, w), dtype=grad_out.dtype)
    for ni in range(n):
        for ci in range(c):
            for o in range(h_out):
                r0, r1 = rows[o, 0], rows[o, 1]
                a0, a1 = row_weights[o, 0], row_weights[o, 1]
                for p in range(w_out):
                    q0, q1 = cols[p, 0], cols[p, 1]
                    b0, b1 = col_weights[p, 0], col_weights[p, 1]
                    g = grad_out[ni, ci, o, p]
                    dx[ni, ci, r0, q0] += a0 * b0 * g
                    dx[ni, ci, r0, q1] += a0 * b1 * g
                    dx[ni, ci, r1, q0] += a1 * b0 * g
                    dx[ni, ci, r1, q1] += a1 * b1 * g
    return dx
