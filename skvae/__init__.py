"""skvae: variational autoencoders for scikit-learn users."""

from ._imputer import VAEImputer
from ._outlier import VAEOutlierDetector
from ._persistence import SKOPS_TRUSTED, load, save
from ._transformer import VAETransformer
from .exceptions import InvalidModelFile, TrainingDivergedError

__all__ = [
    "SKOPS_TRUSTED",
    "InvalidModelFile",
    "TrainingDivergedError",
    "VAEImputer",
    "VAEOutlierDetector",
    "VAETransformer",
    "load",
    "save",
]
__version__ = "0.1.0"
