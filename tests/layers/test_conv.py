import io
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae.gradcheck import check_layer, check_network
from npae.layers import MaxPool2D, Tanh, Upsample2D
from npae.layers.conv import Conv2D, ConvTranspose2D
from npae.losses import mean_squared_error
from npae.network import Sequential


@st.composite
def conv_cases(draw, max_size=7):
    """(x shape, layer kwargs) for a Conv2D whose kernel fits the padded input."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    h = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), max_size))
    w = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), max_size))
    n, c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kwargs = {"in_channels": c_in, "out_channels": c_out, "kernel_size": kernel,
              "stride": stride, "padding": padding}
    return (n, c_in, h, w), kwargs


@st.composite
def conv_transpose_cases(draw, max_size=5):
    """(x shape, layer kwargs) for a ConvTranspose2D with an output of size >= 1."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    # padding <= (k - 1) // 2 keeps (H - 1) s - 2 p + k + output_padding >= 1
    padding = (draw(st.integers(0, (kernel[0] - 1) // 2)),
               draw(st.integers(0, (kernel[1] - 1) // 2)))
    output_padding = (draw(st.integers(0, stride[0] - 1)), draw(st.integers(0, stride[1] - 1)))
    h, w = draw(st.integers(1, max_size)), draw(st.integers(1, max_size))
    n, c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kwargs = {"in_channels": c_in, "out_channels": c_out, "kernel_size": kernel,
              "stride": stride, "padding": padding, "output_padding": output_padding}
    return (n, c_in, h, w), kwargs


@st.composite
def tiling_cases(draw, transpose=False):
    """(x shape, layer kwargs) with stride == kernel and no padding, the 2x2 stride-2
    upsampler's geometry, where the windows tile the image and the im2col kernels
    take their rearrangement path (the Conv2D input a multiple of the kernel)."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    h, w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    if not transpose:
        h, w = h * kernel[0], w * kernel[1]
    n, c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kwargs = {"in_channels": c_in, "out_channels": c_out, "kernel_size": kernel,
              "stride": kernel, "padding": 0}
    if transpose:
        kwargs["output_padding"] = 0
    return (n, c_in, h, w), kwargs


def conv_reference(x, W, b, stride, padding):
    """The defining sum, one output pixel at a time."""
    (sh, sw), (ph, pw) = stride, padding
    c_out, _, kh, kw = W.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    h_out = (x_pad.shape[2] - kh) // sh + 1
    w_out = (x_pad.shape[3] - kw) // sw + 1
    y = np.zeros((x.shape[0], c_out, h_out, w_out))
    for r in range(h_out):
        for q in range(w_out):
            window = x_pad[:, :, r * sh:r * sh + kh, q * sw:q * sw + kw]
            y[:, :, r, q] = np.einsum("ncij,ocij->no", window, W) + b
    return y


def with_random_bias(layer, rng):
    layer.params["b"][:] = rng.normal(size=layer.params["b"].shape)
    return layer


# -- Conv2D ---------------------------------------------------------------------
@given(conv_cases())
def test_conv_output_shape_formula(case):
    shape, kwargs = case
    layer = Conv2D(**kwargs, rng=0)
    (kh, kw), (sh, sw), (ph, pw) = kwargs["kernel_size"], kwargs["stride"], kwargs["padding"]
    expected = (kwargs["out_channels"], (shape[2] + 2 * ph - kh) // sh + 1,
                (shape[3] + 2 * pw - kw) // sw + 1)
    assert layer.forward(np.zeros(shape)).shape == (shape[0], *expected)
    assert layer.output_shape(shape[1:]) == expected


@given(conv_cases(), st.sampled_from(["numba", "numpy"]))
def test_conv_forward_matches_defining_sum(case, backend):
    shape, kwargs = case
    rng = np.random.default_rng(1)
    layer = with_random_bias(Conv2D(**kwargs, rng=0, backend=backend), rng)
    x = rng.normal(size=shape)
    expected = conv_reference(x, layer.params["W"], layer.params["b"], kwargs["stride"],
                              kwargs["padding"])
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)


@given(st.one_of(conv_cases(max_size=6), tiling_cases()))
def test_conv_gradient_check(case):
    shape, kwargs = case
    rng = np.random.default_rng(2)
    layer = with_random_bias(Conv2D(**kwargs, rng=0), rng)
    result = check_layer(layer, rng.normal(size=shape))
    assert set(result) == {"x", "W", "b"}
    assert result.max_error < 1e-6, result.table()


@given(st.one_of(conv_cases(), tiling_cases()))
def test_conv_backends_agree(case):
    shape, kwargs = case
    rng = np.random.default_rng(3)
    x = rng.normal(size=shape)
    fast = with_random_bias(Conv2D(**kwargs, rng=0), np.random.default_rng(4))
    twin = with_random_bias(Conv2D(**kwargs, rng=0, backend="numpy"), np.random.default_rng(4))
    y = fast.forward(x)
    np.testing.assert_allclose(y, twin.forward(x), rtol=1e-12, atol=1e-12)
    g = rng.normal(size=y.shape)
    np.testing.assert_allclose(fast.backward(g), twin.backward(g), rtol=1e-12, atol=1e-12)
    for key in ("W", "b"):
        np.testing.assert_allclose(fast.grads[key], twin.grads[key], rtol=1e-12, atol=1e-12)


@given(st.one_of(conv_cases(), tiling_cases()), st.sampled_from(["numba", "numpy"]))
def test_conv_adjoint_identity(case, backend):
    """With b = 0 the layer is linear, A x, and backward is A^T g."""
    shape, kwargs = case
    rng = np.random.default_rng(5)
    layer = Conv2D(**kwargs, rng=0, backend=backend)
    x = rng.normal(size=shape)
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    np.testing.assert_allclose(np.vdot(y, g), np.vdot(x, layer.backward(g)), rtol=1e-10)


def test_conv_hand_computed_example():
    layer = Conv2D(1, 1, kernel_size=2, stride=1, padding=0, init="zeros")
    layer.params["W"][0, 0] = [[1.0, 2.0], [3.0, 4.0]]
    layer.params["b"][:] = 0.5
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    # top-left window [[0, 1], [3, 4]] -> 0 + 2 + 9 + 16 + 0.5
    np.testing.assert_allclose(layer.forward(x)[0, 0], [[27.5, 37.5], [57.5, 67.5]])
    dx = layer.backward(np.ones((1, 1, 2, 2)))
    np.testing.assert_allclose(dx[0, 0], [[1, 3, 2], [4, 10, 6], [3, 7, 4]])
    np.testing.assert_allclose(layer.grads["W"][0, 0], [[8, 12], [20, 24]])
    np.testing.assert_allclose(layer.grads["b"], [4.0])


def test_conv_padding_and_stride_on_non_square_input(rng):
    layer = with_random_bias(Conv2D(2, 3, (3, 2), stride=(2, 3), padding=(2, 1), rng=0), rng)
    x = rng.normal(size=(2, 2, 9, 4))
    y = layer.forward(x)
    assert y.shape == (2, 3, (9 + 4 - 3) // 2 + 1, (4 + 2 - 2) // 3 + 1)
    np.testing.assert_allclose(y, conv_reference(x, layer.params["W"], layer.params["b"],
                                                 (2, 3), (2, 1)), rtol=1e-12, atol=1e-12)


def test_conv_gradients_accumulate(rng):
    layer = Conv2D(2, 2, 3, padding=1, rng=0)
    x = rng.normal(size=(2, 2, 5, 5))
    g = rng.normal(size=(2, 2, 5, 5))
    layer.forward(x)
    layer.backward(g)
    once = {k: v.copy() for k, v in layer.grads.items()}
    layer.backward(g)
    for key in once:
        np.testing.assert_allclose(layer.grads[key], 2 * once[key])
    layer.zero_grad()
    assert not layer.grads["W"].any()


def test_conv_he_init_scale():
    layer = Conv2D(16, 64, 3, init="he_normal", rng=0)
    assert layer.params["W"].std() == pytest.approx(np.sqrt(2 / (16 * 9)), rel=0.05)
    assert not layer.params["b"].any()


# -- ConvTranspose2D --------------------------------------------------------------
@given(conv_transpose_cases())
def test_conv_transpose_output_shape_formula(case):
    shape, kwargs = case
    layer = ConvTranspose2D(**kwargs, rng=0)
    size = [(s - 1) * st_ - 2 * p + k + op for s, st_, p, k, op in
            zip(shape[2:], kwargs["stride"], kwargs["padding"], kwargs["kernel_size"],
                kwargs["output_padding"])]
    expected = (kwargs["out_channels"], *size)
    assert layer.forward(np.zeros(shape)).shape == (shape[0], *expected)
    assert layer.output_shape(shape[1:]) == expected


@given(conv_cases(), st.sampled_from(["numba", "numpy"]))
def test_conv_transpose_is_the_adjoint_of_conv(case, backend):
    """ConvTranspose2D(W) maps g exactly as Conv2D(W).backward does (b = 0).

    output_padding picks the conv input size the transposed conv must return.
    """
    shape, kwargs = case
    rng = np.random.default_rng(6)
    conv = Conv2D(**kwargs, rng=0, backend=backend)
    x = rng.normal(size=shape)
    y = conv.forward(x)
    output_padding = [(s + 2 * p - k) % st_ for s, p, k, st_ in
                      zip(shape[2:], kwargs["padding"], kwargs["kernel_size"], kwargs["stride"])]
    transpose = ConvTranspose2D(kwargs["out_channels"], kwargs["in_channels"],
                                kwargs["kernel_size"], kwargs["stride"], kwargs["padding"],
                                output_padding=output_padding, backend=backend)
    transpose.params["W"][...] = conv.params["W"]
    g = rng.normal(size=y.shape)
    np.testing.assert_allclose(transpose.forward(g), conv.backward(g), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(transpose.backward(x), conv.forward(x), rtol=1e-12, atol=1e-12)


@given(st.one_of(conv_transpose_cases(), tiling_cases(transpose=True)),
       st.sampled_from(["numba", "numpy"]))
def test_conv_transpose_adjoint_identity(case, backend):
    shape, kwargs = case
    rng = np.random.default_rng(7)
    layer = ConvTranspose2D(**kwargs, rng=0, backend=backend)
    x = rng.normal(size=shape)
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    np.testing.assert_allclose(np.vdot(y, g), np.vdot(x, layer.backward(g)), rtol=1e-10)


@given(st.one_of(conv_transpose_cases(max_size=4), tiling_cases(transpose=True)))
def test_conv_transpose_gradient_check(case):
    shape, kwargs = case
    rng = np.random.default_rng(8)
    layer = with_random_bias(ConvTranspose2D(**kwargs, rng=0), rng)
    result = check_layer(layer, rng.normal(size=shape))
    assert set(result) == {"x", "W", "b"}
    assert result.max_error < 1e-6, result.table()


@given(st.one_of(conv_transpose_cases(), tiling_cases(transpose=True)))
def test_conv_transpose_backends_agree(case):
    shape, kwargs = case
    rng = np.random.default_rng(9)
    x = rng.normal(size=shape)
    fast = with_random_bias(ConvTranspose2D(**kwargs, rng=0), np.random.default_rng(4))
    twin = with_random_bias(ConvTranspose2D(**kwargs, rng=0, backend="numpy"),
                            np.random.default_rng(4))
    y = fast.forward(x)
    np.testing.assert_allclose(y, twin.forward(x), rtol=1e-12, atol=1e-12)
    g = rng.normal(size=y.shape)
    np.testing.assert_allclose(fast.backward(g), twin.backward(g), rtol=1e-12, atol=1e-12)
    for key in ("W", "b"):
        np.testing.assert_allclose(fast.grads[key], twin.grads[key], rtol=1e-12, atol=1e-12)


def test_conv_transpose_hand_computed_example():
    """Stride 2, kernel 2: every input pixel paints its own 2x2 block of W."""
    layer = ConvTranspose2D(1, 1, kernel_size=2, stride=2, init="zeros")
    layer.params["W"][0, 0] = [[1.0, 2.0], [3.0, 4.0]]
    x = np.array([[[[1.0, 10.0]]]])
    np.testing.assert_allclose(layer.forward(x)[0, 0], [[1, 2, 10, 20], [3, 4, 30, 40]])


# -- against PyTorch, when it is installed ------------------------------------------
@given(st.one_of(conv_cases(), tiling_cases()))
def test_conv_matches_torch(case):
    torch = pytest.importorskip("torch")
    shape, kwargs = case
    rng = np.random.default_rng(10)
    layer = with_random_bias(Conv2D(**kwargs, rng=0), rng)
    x = rng.normal(size=shape)
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    dx = layer.backward(g)
    x_t = torch.tensor(x, requires_grad=True)
    W_t = torch.tensor(layer.params["W"], requires_grad=True)
    b_t = torch.tensor(layer.params["b"], requires_grad=True)
    y_t = torch.nn.functional.conv2d(x_t, W_t, b_t, kwargs["stride"], kwargs["padding"])
    y_t.backward(torch.tensor(g))
    for ours, theirs in ((y, y_t), (dx, x_t.grad), (layer.grads["W"], W_t.grad),
                         (layer.grads["b"], b_t.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


@given(st.one_of(conv_transpose_cases(), tiling_cases(transpose=True)))
def test_conv_transpose_matches_torch(case):
    torch = pytest.importorskip("torch")
    shape, kwargs = case
    rng = np.random.default_rng(11)
    layer = with_random_bias(ConvTranspose2D(**kwargs, rng=0), rng)
    x = rng.normal(size=shape)
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    dx = layer.backward(g)
    x_t = torch.tensor(x, requires_grad=True)
    W_t = torch.tensor(layer.params["W"], requires_grad=True)
    b_t = torch.tensor(layer.params["b"], requires_grad=True)
    y_t = torch.nn.functional.conv_transpose2d(x_t, W_t, b_t, kwargs["stride"],
                                               kwargs["padding"], kwargs["output_padding"])
    y_t.backward(torch.tensor(g))
    for ours, theirs in ((y, y_t), (dx, x_t.grad), (layer.grads["W"], W_t.grad),
                         (layer.grads["b"], b_t.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


# -- dtypes, errors, config ------------------------------------------------------------
@pytest.mark.parametrize("cls", [Conv2D, ConvTranspose2D])
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_float32_stays_float32(cls, backend, rng):
    layer = cls(3, 4, 3, stride=2, padding=1, dtype="float32", rng=0, backend=backend)
    x = rng.normal(size=(2, 3, 7, 6)).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    dx = layer.backward(np.ones_like(y))
    assert dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())
    reference = cls(3, 4, 3, stride=2, padding=1, rng=0, backend=backend)
    np.testing.assert_allclose(y, reference.forward(x.astype(np.float64)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls", [Conv2D, ConvTranspose2D])
def test_backward_before_forward_raises(cls):
    with pytest.raises(RuntimeError, match="before forward"):
        cls(1, 1, 3).backward(np.zeros((1, 1, 3, 3)))


@pytest.mark.parametrize("cls", [Conv2D, ConvTranspose2D])
def test_inference_keeps_no_cache(cls):
    layer = cls(1, 2, 3)
    layer.forward(np.zeros((1, 1, 5, 5)), training=False)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((1, 2, 3, 3)))


@pytest.mark.parametrize("cls", [Conv2D, ConvTranspose2D])
def test_wrong_input_shape_names_expected_and_got(cls):
    layer = cls(3, 8, 3)
    expected = r"expected input of shape \(N, 3, H, W\), got "
    with pytest.raises(ValueError, match=expected + r"\(8, 1, 28, 28\)"):
        layer.forward(np.zeros((8, 1, 28, 28)))
    with pytest.raises(ValueError, match=expected + r"\(8, 784\)"):
        layer.forward(np.zeros((8, 784)))
    with pytest.raises(ValueError, match="dtype float64, got float32"):
        layer.forward(np.zeros((8, 3, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match="NaN or inf"):
        layer.forward(np.full((1, 3, 5, 5), np.nan))


def test_conv_input_smaller_than_kernel_raises():
    message = "input height 2 with padding 0 is smaller than the kernel height 3"
    with pytest.raises(ValueError, match=message):
        Conv2D(1, 1, 3).forward(np.zeros((1, 1, 2, 5)))
    message = "input width 1 with padding 1 is smaller than the kernel width 4"
    with pytest.raises(ValueError, match=message):
        Conv2D(1, 1, (1, 4), padding=1).output_shape((1, 5, 1))


def test_conv_transpose_empty_output_raises():
    with pytest.raises(ValueError, match="must be >= 1"):
        ConvTranspose2D(1, 1, 1, padding=1).forward(np.zeros((1, 1, 1, 1)))


@pytest.mark.parametrize("cls", [Conv2D, ConvTranspose2D])
def test_wrong_grad_shape_raises(cls):
    layer = cls(1, 2, 3, padding=1)
    layer.forward(np.zeros((2, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"expected grad_out of shape \(2, 2, 4, 4\)"):
        layer.backward(np.zeros((2, 1, 4, 4)))


@pytest.mark.parametrize("kwargs, message", [
    ({"kernel_size": 0}, "kernel_size must be >= 1"),
    ({"kernel_size": (3, 3, 3)}, "kernel_size must be an int or a pair"),
    ({"kernel_size": 3, "stride": 0}, "stride must be >= 1"),
    ({"kernel_size": 3, "padding": -1}, "padding must be >= 0"),
    ({"kernel_size": 3, "backend": "cuda"}, "backend must be one of"),
    ({"kernel_size": 3, "init": "ones"}, "init must be one of"),
])
def test_bad_hyperparameters_raise(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        Conv2D(1, 1, **kwargs)


def test_output_padding_must_be_below_stride():
    with pytest.raises(ValueError, match="output_padding must be smaller than stride"):
        ConvTranspose2D(1, 1, 3, stride=2, output_padding=2)


@pytest.mark.parametrize("layer", [
    Conv2D(3, 8, (3, 5), stride=(1, 2), padding=(0, 2), init="he_normal", dtype="float32",
           backend="numpy"),
    ConvTranspose2D(8, 3, 4, stride=2, padding=1, output_padding=1),
])
def test_config_rebuilds_the_layer(layer):
    config = json.loads(json.dumps(layer.get_config()))
    rebuilt = type(layer)(**config)
    assert rebuilt.get_config() == layer.get_config()
    assert rebuilt.params["W"].shape == layer.params["W"].shape
    assert rebuilt.output_shape((layer.in_channels, 12, 12)) == layer.output_shape(
        (layer.in_channels, 12, 12))


def test_output_shape_checks_channels():
    message = r"expected a per-example shape \(3, H, W\), got \(1, 8, 8\)"
    with pytest.raises(ValueError, match=message):
        Conv2D(3, 4, 3).output_shape((1, 8, 8))


def test_small_conv_autoencoder_gradient_check(rng):
    """Every layer of the stack in one network, checked end to end."""
    net = Sequential([Conv2D(1, 3, 3, padding=1, rng=0), Tanh(), MaxPool2D(2),
                      Upsample2D(2, "bilinear"), ConvTranspose2D(3, 1, 3, padding=1, rng=1)])
    last_layer_row = net.summary((1, 6, 6), file=io.StringIO()).splitlines()[-2]
    assert "(1, 6, 6)" in last_layer_row
    result = check_network(net, mean_squared_error, rng.normal(size=(2, 1, 6, 6)))
    assert result.max_error < 1e-6, result.table()


# -- algorithm="winograd": F(2x2, 3x3) for 3x3 kernels at stride 1 ---------------------
@st.composite
def winograd_cases(draw, max_size=7, transpose=False):
    """(x shape, layer kwargs) of a 3x3 stride-1 layer; odd and even output sizes, so
    that the last row or column of 2x2 output tiles is sometimes cut."""
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    if transpose:  # output (H - 1) - 2 p + 3 must be >= 1
        padding = tuple(min(p, 1) for p in padding)
        h, w = draw(st.integers(1, max_size)), draw(st.integers(1, max_size))
    else:
        h = draw(st.integers(max(1, 3 - 2 * padding[0]), max_size))
        w = draw(st.integers(max(1, 3 - 2 * padding[1]), max_size))
    n, c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kwargs = {"in_channels": c_in, "out_channels": c_out, "kernel_size": 3,
              "padding": padding}
    return (n, c_in, h, w), kwargs


def step(layer, x, g):
    """Forward and backward once: y, dx, dW, db."""
    layer.zero_grad()
    y = layer.forward(x)
    dx = layer.backward(g)
    return y, dx, layer.grads["W"].copy(), layer.grads["b"].copy()


@pytest.mark.parametrize("cls", [Conv2D, ConvTranspose2D])
@given(data=st.data(), backend=st.sampled_from(["numba", "numpy"]))
def test_winograd_equals_im2col_in_float64(cls, data, backend):
    """Same y, dL/dx, dL/dW and dL/db as the direct path, to 1e-10."""
    shape, kwargs = data.draw(winograd_cases(transpose=cls is ConvTranspose2D))
    rng = np.random.default_rng(7)
    direct = with_random_bias(cls(**kwargs, rng=0, backend=backend), rng)
    winograd = cls(**kwargs, rng=0, backend=backend, algorithm="winograd")
    winograd.params["b"][:] = direct.params["b"]
    x = rng.normal(size=shape)
    g = rng.normal(size=(shape[0], *direct.output_shape(shape[1:])))
    for expected, got in zip(step(direct, x, g), step(winograd, x, g)):
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)
    winograd.forward(x)
    tiles = winograd._cache[1]  # what backward keeps: the 16 matrices V of the tiles
    out_h, out_w = winograd.output_shape(shape[1:])[1:]
    assert tiles.shape == (16, shape[1], shape[0] * ((out_h + 1) // 2) * ((out_w + 1) // 2))


@pytest.mark.parametrize("cls", [Conv2D, ConvTranspose2D])
@given(data=st.data(), backend=st.sampled_from(["numba", "numpy"]))
def test_winograd_gradient_check(cls, data, backend):
    shape, kwargs = data.draw(winograd_cases(max_size=5, transpose=cls is ConvTranspose2D))
    rng = np.random.default_rng(8)
    layer = with_random_bias(cls(**kwargs, rng=0, backend=backend, algorithm="winograd"), rng)
    result = check_layer(layer, rng.normal(size=shape))
    assert set(result) == {"x", "W", "b"}
    assert result.max_error < 1e-6, result.table()


@pytest.mark.parametrize("cls", [Conv2D, ConvTranspose2D])
@given(data=st.data(), backend=st.sampled_from(["numba", "numpy"]))
def test_winograd_adjoint_identity(cls, data, backend):
    """With b = 0 the layer is linear, A x, and backward is A^T g: <A x, g> = <x, A^T g>."""
    shape, kwargs = data.draw(winograd_cases(transpose=cls is ConvTranspose2D))
    rng = np.random.default_rng(9)
    layer = cls(**kwargs, rng=0, backend=backend, algorithm="winograd")
    x = rng.normal(size=shape)
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    np.testing.assert_allclose(np.vdot(y, g), np.vdot(x, layer.backward(g)), rtol=1e-10)


def test_winograd_matches_the_defining_sum_in_float32(rng):
    """float32 in, float32 out, within float32 rounding of the defining sum."""
    layer = with_random_bias(Conv2D(4, 5, 3, padding=1, dtype="float32", rng=0,
                                    algorithm="winograd"), rng)
    x = rng.normal(size=(3, 4, 9, 8)).astype("float32")
    y = layer.forward(x)
    assert y.dtype == np.float32 and layer.backward(np.ones_like(y)).dtype == np.float32
    expected = conv_reference(x.astype(float), layer.params["W"].astype(float),
                              layer.params["b"].astype(float), (1, 1), (1, 1))
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls, kwargs, message", [
    (Conv2D, {"kernel_size": 3, "algorithm": "fft"}, "algorithm must be one of 'im2col', "
                                                     "'col2im', 'winograd', got 'fft'"),
    (Conv2D, {"kernel_size": 5, "algorithm": "winograd"},
     r"needs kernel_size \(3, 3\) and stride \(1, 1\), got kernel_size \(5, 5\)"),
    (Conv2D, {"kernel_size": 3, "stride": 2, "algorithm": "winograd"},
     r"got kernel_size \(3, 3\) and stride \(2, 2\)"),
    (ConvTranspose2D, {"kernel_size": 3, "padding": 3, "algorithm": "winograd"},
     r"needs padding <= 2, got \(3, 3\)"),
])
def test_winograd_needs_3x3_at_stride_1(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(2, 2, **kwargs)


@pytest.mark.parametrize("cls", [Conv2D, ConvTranspose2D])
def test_winograd_config_rebuilds_the_layer(cls):
    layer = cls(3, 4, 3, padding=1, algorithm="winograd")
    config = json.loads(json.dumps(layer.get_config()))
    assert config["algorithm"] == "winograd"
    assert type(layer)(**config).algorithm == "winograd"
    assert "algorithm" not in cls(3, 4, 3).get_config()  # the default is not written


@pytest.mark.parametrize("make", [
    lambda: Conv2D(2, 3, 3, padding=1, rng=0),
    lambda: Conv2D(2, 3, 3, padding=1, rng=0, algorithm="winograd"),
    lambda: ConvTranspose2D(2, 3, 3, padding=1, rng=0),
    lambda: ConvTranspose2D(2, 3, 2, stride=2, rng=0),
    lambda: ConvTranspose2D(2, 3, 3, padding=1, rng=0, algorithm="winograd"),
], ids=["conv", "conv-winograd", "convT", "convT-2x2s2", "convT-winograd"])
def test_kept_buffers_never_change_a_pending_backward(make, rng):
    """The layer writes its column matrices into arrays it keeps between calls. Whatever
    runs between a training forward and its backward (an inference forward on another
    batch, a training forward on another shape and back) must not change that backward,
    and a second step on the same shape reuses the arrays instead of allocating."""
    layer, fresh = make(), make()
    x, other, g = (rng.normal(size=(2, 2, 6, 6)), rng.normal(size=(2, 2, 6, 6)),
                   rng.normal(size=(2, 3, *make().output_shape((2, 6, 6))[1:])))
    expected = step(fresh, x, g)
    layer.zero_grad()
    y = layer.forward(x)
    layer.forward(other, training=False)
    layer.forward(rng.normal(size=(3, 2, 4, 4)), training=False)
    dx = layer.backward(g)
    for want, got in zip(expected, (y, dx, layer.grads["W"], layer.grads["b"])):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    step(layer, x, g)
    kept = {name: array for name, (_, array) in layer._buffers.items()}
    for want, got in zip(expected, step(layer, x, g)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert kept and all(layer._buffers[name][1] is array for name, array in kept.items())


@pytest.mark.parametrize("algorithm", ["im2col", "winograd"])
def test_columns_larger_than_the_bound_are_not_kept(algorithm, rng, monkeypatch):
    """An inference forward over many images at once (a whole data set) gets its column
    matrices for that call only: the layer keeps no array above KEEP_AT_MOST bytes, and
    still computes the same output and keeps the training step's buffers."""
    import npae.layers.conv as conv

    layer = Conv2D(2, 3, 3, padding=1, rng=0, algorithm=algorithm)
    x_small, x_large = rng.normal(size=(2, 2, 6, 6)), rng.normal(size=(40, 2, 6, 6))
    expected = layer.forward(x_large, training=False)
    layer.forward(x_small)
    layer.backward(np.ones((2, 3, 6, 6)))
    kept = {name: array for name, (_, array) in layer._buffers.items()}
    monkeypatch.setattr(conv, "KEEP_AT_MOST", max(a.nbytes for a in kept.values()))
    np.testing.assert_array_equal(layer.forward(x_large, training=False), expected)
    assert all(array.nbytes <= conv.KEEP_AT_MOST for _, array in layer._buffers.values())
    assert all(layer._buffers[name][1] is array for name, array in kept.items())


@pytest.mark.parametrize("make, shape", [
    (lambda: Conv2D(3, 1, 3, padding=1, rng=0), (2, 3, 5, 6)),
    (lambda: ConvTranspose2D(1, 3, 3, padding=1, rng=0), (2, 1, 5, 6)),
], ids=["conv-to-one-channel", "convT-from-one-channel"])
def test_one_channel_outer_products_equal_the_matrix_product(make, shape, rng):
    """With one output (Conv2D) or input (ConvTranspose2D) channel, W2^T g is an outer
    product, computed by np.multiply: bit-equal to np.matmul's, and the layer's
    gradients pass the central-difference check."""
    from npae.layers.conv import _matmul

    a, b = rng.normal(size=(27, 1)), rng.normal(size=(1, 40))
    np.testing.assert_array_equal(_matmul(a, b), np.matmul(a, b))
    layer = make()
    x = rng.normal(size=shape)
    result = check_layer(layer, x)
    assert result.max_error < 1e-7, result.table()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weight_gradient_product_in_either_operand_order(dtype, rng):
    """_times_transpose(a, b) is a @ b.T: in float64 bit for bit (the same call), in
    float32 computed as (b @ a.T).T, equal up to float32 rounding."""
    from npae.layers.conv import _times_transpose

    a, b = rng.normal(size=(5, 300)).astype(dtype), rng.normal(size=(27, 300)).astype(dtype)
    got, want = _times_transpose(a, b), a @ b.T
    assert got.dtype == dtype and got.shape == (5, 27)
    if dtype == np.float64:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
