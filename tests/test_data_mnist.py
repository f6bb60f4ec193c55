import gzip
import pickle
import shutil

import numpy as np
import pytest

import helpers.data.mnist as mnist_module
from helpers.data import ChecksumError, DatasetUnavailable, load_mnist
from helpers.data.registry import file_entry, sha256_of


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


def test_original_split_shapes_and_types(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert y_train.dtype.kind == "i" and set(np.unique(y_train)) == set(range(10))


def test_original_order(mnist):
    (_, y_train), (_, y_test) = mnist
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert y_test[227] == 4
    assert y_test[51] == 3


def test_reference_statistics(mnist):
    """Numbers of the real MNIST bytes: class counts and pixel sums."""
    (x_train, y_train), (x_test, y_test) = mnist
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert x_train.max() == 255 and x_train.min() == 0
    assert round(float(x_train.mean()), 4) == 33.3184
    assert round(float(x_train.std()), 4) == 78.5675
    assert int(x_test[227].astype(np.int64).sum()) == REFERENCE_SUM_227


REFERENCE_SUM_227 = 12436  # measured once from the shipped file


def test_returns_fresh_copies(mnist):
    (x_train, _), _ = load_mnist()
    x_train[0, 0, 0] = 77
    (x_again, _), _ = load_mnist()
    assert x_again[0, 0, 0] == 0


def test_missing_file_names_the_rebuild_command(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_module, "MNIST_PATH", tmp_path / "mnist.npz")
    with pytest.raises(DatasetUnavailable, match=r"mnist\.npz is missing.*python -m helpers\.data\.build_mnist"):
        load_mnist()


def test_corrupt_file_names_file_and_fix(tmp_path, monkeypatch):
    bad = tmp_path / "mnist.npz"
    shutil.copy(mnist_module.MNIST_PATH, bad)
    with open(bad, "r+b") as f:
        f.seek(1000)
        f.write(b"\x00corrupt\x00")
    monkeypatch.setattr(mnist_module, "MNIST_PATH", bad)
    with pytest.raises(ChecksumError, match=r"mnist\.npz is corrupt.*build_mnist"):
        load_mnist()


def test_shipped_file_matches_registry():
    assert sha256_of(mnist_module.MNIST_PATH) == file_entry("mnist", "mnist.npz")["sha256"]


def test_pickle_conversion_recovers_bytes(tmp_path):
    rng = np.random.default_rng(0)
    raw = [rng.integers(0, 256, size=(k, 784)).astype(np.uint8) for k in (5, 3, 4)]
    labels = [rng.integers(0, 10, size=len(r)) for r in raw]
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(tuple((r.astype(np.float32) / 256, y) for r, y in zip(raw, labels)), f)
    arrays = mnist_module.arrays_from_pickle(path)
    assert arrays["x_train"].shape == (8, 28, 28)
    np.testing.assert_array_equal(arrays["x_train"].reshape(8, -1), np.concatenate(raw[:2]))
    np.testing.assert_array_equal(arrays["y_train"], np.concatenate(labels[:2]))
    np.testing.assert_array_equal(arrays["x_test"].reshape(4, -1), raw[2])


def test_pickle_conversion_rejects_other_scaling(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    split = (np.full((2, 784), 0.3, np.float32), np.zeros(2, np.int64))
    with gzip.open(path, "wb") as f:
        pickle.dump((split, split, split), f)
    with pytest.raises(ValueError, match="k/256"):
        mnist_module.arrays_from_pickle(path)


def test_npz_writer_is_reproducible(tmp_path):
    arrays = {"x_train": np.arange(12, dtype=np.uint8).reshape(3, 4), "y_train": np.array([1, 2, 3])}
    mnist_module.write_npz_reproducibly(tmp_path / "a.npz", arrays)
    mnist_module.write_npz_reproducibly(tmp_path / "b.npz", arrays)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz") as npz:
        np.testing.assert_array_equal(npz["x_train"], arrays["x_train"])
