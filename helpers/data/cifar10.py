"""CIFAR-10, python version: ``cifar-10-python.tar.gz`` read in place.

Downloaded from the official site and verified against the registry's sha256;
the batches are read straight from the archive, nothing is extracted.
"""

import pickle
import tarfile

import numpy as np

from helpers.data.arrays import data_source, load_arrays
from helpers.data.registry import DatasetUnavailable, ensure_file

ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, bytes and numpy arrays only: a tampered file cannot run code."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR-10 batch holds only arrays")


def _read_batch(archive, member, path):
    try:
        handle = archive.extractfile(f"{FOLDER}/{member}")
    except KeyError:
        raise DatasetUnavailable(f"{path} has no member {FOLDER}/{member}: not the CIFAR-10 python archive.") from None
    try:
        batch = _ArrayUnpickler(handle, encoding="bytes").load()
    except pickle.UnpicklingError as err:
        raise DatasetUnavailable(f"{path}: member {member} is not a CIFAR-10 batch ({err}). Delete it and fetch "
                                 "it again with `python -m helpers.data.fetch cifar10`.") from None
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(x), np.asarray(batch[b"labels"], dtype=np.int64)


def read_cifar10_archive(path):
    """Read the five training batches and the test batch from the archive.

    Each batch is a pickled dict with ``b"data"`` (``(n, 3072)`` uint8, the
    red, green and blue planes one after the other) and ``b"labels"``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 ``(n, 32, 32, 3)``, int64 labels.
    """
    try:
        with tarfile.open(path, "r:gz") as archive:
            train = [_read_batch(archive, m, path) for m in TRAIN_BATCHES]
            test = _read_batch(archive, TEST_BATCH, path)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DatasetUnavailable(f"{path} is not a readable tar.gz archive ({err}).") from None
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return (x_train, y_train), test


def load_cifar10(download=True, verify=True, source=None, arrays=None):
    """Load CIFAR-10: the official archive (downloaded on first use) or a verified array copy.

    Args:
        download: fetch the archive from the official site when missing (needs internet).
        verify: check the archive's sha256 against the registry. Without the check the
            batches are still read with an unpickler that accepts only arrays, so a
            tampered archive cannot execute code; it is refused instead.
        source: ``"official"``, ``"arrays"`` (:mod:`helpers.data.arrays`, content sha256
            always checked) or ``None``: the official archive when it is on this machine,
            else the array copy when ``arrays`` / ``$COURSE_DATA_ARRAYS`` holds one, else
            the official archive (downloaded).
        arrays: folder of the array copies (default ``$COURSE_DATA_ARRAYS``).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 ``(50000, 32, 32, 3)`` and
        ``(10000, 32, 32, 3)`` images, int64 labels 0..9 (names in ``CIFAR10_CLASSES``).

    Raises:
        DatasetUnavailable: archive missing and not downloadable; the message
            says where to place it and which command fetches it.
        ChecksumError: the archive is corrupt.
    """
    if data_source("cifar10", source, arrays) == "arrays":
        splits = load_arrays("cifar10", arrays)
        return splits["train"], splits["test"]
    return read_cifar10_archive(ensure_file("cifar10", ARCHIVE, download, verify))
