"""npae: autoencoders in pure NumPy with hand-written backpropagation.

Every layer has an explicit forward and backward pass, every gradient is
checked numerically, and the estimators follow scikit-learn's conventions.
"""

__version__ = "0.1.0"

from npae import (
    datasets,
    exercises,
    gradcheck,
    layers,
    losses,
    metrics,
    noise,
    optim,
    plot,
    reproduce,
)
from npae.backend import BACKENDS, get_backend, set_backend, use_backend
from npae.decomposition import PCA
from npae.io import load, save
from npae.metrics import iou_score
from npae.models import (
    VAE,
    Autoencoder,
    ConditionalVAE,
    ContractiveAutoencoder,
    ConvAutoencoder,
    DenoisingAutoencoder,
    GradientNormLogger,
    LinearAutoencoder,
    SparseAutoencoder,
    StackedAutoencoder,
    UNet,
)
from npae.streaming import ScaledArray

__all__ = [
    "BACKENDS",
    "get_backend",
    "set_backend",
    "use_backend",
    "datasets",
    "exercises",
    "gradcheck",
    "layers",
    "losses",
    "metrics",
    "noise",
    "optim",
    "plot",
    "reproduce",
    "Autoencoder",
    "ConditionalVAE",
    "ContractiveAutoencoder",
    "ConvAutoencoder",
    "DenoisingAutoencoder",
    "GradientNormLogger",
    "LinearAutoencoder",
    "PCA",
    "ScaledArray",
    "SparseAutoencoder",
    "StackedAutoencoder",
    "UNet",
    "VAE",
    "__version__",
    "load",
    "iou_score",
    "save",
]
