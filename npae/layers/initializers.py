"""Weight initializers, chosen by the activation that follows the layer.

Glorot (Xavier) keeps the variance of activations and gradients equal across
a layer for symmetric, saturating activations (tanh, sigmoid, identity):
``W ~ U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``. He (Kaiming) doubles
the variance to make up for the half of the inputs a ReLU zeroes:
``W ~ N(0, 2 / fan_in)``.
"""

import numpy as np

INITIALIZERS = ("glorot_uniform", "he_normal", "zeros")


def init_for(activation):
    """Name of the initializer that suits ``activation`` (a name or None)."""
    name = (activation or "identity").lower()
    return "he_normal" if name in ("relu", "leakyrelu", "leaky_relu") else "glorot_uniform"


def initialize(name, shape, fan_in, fan_out, rng, dtype):
    """An array of ``shape`` drawn by initializer ``name`` from ``rng``."""
    if name == "glorot_uniform":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, size=shape)
    elif name == "he_normal":
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
    elif name == "zeros":
        w = np.zeros(shape)
    else:
        raise ValueError(f"init must be one of {INITIALIZERS}, got {name!r}")
    return w.astype(dtype)
