"""Fixtures shared by the dataset tests."""

import pytest
from fake_mnist import make_mnist_like


@pytest.fixture
def mnist_like(rng):
    """See ``fake_mnist.make_mnist_like``."""
    return make_mnist_like(rng)
