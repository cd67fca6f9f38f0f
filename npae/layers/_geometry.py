"""Image geometry shared by the image layers: sizes, output sizes, padding, checks.

Conv, pool, upsample and crop layers take NCHW batches and
``(height, width)`` hyperparameters; the arithmetic of their output sizes
and the checks of their inputs live here, once.
"""

import numbers

import numpy as np

from npae._validation import check_int


def as_pair(value, name, owner, minimum=1):
    """An int or a pair of ints -> (height, width) ints, each >= ``minimum``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{owner}: {name} must be an int or a pair of ints, got {value!r}")
    return tuple(check_int(v, name, owner, minimum) for v in value)


def check_images(layer, x, channels=None):
    """Check an (N, C, H, W) batch for ``layer``; return it C-contiguous.

    ``channels`` None accepts any C.
    """
    if isinstance(x, np.ndarray) and (
        x.ndim != 4 or (channels is not None and x.shape[1] != channels)
    ):
        c = "C" if channels is None else channels
        raise ValueError(f"{layer.name} expected input of shape (N, {c}, H, W), got {x.shape}")
    layer._check_input(x, 4)
    return np.ascontiguousarray(x)


def check_example_shape(layer, input_shape, channels=None):
    """Check a per-example (C, H, W) shape given to ``output_shape``."""
    shape = tuple(input_shape)
    if len(shape) != 3 or (channels is not None and shape[0] != channels):
        c = "C" if channels is None else channels
        raise ValueError(f"{layer.name} expected a per-example shape ({c}, H, W), got {shape}")
    return shape


def window_output_hw(owner, hw, kernel_size, stride, padding):
    """Output size ``(h + 2 p - k) // s + 1`` per axis; error if the window cannot fit."""
    out = []
    for axis, size, k, s, p in zip(("height", "width"), hw, kernel_size, stride, padding):
        if size + 2 * p < k:
            raise ValueError(
                f"{owner}: input {axis} {size} with padding {p} is smaller than the "
                f"kernel {axis} {k}"
            )
        out.append((size + 2 * p - k) // s + 1)
    return tuple(out)


def transposed_output_hw(owner, hw, kernel_size, stride, padding, output_padding):
    """Output size ``(h - 1) s - 2 p + k + output_padding`` per axis; error if below 1."""
    out = []
    for axis, size, k, s, p, op in zip(("height", "width"), hw, kernel_size, stride, padding,
                                       output_padding):
        size_out = (size - 1) * s - 2 * p + k + op
        if size_out < 1:
            raise ValueError(
                f"{owner}: output {axis} (H - 1) s - 2 p + k + output_padding = "
                f"({size} - 1) {s} - 2 {p} + {k} + {op} = {size_out} must be >= 1"
            )
        out.append(size_out)
    return tuple(out)


def pad_images(x, padding, fill=0):
    """``x`` with ``(ph, pw)`` rows and columns of ``fill`` added on every side."""
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)


def crop_offsets(size, target):
    """(start, stop) of a centred window of length ``target`` in ``size``.

    When ``size - target`` is odd the extra element comes off the end
    (bottom or right): ``start = (size - target) // 2``.
    """
    start = (size - target) // 2
    return start, start + target
