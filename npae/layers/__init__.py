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
from npae.layers.base import Layer
from npae.layers.conv import Conv2D, ConvTranspose2D
from npae.layers.crop import Concat, Crop2D, center_crop
from npae.layers.dense import Dense, TiedDense
from npae.layers.initializers import init_for
from npae.layers.pool import AvgPool2D, MaxPool2D
from npae.layers.shape import Flatten, Reshape
from npae.layers.upsample import Upsample2D

__all__ = [
    "ACTIVATIONS", "Activation", "Dense", "Flatten", "Identity",
    "Layer", "LeakyReLU", "ReLU", "Reshape", "Sigmoid", "Softplus", "Tanh", "TiedDense",
    "get_activation", "init_for",
    "AvgPool2D", "Concat", "Conv2D", "ConvTranspose2D", "Crop2D", "MaxPool2D", "Upsample2D",
    "center_crop",
]
