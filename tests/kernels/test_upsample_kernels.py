"""The upsampling loops of ``npae.kernels.upsample`` against their twins (``UPSAMPLE_KERNELS``)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae.layers.upsample import (
    UPSAMPLE_KERNELS,
    _bilinear_taps,
)

# Each kernel and its twin, by the name the table pairs them under.
kernels, twins = UPSAMPLE_KERNELS("numba"), UPSAMPLE_KERNELS.numpy

TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}
shapes = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 6), st.integers(1, 6))
scales = st.tuples(st.integers(1, 4), st.integers(1, 4))


def interpolation(taps, h, w, scale, dtype):
    rows, row_weights = taps(h, scale[0])
    cols, col_weights = taps(w, scale[1])
    return rows, row_weights.astype(dtype), cols, col_weights.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(shape=shapes, scale=scales | st.sampled_from([(2, 2), (2, 3), (3, 2)]))
def test_nearest_kernels_equal_numpy_twins(dtype, shape, scale):
    """Including the factor-2 loops of their own (rows, columns, both)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(dtype)
    y = kernels.nearest_forward(x, *scale)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, twins.nearest_forward(x, *scale))
    g = rng.normal(size=y.shape).astype(dtype)
    dx = kernels.nearest_backward(g, *shape[2:], *scale)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, twins.nearest_backward(g, *shape[2:], *scale),
                               rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(shape=shapes, scale=scales)
def test_bilinear_kernels_equal_numpy_twins(dtype, shape, scale):
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape).astype(dtype)
    tables = interpolation(_bilinear_taps, *shape[2:], scale, dtype)
    y = kernels.bilinear_forward(x, *tables)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, twins.bilinear_forward(x, *tables),
                               rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    g = rng.normal(size=y.shape).astype(dtype)
    dx = kernels.bilinear_backward(g, *shape[2:], *tables)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, twins.bilinear_backward(g, *shape[2:], *tables),
                               rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@given(size=st.integers(1, 9), scale=st.integers(1, 5))
def test_bilinear_taps_are_convex_and_in_range(size, scale):
    taps, weights = _bilinear_taps(size, scale)
    assert taps.shape == weights.shape == (size * scale, 2)
    assert taps.min() >= 0 and taps.max() <= size - 1
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
