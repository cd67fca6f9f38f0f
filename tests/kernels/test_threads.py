"""Kernels that split their planes between two threads give what one thread gives."""

import contextlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae import kernels
from npae.kernels import threads
from npae.layers.upsample import _bilinear_taps

shapes = st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 7), st.integers(1, 7))


@contextlib.contextmanager
def split(cores=2, min_elements=0):
    """By default every call splits, however small (normally small calls stay on one thread)."""
    saved = threads.CORES, threads.MIN_ELEMENTS
    threads.CORES, threads.MIN_ELEMENTS = cores, min_elements
    try:
        yield
    finally:
        threads.CORES, threads.MIN_ELEMENTS = saved


@pytest.fixture
def two_threads():
    with split():
        yield


def one_thread(fn, *args):
    with split(cores=1):
        return fn(*args)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(shape=shapes, scale=st.integers(1, 3))
def test_bilinear_split_between_threads_equals_one_thread(dtype, shape, scale):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(dtype)
    rows, row_weights = _bilinear_taps(shape[2], scale)
    cols, col_weights = _bilinear_taps(shape[3], scale)
    tables = (rows, row_weights.astype(dtype), cols, col_weights.astype(dtype))
    with split():
        y = kernels.bilinear_forward(x, *tables)
        g = rng.normal(size=y.shape).astype(dtype)
        dx = kernels.bilinear_backward(g, *shape[2:], *tables)
    np.testing.assert_array_equal(y, one_thread(kernels.bilinear_forward, x, *tables))
    np.testing.assert_array_equal(dx, one_thread(kernels.bilinear_backward, g, *shape[2:], *tables))


def test_every_plane_is_done_once(two_threads):
    calls = []
    threads.over_planes(lambda start, stop: calls.append((start, stop)), 7, 10**9)
    assert sorted(calls) == [(0, 3), (3, 7)]


def test_small_calls_stay_on_the_calling_thread():
    calls = []
    with split(min_elements=100):
        threads.over_planes(lambda start, stop: calls.append((start, stop)), 8, 99)
    assert calls == [(0, 8)]


def test_an_error_in_the_second_thread_reaches_the_caller(two_threads):
    def kernel(start, stop):
        if start > 0:
            raise ValueError(f"planes {start}-{stop}")

    with pytest.raises(ValueError, match="planes 2-4"):
        threads.over_planes(kernel, 4, 10**9)
