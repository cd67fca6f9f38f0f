"""as_generator: one way to turn any random_state into a numpy Generator."""

import numpy as np
import pytest

from npae.utils import as_generator


def test_int_seed_is_reproducible():
    assert as_generator(3).random() == as_generator(3).random()
    assert as_generator(3).random() != as_generator(4).random()
    assert as_generator(np.int64(3)).random() == as_generator(3).random()


def test_generator_is_returned_as_is_so_callers_share_one_stream():
    gen = np.random.default_rng(0)
    assert as_generator(gen) is gen


def test_none_gives_a_fresh_unseeded_generator():
    a, b = as_generator(None), as_generator(None)
    assert isinstance(a, np.random.Generator) and a is not b
    assert a.random() != b.random()


def test_random_state_is_converted_deterministically():
    a = as_generator(np.random.RandomState(1)).random()
    b = as_generator(np.random.RandomState(1)).random()
    assert a == b


@pytest.mark.parametrize("seed, error, message", [
    (-1, ValueError, "random_state must be a non-negative int, got -1"),
    ("0", TypeError, "random_state must be None, an int >= 0 or a numpy.random.Generator, "
                     "got str '0'"),
    (1.5, TypeError, "random_state must be None, .* got float 1.5"),
    (True, TypeError, "random_state must be None, .* got bool True"),
])
def test_bad_seed(seed, error, message):
    with pytest.raises(error, match=message):
        as_generator(seed)
    with pytest.raises(error, match=f"^Autoencoder: {message}"):
        as_generator(seed, "Autoencoder")
