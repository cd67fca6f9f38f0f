import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae.gradcheck import check_layer
from npae.layers.pool import AvgPool2D, MaxPool2D


@st.composite
def pool_cases(draw, max_size=8):
    """(x shape, layer kwargs) with padding <= kernel // 2 and a window that fits."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    h = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), max_size))
    w = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), max_size))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (n, c, h, w), {"kernel_size": kernel, "stride": stride, "padding": padding}


def distinct_values(shape, seed):
    """A shuffled 0.1, 0.2, ... (minus an offset): no ties, gaps >> gradcheck's eps."""
    values = np.random.default_rng(seed).permutation(int(np.prod(shape))) * 0.1 - 1.0
    return values.reshape(shape)


def pool_reference(x, kernel, stride, padding, reduce, fill):
    """Pooling one window at a time."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    h_out = (x_pad.shape[2] - kh) // sh + 1
    w_out = (x_pad.shape[3] - kw) // sw + 1
    y = np.empty(x.shape[:2] + (h_out, w_out))
    for r in range(h_out):
        for q in range(w_out):
            y[:, :, r, q] = reduce(x_pad[:, :, r * sh:r * sh + kh, q * sw:q * sw + kw],
                                   axis=(2, 3))
    return y


def resolved(kwargs):
    stride = kwargs["stride"] or kwargs["kernel_size"]
    return kwargs["kernel_size"], stride, kwargs["padding"]


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@given(case=pool_cases())
def test_output_shape_formula(cls, case):
    shape, kwargs = case
    layer = cls(**kwargs)
    (kh, kw), (sh, sw), (ph, pw) = resolved(kwargs)
    expected = (shape[1], (shape[2] + 2 * ph - kh) // sh + 1, (shape[3] + 2 * pw - kw) // sw + 1)
    assert layer.forward(np.zeros(shape)).shape == (shape[0], *expected)
    assert layer.output_shape(shape[1:]) == expected


@pytest.mark.parametrize("cls, reduce, fill", [(MaxPool2D, np.max, -np.inf),
                                               (AvgPool2D, np.mean, 0.0)])
@pytest.mark.parametrize("backend", ["numba", "numpy"])
@given(case=pool_cases())
def test_forward_matches_window_by_window(cls, reduce, fill, backend, case):
    shape, kwargs = case
    x = np.random.default_rng(0).normal(size=shape)
    expected = pool_reference(x, *resolved(kwargs), reduce, fill)
    np.testing.assert_allclose(cls(**kwargs, backend=backend).forward(x), expected,
                               rtol=1e-12, atol=1e-12)


@given(pool_cases(max_size=6))
def test_max_pool_gradient_check(case):
    shape, kwargs = case
    result = check_layer(MaxPool2D(**kwargs), distinct_values(shape, seed=1))
    assert result.max_error < 1e-6, result.table()


@given(pool_cases(max_size=6))
def test_avg_pool_gradient_check(case):
    shape, kwargs = case
    result = check_layer(AvgPool2D(**kwargs), np.random.default_rng(2).normal(size=shape))
    assert result.max_error < 1e-6, result.table()


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@given(case=pool_cases(), ties=st.booleans())
def test_backends_agree(cls, case, ties):
    """Also on inputs full of ties (small integers): both pick the first maximum."""
    shape, kwargs = case
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, size=shape).astype(float) if ties else rng.normal(size=shape)
    fast, twin = cls(**kwargs), cls(**kwargs, backend="numpy")
    y = fast.forward(x)
    np.testing.assert_allclose(y, twin.forward(x), rtol=1e-12, atol=1e-12)
    g = rng.normal(size=y.shape)
    np.testing.assert_allclose(fast.backward(g), twin.backward(g), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_max_pool_tie_goes_to_first_maximum_in_row_major_order(backend):
    x = np.array([[[[1.0, 5.0, 5.0, 0.0],
                    [5.0, 5.0, 0.0, 5.0],
                    [2.0, 2.0, 3.0, 3.0],
                    [2.0, 2.0, 3.0, 3.0]]]])
    layer = MaxPool2D(2, backend=backend)
    np.testing.assert_array_equal(layer.forward(x)[0, 0], [[5, 5], [2, 3]])
    dx = layer.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))
    np.testing.assert_array_equal(dx[0, 0], [[0, 10, 20, 0],
                                             [0, 0, 0, 0],
                                             [30, 0, 40, 0],
                                             [0, 0, 0, 0]])


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_max_pool_overlapping_windows_add_up(backend):
    x = np.array([[[[0.0, 9.0, 0.0, 0.0, 0.0]]]])
    layer = MaxPool2D((1, 3), stride=1, backend=backend)
    np.testing.assert_array_equal(layer.forward(x)[0, 0], [[9, 9, 0]])
    dx = layer.backward(np.ones((1, 1, 1, 3)))
    np.testing.assert_array_equal(dx[0, 0], [[0, 2, 1, 0, 0]])


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_max_pool_pads_with_minus_infinity(backend):
    """With all-negative input a zero padding would win; -inf padding never does."""
    x = -1.0 - np.arange(9.0).reshape(1, 1, 3, 3)
    layer = MaxPool2D(3, stride=2, padding=1, backend=backend)
    np.testing.assert_array_equal(layer.forward(x)[0, 0], [[-1, -2], [-4, -5]])
    dx = layer.backward(np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(dx[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_avg_pool_padding_counts_as_zero(backend):
    x = np.ones((1, 1, 2, 2))
    layer = AvgPool2D(2, stride=1, padding=1, backend=backend)
    np.testing.assert_allclose(layer.forward(x)[0, 0], [[0.25, 0.5, 0.25],
                                                        [0.5, 1.0, 0.5],
                                                        [0.25, 0.5, 0.25]])
    np.testing.assert_allclose(layer.backward(np.ones((1, 1, 3, 3)))[0, 0], np.ones((2, 2)))


@given(pool_cases())
def test_avg_pool_adjoint_identity(case):
    shape, kwargs = case
    rng = np.random.default_rng(4)
    layer = AvgPool2D(**kwargs)
    x = rng.normal(size=shape)
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    np.testing.assert_allclose(np.vdot(y, g), np.vdot(x, layer.backward(g)), rtol=1e-10)


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@given(case=pool_cases())
def test_matches_torch(cls, case):
    torch = pytest.importorskip("torch")
    shape, kwargs = case
    rng = np.random.default_rng(5)
    x = distinct_values(shape, seed=6)
    layer = cls(**kwargs)
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    dx = layer.backward(g)
    x_t = torch.tensor(x, requires_grad=True)
    pool = torch.nn.functional.max_pool2d if cls is MaxPool2D else torch.nn.functional.avg_pool2d
    y_t = pool(x_t, *resolved(kwargs))
    y_t.backward(torch.tensor(g))
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_float32_stays_float32(cls, backend):
    layer = cls(2, dtype="float32", backend=backend)
    x = distinct_values((2, 3, 6, 5), seed=7).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    np.testing.assert_allclose(y, cls(2, backend=backend).forward(x.astype(np.float64)),
                               rtol=1e-6)


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_errors_name_expected_and_got(cls):
    layer = cls(3)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((1, 1, 1, 1)))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, H, W\), got \(4, 9\)"):
        layer.forward(np.zeros((4, 9)))
    with pytest.raises(ValueError, match="input width 2 with padding 0 is smaller than the kernel"):
        layer.forward(np.zeros((1, 1, 5, 2)))
    layer.forward(np.zeros((1, 2, 6, 6)))
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(1, 2, 2, 2\)"):
        layer.backward(np.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError, match="padding must be at most half the kernel size"):
        cls(2, padding=2)


@pytest.mark.parametrize("layer", [MaxPool2D(), AvgPool2D((3, 2), stride=(1, 2), padding=(1, 0),
                                                          dtype="float32", backend="numpy")])
def test_config_rebuilds_the_layer(layer):
    rebuilt = type(layer)(**json.loads(json.dumps(layer.get_config())))
    assert rebuilt.get_config() == layer.get_config()
    assert rebuilt.output_shape((3, 9, 8)) == layer.output_shape((3, 9, 8))
    assert MaxPool2D().stride == (2, 2)
