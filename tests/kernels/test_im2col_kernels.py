"""The im2col and Winograd loops of ``npae.kernels.im2col`` against their NumPy twins
(``IM2COL_KERNELS``), and their adjoints."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae.layers.conv import IM2COL_KERNELS, WINOGRAD_BT, WINOGRAD_G, _entry_matrices

# Each kernel and its twin, by the name the table pairs them under.
kernels, twins = IM2COL_KERNELS("numba"), IM2COL_KERNELS.numpy

TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


@st.composite
def geometries(draw, max_size=7):
    """(x shape, (kh, kw, sh, sw, ph, pw)) with the kernel fitting the padded input."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), max_size))
    w = draw(st.integers(max(1, kw - 2 * pw), max_size))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w)
    return shape, (kh, kw, sh, sw, ph, pw)


@st.composite
def tilings(draw, max_blocks=4):
    """(x shape, geometry) with stride == kernel and no padding, as a 2x2 stride-2
    upsampler uses; sizes often a multiple of the kernel (the kernels' fast path),
    sometimes with rows or columns left over."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h = kh * draw(st.integers(1, max_blocks)) + draw(st.sampled_from([0, 0, 0, kh - 1]))
    w = kw * draw(st.integers(1, max_blocks)) + draw(st.sampled_from([0, 0, 0, kw - 1]))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w)
    return shape, (kh, kw, kh, kw, 0, 0)


def columns_shape(shape, kh, kw, sh, sw, ph, pw):
    n, c, h, w = shape
    return (c * kh * kw, n * ((h + 2 * ph - kh) // sh + 1) * ((w + 2 * pw - kw) // sw + 1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=st.one_of(geometries(), tilings()))
def test_im2col_kernel_equals_numpy_twin(dtype, case):
    shape, geometry = case
    x = np.random.default_rng(0).normal(size=shape).astype(dtype)
    cols = kernels.im2col(x, *geometry)
    assert cols.dtype == dtype
    assert cols.shape == columns_shape(shape, *geometry)
    np.testing.assert_array_equal(cols, twins.im2col(x, *geometry))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=st.one_of(geometries(), tilings()))
def test_col2im_kernel_equals_numpy_twin(dtype, case):
    shape, geometry = case
    cols = np.random.default_rng(1).normal(size=columns_shape(shape, *geometry)).astype(dtype)
    x = kernels.col2im(cols, *shape[2:], *geometry)
    assert x.dtype == dtype
    assert x.shape == shape
    np.testing.assert_allclose(x, twins.col2im(cols, *shape[2:], *geometry),
                               rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.parametrize("im2col, col2im", [(kernels.im2col, kernels.col2im),
                                            (twins.im2col, twins.col2im)])
@given(case=st.one_of(geometries(), tilings()))
def test_col2im_is_the_adjoint_of_im2col(im2col, col2im, case):
    """<im2col(x), C> == <x, col2im(C)> for every x and C."""
    shape, geometry = case
    rng = np.random.default_rng(2)
    x = rng.normal(size=shape)
    cols = rng.normal(size=columns_shape(shape, *geometry))
    np.testing.assert_allclose(np.vdot(im2col(x, *geometry), cols),
                               np.vdot(x, col2im(cols, *shape[2:], *geometry)), rtol=1e-10)


def test_im2col_hand_computed_example():
    """2x2 windows of two 3x3 images, stride 1, no padding: one column per window."""
    x = np.stack([np.arange(9.0), 10 + np.arange(9.0)]).reshape(2, 1, 3, 3)
    np.testing.assert_array_equal(kernels.im2col(x, 2, 2, 1, 1, 0, 0),
                                  [[0, 1, 3, 4, 10, 11, 13, 14], [1, 2, 4, 5, 11, 12, 14, 15],
                                   [3, 4, 6, 7, 13, 14, 16, 17], [4, 5, 7, 8, 14, 15, 17, 18]])


def test_tiling_windows_are_a_rearrangement():
    """2x2 windows at stride 2: every pixel lands in exactly one column entry, and back."""
    x = np.arange(32.0).reshape(2, 1, 4, 4)
    cols = kernels.im2col(x, 2, 2, 2, 2, 0, 0)
    np.testing.assert_array_equal(cols[1, :4], [1, 3, 9, 11])  # (i, j) = (0, 1), image 0
    np.testing.assert_array_equal(np.sort(cols.ravel()), x.ravel())
    np.testing.assert_array_equal(kernels.col2im(cols, 4, 4, 2, 2, 2, 2, 0, 0), x)


# -- Winograd F(2x2, 3x3) tile transforms -----------------------------------------------
@st.composite
def winograd_geometries(draw, max_size=8):
    """(x shape, (ph, pw)) of a 3x3 stride-1 convolution; odd and even output sizes."""
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, 3 - 2 * ph), max_size))
    w = draw(st.integers(max(1, 3 - 2 * pw), max_size))
    return (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w), (ph, pw)


def tile_grid(shape, ph, pw):
    """(n, th, tw, h_out, w_out) of the output tiles."""
    n, _, h, w = shape
    h_out, w_out = h + 2 * ph - 2, w + 2 * pw - 2
    return n, (h_out + 1) // 2, (w_out + 1) // 2, h_out, w_out


def entries(rows, n_tiles, dtype):
    """Where the tile kernels write: the layer's (16, rows, tiles) buffer, filled with NaN
    so that an entry a kernel forgets to write shows."""
    out = _entry_matrices(rows, n_tiles, dtype)
    out[...] = np.nan
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=winograd_geometries())
def test_winograd_kernels_equal_numpy_twins(dtype, case):
    shape, (ph, pw) = case
    n, th, tw, h_out, w_out = tile_grid(shape, ph, pw)
    c, o = shape[1], 2
    rng = np.random.default_rng(3)
    x = rng.normal(size=shape).astype(dtype)
    V = kernels.winograd_tiles(x, ph, pw, entries(c, n * th * tw, dtype))
    assert V.dtype == dtype and V.shape == (16, c, n * th * tw)
    np.testing.assert_allclose(V, twins.winograd_tiles(x, ph, pw, entries(c, n * th * tw, dtype)),
                               rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    M = rng.normal(size=(16, o, n * th * tw)).astype(dtype)
    b = rng.normal(size=o).astype(dtype)
    y = kernels.winograd_outputs(M, b, n, h_out, w_out)
    assert y.dtype == dtype and y.shape == (n, o, h_out, w_out)
    np.testing.assert_allclose(y, twins.winograd_outputs(M, b, n, h_out, w_out),
                               rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    g = rng.normal(size=(n, o, h_out, w_out)).astype(dtype)
    dM = kernels.winograd_outputs_adjoint(g, entries(o, n * th * tw, dtype))
    twin_dM = twins.winograd_outputs_adjoint(g, entries(o, n * th * tw, dtype))
    np.testing.assert_allclose(dM, twin_dM, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    dV = rng.normal(size=(16, c, n * th * tw)).astype(dtype)
    dx = kernels.winograd_tiles_adjoint(dV, n, *shape[2:], ph, pw)
    assert dx.dtype == dtype and dx.shape == shape
    np.testing.assert_allclose(dx, twins.winograd_tiles_adjoint(dV, n, *shape[2:], ph, pw),
                               rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.parametrize("table", [kernels, twins], ids=["numba", "numpy"])
@given(case=winograd_geometries())
def test_winograd_adjoint_kernels_are_the_transposes(table, case):
    """<tiles(x), V> == <x, tiles_adjoint(V)> and <outputs(M) - b, G> == <M, outputs_adjoint(G)>."""
    shape, (ph, pw) = case
    n, th, tw, h_out, w_out = tile_grid(shape, ph, pw)
    c, o = shape[1], 2
    rng = np.random.default_rng(4)
    x, V = rng.normal(size=shape), rng.normal(size=(16, c, n * th * tw))
    np.testing.assert_allclose(
        np.vdot(table.winograd_tiles(x, ph, pw, entries(c, n * th * tw, np.float64)), V),
        np.vdot(x, table.winograd_tiles_adjoint(V, n, *shape[2:], ph, pw)), rtol=1e-10)
    M, G = rng.normal(size=(16, o, n * th * tw)), rng.normal(size=(n, o, h_out, w_out))
    np.testing.assert_allclose(
        np.vdot(table.winograd_outputs(M, np.zeros(o), n, h_out, w_out), G),
        np.vdot(M, table.winograd_outputs_adjoint(G, entries(o, n * th * tw, np.float64))),
        rtol=1e-10)


def test_winograd_one_tile_is_a_3x3_correlation():
    """One 4x4 tile and one 3x3 kernel: A^T [(G w G^T) * (B^T d B)] A is the 2x2 valid
    correlation of d with w, computed by hand from the transform matrices."""
    rng = np.random.default_rng(5)
    d, w = rng.normal(size=(4, 4)), rng.normal(size=(3, 3))
    V = kernels.winograd_tiles(d.reshape(1, 1, 4, 4), 0, 0, entries(1, 1, np.float64))
    np.testing.assert_allclose(V.reshape(4, 4), WINOGRAD_BT @ d @ WINOGRAD_BT.T, atol=1e-14)
    U = WINOGRAD_G @ w @ WINOGRAD_G.T
    y = kernels.winograd_outputs((U * V.reshape(4, 4)).reshape(16, 1, 1), np.zeros(1), 1, 2, 2)
    correlation = [[np.sum(d[r:r + 3, q:q + 3] * w) for q in range(2)] for r in range(2)]
    np.testing.assert_allclose(y.reshape(2, 2), correlation, atol=1e-13)


@pytest.mark.parametrize("table", [kernels, twins], ids=["numba", "numpy"])
@given(case=st.one_of(geometries(), tilings()))
def test_im2col_writes_into_out(table, case):
    """With ``out`` (the layer's kept buffer) the columns land there: same values, no copy."""
    shape, geometry = case
    x = np.random.default_rng(6).normal(size=shape)
    out = np.full(columns_shape(shape, *geometry), np.nan)
    cols = table.im2col(x, *geometry, out)
    assert np.shares_memory(cols, out)
    np.testing.assert_array_equal(out, table.im2col(x, *geometry))
