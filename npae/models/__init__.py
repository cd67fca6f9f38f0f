"""The estimators: every autoencoder npae offers."""

from npae.models.autoencoder import Autoencoder
from npae.models.base import BaseAutoencoder
from npae.models.linear import LinearAutoencoder
from npae.models.vae import VAE

__all__ = ["Autoencoder", "BaseAutoencoder", "LinearAutoencoder", "VAE"]
