"""SVHN (cropped digits, format 2): ``train_32x32.mat`` and ``test_32x32.mat``.

Not shippable (about 250 MB, non-commercial terms), so it is downloaded from
the official site and verified against the registry's sha256.
"""

import numpy as np
import scipy.io

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


def load_svhn(download=True, verify=True):
    """Load SVHN's cropped digits, downloading them on first use.

    Args:
        download: fetch missing files from the official site (needs internet).
        verify: check each file's sha256 against the registry.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 ``(n, 32, 32, 3)``
        images (73,257 train, 26,032 test) and int64 labels 0..9.

    Raises:
        DatasetUnavailable: files missing and not downloadable; the message
            names the files, where to put them and the command that fetches them.
        ChecksumError: a file is corrupt.
    """
    paths = {split: ensure_file("svhn", name, download, verify) for split, name in SPLITS.items()}
    return read_svhn_mat(paths["train"]), read_svhn_mat(paths["test"])
