"""Arrays ready for training: scaled to [0, 1], a channel axis, a validation split.

``training_data(name)`` is what :func:`helpers.models.trained` feeds to
``model.fit``; its ``fingerprint`` names exactly which data went in, so the
model cache can tell two data sets apart.
"""

from dataclasses import dataclass, field

import numpy as np

from helpers.data.arrays import data_source
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


def stratified_split(labels, validation, test, seed=0):
    """Indices of a fixed, stratified train/validation/test split of ``labels``.

    Each class is shuffled with ``seed`` and cut in the proportions ``validation`` and
    ``test`` (fractions, rounded per class), so every split keeps the class frequencies.

    Returns:
        ``(train, validation, test)`` sorted index arrays.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts = ([], [], [])
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_test, n_val = int(round(test * len(members))), int(round(validation * len(members)))
        parts[2].append(members[:n_test])
        parts[1].append(members[n_test:n_test + n_val])
        parts[0].append(members[n_test + n_val:])
    return tuple(np.sort(np.concatenate(p)) for p in parts)


#: The split inside the 1,083-image SVHN array copy (it has no test images of its own).
SVHN_SUBSET_SPLIT = {"validation": 0.1, "test": 0.2, "seed": 0}


def training_data(name, train_size=None, validation_size=5000, source=None):
    """Load data set ``name`` for training.

    Args:
        name: one of ``DATASETS``. ``lines`` has the 96-class label; ``lines_heads``
            the four factor labels for the multi-output models.
        train_size: keep only the first ``train_size`` training images (quick runs).
        validation_size: the last images of the training set held out for validation
            (MNIST, SVHN, CIFAR-10; the Line data has its own validation seed).
        source: for SVHN and CIFAR-10, ``"official"``, ``"arrays"`` or ``None`` (see
            :func:`helpers.data.arrays.data_source`). The SVHN array copy (1,083 images, no
            test split) is split by :data:`SVHN_SUBSET_SPLIT` instead of ``validation_size``.

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
    elif name != "mnist" and data_source(name, source) == "arrays":
        (x, y), (x_test, y_test) = {"svhn": load_svhn, "cifar10": load_cifar10}[name](source="arrays")
        content = [[r["x_sha256"], r["y_sha256"]] for r in entry(name)["arrays"]["files"]]
        if name == "svhn":
            train, val, test = stratified_split(y, SVHN_SUBSET_SPLIT["validation"], SVHN_SUBSET_SPLIT["test"],
                                                SVHN_SUBSET_SPLIT["seed"])
            data = TrainingData(_scale(x[train]), y[train], _scale(x[val]), y[val], _scale(x[test]), y[test],
                                fingerprint={"content_sha256": content, "split": SVHN_SUBSET_SPLIT})
        else:
            x_train, y_train, x_val, y_val = _split(_scale(x), y, validation_size)
            data = TrainingData(x_train, y_train, x_val, y_val, _scale(x_test), y_test,
                                fingerprint={"content_sha256": content, "validation_size": validation_size})
    else:
        loader = {"mnist": load_mnist, "svhn": load_svhn, "cifar10": load_cifar10}[name]
        (x, y), (x_test, y_test) = loader() if name == "mnist" else loader(source="official")
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
