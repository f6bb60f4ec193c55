"""Data sets of the course: MNIST (shipped), the synthetic Line data, SVHN and CIFAR-10.

Public API:

- :func:`load_mnist` -- the original 60k/10k split, uint8, from ``data/mnist.npz``.
- :func:`make_lines` -- the 96-class Line data, generated in code, with pixel masks.
- :func:`load_svhn`, :func:`load_cifar10` -- real loaders that download and verify.
- :class:`DatasetUnavailable`, :class:`ChecksumError` -- the errors they raise.
- :func:`title` -- the name to print on figures (says "TEST FIXTURE" for fixtures).
"""

from helpers.data.cifar10 import CIFAR10_CLASSES, load_cifar10
from helpers.data.lines import LineData, make_lines
from helpers.data.mnist import load_mnist
from helpers.data.registry import ChecksumError, DatasetError, DatasetUnavailable, is_fixture, load_registry, title
from helpers.data.svhn import load_svhn

__all__ = [
    "CIFAR10_CLASSES",
    "ChecksumError",
    "DatasetError",
    "DatasetUnavailable",
    "LineData",
    "load_cifar10",
    "load_mnist",
    "load_svhn",
    "make_lines",
    "load_registry",
    "is_fixture",
    "title",
]
