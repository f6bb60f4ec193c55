"""Shipped weights: they belong to the current training code, are verified, and seed the cache.

Each shipped entry's name is its cache key; the key is recomputed here from the entry's own
record with today's builders, recipe and library versions, so a change to any of them that
would change the weights makes this test fail until the weights are retrained and shipped
again. A tampered file is refused; a cache miss loads the shipped weights (no training) and
gives the recorded test accuracy on the real data when it is present.
"""

import json
import os
import shutil

import numpy as np
import pytest

from helpers.data import ChecksumError
from helpers.models import shipped, training

ENTRIES = sorted(shipped.registry())


def test_the_registry_lists_exactly_the_shipped_folders():
    folders = sorted(p.name for p in shipped.WEIGHTS_DIR.iterdir() if p.is_dir()) if shipped.WEIGHTS_DIR.is_dir() else []
    assert folders == ENTRIES
    for entry in ENTRIES:
        assert sorted(shipped.registry()[entry]) == sorted(shipped.FILES)


@pytest.mark.parametrize("entry", ENTRIES)
def test_every_shipped_entry_matches_the_current_training_code(entry):
    meta = json.loads((shipped.WEIGHTS_DIR / entry / "meta.json").read_text())
    key, material = training.cache_key(meta["architecture"], meta["options"], meta["data"], meta["epochs"],
                                       meta["batch_size"], meta["seed"])
    assert f"{meta['architecture']}-{key}" == entry, (
        f"{entry} was trained by other code than today's ({material}); retrain it (make render ARGS=--retrain) "
        "and ship it again (python -m helpers.models.shipped NAME)")
    assert shipped.find(entry) == shipped.WEIGHTS_DIR / entry  # every file verified


@pytest.mark.parametrize("entry", ENTRIES[:1])
def test_a_tampered_shipped_file_is_refused(entry, tmp_path, monkeypatch):
    copy = tmp_path / "weights"
    shutil.copytree(shipped.WEIGHTS_DIR, copy)
    (copy / entry / "history.json").write_text("{}")
    monkeypatch.setattr(shipped, "WEIGHTS_DIR", copy)
    monkeypatch.setattr(shipped, "REGISTRY", copy / "registry.json")
    with pytest.raises(ChecksumError, match="history.json have sha256"):
        shipped.find(entry)
    monkeypatch.setenv(shipped.RETRAIN_ENV, "1")
    assert shipped.find(entry) is None  # retraining ignores the shipped weights


@pytest.mark.skipif(not ENTRIES or not os.environ.get("COURSE_DATA_ARRAYS"),
                    reason="needs shipped weights and the CIFAR-10 array copy (../shared/data)")
def test_a_cache_miss_loads_the_shipped_weights_with_their_recorded_accuracy(tmp_path, monkeypatch):
    from helpers.data import load_cifar10
    from helpers.models import trained

    entry = next(e for e in ENTRIES if e.startswith("keras_cifar10_cnn-"))
    meta = json.loads((shipped.WEIGHTS_DIR / entry / "meta.json").read_text())
    monkeypatch.setenv(training.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(training, "_train", lambda *a, **k: pytest.fail("trained instead of loading"))
    model = trained("keras_cifar10_cnn", epochs=meta["epochs"], batch_size=meta["batch_size"], seed=meta["seed"],
                    validation_size=5000, verbose=0)
    assert model.course_record.meta["key"] == meta["key"] and model.course_record.from_cache
    _, (x_test, y_test) = load_cifar10()
    accuracy = float(np.mean(model.predict(x_test / 255.0, verbose=0).argmax(axis=1) == y_test))
    assert accuracy == pytest.approx(meta["test"]["accuracy"], abs=2e-3)


def test_shipped_weights_come_before_this_machines_cache_and_shipped_false_trains(tmp_path, monkeypatch):
    """Chapters 02-07 show the shipped network even after chapter 01 trained its own copy here."""
    from helpers.models import trained

    entry = next(e for e in ENTRIES if e.startswith("seed000_mnist-"))
    meta = json.loads((shipped.WEIGHTS_DIR / entry / "meta.json").read_text())
    monkeypatch.setenv(training.CACHE_ENV, str(tmp_path))
    args = dict(epochs=meta["epochs"], batch_size=meta["batch_size"], seed=meta["seed"], verbose=0)
    calls = []

    def fake_train(name, *rest):  # stands for chapter 01's own training: other weights, same key
        model = training.build(name, compile=True)
        model.course_record = training.TrainingRecord({}, {**meta, "origin": "here"}, "", False)
        calls.append(name)
        return model

    monkeypatch.setattr(training, "_train", fake_train)
    own = trained("seed000_mnist", shipped=False, **args)
    assert calls == ["seed000_mnist"] and (tmp_path / entry / "model.keras").is_file()
    shown = trained("seed000_mnist", **args)
    assert shown.course_record.path == str(shipped.WEIGHTS_DIR / entry) and calls == ["seed000_mnist"]
    differs = [not np.array_equal(a, b) for a, b in zip(own.get_weights(), shown.get_weights())]
    assert all(differs[:2])  # the kernels and biases of conv1: chapter 01's copy is not the one shown
    assert trained("seed000_mnist", shipped=False, **args).course_record.path == str(tmp_path / entry)
    monkeypatch.setenv(shipped.RETRAIN_ENV, "1")  # --retrain: the cache (retrained here) is used
    assert trained("seed000_mnist", **args).course_record.path == str(tmp_path / entry)


RETRAIN = """
import json, sys
import numpy as np
import helpers
helpers.setup(0)
from helpers.models import trained
args = json.loads(sys.argv[1])
model = trained("seed000_same", shipped=False, verbose=0, filters=tuple(args.pop("filters")), **args)
np.savez(sys.argv[2], *model.get_weights())
print(json.dumps({"key": model.course_record.meta["key"], "accuracy": model.course_record.meta["test"]["accuracy"],
                  "from_cache": model.course_record.from_cache}))
"""


def test_a_short_retrain_reproduces_a_shipped_entry(tmp_path):
    """The smallest shipped network, retrained by today's code in a fresh process (as a user would),
    matches what ships: same key, test accuracy within 0.005, and the same answer for at least 98 %
    of the test digits. (Not the same weights: on another float path three epochs move single
    weights by 0.1 and more, which is why the chapters load the shipped ones.)"""
    import subprocess
    import sys

    from helpers.models import trained

    entry = next(e for e in ENTRIES if e.startswith("seed000_same-")
                 and json.loads((shipped.WEIGHTS_DIR / e / "meta.json").read_text())["options"]["filters"] == [3, 6, 12])
    meta = json.loads((shipped.WEIGHTS_DIR / entry / "meta.json").read_text())
    args = dict(epochs=meta["epochs"], batch_size=meta["batch_size"], seed=meta["seed"], filters=[3, 6, 12])
    done = subprocess.run([sys.executable, "-c", RETRAIN, json.dumps(args), str(tmp_path / "w.npz")], check=True,
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, training.CACHE_ENV: str(tmp_path / "cache")})
    fresh = json.loads(done.stdout.strip().splitlines()[-1])
    assert not fresh["from_cache"] and fresh["key"] == meta["key"]
    assert abs(fresh["accuracy"] - meta["test"]["accuracy"]) < 0.005
    reference = trained("seed000_same", verbose=0, epochs=args["epochs"], batch_size=args["batch_size"],
                        seed=args["seed"], filters=(3, 6, 12))
    retrained = np.load(tmp_path / "w.npz")
    copy = training.build("seed000_same", compile=False, filters=(3, 6, 12))
    copy.set_weights([retrained[f"arr_{i}"] for i in range(len(retrained.files))])
    from helpers.data import load_mnist

    _, (x_test, _) = load_mnist()
    x_test = x_test[..., None].astype("float32") / 255.0
    agree = np.mean(copy.predict(x_test, verbose=0).argmax(1) == reference.predict(x_test, verbose=0).argmax(1))
    assert agree >= 0.98, f"the retrained and the shipped network agree on only {agree:.2%} of the test digits"
