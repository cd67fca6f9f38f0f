"""The estimators: every autoencoder npae offers, the U-Net, and the bases they share."""

from npae.metrics import iou_score
from npae.models.autoencoder import Autoencoder
from npae.models.base import BaseAutoencoder, TrainedEstimator
from npae.models.conditional import ConditionalVAE
from npae.models.contractive import ContractiveAutoencoder
from npae.models.conv import ConvAutoencoder
from npae.models.denoising import DenoisingAutoencoder
from npae.models.linear import LinearAutoencoder
from npae.models.sparse import SparseAutoencoder
from npae.models.stacked import GradientNormLogger, StackedAutoencoder
from npae.models.unet import UNet
from npae.models.vae import VAE

__all__ = [
    "Autoencoder", "BaseAutoencoder", "ConditionalVAE", "ContractiveAutoencoder",
    "DenoisingAutoencoder",
    "GradientNormLogger", "LinearAutoencoder", "SparseAutoencoder", "StackedAutoencoder", "VAE",
    "ConvAutoencoder", "TrainedEstimator", "UNet", "iou_score",
]
