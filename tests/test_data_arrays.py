"""The verified array copies of SVHN and CIFAR-10: real files when they are beside the repository,
tampered and truncated copies always (written here from small arrays under a test registry)."""

import json
import os
import pathlib

import numpy as np
import pytest

from helpers.data import arrays, load_cifar10, load_svhn, prepare, registry

REAL = os.environ.get(arrays.ARRAYS_ENV)
needs_real = pytest.mark.skipif(not (REAL and (pathlib.Path(REAL) / "cifar10_train.npz").is_file()),
                                reason="no array copies here (../shared/data missing, COURSE_DATA_ARRAYS unset)")


@needs_real
def test_real_cifar10_copy_is_complete_and_verified():
    (x, y), (x_test, y_test) = load_cifar10(source="arrays")
    assert x.shape == (50000, 32, 32, 3) and x_test.shape == (10000, 32, 32, 3) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [5000] * 10 and np.bincount(y_test).tolist() == [1000] * 10
    mean = (x.reshape(-1, 3) / 255.0).mean(axis=0)
    np.testing.assert_allclose(mean, [0.4914, 0.4822, 0.4465], atol=5e-5)  # the well-known channel means


@needs_real
def test_real_svhn_copy_and_its_stratified_split():
    (x, y), (x_test, y_test) = load_svhn(source="arrays")
    assert x.shape == (1083, 32, 32, 3) and x_test.shape == (0, 32, 32, 3)
    assert np.bincount(y).tolist() == [66, 227, 141, 134, 110, 112, 78, 70, 78, 67]
    data = prepare.training_data("svhn", source="arrays")
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (758, 109, 216)
    for part in (data.y_train, data.y_val, data.y_test):  # every split keeps the class frequencies
        np.testing.assert_allclose(np.bincount(part, minlength=10) / len(part), np.bincount(y) / len(y), atol=0.02)
    train, val, test = prepare.stratified_split(y, 0.1, 0.2, seed=0)
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    assert len(train) + len(val) + len(test) == 1083


@pytest.fixture
def small_copy(tmp_path, monkeypatch):
    """A two-image 'svhn' array copy recorded in a test registry, and the folder holding it."""
    x = np.arange(2 * 32 * 32 * 3, dtype=np.uint8).reshape(2, 32, 32, 3)
    y = np.array([3, 7])
    np.savez(tmp_path / "svhn_train.npz", x=x, y=y)
    reg = json.loads(registry.registry_path().read_text())
    reg["svhn"]["arrays"]["files"] = [{"name": "svhn_train.npz", "split": "train", "x_shape": [2, 32, 32, 3],
                                       "x_sha256": arrays.content_sha256(x, np.uint8),
                                       "y_sha256": arrays.content_sha256(y, "<i8")}]
    (tmp_path / "registry.json").write_text(json.dumps(reg))
    monkeypatch.setenv(registry.REGISTRY_ENV, str(tmp_path / "registry.json"))
    monkeypatch.setenv(arrays.ARRAYS_ENV, str(tmp_path))
    monkeypatch.setenv(registry.DOWNLOAD_DIR_ENV, str(tmp_path / "downloads"))
    registry._read_registry.cache_clear()
    yield tmp_path, x, y
    registry._read_registry.cache_clear()


def test_a_verified_copy_is_read_and_chosen_when_the_official_files_are_absent(small_copy):
    folder, x, y = small_copy
    assert arrays.data_source("svhn") == "arrays"
    (got_x, got_y), (test_x, _) = load_svhn()
    np.testing.assert_array_equal(got_x, x)
    assert got_y.tolist() == [3, 7] and len(test_x) == 0


def test_a_tampered_copy_is_refused_naming_the_file(small_copy):
    folder, x, y = small_copy
    changed = x.copy()
    changed[0, 0, 0, 0] ^= 1  # one bit of one pixel
    np.savez(folder / "svhn_train.npz", x=changed, y=y)
    with pytest.raises(registry.ChecksumError, match=r"svhn_train\.npz: the content of x has sha256"):
        load_svhn(source="arrays")
    np.savez(folder / "svhn_train.npz", x=x, y=np.array([3, 8]))
    with pytest.raises(registry.ChecksumError, match="content of y"):
        load_svhn(source="arrays")


def test_a_truncated_or_missing_copy_is_refused_with_the_remedy(small_copy):
    folder, x, y = small_copy
    path = folder / "svhn_train.npz"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(registry.ChecksumError, match="not a readable .npz"):
        load_svhn(source="arrays")
    path.unlink()
    with pytest.raises(registry.DatasetUnavailable, match="svhn_train.npz is missing.*make data"):
        load_svhn(source="arrays")
    assert arrays.data_source("svhn") == "official"  # nothing to read: the official files (download) again


def test_an_unknown_source_is_refused():
    with pytest.raises(ValueError, match="'official', 'arrays' or None"):
        load_cifar10(source="kaggle")
