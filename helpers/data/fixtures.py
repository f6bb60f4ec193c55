"""Tiny test fixtures in SVHN's and CIFAR-10's real file formats.

SVHN and CIFAR-10 cannot be shipped, and no package registry carries them, so
chapters 06 and 07 are tested on small files written byte-for-byte in the
official layouts: ``train_32x32.mat``/``test_32x32.mat`` (MATLAB, ``X`` as
``(32, 32, 3, n)``, digit 0 stored as label 10) and ``cifar-10-python.tar.gz``
(python pickles with bytes keys, colour planes one after the other). The
images are synthetic: a coloured square whose place and colour encode the
class, on noise, so a model can learn them in one epoch.

The fixtures come with their own registry (their sha256, and titles that say
"test fixture"), so the loaders still verify checksums and no figure ever shows
stand-in data under a real data set's name. To try chapters 06 and 07 without
the real data::

    python -m helpers.data.fixtures /tmp/fixtures
    export COURSE_DOWNLOAD_DIR=/tmp/fixtures COURSE_DATA_REGISTRY=/tmp/fixtures/registry.json
"""

import argparse
import io
import json
import pickle
import tarfile

import numpy as np
import scipy.io

from helpers.data.cifar10 import ARCHIVE, FOLDER, TEST_BATCH, TRAIN_BATCHES
from helpers.data.registry import DOWNLOAD_DIR_ENV, REGISTRY_ENV, load_registry, sha256_of
from helpers.data.svhn import SPLITS


def synthetic_images(labels, seed):
    """uint8 ``(n, 32, 32, 3)`` images: noise plus a square whose place and colour encode the label."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 96, size=(len(labels), 32, 32, 3)).astype(np.uint8)
    colours = np.array([[255, 64, 64], [64, 255, 64], [64, 64, 255], [255, 255, 64], [255, 64, 255]], np.uint8)
    for image, label in zip(images, labels):
        row, col = 4 + 14 * (label // 5), 2 + 6 * (label % 5)
        image[row:row + 10, col:col + 8] = colours[label % 5]
    return images


def write_svhn_mat(path, images, labels):
    """Write an SVHN ``.mat`` file: ``X`` ``(32, 32, 3, n)`` uint8, ``y`` ``(n, 1)`` with 0 stored as 10."""
    y = np.where(labels == 0, 10, labels).reshape(-1, 1).astype(np.uint8)
    scipy.io.savemat(path, {"X": np.transpose(images, (1, 2, 3, 0)), "y": y})


def write_cifar_archive(path, batches):
    """Write a CIFAR-10 python archive from ``{member: (images, labels)}`` (python-2 style pickles)."""
    with tarfile.open(path, "w:gz") as tar:
        for member, (images, labels) in batches.items():
            data = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
            blob = pickle.dumps({b"batch_label": member.encode(), b"labels": [int(v) for v in labels],
                                 b"data": data}, protocol=2)
            info = tarfile.TarInfo(f"{FOLDER}/{member}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def _labels(n, seed):
    return np.random.default_rng(seed).permutation(np.arange(n) % 10)


def _fixture_entry(folder, real):
    files = [{"name": p.name, "sha256": sha256_of(p), "size": p.stat().st_size, "url": "file://" + str(p)}
             for p in sorted(folder.iterdir())]
    return {"title": f"TEST FIXTURE in {real['title']}'s file format (synthetic squares, not {real['title']})",
            "fixture": True, "shipped": False, "files": files,
            "description": f"Synthetic images written by helpers.data.fixtures in the layout of {real['title']}.",
            "source": "helpers/data/fixtures.py", "licence": "Same as the course code."}


def write_fixtures(root, n_train=300, n_test=100, seed=0):
    """Write both fixtures and their registry under ``root``.

    Args:
        root: folder that plays the role of ``$COURSE_DOWNLOAD_DIR``.
        n_train, n_test: images per split (CIFAR's training images are spread over its five batches).
        seed: seed of labels and pixels.

    Returns:
        dict of the two environment variables that point the loaders at the fixtures.
    """
    import pathlib

    root = pathlib.Path(root)
    svhn, cifar = root / "svhn", root / "cifar10"
    svhn.mkdir(parents=True, exist_ok=True)
    cifar.mkdir(parents=True, exist_ok=True)
    for k, (split, n) in enumerate((("train", n_train), ("test", n_test))):
        labels = _labels(n, seed + k)
        write_svhn_mat(svhn / SPLITS[split], synthetic_images(labels, seed + 10 + k), labels)
    per_batch = -(-n_train // len(TRAIN_BATCHES))
    batches = {}
    for k, member in enumerate(TRAIN_BATCHES + (TEST_BATCH,)):
        labels = _labels(n_test if member == TEST_BATCH else per_batch, seed + 20 + k)
        batches[member] = (synthetic_images(labels, seed + 30 + k), labels)
    write_cifar_archive(cifar / ARCHIVE, batches)

    registry = dict(load_registry())
    registry["svhn"] = _fixture_entry(svhn, registry["svhn"])
    registry["cifar10"] = _fixture_entry(cifar, registry["cifar10"])
    (root / "registry.json").write_text(json.dumps(registry, indent=2) + "\n")
    return {DOWNLOAD_DIR_ENV: str(root), REGISTRY_ENV: str(root / "registry.json")}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write SVHN/CIFAR-10 format test fixtures and their registry.")
    parser.add_argument("root", help="output folder")
    parser.add_argument("--train", type=int, default=300)
    parser.add_argument("--test", type=int, default=100)
    args = parser.parse_args(argv)
    env = write_fixtures(args.root, args.train, args.test)
    print("Fixtures written. Point the loaders at them with:")
    print("export " + " ".join(f"{k}={v}" for k, v in env.items()))


if __name__ == "__main__":
    main()
