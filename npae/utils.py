"""Small shared helpers: seeded generators."""

import numbers

import numpy as np


def as_generator(seed):
    """Return a ``numpy.random.Generator`` for ``seed``.

    ``None`` gives a fresh unseeded generator, an int a seeded one, and a
    generator is returned as it is (so callers can share one stream).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)):
        if seed is not None and seed < 0:
            raise ValueError(f"random_state must be a non-negative int, got {seed}")
        return np.random.default_rng(seed)
    if isinstance(seed, np.random.RandomState):
        return np.random.default_rng(seed.randint(0, 2**31 - 1))
    raise TypeError(
        "random_state must be None, an int or a numpy.random.Generator, "
        f"got {type(seed).__name__}"
    )
