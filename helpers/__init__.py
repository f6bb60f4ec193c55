"""Helpers for the course *Seeing inside convolutional networks*.

Each concept of the course lives in one module:

- :mod:`helpers.runtime` -- ``setup(seed)``: logging, seeds, determinism, plot style.
- :mod:`helpers.data` -- MNIST (shipped), the synthetic Line data, SVHN and CIFAR-10 loaders.
- :mod:`helpers.gallery` -- image grids used to look at data sets.
- :mod:`helpers.render` -- ``python -m helpers.render``: execute the course with papermill.

Importing :mod:`helpers` does not import TensorFlow, so that :func:`setup` can
silence TensorFlow's logging before TensorFlow starts.
"""

from helpers.runtime import setup

__all__ = ["setup"]
__version__ = "0.1.0"
