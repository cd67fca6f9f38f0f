import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae.gradcheck import check_layer
from npae.layers.upsample import Upsample2D

MODES = ["nearest", "bilinear"]
BACKENDS = ["numba", "numpy"]


@st.composite
def upsample_cases(draw, max_size=6):
    """(x shape, scale): odd and even sizes, equal or different factors per axis."""
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)),
             draw(st.integers(1, max_size)), draw(st.integers(1, max_size)))
    scale = draw(st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    return shape, scale


def pair(scale):
    return (scale, scale) if isinstance(scale, int) else scale


def torch_bilinear_reference(x, scale):
    """upsample_bilinear2d(align_corners=False) as PyTorch's CPU kernel does it, per pixel."""
    def source(o, size_in, s):
        real = (1.0 / s) * (o + 0.5) - 0.5  # half-pixel centres ...
        real = max(real, 0.0)  # ... clamped at 0 below
        i0 = int(real)
        i1 = i0 + 1 if i0 < size_in - 1 else i0  # the upper neighbour stops at the edge
        lambda1 = real - i0
        return i0, i1, 1.0 - lambda1, lambda1

    sh, sw = pair(scale)
    n, c, h, w = x.shape
    y = np.empty((n, c, h * sh, w * sw))
    for o in range(h * sh):
        h0, h1, h0lambda, h1lambda = source(o, h, sh)
        for p in range(w * sw):
            w0, w1, w0lambda, w1lambda = source(p, w, sw)
            y[:, :, o, p] = (h0lambda * (w0lambda * x[:, :, h0, w0] + w1lambda * x[:, :, h0, w1])
                             + h1lambda * (w0lambda * x[:, :, h1, w0]
                                           + w1lambda * x[:, :, h1, w1]))
    return y


@pytest.mark.parametrize("mode", MODES)
@given(case=upsample_cases())
def test_output_shape_formula(mode, case):
    shape, scale = case
    sh, sw = pair(scale)
    layer = Upsample2D(scale, mode)
    assert layer.forward(np.zeros(shape)).shape == (shape[0], shape[1], shape[2] * sh,
                                                    shape[3] * sw)
    assert layer.output_shape(shape[1:]) == (shape[1], shape[2] * sh, shape[3] * sw)


@pytest.mark.parametrize("backend", BACKENDS)
@given(case=upsample_cases())
def test_nearest_repeats_each_pixel(backend, case):
    shape, scale = case
    sh, sw = pair(scale)
    x = np.random.default_rng(0).normal(size=shape)
    expected = x.repeat(sh, axis=2).repeat(sw, axis=3)
    np.testing.assert_array_equal(Upsample2D(scale, backend=backend).forward(x), expected)


@pytest.mark.parametrize("backend", BACKENDS)
@given(case=upsample_cases())
def test_bilinear_matches_torch_semantics(backend, case):
    shape, scale = case
    x = np.random.default_rng(1).normal(size=shape)
    y = Upsample2D(scale, "bilinear", backend=backend).forward(x)
    np.testing.assert_allclose(y, torch_bilinear_reference(x, scale), rtol=1e-12, atol=1e-12)


def test_bilinear_known_values():
    """Half-pixel centres: [0, 1] -> [0, 1/4, 3/4, 1], edges clamped."""
    y = Upsample2D((1, 2), "bilinear").forward(np.array([[[[0.0, 1.0]]]]))
    np.testing.assert_allclose(y[0, 0, 0], [0.0, 0.25, 0.75, 1.0])


@pytest.mark.parametrize("mode", MODES)
@given(case=upsample_cases(max_size=4))
def test_gradient_check(mode, case):
    shape, scale = case
    result = check_layer(Upsample2D(scale, mode), np.random.default_rng(2).normal(size=shape))
    assert result.max_error < 1e-6, result.table()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", BACKENDS)
@given(case=upsample_cases())
def test_adjoint_identity(mode, backend, case):
    shape, scale = case
    rng = np.random.default_rng(3)
    layer = Upsample2D(scale, mode, backend=backend)
    x = rng.normal(size=shape)
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    np.testing.assert_allclose(np.vdot(y, g), np.vdot(x, layer.backward(g)), rtol=1e-10)


@pytest.mark.parametrize("mode", MODES)
@given(case=upsample_cases())
def test_backends_agree(mode, case):
    shape, scale = case
    rng = np.random.default_rng(4)
    x = rng.normal(size=shape)
    fast, twin = Upsample2D(scale, mode), Upsample2D(scale, mode, backend="numpy")
    y = fast.forward(x)
    np.testing.assert_allclose(y, twin.forward(x), rtol=1e-12, atol=1e-12)
    g = rng.normal(size=y.shape)
    np.testing.assert_allclose(fast.backward(g), twin.backward(g), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@given(case=upsample_cases())
def test_matches_torch(mode, case):
    torch = pytest.importorskip("torch")
    shape, scale = case
    rng = np.random.default_rng(5)
    x = rng.normal(size=shape)
    layer = Upsample2D(scale, mode)
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    dx = layer.backward(g)
    x_t = torch.tensor(x, requires_grad=True)
    factors = tuple(float(s) for s in pair(scale))
    options = {} if mode == "nearest" else {"align_corners": False}
    y_t = torch.nn.Upsample(scale_factor=factors, mode=mode, **options)(x_t)
    y_t.backward(torch.tensor(g))
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_stays_float32(mode, backend):
    layer = Upsample2D(2, mode, dtype="float32", backend=backend)
    x = np.random.default_rng(6).normal(size=(2, 3, 5, 4)).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    np.testing.assert_allclose(y, Upsample2D(2, mode).forward(x.astype(np.float64)),
                               rtol=1e-5, atol=1e-6)


def test_errors_name_expected_and_got():
    layer = Upsample2D(2)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((1, 1, 2, 2)))
    message = r"expected input of shape \(N, C, H, W\), got \(2, 3, 4\)"
    with pytest.raises(ValueError, match=message):
        layer.forward(np.zeros((2, 3, 4)))
    layer.forward(np.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(1, 2, 6, 6\)"):
        layer.backward(np.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError, match="mode must be one of"):
        Upsample2D(2, "bicubic")
    with pytest.raises(ValueError, match="scale must be >= 1"):
        Upsample2D(0)
    with pytest.raises(TypeError, match="scale must be an int or a pair of ints"):
        Upsample2D(1.5)


@pytest.mark.parametrize("layer", [Upsample2D(), Upsample2D((2, 3), "bilinear", dtype="float32",
                                                            backend="numpy")])
def test_config_rebuilds_the_layer(layer):
    rebuilt = type(layer)(**json.loads(json.dumps(layer.get_config())))
    assert rebuilt.get_config() == layer.get_config()
    assert rebuilt.output_shape((3, 5, 4)) == layer.output_shape((3, 5, 4))
