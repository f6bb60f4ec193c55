"""Train once, reuse everywhere: a cache of trained models keyed by what shapes them.

The key is a hash of the architecture and its options, the data set's
fingerprint, epochs, batch size, training-set size, seed, the library versions
and the source code of the builder, so any change that could change the
weights trains a new model; nothing else does.
"""

import contextlib
import fcntl
import hashlib
import inspect
import json
import os
import pathlib
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass

from helpers.data.prepare import training_data
from helpers.data.registry import REPO_ROOT
from helpers.models.catalog import architecture, build, optimizer_for

CACHE_ENV = "COURSE_CACHE_DIR"


@dataclass(frozen=True)
class TrainingRecord:
    """What was trained and how it went; attached to models as ``model.course_record``.

    Attributes:
        history: dict metric -> list per epoch (``loss``, ``accuracy``, ``val_...``).
        meta: architecture, options, data, epochs, test scores, seconds, cache key.
        path: the cache folder.
        from_cache: True when the model was loaded rather than trained now.
    """

    history: dict
    meta: dict
    path: str
    from_cache: bool


def cache_dir():
    """Folder of the model cache: ``$COURSE_CACHE_DIR`` or ``.cache/models`` in the repository."""
    root = os.environ.get(CACHE_ENV)
    return pathlib.Path(root) if root else REPO_ROOT / ".cache" / "models"


def _jsonable(value):
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in sorted(value.items())}
    return value


def _source_hash(function):
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def cache_key(name, options, fingerprint, epochs, batch_size, seed):
    """The hash that names a trained model in the cache, and the material it hashes."""
    import keras
    import numpy as np
    import tensorflow as tf

    material = {
        "architecture": name,
        "options": _jsonable(options),
        "data": _jsonable(fingerprint),
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__},
        "builder_source": _source_hash(architecture(name).builder),
        "recipe": [architecture(name).optimizer, _source_hash(optimizer_for)],
    }
    text = json.dumps(material, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16], material


def _load(path):
    import keras

    model = keras.saving.load_model(path / "model.keras")
    history = json.loads((path / "history.json").read_text())
    meta = json.loads((path / "meta.json").read_text())
    return model, history, meta


def evaluate(model, x, y, batch_size=512):
    """Test scores as a dict: ``loss`` and ``accuracy`` (one per head for multi-output models)."""
    scores = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
    return {k: round(float(v), 6) for k, v in scores.items()}


def trained(name, dataset=None, epochs=3, batch_size=64, train_size=None, seed=0, verbose=2,
            validation_size=None, source=None, shipped=True, **options):
    """Return architecture ``name`` trained on ``dataset``, from the cache when possible.

    The first call trains (deterministically from ``seed``; Keras prints one line
    per epoch) and saves model, history and test scores to the cache; later calls
    with the same arguments load them in seconds. Where the course ships the weights
    of exactly this training (:mod:`helpers.models.shipped`, sha256 verified), the first
    call loads them instead of training, unless ``$COURSE_RETRAIN`` is set. An
    unreadable cache entry is retrained with a warning.

    Args:
        name: an architecture of :func:`helpers.models.available`.
        dataset: data set of :data:`helpers.data.prepare.DATASETS`; default the
            architecture's own.
        epochs, batch_size: training length and batch size.
        train_size: train on the first ``train_size`` images only (quick profile).
        validation_size: images held out for validation (default: the data set's, 5000
            for MNIST, SVHN and CIFAR-10); small for the test fixtures.
        seed: seeds weights initialisation and shuffling.
        verbose: Keras ``fit`` verbosity (0 silent, 2 one line per epoch).
        source: which copy of SVHN or CIFAR-10 (``"official"``, ``"arrays"``, ``None``: see
            :func:`helpers.data.prepare.training_data`); part of the data fingerprint.
        shipped: use the shipped weights of this training when there are any (default);
            False trains here (or reuses this machine's cache), as chapter 01 does in the open.
        **options: builder options, e.g. ``filters=(3, 6, 12)``.

    Returns:
        The trained ``keras.Model`` with ``model.course_record`` (:class:`TrainingRecord`).
        Processes that ask for the same entry at once train it once: the first takes a lock
        on the entry, the others wait and then load it.
    """
    dataset = dataset or architecture(name).dataset
    split = {} if validation_size is None else {"validation_size": validation_size}
    data = training_data(dataset, train_size=train_size, source=source, **split)
    key, material = cache_key(name, options, data.fingerprint, epochs, batch_size, seed)
    path = cache_dir() / f"{name}-{key}"
    if shipped:
        from helpers.models import shipped as shipped_weights  # here: `python -m helpers.models.shipped` runs it

        folder = shipped_weights.find(path.name)  # trained by the course and committed: verified, then loaded
        if folder is not None:
            return _from_shipped(name, folder, -(-len(data.x_train) // batch_size) * epochs, options)
    model = _cached(path)
    if model is not None:
        return model
    path.parent.mkdir(parents=True, exist_ok=True)
    with _entry_lock(path):  # one process trains an entry; the others wait here, then load it
        model = _cached(path, quiet=True)
        if model is None:
            model = _train(name, data, dataset, epochs, batch_size, seed, verbose, options, material, key)
            _save(model, path)
    return model


def _from_shipped(name, folder, steps, options):
    """The architecture with the shipped weights of ``folder`` and their training record."""
    model = build(name, training_steps=steps, **options)
    weights = build(name, compile=False, **options)  # no optimizer: the file holds the model's weights only
    weights.load_weights(folder / "model.weights.h5")
    model.set_weights(weights.get_weights())
    history = json.loads((folder / "history.json").read_text())
    meta = json.loads((folder / "meta.json").read_text())
    model.course_record = TrainingRecord(history, meta, str(folder), True)
    return model


def _cached(path, quiet=False):
    """The model of cache entry ``path`` with its record, or None (missing, or unreadable: with a warning)."""
    if not (path / "meta.json").exists():
        return None
    try:
        model, history, meta = _load(path)
    except Exception as err:  # any unreadable file means: train again, and say so
        if not quiet:
            warnings.warn(f"model cache {path} is unreadable ({type(err).__name__}: {err}); retraining", stacklevel=3)
        return None
    model.course_record = TrainingRecord(history, meta, str(path), True)
    return model


@contextlib.contextmanager
def _entry_lock(path):
    """An exclusive lock on cache entry ``path`` (a ``.lock`` file beside it; released when the process dies)."""
    with open(path.parent / f".{path.name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _train(name, data, dataset, epochs, batch_size, seed, verbose, options, material, key):
    import keras

    keras.utils.set_random_seed(seed)
    steps = -(-len(data.x_train) // batch_size) * epochs
    model = build(name, training_steps=steps, **options)
    start = time.perf_counter()
    fit = model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
                    epochs=epochs, batch_size=batch_size, verbose=verbose, shuffle=True)
    seconds = time.perf_counter() - start
    history = {k: [round(float(v), 6) for v in vals] for k, vals in fit.history.items()}
    meta = {**material, "key": key, "dataset": dataset, "parameters": model.count_params(),
            "train_seconds": round(seconds, 1), "test": evaluate(model, data.x_test, data.y_test)}

    model.course_record = TrainingRecord(history, meta, "", False)
    return model


def _save(model, path):
    """Write ``model`` and its record to cache entry ``path`` through a folder unique to this process,
    so that a reader only ever sees a complete entry."""
    record = model.course_record
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        model.save(tmp / "model.keras")
        (tmp / "history.json").write_text(json.dumps(record.history, indent=1))
        (tmp / "meta.json").write_text(json.dumps(record.meta, indent=1))
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    model.course_record = TrainingRecord(record.history, record.meta, str(path), False)
