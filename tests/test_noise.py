import doctest

import numpy as np
import pytest

import npae.noise
from npae.noise import NOISES, corrupt, gaussian, masking, salt_and_pepper

N = 200_000  # entries for statistical checks: binomial sd <= 0.0012


def five_sigma(p, n=N):
    return 5 * np.sqrt(p * (1 - p) / n)


@pytest.fixture
def x(rng):
    """Strictly positive data, so any zero or replaced entry is a change."""
    return rng.uniform(0.2, 0.8, size=(400, 500))


def test_docstring_examples_run():
    assert doctest.testmod(npae.noise).failed == 0


@pytest.mark.parametrize("kind", NOISES)
def test_input_is_not_modified(kind, x):
    before = x.copy()
    out = corrupt(x, kind, 0.3, random_state=0)
    np.testing.assert_array_equal(x, before)
    assert out is not x and not np.shares_memory(out, x)


@pytest.mark.parametrize("kind", NOISES)
def test_same_seed_same_noise_and_generator_advances(kind, x):
    a = corrupt(x, kind, 0.3, random_state=7)
    b = corrupt(x, kind, 0.3, random_state=7)
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(7)
    first = corrupt(x, kind, 0.3, random_state=rng)
    second = corrupt(x, kind, 0.3, random_state=rng)
    np.testing.assert_array_equal(first, a)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("kind", NOISES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_and_shape_preserved(kind, dtype, rng):
    x = rng.uniform(size=(3, 1, 5, 4)).astype(dtype)
    out = corrupt(x, kind, 0.5, random_state=0)
    assert out.dtype == dtype
    assert out.shape == x.shape


@pytest.mark.parametrize("kind", NOISES)
def test_integer_and_list_input_become_float64(kind):
    assert corrupt(np.arange(6).reshape(2, 3), kind, 0.5, random_state=0).dtype == np.float64
    assert corrupt([[1, 2], [3, 4]], kind, 0.5, random_state=0).dtype == np.float64


@pytest.mark.parametrize("kind", NOISES)
def test_level_zero_is_identity(kind, x):
    np.testing.assert_array_equal(corrupt(x, kind, 0.0, random_state=0), x)


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.9])
def test_masking_zeroes_the_requested_fraction(fraction, rng):
    x = rng.uniform(0.2, 0.8, size=N)
    out = masking(x, fraction, random_state=1)
    zeroed = out == 0
    assert abs(zeroed.mean() - fraction) < five_sigma(fraction)
    np.testing.assert_array_equal(out[~zeroed], x[~zeroed])


def test_masking_one_zeroes_everything(x):
    assert not masking(x, 1.0, random_state=0).any()


@pytest.mark.parametrize("fraction", [0.1, 0.5])
def test_salt_and_pepper_fraction_and_balance(fraction):
    x = np.full(N, 0.5)
    out = salt_and_pepper(x, fraction, random_state=2, low=-1.0, high=3.0)
    changed = out != 0.5
    assert abs(changed.mean() - fraction) < five_sigma(fraction)
    assert set(np.unique(out[changed])) == {-1.0, 3.0}
    salt_share = (out[changed] == 3.0).mean()
    assert abs(salt_share - 0.5) < five_sigma(0.5, changed.sum())


def test_gaussian_moments(rng):
    x = rng.uniform(size=N)
    eps = gaussian(x, 0.25, random_state=3) - x
    assert abs(eps.mean()) < 5 * 0.25 / np.sqrt(N)
    assert abs(eps.std() - 0.25) < 0.01 * 0.25


def test_gaussian_float32_noise_has_float32_scale():
    out = gaussian(np.zeros(N, dtype=np.float32), 2.0, random_state=0)
    assert out.dtype == np.float32
    assert abs(out.std() - 2.0) < 0.02


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda x: gaussian(x, -0.1), ValueError, "std must be >= 0.0, got -0.1"),
        (lambda x: gaussian(x, float("nan")), ValueError, "std must be finite"),
        (lambda x: gaussian(x, "0.1"), TypeError, "std must be a number"),
        (lambda x: masking(x, 1.5), ValueError, "fraction must be <= 1.0, got 1.5"),
        (lambda x: masking(x, -0.5), ValueError, "fraction must be >= 0.0"),
        (lambda x: salt_and_pepper(x, 2), ValueError, "fraction must be <= 1.0"),
        (lambda x: salt_and_pepper(x, 0.1, low=None), TypeError, "low must be a number"),
        (lambda x: corrupt(x, "dropout", 0.1), ValueError, "kind must be one of"),
        (lambda x: masking(x, 0.1, random_state="seed"), TypeError, "random_state"),
        (lambda x: masking(np.array(["a"]), 0.1), TypeError, "real numeric array, got dtype <U1"),
    ],
)
def test_errors_name_expected_and_received(call, error, match, x):
    with pytest.raises(error, match=match):
        call(x)
