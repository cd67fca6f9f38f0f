"""im2col and col2im: unfold convolution windows into columns and fold them back.

With ``x_pad`` the input zero-padded by ``(ph, pw)``, the whole batch becomes
one column matrix, a row per (channel, kernel offset) and a column per
(image, output pixel):

    cols[(c, i, j), (n, oh, ow)] = x_pad[n, c, oh * sh + i, ow * sw + j]

so a convolution is a single GEMM ``W.reshape(c_out, -1) @ cols`` over all
images (one large product uses two BLAS threads far better than one small
product per image). ``col2im`` is the adjoint (transpose) of ``im2col``: it
adds every column entry back onto the input pixel it was read from, which is
how the gradient of a convolution reaches its input.

The Winograd kernels unfold differently, for the opt-in
``algorithm="winograd"`` of 3x3 stride-1 convolutions: ``winograd_tiles``
cuts the padded input into 4x4 tiles that overlap by 2 and transforms each,
``V = B^T d B``; ``winograd_outputs`` turns the products ``M`` back into
2x2 output tiles, ``y = A^T M A + b``; the two ``_adjoint`` kernels are
their transposes, for the backward pass. NumPy twins of all of them:
``npae.layers.conv``.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def im2col(x, kh, kw, sh, sw, ph, pw, out=None):
    """(n, c, h, w) -> cols of shape (c * kh * kw, n * h_out * w_out), in ``out`` if given.

    ``cols`` is written row by row (a channel and kernel offset over the
    whole batch), front to back, which was 1.05-1.5 x faster than writing
    one image plane's windows at a time. With padding, the batch is first
    copied into a zero-bordered buffer, so that each row of a window is one
    unbroken run of the copy: writing the padding's zeros run by run
    instead took 1.3-2 x longer (64 x 16 x 14 x 14 float32: 0.51 against
    0.38 ms). Without padding the rows are read from ``x`` itself.
    """
    n, c, h, w = x.shape
    h_out = (h + 2 * ph - kh) // sh + 1
    w_out = (w + 2 * pw - kw) // sw + 1
    if out is None:
        cols = np.empty((c, kh, kw, n, h_out, w_out), dtype=x.dtype)
    else:
        cols = out.reshape(c, kh, kw, n, h_out, w_out)
    if ph == 0 and pw == 0:
        _copy_rows(x, cols.ravel(), kh, kw, sh, sw, h_out, w_out)
        return cols.reshape(c * kh * kw, n * h_out * w_out)
    x_pad = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    for ni in range(n):
        for ci in range(c):
            for r in range(h):  # the interior; the zero border is never written
                padded, row = x_pad[ni, ci, ph + r], x[ni, ci, r]
                for q in range(w):
                    padded[pw + q] = row[q]
    _copy_rows(x_pad, cols.ravel(), kh, kw, sh, sw, h_out, w_out)
    return cols.reshape(c * kh * kw, n * h_out * w_out)


@njit(cache=True)
def col2im(cols, h, w, kh, kw, sh, sw, ph, pw):
    """Adjoint of ``im2col``: cols -> (n, c, h, w), summing overlapping windows.

    Row by row of ``cols`` (as ``im2col`` writes them) into a zeroed batch;
    the entries that ``im2col`` read from the padding are skipped, which
    took 0.75-0.95 x the time of adding everything into a zero-bordered
    copy and cutting its interior out. Reading ``cols`` in order made it
    1.6-1.9 x faster than summing one padded plane at a time (64 images of
    16 x 14 x 14).
    """
    if _tiles(h, w, kh, kw, sh, sw, ph, pw):
        return _col2im_blocks(cols, h, w, kh, kw)
    h_out = (h + 2 * ph - kh) // sh + 1
    w_out = (w + 2 * pw - kw) // sw + 1
    c = cols.shape[0] // (kh * kw)
    n = cols.shape[1] // (h_out * w_out)
    x = np.zeros((n, c, h, w), dtype=cols.dtype)
    _add_rows(x, np.ascontiguousarray(cols).ravel(), kh, kw, sh, sw, ph, pw, h_out, w_out)
    return x


# The offsets into the flat arrays are unsigned: Numba checks every signed index for
# wraparound (a negative index counts from the end), and that check kept LLVM from
# vectorizing these loops (64 x 16 x 14 x 14 float32: im2col 0.49 -> 0.38 ms).
@njit(cache=True)
def _copy_rows(x_pad, cols, kh, kw, sh, sw, h_out, w_out):
    """cols[(c, i, j), (n, oh, ow)] = x_pad[n, c, oh sh + i, ow sw + j], ``cols`` flat and
    written front to back."""
    n, c, hp, wp = x_pad.shape
    padded, width, stride = x_pad.ravel(), np.uint64(w_out), np.uint64(sw)
    k = np.uint64(0)
    for ci in range(c):
        for i in range(kh):
            for j in range(kw):
                for ni in range(n):
                    for oh in range(h_out):
                        p = np.uint64(((ni * c + ci) * hp + oh * sh + i) * wp + j)
                        if sw == 1:
                            for ow in range(width):
                                cols[k + ow] = padded[p + ow]
                        else:
                            for ow in range(width):
                                cols[k + ow] = padded[p + ow * stride]
                        k += width


@njit(cache=True)
def _add_rows(x, cols, kh, kw, sh, sw, ph, pw, h_out, w_out):
    """x[n, c, oh sh + i - ph, ow sw + j - pw] += cols[(c, i, j), (n, oh, ow)] for every
    entry whose pixel is inside the image (not padding); ``cols`` flat, read in order.

    For each kernel column ``j`` the pixels inside the image are read by the outputs
    ``ow`` in ``[first, stop)``: ``first`` the smallest with ``ow sw + j >= pw``,
    ``stop`` one past the largest with ``ow sw + j - pw <= w - 1``.
    """
    n, c, h, w = x.shape
    image, width, stride = x.ravel(), np.uint64(w_out), np.uint64(sw)
    k = np.uint64(0)
    for ci in range(c):
        for i in range(kh):
            for j in range(kw):
                first = min(max(0, (pw - j + sw - 1) // sw), w_out)
                stop = max(min(w_out, (w - 1 + pw - j) // sw + 1), first)
                count = np.uint64(stop - first)
                for ni in range(n):
                    for oh in range(h_out):
                        r = oh * sh + i - ph
                        if 0 <= r < h:  # not a row of padding
                            # p: pixel (r, first sw + j - pw) of plane (ni, ci); q: entry first
                            p = np.uint64(((ni * c + ci) * h + r) * w + first * sw + j - pw)
                            q = k + np.uint64(first)
                            if sw == 1:
                                for t in range(count):
                                    image[p + t] += cols[q + t]
                            else:
                                for t in range(count):
                                    image[p + t * stride] += cols[q + t]
                        k += width


# Windows that tile the image exactly (kernel == stride, no padding, sizes
# divisible by the kernel), as in a 2x2 stride-2 transposed convolution:
# col2im is a pure rearrangement, with no overlap to sum and no zeros to write
# (1.5-1.7 x faster than adding onto a zeroed batch). im2col needs no special
# case: without padding it copies from x directly.
@njit(cache=True)
def _tiles(h, w, kh, kw, sh, sw, ph, pw):
    return kh == sh and kw == sw and ph == 0 and pw == 0 and h % kh == 0 and w % kw == 0


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


# -- Winograd F(2x2, 3x3): the tile transforms, written out -------------------------
#   B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
#   A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]
# Tiles are (16, channels, n th tw): one matrix per transform entry e = 4 i + j, a
# column per (image, row of tiles, tile). The loops follow that order (channel, image,
# row of tiles), so that each of the 16 matrices is read or written as one stream.
# Each kernel applies its transform to the columns of a whole row of tiles at once
# (vectors along the image row), then to the rows of each tile.
@njit(cache=True)
def _winograd_tile_counts(h_out, w_out):
    """Rows and columns of tiles: each tile gives 2x2 outputs."""
    return (h_out + 1) // 2, (w_out + 1) // 2


@njit(cache=True)
def winograd_tiles(x, ph, pw, V):
    """V[4 i + j, c, (n, ty, tx)] = (B^T d B)[i, j], d the 4x4 tile of x_pad at (2 ty, 2 tx).

    ``x_pad`` is x zero-padded by (ph, pw) and, at the bottom and right, up
    to (2 th + 2, 2 tw + 2); each plane is copied once into that buffer.
    Written into ``V`` (16, c, n th tw), which is returned.
    """
    n, c, h, w = x.shape
    th, tw = _winograd_tile_counts(h + 2 * ph - 2, w + 2 * pw - 2)
    x_pad = np.zeros((2 * th + 2, 2 * tw + 2), dtype=x.dtype)
    t = np.empty((4, 2 * tw + 2), dtype=x.dtype)
    for ci in range(c):
        for ni in range(n):
            for r in range(h):  # the interior; the zero border is never written
                padded, row = x_pad[ph + r], x[ni, ci, r]
                for q in range(w):
                    padded[pw + q] = row[q]
            for ty in range(th):
                d0, d1, d2, d3 = x_pad[2 * ty], x_pad[2 * ty + 1], x_pad[2 * ty + 2], \
                    x_pad[2 * ty + 3]
                for q in range(2 * tw + 2):  # t = B^T d, for the whole row of tiles
                    t[0, q], t[1, q] = d0[q] - d2[q], d1[q] + d2[q]
                    t[2, q], t[3, q] = d2[q] - d1[q], d1[q] - d3[q]
                first = (ni * th + ty) * tw
                for i in range(4):  # V = t B, tile by tile
                    for tx in range(tw):
                        q, tile = 2 * tx, first + tx
                        V[4 * i, ci, tile] = t[i, q] - t[i, q + 2]
                        V[4 * i + 1, ci, tile] = t[i, q + 1] + t[i, q + 2]
                        V[4 * i + 2, ci, tile] = t[i, q + 2] - t[i, q + 1]
                        V[4 * i + 3, ci, tile] = t[i, q + 1] - t[i, q + 3]
    return V


@njit(cache=True)
def winograd_tiles_adjoint(dV, n, h, w, ph, pw):
    """Adjoint of ``winograd_tiles``: dx = sum over tiles of B dV B^T, added onto its 4x4 tile."""
    c = dV.shape[1]
    th, tw = _winograd_tile_counts(h + 2 * ph - 2, w + 2 * pw - 2)
    dx = np.empty((n, c, h, w), dtype=dV.dtype)
    x_pad = np.empty((2 * th + 2, 2 * tw + 2), dtype=dV.dtype)
    s = np.empty((4, 4, tw), dtype=dV.dtype)
    for ci in range(c):
        for ni in range(n):
            x_pad.ravel()[:] = 0
            for ty in range(th):
                first = (ni * th + ty) * tw
                for j in range(4):  # s = B dV, for the whole row of tiles
                    for tx in range(tw):
                        v0, v1 = dV[j, ci, first + tx], dV[4 + j, ci, first + tx]
                        v2, v3 = dV[8 + j, ci, first + tx], dV[12 + j, ci, first + tx]
                        s[0, j, tx], s[1, j, tx] = v0, v1 - v2 + v3
                        s[2, j, tx], s[3, j, tx] = v1 + v2 - v0, -v3
                for k in range(4):  # (s B^T) added onto each tile's row k
                    row, s0, s1, s2, s3 = x_pad[2 * ty + k], s[k, 0], s[k, 1], s[k, 2], s[k, 3]
                    for tx in range(tw):
                        q = 2 * tx
                        row[q] += s0[tx]
                        row[q + 1] += s1[tx] - s2[tx] + s3[tx]
                        row[q + 2] += s1[tx] + s2[tx] - s0[tx]
                        row[q + 3] -= s3[tx]
            for r in range(h):
                out, padded = dx[ni, ci, r], x_pad[ph + r]
                for q in range(w):
                    out[q] = padded[pw + q]
    return dx


@njit(cache=True)
def winograd_outputs(M, b, n, h_out, w_out):
    """y[n, o, 2 ty + a, 2 tx + c] = (A^T M[:, o, (n, ty, tx)] A)[a, c] + b[o].

    Written into a (2 th, 2 tw) plane, whose top-left h_out x w_out is y.
    """
    o_count = M.shape[1]
    th, tw = _winograd_tile_counts(h_out, w_out)
    y = np.empty((n, o_count, h_out, w_out), dtype=M.dtype)
    y_pad = np.empty((2 * th, 2 * tw), dtype=M.dtype)
    s = np.empty((2, 4, tw), dtype=M.dtype)
    for oi in range(o_count):
        bias = b[oi]
        for ni in range(n):
            for ty in range(th):
                first = (ni * th + ty) * tw
                for j in range(4):  # s = A^T M, for the whole row of tiles
                    for tx in range(tw):
                        m0, m1 = M[j, oi, first + tx], M[4 + j, oi, first + tx]
                        m2, m3 = M[8 + j, oi, first + tx], M[12 + j, oi, first + tx]
                        s[0, j, tx], s[1, j, tx] = m0 + m1 + m2, m1 - m2 - m3
                for a in range(2):  # y = s A + b
                    row, s0, s1, s2, s3 = y_pad[2 * ty + a], s[a, 0], s[a, 1], s[a, 2], s[a, 3]
                    for tx in range(tw):
                        row[2 * tx] = s0[tx] + s1[tx] + s2[tx] + bias
                        row[2 * tx + 1] = s1[tx] - s2[tx] - s3[tx] + bias
            for r in range(h_out):
                out, padded = y[ni, oi, r], y_pad[r]
                for q in range(w_out):
                    out[q] = padded[q]
    return y


@njit(cache=True)
def winograd_outputs_adjoint(g, dM):
    """Adjoint of ``winograd_outputs`` (without b): dM[:, o, (n, ty, tx)] = A g_tile A^T.

    ``g_tile`` is the 2x2 tile of g at (2 ty, 2 tx); each plane of g is
    copied once into a zero-bordered (2 th, 2 tw) buffer. Written into ``dM``
    (16, o, n th tw), which is returned.
    """
    n, o_count, h_out, w_out = g.shape
    th, tw = _winograd_tile_counts(h_out, w_out)
    g_pad = np.zeros((2 * th, 2 * tw), dtype=g.dtype)
    u = np.empty((4, 2 * tw), dtype=g.dtype)
    for oi in range(o_count):
        for ni in range(n):
            for r in range(h_out):
                padded, row = g_pad[r], g[ni, oi, r]
                for q in range(w_out):
                    padded[q] = row[q]
            for ty in range(th):
                g0, g1 = g_pad[2 * ty], g_pad[2 * ty + 1]
                for q in range(2 * tw):  # u = A g, for the whole row of tiles
                    u[0, q], u[1, q] = g0[q], g0[q] + g1[q]
                    u[2, q], u[3, q] = g0[q] - g1[q], -g1[q]
                first = (ni * th + ty) * tw
                for i in range(4):  # dM = u A^T, tile by tile
                    for tx in range(tw):
                        q, tile = 2 * tx, first + tx
                        dM[4 * i, oi, tile] = u[i, q]
                        dM[4 * i + 1, oi, tile] = u[i, q] + u[i, q + 1]
                        dM[4 * i + 2, oi, tile] = u[i, q] - u[i, q + 1]
                        dM[4 * i + 3, oi, tile] = -u[i, q + 1]
    return dM
