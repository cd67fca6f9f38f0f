"""Synthetic segmentation data: images of circles, squares and triangles with their masks."""

import math
import numbers

import numpy as np

from npae._validation import check_choice, check_float_dtype, check_int, check_number
from npae.utils import as_generator

SHAPE_KINDS = ("circle", "square", "triangle")
"""Shape names; the class label of ``SHAPE_KINDS[i]`` is ``i + 1`` (0 is background)."""


def _inside(kind, dy, dx, r):
    """Pixels inside a shape of class ``kind`` centred at offset (dy, dx), size ``r``.

    circle: dy^2 + dx^2 <= r^2; square: |dy|, |dx| <= r; triangle (apex up):
    -r <= dy <= r and |dx| <= (dy + r) / 2.
    """
    circle = dy**2 + dx**2 <= r**2
    square = (np.abs(dy) <= r) & (np.abs(dx) <= r)
    triangle = (np.abs(dy) <= r) & (2 * np.abs(dx) <= dy + r)
    return np.select([kind == 1, kind == 2], [circle, square], triangle)


def _check_range(value, name, owner, low, high, kind):
    """A pair (a, b) with low <= a <= b <= high (an int or float ``kind``)."""
    pair = (value, value) if isinstance(value, numbers.Real) else value
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise ValueError(f"{owner}: {name} must be a number or a pair (min, max), got {value!r}")
    if kind is int:
        a, b = (check_int(v, name, owner, minimum=low) for v in pair)
    else:
        a, b = (check_number(v, name, owner, low=low, low_open=True) for v in pair)
    if not a <= b <= high:
        raise ValueError(f"{owner}: {name} must satisfy min <= max <= {high}, got {value!r}")
    return a, b


def make_shapes(n_samples, size=32, noise=0.1, n_shapes=(1, 3), kinds=SHAPE_KINDS,
                radius=(0.1, 0.25), return_labels=False, random_state=None,
                dtype="float64"):
    """Synthetic segmentation data: filled circles, squares and triangles on a dark field.

    Each image gets between ``n_shapes[0]`` and ``n_shapes[1]`` shapes of a
    random kind, size, position and brightness (in [0.5, 1]); later shapes
    cover earlier ones. Gaussian pixel noise is added and the result clipped
    to [0, 1]. Drawing is vectorized over images and pixels (one pass per
    shape slot): 2,000 images of 32 x 32 take about 0.1 s.

    Parameters
    ----------
    n_samples : int
    size : int, default=32
        Height and width in pixels (>= 4).
    noise : float >= 0, default=0.1
        Standard deviation of the pixel noise.
    n_shapes : int or (int, int), default=(1, 3)
        Number of shapes per image, drawn uniformly from [min, max].
    kinds : sequence of str, default=SHAPE_KINDS
        Which of "circle", "square", "triangle" to draw. Class labels are
        fixed by ``SHAPE_KINDS`` whatever the subset: circle 1, square 2,
        triangle 3.
    radius : float or (float, float), default=(0.1, 0.25)
        Half-width of a shape as a fraction of ``size``, in (0, 0.5].
    return_labels : bool, default=False
        Also return the class-label mask.
    random_state : int, numpy.random.Generator or None
    dtype : {"float64", "float32"}

    Returns
    -------
    images : ndarray of shape (n_samples, 1, size, size), values in [0, 1]
    masks : ndarray of shape (n_samples, 1, size, size), 1.0 on a shape, 0.0
        on background (same dtype as ``images``; a target for a sigmoid
        output).
    labels : ndarray of int64, shape (n_samples, size, size)
        Only if ``return_labels``: 0 background, else the class of the
        visible (topmost) shape.

    Examples
    --------
    >>> images, masks, labels = make_shapes(4, size=16, return_labels=True, random_state=0)
    >>> images.shape, masks.shape, labels.shape
    ((4, 1, 16, 16), (4, 1, 16, 16), (4, 16, 16))
    >>> bool(np.array_equal(masks[:, 0] == 1, labels > 0))
    True
    """
    owner = "make_shapes"
    n_samples = check_int(n_samples, "n_samples", owner)
    size = check_int(size, "size", owner, minimum=4)
    noise = check_number(noise, "noise", owner, low=0.0)
    fewest, most = _check_range(n_shapes, "n_shapes", owner, 0, math.inf, int)
    if most < 1:
        raise ValueError(f"{owner}: n_shapes must allow at least one shape, got {n_shapes!r}")
    r_min, r_max = _check_range(radius, "radius", owner, 0.0, 0.5, float)
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    if not kinds or len(set(kinds)) != len(kinds):
        raise ValueError(f"{owner}: kinds must be distinct names from {SHAPE_KINDS}, got {kinds}")
    for kind in kinds:
        check_choice(kind, "each of kinds", owner, SHAPE_KINDS)
    dtype = check_float_dtype(dtype, owner)

    rng = as_generator(random_state)
    shape = (n_samples, most)  # one row of shape slots per image
    count = rng.integers(fewest, most + 1, size=n_samples)
    kind = rng.choice([SHAPE_KINDS.index(k) + 1 for k in kinds], size=shape)
    # float32 geometry halves the memory traffic of the (n, size, size) tests
    r = (rng.uniform(r_min, r_max, size=shape) * size).astype(np.float32)
    cy = rng.uniform(r, size - r).astype(np.float32)
    cx = rng.uniform(r, size - r).astype(np.float32)
    brightness = rng.uniform(0.5, 1.0, size=shape)

    centres = np.arange(size, dtype=np.float32) + 0.5
    yy, xx = centres[:, None], centres[None, :]
    images = np.zeros((n_samples, size, size), dtype=dtype)
    labels = np.zeros((n_samples, size, size), dtype=np.int64)
    for s in range(most):
        col = (slice(None), s, None, None)  # (n,) parameters -> (n, 1, 1)
        drawn = _inside(kind[col], yy - cy[col], xx - cx[col], r[col])
        drawn &= (s < count)[:, None, None]
        np.copyto(labels, kind[col], where=drawn)
        np.copyto(images, brightness[col], where=drawn, casting="same_kind")

    images += noise * rng.standard_normal(images.shape, dtype=dtype)
    np.clip(images, 0.0, 1.0, out=images)
    masks = (labels > 0).astype(dtype)[:, None]
    if return_labels:
        return images[:, None], masks, labels
    return images[:, None], masks
