"""The estimators: every autoencoder npae offers."""

from npae.models.autoencoder import Autoencoder
from npae.models.base import BaseAutoencoder

__all__ = ["Autoencoder", "BaseAutoencoder"]
