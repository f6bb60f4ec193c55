"""Arrays ready for training: scaled to [0, 1], a channel axis, a validation split.

``training_data(name)`` is what :func:`helpers.models.trained` feeds to
``model.fit``; its ``fingerprint`` names exactly which data went in, so the
model cache can tell two data sets apart.
"""

from dataclasses import dataclass, field

import numpy as np

from helpers.data.cifar10 import load_cifar10
from helpers.data.lines import make_lines
from helpers.data.mnist import load_mnist
from helpers.data.registry import entry
from helpers.data.svhn import load_svhn

DATASETS = ("mnist", "lines", "lines_heads", "svhn", "cifar10")
#: Sizes and seeds of the Line splits (three disjoint generator seeds).
LINE_SPLITS = {"train": (24000, 100), "validation": (2400, 101), "test": (4800, 102)}


@dataclass
class TrainingData:
    """Train, validation and test arrays of one data set.

    ``y_*`` are integer arrays, or for ``lines_heads`` dicts head -> labels.
    """

    x_train: np.ndarray
    y_train: object
    x_val: np.ndarray
    y_val: object
    x_test: np.ndarray
    y_test: object
    fingerprint: dict = field(default_factory=dict)


def _scale(images):
    images = images.astype(np.float32) / 255.0
    return images[..., None] if images.ndim == 3 else images


def _split(x, y, validation_size):
    if not 0 < validation_size < len(x):
        raise ValueError(f"validation_size must be in 1..{len(x) - 1}, got {validation_size}")
    return x[:-validation_size], y[:-validation_size], x[-validation_size:], y[-validation_size:]


def training_data(name, train_size=None, validation_size=5000):
    """Load data set ``name`` for training.

    Args:
        name: one of ``DATASETS``. ``lines`` has the 96-class label; ``lines_heads``
            the four factor labels for the multi-output models.
        train_size: keep only the first ``train_size`` training images (quick runs).
        validation_size: the last images of the training set held out for validation
            (MNIST, SVHN, CIFAR-10; the Line data has its own validation seed).

    Returns:
        :class:`TrainingData` with float32 images in [0, 1].
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if name.startswith("lines"):
        splits = {k: make_lines(n, seed=s) for k, (n, s) in LINE_SPLITS.items()}

        def labels(d):
            return d.factor_labels() if name == "lines_heads" else d.labels

        data = TrainingData(*(a for k in ("train", "validation", "test")
                              for a in (splits[k].images, labels(splits[k]))),
                            fingerprint={"generator": "make_lines", "splits": LINE_SPLITS})
    else:
        loader = {"mnist": load_mnist, "svhn": load_svhn, "cifar10": load_cifar10}[name]
        (x, y), (x_test, y_test) = loader()
        x_train, y_train, x_val, y_val = _split(_scale(x), y, validation_size)
        data = TrainingData(x_train, y_train, x_val, y_val, _scale(x_test), y_test,
                            fingerprint={"sha256": [f["sha256"] for f in entry(name)["files"]],
                                         "validation_size": validation_size})
    if train_size is not None:
        if not 1 <= train_size <= len(data.x_train):
            raise ValueError(f"train_size must be in 1..{len(data.x_train)}, got {train_size}")
        data.x_train = data.x_train[:train_size]
        data.y_train = ({k: v[:train_size] for k, v in data.y_train.items()}
                        if isinstance(data.y_train, dict) else data.y_train[:train_size])
    data.fingerprint = {"name": name, "train_size": len(data.x_train), **data.fingerprint}
    return data
