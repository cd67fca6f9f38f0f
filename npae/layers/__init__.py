"""npae layers: each with an explicit forward and backward pass."""

from npae.layers.activations import (
    ACTIVATIONS,
    Activation,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softplus,
    Tanh,
    get_activation,
)
from npae.layers.base import LAYER_REGISTRY, Layer
from npae.layers.dense import Dense
from npae.layers.initializers import init_for
from npae.layers.shape import Flatten, Reshape

__all__ = [
    "ACTIVATIONS", "Activation", "Dense", "Flatten", "Identity", "LAYER_REGISTRY",
    "Layer", "LeakyReLU", "ReLU", "Reshape", "Sigmoid", "Softplus", "Tanh",
    "get_activation", "init_for",
]
