"""Verified array copies of SVHN and CIFAR-10, for machines that cannot download the official files.

A folder named by ``$COURSE_DATA_ARRAYS`` (for example ``../shared/data`` beside the
repository) may hold ``.npz`` copies with arrays ``x`` (uint8 ``(n, 32, 32, 3)``) and
``y`` (int64 labels 0..9). Before use, the sha256 of their **content** is checked
against ``data/registry.json`` (the raw C-order bytes of ``x``, and of ``y`` as
little-endian int64: independent of how the ``.npz`` was compressed); a tampered or
truncated copy raises :class:`ChecksumError` naming the file. The copies are never
committed to the course repository.
"""

import hashlib
import os
import pathlib
import zipfile

import numpy as np

from helpers.data.registry import ChecksumError, DatasetUnavailable, download_dir, ensure_file, entry, shown

ARRAYS_ENV = "COURSE_DATA_ARRAYS"


def arrays_dir(directory=None):
    """The folder of array copies: ``directory``, else ``$COURSE_DATA_ARRAYS``, else ``None``."""
    chosen = directory if directory is not None else os.environ.get(ARRAYS_ENV)
    return pathlib.Path(chosen) if chosen else None


def has_arrays(name, directory=None):
    """True when every array file of data set ``name`` is present in the arrays folder."""
    folder = arrays_dir(directory)
    records = entry(name).get("arrays", {}).get("files", [])
    return bool(folder and records and all((folder / r["name"]).is_file() for r in records))


def content_sha256(array, dtype):
    """sha256 of an array's raw C-order bytes after conversion to ``dtype``."""
    return hashlib.sha256(np.ascontiguousarray(np.asarray(array).astype(dtype, copy=False)).tobytes()).hexdigest()


def _read(path, record):
    try:
        with np.load(path, allow_pickle=False) as stored:
            if "x" not in stored.files or "y" not in stored.files:
                raise DatasetUnavailable(f"{shown(path)} lacks the arrays x and y; found {stored.files}")
            return stored["x"], stored["y"]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ChecksumError(f"{shown(path)} is not a readable .npz file ({type(err).__name__}: {err}); it is "
                            "truncated or not the recorded copy: copy it again from its source") from None


def load_arrays(name, directory=None):
    """Every split of data set ``name`` from its verified array copies.

    Returns:
        dict split -> ``(x, y)``: uint8 ``(n, 32, 32, 3)`` images and int64 labels.

    Raises:
        DatasetUnavailable: no arrays folder is set, or a file is missing (the message names both
            remedies: the folder variable and ``make data``).
        ChecksumError: a file's content does not match the registry (named, with both hashes).
    """
    folder = arrays_dir(directory)
    records = entry(name).get("arrays", {}).get("files", [])
    if folder is None or not records:
        raise DatasetUnavailable(f"no array copy of {name} is configured: set {ARRAYS_ENV} to a folder holding "
                                 f"{', '.join(r['name'] for r in records) or 'the copies'}, or run `make data`")
    splits = {}
    for record in records:
        path = folder / record["name"]
        if not path.is_file():
            raise DatasetUnavailable(f"{shown(path)} is missing (named by {ARRAYS_ENV}); copy it there, or unset "
                                     f"{ARRAYS_ENV} and run `make data` for the official files")
        x, y = _read(path, record)
        if x.dtype != np.uint8 or list(x.shape) != record["x_shape"] or y.shape != (len(x),):
            raise ChecksumError(f"{shown(path)} holds x {x.dtype} {x.shape} and y {y.shape}; the registry records "
                                f"uint8 {tuple(record['x_shape'])} and one label per image")
        for what, array, dtype in (("x", x, np.uint8), ("y", y, "<i8")):
            actual = content_sha256(array, dtype)
            if actual != record[f"{what}_sha256"]:
                raise ChecksumError(f"{shown(path)}: the content of {what} has sha256 {actual}, expected "
                                    f"{record[what + '_sha256']}; the copy was changed: copy it again from its source")
        splits[record["split"]] = (x, y.astype(np.int64))
    return splits


def data_source(name, source=None, directory=None):
    """Which copy of data set ``name`` a loader reads: ``"official"`` or ``"arrays"``.

    ``None`` picks the official files when all of them are on this machine, else the array
    copy when the arrays folder holds it, else ``"official"`` (which downloads).
    """
    if source not in (None, "official", "arrays"):
        raise ValueError(f"source must be 'official', 'arrays' or None; got {source!r}")
    if source is not None:
        return source
    if all((download_dir(name) / r["name"]).is_file() for r in entry(name)["files"]):
        return "official"
    return "arrays" if has_arrays(name, directory) else "official"


def ensure_available(name, download=True):
    """Check that data set ``name`` can be loaded here: its array copy verified when the loaders
    would read it (:func:`data_source`), else its official files verified (fetched when ``download``).

    Raises:
        DatasetError: the copy or a file is missing, not downloadable or corrupt (the message names it).
    """
    if data_source(name) == "arrays":
        load_arrays(name)
        return
    for record in entry(name)["files"]:
        ensure_file(name, record["name"], download=download)
