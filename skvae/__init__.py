"""skvae: variational autoencoders for scikit-learn users."""

from ._imputer import VAEImputer
from ._net import TrainingDivergedError
from ._outlier import VAEOutlierDetector
from ._persistence import load, save
from ._transformer import VAETransformer

__all__ = [
    "TrainingDivergedError",
    "VAEImputer",
    "VAEOutlierDetector",
    "VAETransformer",
    "load",
    "save",
]
__version__ = "0.1.0"
