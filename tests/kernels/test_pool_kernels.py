"""The pooling loops of ``npae.kernels.pool`` against their NumPy twins (``POOL_KERNELS``)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae.layers.pool import POOL_KERNELS

# Each kernel and its twin, by the name the table pairs them under.
kernels, twins = POOL_KERNELS("numba"), POOL_KERNELS.numpy

TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


@st.composite
def geometries(draw, max_size=8):
    """(x shape, (kh, kw, sh, sw, ph, pw)) with padding <= kernel // 2."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h = draw(st.integers(max(1, kh - 2 * ph), max_size))
    w = draw(st.integers(max(1, kw - 2 * pw), max_size))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w)
    return shape, (kh, kw, sh, sw, ph, pw)


def inputs(shape, dtype, ties, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=shape) if ties else rng.normal(size=shape)
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=geometries(), ties=st.booleans())
def test_max_pool_kernels_equal_numpy_twins(dtype, case, ties):
    shape, geometry = case
    x = inputs(shape, dtype, ties, seed=0)
    y, argmax = kernels.max_pool_forward(x, *geometry)
    y_twin, argmax_twin = twins.max_pool_forward(x, *geometry)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, y_twin)
    np.testing.assert_array_equal(argmax, argmax_twin)
    g = np.random.default_rng(1).normal(size=y.shape).astype(dtype)
    dx = kernels.max_pool_backward(g, argmax, *shape[2:])
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, twins.max_pool_backward(g, argmax, *shape[2:]),
                               rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=geometries())
def test_avg_pool_kernels_equal_numpy_twins(dtype, case):
    shape, geometry = case
    x = inputs(shape, dtype, ties=False, seed=2)
    y = kernels.avg_pool_forward(x, *geometry)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, twins.avg_pool_forward(x, *geometry),
                               rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    g = np.random.default_rng(3).normal(size=y.shape).astype(dtype)
    dx = kernels.avg_pool_backward(g, *shape[2:], *geometry)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, twins.avg_pool_backward(g, *shape[2:], *geometry),
                               rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


def test_max_pool_argmax_is_a_flat_index_into_the_plane():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 2] = 1.0
    _, argmax = kernels.max_pool_forward(x, 4, 4, 4, 4, 0, 0)
    assert argmax[0, 0, 0, 0] == 1 * 4 + 2


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(n=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(2, 9), w=st.integers(2, 9),
       ties=st.booleans())
def test_two_by_two_stride_two_loops_equal_numpy_twins(dtype, n, c, h, w, ties):
    """The 2x2 stride-2 windows have loops of their own; odd sizes leave a row/column out."""
    geometry = (2, 2, 2, 2, 0, 0)
    x = inputs((n, c, h, w), dtype, ties, seed=4)
    y, argmax = kernels.max_pool_forward(x, *geometry)
    y_twin, argmax_twin = twins.max_pool_forward(x, *geometry)
    np.testing.assert_array_equal(y, y_twin)
    np.testing.assert_array_equal(argmax, argmax_twin)
    g = np.random.default_rng(5).normal(size=y.shape).astype(dtype)
    np.testing.assert_array_equal(kernels.max_pool_backward(g, argmax, h, w),
                                  twins.max_pool_backward(g, argmax_twin, h, w))
    np.testing.assert_allclose(kernels.avg_pool_forward(x, *geometry),
                               twins.avg_pool_forward(x, *geometry),
                               rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    np.testing.assert_allclose(kernels.avg_pool_backward(g, h, w, *geometry),
                               twins.avg_pool_backward(g, h, w, *geometry),
                               rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
