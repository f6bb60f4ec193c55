"""The zoo reproduces the sources' summaries; the cache trains once and survives corruption."""

import numpy as np
import pytest

from helpers import models

# Parameter counts printed in the sources (shared/seeds) or derived from their layer lists.
SOURCE_PARAMETERS = {
    "seed000_mnist": 93322,
    "seed001_base_mnist": 3977930,
    "seed001_base_lines": 4069216,
    "seed002_cifar10": 4778954,
    "keras_cifar10_cnn": 1250858,
    "seed003_mnist": 113514,
}

# (layer, output shape, parameters) rows of the sources' model summaries.
SOURCE_SUMMARIES = {
    "seed000_mnist": [("conv1", (26, 26, 32), 320), ("pool1", (13, 13, 32), 0), ("conv2", (11, 11, 64), 18496),
                      ("pool2", (5, 5, 64), 0), ("conv3", (3, 3, 64), 36928), ("flatten", (576,), 0),
                      ("dense1", (64,), 36928), ("predictions", (10,), 650)],
    "seed001_base_lines": [("conv1", (22, 22, 32), 4736), ("batchnorm1", (22, 22, 32), 128),
                           ("pool1", (11, 11, 32), 0), ("flatten", (3872,), 0), ("dense1", (1024,), 3965952),
                           ("predictions", (96,), 98400)],
    "seed001_deep_lines": [("conv1", (26, 26, 32), 896), ("pool1", (13, 13, 32), 0), ("conv2", (13, 13, 64), 18496),
                           ("pool2", (6, 6, 64), 0), ("conv3", (6, 6, 128), 73856), ("batchnorm3", (6, 6, 128), 512),
                           ("flatten", (4608,), 0), ("dense1", (1024,), 4719616), ("predictions", (96,), 98400)],
    "seed001_multi1": [("conv1", (26, 26, 4), 112), ("conv2", (22, 22, 4), 404), ("flatten", (1936,), 0),
                       ("length_dense", (64,), 123968), ("angle_dense", (64,), 123968)],
    "seed001_multi2": [("conv1", (28, 28, 8), 1184), ("pool1", (14, 14, 8), 0), ("conv2", (10, 10, 6), 1206),
                       ("pool2", (9, 9, 6), 0), ("flatten", (486,), 0), ("length_dense", (128,), 62336),
                       ("angle_dense", (256,), 124672)],
    "seed001_multi3": [("conv1", (28, 28, 10), 760), ("pool1", (14, 14, 10), 0), ("conv2", (12, 12, 8), 728),
                       ("pool2", (6, 6, 8), 0), ("flatten", (288,), 0), ("length_dense", (128,), 36992),
                       ("colour_dense", (64,), 18496)],
    "seed002_cifar10": [("conv1", (32, 32, 32), 2432), ("conv2", (16, 16, 64), 51264), ("fc1", (1024,), 4195328),
                        ("fc2", (512,), 524800), ("preds", (10,), 5130)],
    "seed003_mnist": [("conv1", (28, 28, 24), 240), ("pool1", (14, 14, 24), 0), ("conv2", (14, 14, 48), 10416),
                      ("conv3", (7, 7, 64), 27712), ("pool3", (3, 3, 64), 0), ("dense1", (128,), 73856),
                      ("predictions", (10,), 1290)],
}


pytestmark = pytest.mark.usefixtures("seeded_session")


@pytest.mark.parametrize("name", sorted(SOURCE_PARAMETERS))
def test_parameter_counts_match_the_sources(name):
    assert models.build(name, compile=False).count_params() == SOURCE_PARAMETERS[name]


@pytest.mark.parametrize("name", sorted(SOURCE_SUMMARIES))
def test_layer_shapes_match_the_sources(name):
    model = models.build(name, compile=False)
    for layer_name, shape, params in SOURCE_SUMMARIES[name]:
        layer = model.get_layer(layer_name)
        assert tuple(layer.output.shape[1:]) == shape, layer_name
        assert layer.count_params() == params, layer_name


def test_filter_count_study_of_seed000():
    small = models.build("seed000_same", filters=(3, 6, 12), compile=False)
    large = models.build("seed000_same", compile=False)
    assert [small.get_layer(f"conv{i}").output.shape[-1] for i in (1, 2, 3)] == [3, 6, 12]
    # 3x3 convolutions, 7x7x12 features into 10 classes: 30 + 168 + 660 + 5890
    assert small.count_params() == 6748
    assert large.count_params() == 160 + 4640 + 18496 + 31370


def test_multi_output_heads_and_compilation():
    model = models.build("seed001_multi3")
    assert sorted(model.output_names) == ["angle", "colour", "length", "width"]
    assert {k: v.shape[-1] for k, v in model.output.items()} == {"length": 2, "width": 2, "colour": 2, "angle": 12}
    assert model.compiled


def test_every_architecture_builds_and_outputs_probabilities():
    for name in models.available():
        model = models.build(name, compile=False)
        x = np.zeros((2, *model.input_shape[1:]), np.float32)
        out = model.predict(x, verbose=0)
        for probs in (out.values() if isinstance(out, dict) else [out]):
            np.testing.assert_allclose(np.asarray(probs).sum(axis=1), 1.0, rtol=1e-5)


def test_seed004_standardizes_inside_the_model():
    model = models.build("seed004_mnist", compile=False)
    standardize = model.get_layer("standardize")
    out = standardize(np.full((1, 28, 28, 1), 0.1307, np.float32))
    assert abs(float(np.asarray(out).max())) < 1e-4


def test_unknown_names_and_options_are_explained():
    with pytest.raises(ValueError, match="available: .*seed003_mnist"):
        models.build("vgg16")
    with pytest.raises(ValueError, match=r"does not take \['width'\]; its options: .*filters"):
        models.build("seed000_same", width=3)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    return tmp_path


QUICK = dict(epochs=1, batch_size=64, train_size=512, verbose=0)


def test_cache_trains_once_then_loads(cache):
    first = models.trained("seed002_mnist", **QUICK)
    assert not first.course_record.from_cache
    second = models.trained("seed002_mnist", **QUICK)
    assert second.course_record.from_cache
    assert second.course_record.history == first.course_record.history
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(second.predict(x, verbose=0), first.predict(x, verbose=0), rtol=1e-6)
    meta = first.course_record.meta
    assert meta["parameters"] == 58026 and meta["data"]["train_size"] == 512
    assert 0.0 <= meta["test"]["accuracy"] <= 1.0 and len(first.course_record.history["val_accuracy"]) == 1


def test_training_is_deterministic(cache, monkeypatch, tmp_path_factory):
    a = models.trained("seed002_mnist", **QUICK)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path_factory.mktemp("other")))
    b = models.trained("seed002_mnist", **QUICK)
    assert not b.course_record.from_cache
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_key_changes_with_what_changes_the_weights(cache):
    a = models.trained("seed000_same", filters=(3, 6, 12), **QUICK)
    b = models.trained("seed000_same", filters=(3, 6, 12), seed=1, **QUICK)
    c = models.trained("seed000_same", filters=(2, 6, 12), **QUICK)
    assert len({a.course_record.path, b.course_record.path, c.course_record.path}) == 3


def test_corrupt_cache_is_retrained_with_a_warning(cache):
    first = models.trained("seed002_mnist", **QUICK)
    model_file = cache / first.course_record.path.split("/")[-1] / "model.keras"
    model_file.write_bytes(b"not a keras file")
    with pytest.warns(UserWarning, match="unreadable.*retraining"):
        again = models.trained("seed002_mnist", **QUICK)
    assert not again.course_record.from_cache
    assert models.trained("seed002_mnist", **QUICK).course_record.from_cache


TRAIN_IN_A_PROCESS = """
import sys
from helpers import models
model = models.trained("seed002_mnist", epochs=1, batch_size=64, train_size=512, verbose=0)
print("FROM_CACHE", model.course_record.from_cache, float(model.get_weights()[0].sum()))
"""


def test_two_processes_train_one_entry_once(cache):
    import os
    import subprocess
    import sys

    env = {**os.environ, "COURSE_CACHE_DIR": str(cache)}
    runs = [subprocess.Popen([sys.executable, "-c", TRAIN_IN_A_PROCESS], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=600) for run in runs]
    lines = [next(line for line in out.splitlines() if line.startswith("FROM_CACHE")) for out, _ in outputs]
    assert sorted(line.split()[1] for line in lines) == ["False", "True"], outputs  # trained once, loaded once
    assert len({line.split()[2] for line in lines}) == 1  # the same weights
    entries = sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock"))
    assert len(entries) == 1 and not entries[0].startswith("."), entries  # no temporary folder left
    assert models.trained("seed002_mnist", **QUICK).course_record.from_cache
