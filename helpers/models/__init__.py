"""The model zoo: every architecture of the sources by name, built and trained on demand.

- :func:`available` -- the architecture names.
- :func:`build` -- a compiled Keras 3 functional model.
- :func:`trained` -- a trained model from the cache, training it once if needed.
"""

from helpers.models.catalog import ARCHITECTURES, available, build, describe
from helpers.models.training import TrainingRecord, cache_dir, trained

__all__ = ["ARCHITECTURES", "TrainingRecord", "available", "build", "cache_dir", "describe", "trained"]
