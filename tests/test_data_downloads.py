"""SVHN and CIFAR-10 loaders on tiny fixtures written in the real file formats."""

import io
import urllib.error

import numpy as np
import pytest

import helpers.data.registry as reg
from helpers.data import CIFAR10_CLASSES, ChecksumError, DatasetUnavailable, load_cifar10, load_svhn
from helpers.data.fixtures import write_cifar_archive, write_svhn_mat
from helpers.data.registry import sha256_of


@pytest.fixture
def download_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(reg.DOWNLOAD_DIR_ENV, str(tmp_path))
    monkeypatch.delenv("COURSE_DATA_ARRAYS", raising=False)  # the official files' path, not the array copies
    return tmp_path


def _no_network(*args, **kwargs):
    raise urllib.error.URLError("[Errno -2] Name or service not known")


def random_images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


@pytest.fixture
def svhn_files(download_dir):
    folder = download_dir / "svhn"
    folder.mkdir()
    data = {}
    for split, n, seed in (("train", 7, 0), ("test", 4, 1)):
        images, labels = random_images(n, seed), np.arange(n) % 10
        write_svhn_mat(folder / f"{split}_32x32.mat", images, labels)
        data[split] = (images, labels)
    return data


@pytest.fixture
def cifar_file(download_dir):
    folder = download_dir / "cifar10"
    folder.mkdir()
    batches = {f"data_batch_{i}": (random_images(3, i), np.array([i, i + 1, 9]) % 10) for i in range(1, 6)}
    batches["test_batch"] = (random_images(2, 9), np.array([3, 8]))
    write_cifar_archive(folder / "cifar-10-python.tar.gz", batches)
    return batches


def test_svhn_reads_real_layout_and_maps_ten_to_zero(svhn_files):
    (x_train, y_train), (x_test, y_test) = load_svhn(download=False, verify=False)
    assert x_train.shape == (7, 32, 32, 3) and x_train.dtype == np.uint8
    np.testing.assert_array_equal(x_train, svhn_files["train"][0])
    np.testing.assert_array_equal(x_test, svhn_files["test"][0])
    assert y_train.tolist() == [0, 1, 2, 3, 4, 5, 6] and y_test.tolist() == [0, 1, 2, 3]


def test_cifar_reads_channel_planes_in_order(cifar_file):
    (x_train, y_train), (x_test, y_test) = load_cifar10(download=False, verify=False)
    assert x_train.shape == (15, 32, 32, 3) and x_test.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(x_train[:3], cifar_file["data_batch_1"][0])
    np.testing.assert_array_equal(x_train[12:], cifar_file["data_batch_5"][0])
    np.testing.assert_array_equal(x_test, cifar_file["test_batch"][0])
    assert y_train[:3].tolist() == [1, 2, 9] and y_test.tolist() == [3, 8]
    assert CIFAR10_CLASSES[3] == "cat"


@pytest.mark.parametrize("loader, name, filename", [
    (load_svhn, "svhn", "train_32x32.mat"),
    (load_cifar10, "cifar10", "cifar-10-python.tar.gz"),
])
def test_missing_files_give_the_remedy_not_a_socket_error(download_dir, monkeypatch, loader, name, filename):
    monkeypatch.setattr(reg.urllib.request, "urlopen", _no_network)
    with pytest.raises(DatasetUnavailable) as info:
        loader()
    message = str(info.value)
    assert f"python -m helpers.data.fetch {name}" in message
    assert str(download_dir / name / filename) in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert not list((download_dir / name).glob("*.part"))


def test_no_download_mode_names_the_file(download_dir):
    with pytest.raises(DatasetUnavailable, match=r"train_32x32\.mat is missing"):
        load_svhn(download=False)


def test_checksum_mismatch_names_the_file(svhn_files, download_dir):
    with pytest.raises(ChecksumError, match=r"train_32x32\.mat is corrupt.*fetch svhn"):
        load_svhn(download=False, verify=True)


def test_truncated_archive_is_reported(cifar_file, download_dir):
    path = download_dir / "cifar10" / "cifar-10-python.tar.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DatasetUnavailable, match="not a readable tar.gz"):
        load_cifar10(download=False, verify=False)


class _FakeResponse(io.BytesIO):
    headers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_download_verifies_then_keeps_file(tmp_path, download_dir, monkeypatch):
    blob = b"pretend archive bytes"
    source = tmp_path / "blob"
    source.write_bytes(blob)
    record = reg.file_entry("cifar10", "cifar-10-python.tar.gz")
    monkeypatch.setitem(record, "sha256", sha256_of(source))
    monkeypatch.setattr(reg.urllib.request, "urlopen", lambda url, timeout: _FakeResponse(blob))
    path = reg.ensure_file("cifar10", "cifar-10-python.tar.gz")
    assert path.read_bytes() == blob


def test_download_with_wrong_hash_keeps_nothing(download_dir, monkeypatch):
    monkeypatch.setattr(reg.urllib.request, "urlopen", lambda url, timeout: _FakeResponse(b"wrong bytes"))
    with pytest.raises(ChecksumError, match="nothing was kept"):
        reg.ensure_file("cifar10", "cifar-10-python.tar.gz")
    assert list((download_dir / "cifar10").iterdir()) == []


def test_fixture_registry_verifies_and_labels_fixtures(tmp_path, monkeypatch):
    from helpers.data import is_fixture, title
    from helpers.data.fixtures import write_fixtures

    for key, value in write_fixtures(tmp_path, n_train=20, n_test=10, seed=3).items():
        monkeypatch.setenv(key, value)
    assert is_fixture("svhn") and is_fixture("cifar10") and not is_fixture("mnist")
    assert title("svhn") == "TEST FIXTURE in SVHN's file format (synthetic squares, not SVHN)"
    (x, y), (xt, yt) = load_cifar10(download=False)  # checksum verified against the fixture registry
    assert x.shape == (20, 32, 32, 3) and xt.shape == (10, 32, 32, 3)
    assert sorted(np.bincount(yt).tolist()) == [1] * 10
    (sx, sy), _ = load_svhn(download=False)
    assert sx.shape == (20, 32, 32, 3) and np.bincount(sy).tolist() == [2] * 10
    # the label is drawn as a square at a class-specific place: class means differ there
    assert sx[sy == 0][:, 4:14, 2:10, 0].min() == 255 and sx[sy == 9][:, 4:14, 2:10].max() < 96
    path = tmp_path / "svhn" / "test_32x32.mat"
    blob = path.read_bytes()
    path.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(ChecksumError, match="test_32x32.mat"):
        load_svhn(download=False)


def test_real_registry_titles_are_the_real_names(monkeypatch):
    from helpers.data import is_fixture, title

    monkeypatch.delenv(reg.REGISTRY_ENV, raising=False)
    assert [title(n) for n in ("mnist", "svhn", "cifar10")] == ["MNIST", "SVHN", "CIFAR-10"]
    assert not is_fixture("svhn")
