"""SVHN (cropped digits, format 2): ``train_32x32.mat`` and ``test_32x32.mat``.

Not shippable (about 250 MB, non-commercial terms), so it is downloaded from
the official site and verified against the registry's sha256.
"""

import numpy as np
import scipy.io

from helpers.data.arrays import data_source, load_arrays
from helpers.data.registry import DatasetUnavailable, ensure_file

SPLITS = {"train": "train_32x32.mat", "test": "test_32x32.mat"}


def read_svhn_mat(path):
    """Read one SVHN ``.mat`` file.

    The file stores ``X`` as ``(32, 32, 3, n)`` uint8 and ``y`` as ``(n, 1)``
    with the digit 0 written as label 10.

    Returns:
        ``(x, y)``: uint8 ``(n, 32, 32, 3)`` images and int64 labels 0..9.
    """
    try:
        mat = scipy.io.loadmat(path)
    except (ValueError, OSError) as err:
        raise DatasetUnavailable(f"{path} is not a readable SVHN .mat file ({err}).") from None
    if "X" not in mat or "y" not in mat:
        raise DatasetUnavailable(f"{path} lacks the SVHN variables X and y; found {sorted(mat)}.")
    x = np.ascontiguousarray(np.transpose(mat["X"], (3, 0, 1, 2))).astype(np.uint8)
    y = mat["y"].reshape(-1).astype(np.int64)
    y[y == 10] = 0
    if x.shape[1:] != (32, 32, 3) or len(x) != len(y):
        raise DatasetUnavailable(f"{path}: X {mat['X'].shape} and y {mat['y'].shape} are not SVHN's layout.")
    return x, y


def load_svhn(download=True, verify=True, source=None, arrays=None):
    """Load SVHN's cropped digits: the official files (downloaded on first use) or the verified array copy.

    Args:
        download: fetch missing files from the official site (needs internet).
        verify: check each file's sha256 against the registry.
        source: ``"official"``, ``"arrays"`` or ``None`` (the official files when they are on
            this machine, else the array copy when configured, else the official files,
            downloaded); see :func:`helpers.data.cifar10.load_cifar10`.
        arrays: folder of the array copies (default ``$COURSE_DATA_ARRAYS``).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 ``(n, 32, 32, 3)``
        images (73,257 train, 26,032 test) and int64 labels 0..9. The array copy holds
        only the first 1,083 training images and **no test images** (``x_test`` is empty):
        split it yourself (:func:`helpers.data.prepare.stratified_split`).

    Raises:
        DatasetUnavailable: files missing and not downloadable; the message
            names the files, where to put them and the command that fetches them.
        ChecksumError: a file is corrupt.
    """
    if data_source("svhn", source, arrays) == "arrays":
        x, y = load_arrays("svhn", arrays)["train"]
        return (x, y), (np.zeros((0,) + x.shape[1:], np.uint8), np.zeros(0, np.int64))
    paths = {split: ensure_file("svhn", name, download, verify) for split, name in SPLITS.items()}
    return read_svhn_mat(paths["train"]), read_svhn_mat(paths["test"])
