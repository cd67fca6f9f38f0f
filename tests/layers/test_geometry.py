"""The image geometry the image layers share: pairs, output sizes, padding, checks."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae.layers import Conv2D, ConvTranspose2D, MaxPool2D, conv, crop, pool, upsample
from npae.layers import _geometry as geometry


def test_as_pair():
    assert geometry.as_pair(3, "kernel_size", "Conv2D") == (3, 3)
    assert geometry.as_pair([2, 5], "stride", "Conv2D") == (2, 5)
    assert geometry.as_pair((0, 1), "padding", "Conv2D", minimum=0) == (0, 1)
    with pytest.raises(TypeError, match=r"^Conv2D: stride must be an int or a pair of ints, "
                                        r"got \(1, 2, 3\)$"):
        geometry.as_pair((1, 2, 3), "stride", "Conv2D")
    with pytest.raises(TypeError, match="got True"):
        geometry.as_pair(True, "scale", "Upsample2D")
    with pytest.raises(ValueError, match="padding"):
        geometry.as_pair(-1, "padding", "Conv2D", minimum=0)


@given(size=st.integers(1, 12), k=st.integers(1, 5), s=st.integers(1, 3), p=st.integers(0, 2))
def test_window_output_size_counts_the_window_positions(size, k, s, p):
    """(h + 2 p - k) // s + 1 is the number of starts 0, s, 2 s, ... with the window inside."""
    if size + 2 * p < k:
        with pytest.raises(ValueError, match=f"input height {size} with padding {p} is "
                                             f"smaller than the kernel height {k}"):
            geometry.window_output_hw("Conv2D", (size, size), (k, k), (s, s), (p, p))
        return
    starts = range(0, size + 2 * p - k + 1, s)
    assert geometry.window_output_hw("Conv2D", (size, size + 1), (k, k), (s, 1),
                                     (p, p)) == (len(starts), size + 2 * p - k + 2)


@given(size=st.integers(1, 8), k=st.integers(1, 5), s=st.integers(1, 3), p=st.integers(0, 2),
       op=st.integers(0, 2))
def test_transposed_output_size_inverts_the_window_count(size, k, s, p, op):
    """A Conv2D of the same geometry maps the transposed output size back to ``size``."""
    op = min(op, s - 1)
    out = (size - 1) * s - 2 * p + k + op
    if out < 1:
        with pytest.raises(ValueError, match=f"= {out} must be >= 1"):
            geometry.transposed_output_hw("ConvTranspose2D", (size, size), (k, k), (s, s),
                                          (p, p), (op, op))
        return
    hw = geometry.transposed_output_hw("ConvTranspose2D", (size, size), (k, k), (s, s), (p, p),
                                       (op, op))
    assert hw == (out, out)
    assert geometry.window_output_hw("Conv2D", hw, (k, k), (s, s), (p, p)) == (size, size)


def test_pad_images_pads_the_two_image_axes_only():
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    padded = geometry.pad_images(x, (1, 2), fill=-np.inf)
    assert padded.shape == (1, 1, 4, 7)
    np.testing.assert_array_equal(padded[:, :, 1:3, 2:5], x)
    assert np.isneginf(padded).sum() == 4 * 7 - 6


def test_image_checks_name_expected_and_got():
    layer = MaxPool2D()
    with pytest.raises(ValueError, match=r"^MaxPool2D expected input of shape \(N, C, H, W\), "
                                         r"got \(2, 3\)$"):
        geometry.check_images(layer, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3, H, W\), "
                                         r"got \(8, 1, 4, 4\)"):
        geometry.check_images(layer, np.zeros((8, 1, 4, 4)), channels=3)
    strided = np.zeros((1, 1, 4, 8))[..., ::2]
    assert geometry.check_images(layer, strided).flags.c_contiguous
    assert geometry.check_example_shape(layer, [1, 4, 4]) == (1, 4, 4)
    with pytest.raises(ValueError, match=r"expected a per-example shape \(2, H, W\), "
                                         r"got \(1, 4, 4\)"):
        geometry.check_example_shape(layer, (1, 4, 4), channels=2)


def test_crop_offsets():
    assert geometry.crop_offsets(7, 4) == (1, 5)  # the odd extra row comes off the end


def test_the_image_layers_share_one_home():
    """conv, pool, upsample and crop import the geometry; none keeps a copy."""
    for module in (conv, pool, upsample, crop):
        assert module.as_pair is geometry.as_pair
        assert module.check_images is geometry.check_images
    assert issubclass(ConvTranspose2D, conv._ConvNd) and issubclass(Conv2D, conv._ConvNd)
