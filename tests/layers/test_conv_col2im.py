"""Conv2D(algorithm="col2im"): a stride-1 convolution run as the transposed convolution of
its rotated kernel, which unfolds out_channels kh kw rows instead of in_channels kh kw."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae.gradcheck import check_layer
from npae.layers.conv import Conv2D, ConvTranspose2D


@st.composite
def col2im_cases(draw, max_size=7):
    """(x shape, layer kwargs) of a stride-1 Conv2D with padding < kernel size and an output
    of at least one pixel; rectangular kernels and unequal paddings included."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = (draw(st.integers(0, kernel[0] - 1)), draw(st.integers(0, kernel[1] - 1)))
    h = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), max_size))
    w = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), max_size))
    n, c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kwargs = {"in_channels": c_in, "out_channels": c_out, "kernel_size": kernel,
              "padding": padding}
    return (n, c_in, h, w), kwargs


def pair(kwargs, backend, rng):
    """The same layer twice, by im2col and by col2im, with one random bias."""
    direct = Conv2D(**kwargs, rng=0, backend=backend)
    folded = Conv2D(**kwargs, rng=0, backend=backend, algorithm="col2im")
    direct.params["b"][:] = folded.params["b"][:] = rng.normal(size=kwargs["out_channels"])
    return direct, folded


def step(layer, x, g):
    """Forward and backward once: y, dx, dW, db."""
    layer.zero_grad()
    y = layer.forward(x)
    dx = layer.backward(g)
    return y, dx, layer.grads["W"].copy(), layer.grads["b"].copy()


@given(case=col2im_cases(), backend=st.sampled_from(["numba", "numpy"]))
def test_col2im_equals_im2col_in_float64(case, backend):
    """Same y, dL/dx, dL/dW and dL/db as the im2col path, to 1e-10."""
    shape, kwargs = case
    rng = np.random.default_rng(3)
    direct, folded = pair(kwargs, backend, rng)
    x = rng.normal(size=shape)
    g = rng.normal(size=(shape[0], *direct.output_shape(shape[1:])))
    for expected, got in zip(step(direct, x, g), step(folded, x, g)):
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


@given(case=col2im_cases(max_size=5), backend=st.sampled_from(["numba", "numpy"]))
def test_col2im_gradient_check(case, backend):
    shape, kwargs = case
    rng = np.random.default_rng(4)
    _, layer = pair(kwargs, backend, rng)
    result = check_layer(layer, rng.normal(size=shape))
    assert set(result) == {"x", "W", "b"}
    assert result.max_error < 1e-6, result.table()


def test_col2im_keeps_float32_and_matches_the_defining_result(rng):
    direct, folded = pair({"in_channels": 16, "out_channels": 1, "kernel_size": 3,
                           "padding": 1, "dtype": "float32"}, None, rng)
    x = rng.random((4, 16, 9, 8)).astype("float32")
    y = folded.forward(x)
    assert y.dtype == np.float32 and folded.backward(np.ones_like(y)).dtype == np.float32
    np.testing.assert_allclose(y, direct.forward(x), rtol=1e-5, atol=1e-5)


def test_col2im_unfolds_the_narrow_side(rng):
    """What backward keeps is x as (in_channels, N H W) rows, not (in_channels kh kw) rows of
    windows: the point of the algorithm for a layer that narrows the channels."""
    layer = Conv2D(16, 1, 3, padding=1, rng=0, algorithm="col2im")
    layer.forward(rng.normal(size=(2, 16, 6, 6)))
    assert layer._cache[1].shape == (16, 2 * 6 * 6)
    assert layer._scratch((2, 16, 6, 6), np.float64).shape == (1 * 3 * 3, 2 * 6 * 6)


@pytest.mark.parametrize("cls, kwargs, message", [
    (Conv2D, {"kernel_size": 3, "stride": 2, "algorithm": "col2im"},
     r"algorithm='col2im' is for a Conv2D at stride \(1, 1\) with padding smaller than "
     r"kernel_size .*got stride \(2, 2\)"),
    (Conv2D, {"kernel_size": 3, "padding": 3, "algorithm": "col2im"},
     r"got stride \(1, 1\), padding \(3, 3\), kernel_size \(3, 3\)"),
    (ConvTranspose2D, {"kernel_size": 3, "algorithm": "col2im"},
     "a transposed convolution always folds with col2im"),
    (Conv2D, {"kernel_size": 3, "algorithm": "fold"},
     "algorithm must be one of 'im2col', 'col2im', 'winograd', got 'fold'"),
])
def test_col2im_needs_stride_1_and_a_conv2d(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(2, 2, **kwargs)


def test_col2im_config_rebuilds_the_layer():
    layer = Conv2D(3, 1, 3, padding=1, algorithm="col2im")
    config = json.loads(json.dumps(layer.get_config()))
    assert config["algorithm"] == "col2im"
    assert Conv2D(**config).algorithm == "col2im"
