"""skvae: variational autoencoders for scikit-learn users."""

from ._net import TrainingDivergedError
from ._outlier import VAEOutlierDetector
from ._transformer import VAETransformer

__all__ = ["TrainingDivergedError", "VAEOutlierDetector", "VAETransformer"]
__version__ = "0.1.0"
