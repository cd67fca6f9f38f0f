import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae.gradcheck import check_arrays, check_layer
from npae.layers.base import Layer
from npae.layers.crop import Concat, Crop2D, center_crop, crop_offsets
from npae.network import Sequential


@st.composite
def crop_cases(draw, max_size=8):
    """(x shape, target size) with the target no larger than the input."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, max_size)), draw(st.integers(1, max_size))
    target = (draw(st.integers(1, h)), draw(st.integers(1, w)))
    return (n, c, h, w), target


@st.composite
def concat_cases(draw):
    """Shapes of 2-4 arrays that agree on every axis but ``axis``."""
    ndim = draw(st.integers(2, 4))
    axis = draw(st.integers(1, ndim - 1))
    base = [draw(st.integers(1, 4)) for _ in range(ndim)]
    sizes = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    return [tuple(base[:axis] + [s] + base[axis + 1:]) for s in sizes], axis


# -- Crop2D -------------------------------------------------------------------------
def test_crop_offsets_take_the_odd_extra_off_the_end():
    assert crop_offsets(8, 4) == (2, 6)
    assert crop_offsets(7, 4) == (1, 5)  # one before, two after
    assert crop_offsets(5, 5) == (0, 5)


def test_crop_hand_computed_example():
    x = np.arange(30.0).reshape(1, 1, 5, 6)
    y = Crop2D((2, 3)).forward(x)
    # rows: 5 - 2 = 3 -> 1 above, 2 below; columns: 6 - 3 = 3 -> 1 left, 2 right
    np.testing.assert_array_equal(y[0, 0], [[7, 8, 9], [13, 14, 15]])


@given(crop_cases())
def test_crop_forward_is_the_centred_window(case):
    shape, (th, tw) = case
    x = np.random.default_rng(0).normal(size=shape)
    top, left = (shape[2] - th) // 2, (shape[3] - tw) // 2
    y = Crop2D((th, tw)).forward(x)
    np.testing.assert_array_equal(y, x[:, :, top:top + th, left:left + tw])
    assert y.flags.c_contiguous
    assert Crop2D((th, tw)).output_shape(shape[1:]) == (shape[1], th, tw)


@given(crop_cases())
def test_crop_backward_pads_with_zeros_and_is_the_adjoint(case):
    shape, target = case
    rng = np.random.default_rng(1)
    layer = Crop2D(target)
    x = rng.normal(size=shape)
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    dx = layer.backward(g)
    np.testing.assert_array_equal(center_crop(dx, *target), g)
    assert np.count_nonzero(dx) == np.count_nonzero(g)
    np.testing.assert_allclose(np.vdot(y, g), np.vdot(x, dx), rtol=1e-12)


@given(crop_cases(max_size=5))
def test_crop_gradient_check(case):
    shape, target = case
    result = check_layer(Crop2D(target), np.random.default_rng(2).normal(size=shape))
    assert result.max_error < 1e-6, result.table()


def test_crop_to_match_a_reference_array():
    skip = np.random.default_rng(3).normal(size=(2, 4, 9, 8)).astype(np.float32)
    up = np.zeros((2, 6, 5, 4), dtype=np.float32)
    layer = Crop2D.to_match(up)
    assert layer.target_size == (5, 4)
    assert layer.dtype == np.float32
    y = layer.forward(skip)
    assert y.shape == (2, 4, 5, 4)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, center_crop(skip, 5, 4))
    with pytest.raises(ValueError, match=r"expected an \(N, C, H, W\) array"):
        Crop2D.to_match(np.zeros((5, 4)))


def test_crop_errors():
    layer = Crop2D(4)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"cannot crop spatial size \(3, 9\)"):
        layer.forward(np.zeros((1, 1, 3, 9)))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, H, W\), got \(5, 5\)"):
        layer.forward(np.zeros((5, 5)))
    with pytest.raises(ValueError, match="cannot crop"):
        layer.output_shape((1, 3, 3))
    with pytest.raises(ValueError, match="cannot crop"):
        center_crop(np.zeros((3, 3)), 4, 1)
    layer.forward(np.zeros((1, 1, 6, 6)))
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(1, 1, 4, 4\)"):
        layer.backward(np.zeros((1, 1, 6, 6)))


def test_crop_float32_and_config():
    layer = Crop2D((3, 2), dtype="float32")
    y = layer.forward(np.ones((1, 2, 5, 5), dtype=np.float32))
    assert y.dtype == np.float32
    assert layer.backward(y).dtype == np.float32
    rebuilt = Crop2D(**json.loads(json.dumps(layer.get_config())))
    assert rebuilt.get_config() == layer.get_config()



def test_crop_at_an_offset_is_that_window_and_its_adjoint():
    rng = np.random.default_rng(4)
    layer = Crop2D((3, 4), offset=(1, 2))
    x = rng.normal(size=(2, 3, 5, 7))
    y = layer.forward(x)
    np.testing.assert_array_equal(y, x[:, :, 1:4, 2:6])
    g = rng.normal(size=y.shape)
    dx = layer.backward(g)
    np.testing.assert_array_equal(dx[:, :, 1:4, 2:6], g)
    assert np.count_nonzero(dx) == g.size
    np.testing.assert_allclose(np.vdot(y, g), np.vdot(x, dx), rtol=1e-12)
    assert check_layer(layer, x).max_error < 1e-6
    rebuilt = Crop2D(**json.loads(json.dumps(layer.get_config())))
    assert rebuilt.offset == (1, 2) and rebuilt.get_config() == layer.get_config()
    with pytest.raises(ValueError, match=r"size \(3, 7\) .* at offset \(1, 2\)"):
        layer.forward(np.zeros((1, 1, 3, 7)))
    with pytest.raises(ValueError, match="offset must be >= 0"):
        Crop2D(3, offset=(-1, 0))


# -- Concat --------------------------------------------------------------------------
def test_concat_hand_computed_example():
    a = np.zeros((2, 1, 2, 2))
    b = np.ones((2, 2, 2, 2))
    layer = Concat()
    y = layer.forward([a, b])
    assert y.shape == (2, 3, 2, 2)
    np.testing.assert_array_equal(y[:, 0], 0)
    np.testing.assert_array_equal(y[:, 1:], 1)
    g = np.arange(24.0).reshape(2, 3, 2, 2)
    da, db = layer.backward(g)
    np.testing.assert_array_equal(da, g[:, :1])
    np.testing.assert_array_equal(db, g[:, 1:])


@given(concat_cases())
def test_concat_backward_splits_g_and_is_the_adjoint(case):
    shapes, axis = case
    rng = np.random.default_rng(4)
    xs = [rng.normal(size=s) for s in shapes]
    layer = Concat(axis)
    y = layer.forward(xs)
    np.testing.assert_array_equal(y, np.concatenate(xs, axis=axis))
    g = rng.normal(size=y.shape)
    grads = layer.backward(g)
    assert isinstance(grads, list)
    assert [d.shape for d in grads] == [x.shape for x in xs]
    assert all(d.flags.c_contiguous for d in grads)
    np.testing.assert_allclose(np.vdot(y, g), sum(np.vdot(x, d) for x, d in zip(xs, grads)),
                               rtol=1e-12)
    assert layer.output_shape([s[1:] for s in shapes]) == y.shape[1:]


def test_concat_gradient_check():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(2, 3, 4, 4)), rng.normal(size=(2, 2, 4, 4))
    r = rng.normal(size=(2, 5, 4, 4))
    layer = Concat()

    def loss():
        return float(np.sum(layer.forward([a, b]) * r))

    layer.forward([a, b])
    da, db = layer.backward(r)
    result = check_arrays(loss, {"a": a, "b": b}, {"a": da, "b": db})
    assert result.max_error < 1e-6, result.table()


def test_concat_errors():
    layer = Concat()
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((1, 2, 1, 1)))
    with pytest.raises(TypeError, match="expected a list of arrays, got ndarray"):
        layer.forward(np.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError, match="at least two arrays, got 1"):
        layer.forward([np.zeros((1, 2, 3, 3))])
    with pytest.raises(TypeError, match="expected numpy arrays, got list"):
        layer.forward([np.zeros((1, 2, 3, 3)), [[0.0]]])
    with pytest.raises(ValueError, match="non-empty batch"):
        layer.forward([np.zeros((0, 2, 3, 3)), np.zeros((0, 1, 3, 3))])
    message = r"agree on every axis but 1, got shapes \[\(1, 2, 3, 3\), \(1, 2, 3, 4\)\]"
    with pytest.raises(ValueError, match=message):
        layer.forward([np.zeros((1, 2, 3, 3)), np.zeros((1, 2, 3, 4))])
    with pytest.raises(ValueError, match="dtype float64, got float32"):
        layer.forward([np.zeros((1, 2, 3, 3)), np.zeros((1, 2, 3, 3), dtype=np.float32)])
    with pytest.raises(ValueError, match="axis 3 needs inputs with at least 4 dimensions"):
        Concat(3).forward([np.zeros((1, 2, 3)), np.zeros((1, 2, 3))])
    with pytest.raises(ValueError, match="axis must be >= 1"):
        Concat(0)
    with pytest.raises(ValueError, match="expected a list of per-example shapes"):
        layer.output_shape((2, 3, 3))
    layer.forward([np.zeros((1, 2, 3, 3)), np.zeros((1, 1, 3, 3))])
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(1, 3, 3, 3\)"):
        layer.backward(np.zeros((1, 2, 3, 3)))


def test_concat_is_a_graph_node_not_a_layer():
    """Several inputs: not a Layer (one array in, one out), so a Sequential refuses it."""
    node = Concat()
    assert not isinstance(node, Layer)
    assert node.params == {} and node.grads == {} and not node.trainable
    with pytest.raises(TypeError, match="Sequential expected Layer instances, got Concat at 1"):
        Sequential([Crop2D((2, 2)), node])


def test_concat_float32_and_config():
    layer = Concat(axis=2, dtype="float32")
    a = np.ones((2, 3, 1), dtype=np.float32)
    y = layer.forward([a, a])
    assert y.dtype == np.float32
    assert all(d.dtype == np.float32 for d in layer.backward(y))
    rebuilt = Concat(**json.loads(json.dumps(layer.get_config())))
    assert rebuilt.get_config() == layer.get_config() == {"axis": 2, "dtype": "float32"}
    assert repr(rebuilt) == "Concat(axis=2, dtype='float32')"
