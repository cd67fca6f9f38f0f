"""Numba-compiled loops for the hot spots of the layers: plain functions on arrays.

Each kernel has a readable pure-NumPy twin in its layer module (selected
with ``backend="numpy"``); ``tests/kernels`` checks that the two agree.
Kernels are compiled on first use for the dtype they meet (float32 or
float64), about 0.2-0.6 s of CPU each, and cached on disk (``cache=True``),
so later processes load them in well under a second. They run serially
(``parallel=True`` multiplied the compile time by about five, and the
serial loops already beat PyTorch's two threads) and none uses ``fastmath``.
"""

from npae.kernels.im2col import col2im, im2col
from npae.kernels.pool import (
    avg_pool_backward,
    avg_pool_forward,
    max_pool_backward,
    max_pool_forward,
)
from npae.kernels.upsample import (
    bilinear_backward,
    bilinear_forward,
    nearest_backward,
    nearest_forward,
)

__all__ = [
    "avg_pool_backward", "avg_pool_forward", "bilinear_backward", "bilinear_forward",
    "col2im", "im2col", "max_pool_backward", "max_pool_forward", "nearest_backward",
    "nearest_forward",
]
