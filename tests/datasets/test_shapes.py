"""npae.datasets.shapes: make_shapes and its point-in-shape test."""

import doctest
import time

import numpy as np
import pytest

import npae.datasets.shapes
from npae.datasets import SHAPE_KINDS, make_shapes
from npae.datasets.shapes import _inside


def test_docstring_examples_run():
    result = doctest.testmod(npae.datasets.shapes)
    assert result.attempted > 0 and result.failed == 0


def test_make_shapes_outputs():
    images, masks, labels = make_shapes(50, size=24, return_labels=True, random_state=0)
    assert images.shape == masks.shape == (50, 1, 24, 24)
    assert labels.shape == (50, 24, 24) and labels.dtype == np.int64
    assert images.dtype == masks.dtype == np.float64
    assert images.min() >= 0 and images.max() <= 1
    assert set(np.unique(masks)) == {0.0, 1.0}
    np.testing.assert_array_equal(masks[:, 0] == 1, labels > 0)
    assert set(np.unique(labels)) == {0, 1, 2, 3}
    assert (labels > 0).any(axis=(1, 2)).all()  # every image shows a shape
    two = make_shapes(50, size=24, random_state=0)
    assert len(two) == 2
    np.testing.assert_array_equal(two[0], images)


def test_make_shapes_without_noise_is_exactly_the_drawing():
    images, masks = make_shapes(30, noise=0.0, random_state=1)
    on = masks == 1
    assert np.all(images[~on] == 0)
    assert np.all((images[on] >= 0.5) & (images[on] <= 1.0))


def test_make_shapes_kinds_counts_and_seed():
    _, _, labels = make_shapes(40, kinds=("square",), n_shapes=1, return_labels=True,
                               random_state=np.random.default_rng(3))
    assert set(np.unique(labels)) == {0, SHAPE_KINDS.index("square") + 1}
    _, _, labels = make_shapes(40, kinds="triangle", return_labels=True, random_state=3)
    assert set(np.unique(labels)) == {0, 3}
    a = make_shapes(5, random_state=7)[0]
    b = make_shapes(5, random_state=8)[0]
    assert not np.array_equal(a, b)


def test_make_shapes_float32():
    images, masks = make_shapes(10, dtype="float32", random_state=0)
    assert images.dtype == masks.dtype == np.float32


def test_make_shapes_is_fast():
    make_shapes(10)
    start = time.perf_counter()
    images, _ = make_shapes(2000, size=32, random_state=0)
    assert time.perf_counter() - start < 1.0
    assert images.shape == (2000, 1, 32, 32)


def naive_inside(kind, dy, dx, r):
    """The shape tests written point by point."""
    if kind == 1:
        return dy * dy + dx * dx <= r * r
    if kind == 2:
        return abs(dy) <= r and abs(dx) <= r
    return -r <= dy <= r and abs(dx) <= (dy + r) / 2


def test_inside_matches_pointwise_definition(rng):
    kind = rng.integers(1, 4, size=300)
    dy, dx = rng.uniform(-6, 6, size=(2, 300))
    r = rng.uniform(1, 5, size=300)
    got = _inside(kind, dy, dx, r)
    want = [naive_inside(*args) for args in zip(kind, dy, dx, r)]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 0}, ValueError, "n_samples must be >= 1, got 0"),
        ({"size": 2}, ValueError, "size must be >= 4, got 2"),
        ({"noise": -0.1}, ValueError, "noise must be >= 0.0"),
        ({"n_shapes": (3, 1)}, ValueError, r"min <= max"),
        ({"n_shapes": (0, 0)}, ValueError, "at least one shape"),
        ({"n_shapes": (1, 2, 3)}, ValueError, "a pair"),
        ({"n_shapes": None}, ValueError, r"a number or a pair \(min, max\), got None"),
        ({"kinds": ("circle", "hexagon")}, ValueError, "kinds must be one of .*'hexagon'"),
        ({"kinds": ("circle", "circle")}, ValueError, "distinct"),
        ({"radius": (0.0, 0.2)}, ValueError, "radius must be > 0.0"),
        ({"radius": 0.6}, ValueError, r"max <= 0.5"),
        ({"dtype": "int32"}, ValueError, "float32 or float64"),
    ],
)
def test_make_shapes_errors(kwargs, error, match):
    kwargs = {"n_samples": 2, **kwargs}
    with pytest.raises(error, match=match):
        make_shapes(**kwargs)
