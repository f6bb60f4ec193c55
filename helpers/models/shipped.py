"""Trained weights shipped with the course, verified by sha256, loaded before any local training.

Every network that chapters 02-07 explain was trained once by the course's own code
(:func:`helpers.models.trained`) with the chapter's parameters; its weights (no optimizer
state), training history and record are committed under ``data/weights/<name>-<key>/`` and
``data/weights/registry.json`` lists the sha256 of every file. ``<key>`` is the model cache
key (architecture, options, data fingerprint, epochs, batch size, seed, library versions,
builder and recipe source), so a shipped entry is used only for exactly the training it came
from; any change to these trains anew. Training on another CPU type gives other weights, so
loading these is what makes the chapters show every reader the same networks.

:func:`helpers.models.trained` looks here before this machine's cache (unless called with
``shipped=False``, as chapter 01 does to train in the open): the files are verified (a
changed or missing file raises :class:`ChecksumError` naming it and the fix), the
architecture is built and the weights loaded. ``COURSE_RETRAIN=1`` (``make render
ARGS="--retrain"``) ignores the shipped weights and trains; ``python -m helpers.models.shipped
NAME...`` copies the newest cache entry of each name here (refreshing the shipped weights
after a retrain; ``NAME-KEY`` ships that exact entry, e.g. a second training seed).
"""

import argparse
import hashlib
import json
import os
import pathlib
import shutil
import sys

from helpers.data.registry import REPO_ROOT, ChecksumError, shown

WEIGHTS_DIR = REPO_ROOT / "data" / "weights"
REGISTRY = WEIGHTS_DIR / "registry.json"
RETRAIN_ENV = "COURSE_RETRAIN"
FILES = ("model.weights.h5", "history.json", "meta.json")


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def registry():
    """``{"<name>-<key>": {file: sha256}}`` of the shipped entries (empty when none)."""
    return json.loads(REGISTRY.read_text())["entries"] if REGISTRY.is_file() else {}


def retraining():
    """True when ``$COURSE_RETRAIN`` asks to ignore the shipped weights."""
    return os.environ.get(RETRAIN_ENV, "") not in ("", "0")


def find(entry):
    """The verified folder of shipped entry ``<name>-<key>``, or None when nothing is shipped for it.

    Raises:
        ChecksumError: a shipped file is missing or differs from its recorded sha256.
    """
    recorded = registry().get(entry)
    if recorded is None or retraining():
        return None
    folder = WEIGHTS_DIR / entry
    for name, expected in recorded.items():
        path = folder / name
        if not path.is_file():
            raise ChecksumError(f"shipped weights {shown(path)} are missing; restore them with "
                                f"`git checkout -- {shown(path)}` or retrain (COURSE_RETRAIN=1)")
        actual = _sha256(path)
        if actual != expected:
            raise ChecksumError(f"shipped weights {shown(path)} have sha256 {actual}, expected "
                                f"{expected}: restore them with git, or retrain (COURSE_RETRAIN=1)")
    return folder


def ship(cache_entry):
    """Copy a cache entry's weights, history and record here and record their sha256; return the folder."""
    import keras

    cache_entry = pathlib.Path(cache_entry)
    if not (cache_entry / "meta.json").is_file():
        raise FileNotFoundError(f"{cache_entry} is not a trained-model cache entry (no meta.json)")
    target = WEIGHTS_DIR / cache_entry.name
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    keras.saving.load_model(cache_entry / "model.keras", compile=False).save_weights(tmp / "model.weights.h5")  # no optimizer state
    for name in ("history.json", "meta.json"):
        shutil.copy2(cache_entry / name, tmp / name)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    entries = registry()
    entries[cache_entry.name] = {name: _sha256(target / name) for name in FILES}
    REGISTRY.write_text(json.dumps({"entries": dict(sorted(entries.items()))}, indent=1) + "\n")
    return target


def main(argv=None):
    from helpers.models.training import cache_dir

    parser = argparse.ArgumentParser(description="Ship trained cache entries (their weights) with the course.")
    parser.add_argument("names", nargs="+", help="architecture names (the newest cache entry of each is shipped) "
                                                  "or exact cache entries NAME-KEY (e.g. another training seed)")
    args = parser.parse_args(argv)
    for name in args.names:
        exact = cache_dir() / name / "meta.json"
        entries = [exact] if exact.is_file() else sorted(cache_dir().glob(f"{name}-*/meta.json"),
                                                         key=lambda p: p.stat().st_mtime)
        if not entries:
            print(f"error: no cache entry of {name} in {cache_dir()}: train it first", file=sys.stderr)
            return 2
        folder = ship(entries[-1].parent)
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(f"shipped {shown(folder)} ({size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
