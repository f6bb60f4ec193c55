"""The data registry: which files each data set has, their sha256, source and licence.

The registry itself is ``data/registry.json`` (one place, readable without
Python). This module reads it, resolves where files live, verifies checksums
and downloads the data sets that cannot be shipped.
"""

import functools
import hashlib
import json
import os
import pathlib
import urllib.error
import urllib.request

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"
REGISTRY_PATH = DATA_DIR / "registry.json"
#: Environment variable that moves the download cache (tests point it at fixtures).
DOWNLOAD_DIR_ENV = "COURSE_DOWNLOAD_DIR"
#: Environment variable naming another registry file. Only the test fixtures of
#: :mod:`helpers.data.fixtures` use it: their registry records the fixtures' own
#: sha256 and titles that say they are not the real data sets.
REGISTRY_ENV = "COURSE_DATA_REGISTRY"


class DatasetError(RuntimeError):
    """Base class of the data errors of the course."""


class DatasetUnavailable(DatasetError):
    """A data set's files are missing here and could not be fetched."""


class ChecksumError(DatasetError):
    """A data file exists but its sha256 differs from the registry's."""


def shown(path):
    """``path`` as messages show it: relative to the repository when inside it (no machine paths)."""
    path = pathlib.Path(path)
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def registry_path():
    """The registry in use: ``$COURSE_DATA_REGISTRY`` when set, else ``data/registry.json``."""
    override = os.environ.get(REGISTRY_ENV)
    return pathlib.Path(override) if override else REGISTRY_PATH


@functools.cache
def _read_registry(path):
    origin = f" (named by ${REGISTRY_ENV})" if os.environ.get(REGISTRY_ENV) else ""
    try:
        with open(path, encoding="utf-8") as f:
            registry = json.load(f)
    except FileNotFoundError:
        raise DatasetUnavailable(f"the data registry {path}{origin} does not exist; unset {REGISTRY_ENV} to use "
                                 f"{REGISTRY_PATH}, or write the fixtures' registry with "
                                 "`python -m helpers.data.fixtures DIR`") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetUnavailable(f"the data registry {path}{origin} is not valid JSON ({err}); restore it with "
                                 "`git checkout data/registry.json` or rewrite the fixtures") from None
    if not isinstance(registry, dict) or not all(isinstance(v, dict) and "files" in v for v in registry.values()):
        raise DatasetUnavailable(f"the data registry {path}{origin} is not a mapping of data set name -> "
                                 "{files: [...], ...}")
    return registry


def load_registry():
    """Return the registry as a dict: data set name -> entry (files, source, licence)."""
    return _read_registry(str(registry_path()))


def title(name):
    """The name to print on figures of data set ``name``.

    The real registry gives e.g. ``"SVHN"``; a fixture registry gives a title
    that says the images are a test fixture, so stand-in data is never shown
    under a real data set's name.
    """
    return entry(name).get("title", name)


def is_fixture(name):
    """True when data set ``name`` comes from a test-fixture registry, not the real files."""
    return bool(entry(name).get("fixture", False))


def entry(name):
    """Return the registry entry of data set ``name``; unknown names list the known ones."""
    reg = load_registry()
    if name not in reg:
        raise KeyError(f"unknown data set {name!r}; the registry knows: {', '.join(sorted(reg))}")
    return reg[name]


def file_entry(name, filename):
    """Return the registry record of one file of data set ``name``."""
    for record in entry(name)["files"]:
        if record["name"] == filename:
            return record
    known = ", ".join(r["name"] for r in entry(name)["files"])
    raise KeyError(f"data set {name!r} has no file {filename!r}; its files: {known}")


def download_dir(name):
    """Folder where the downloaded files of data set ``name`` are kept.

    ``$COURSE_DOWNLOAD_DIR/<name>`` when that variable is set, else
    ``data/downloads/<name>`` in the repository (git-ignored).
    """
    root = os.environ.get(DOWNLOAD_DIR_ENV)
    base = pathlib.Path(root) if root else DATA_DIR / "downloads"
    return base / name


def sha256_of(path, chunk=1 << 20):
    """Return the hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path, expected_sha256, remedy):
    """Raise :class:`ChecksumError` if the file at ``path`` does not hash to ``expected_sha256``.

    Args:
        path: the file to check.
        expected_sha256: hex digest from the registry.
        remedy: one sentence telling the user how to get a good copy.
    """
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise ChecksumError(
            f"{shown(path)} is corrupt or not the expected file: sha256 {actual}, "
            f"expected {expected_sha256}. {remedy}"
        )


def fetch_remedy(name):
    """The sentence that tells a user how to get data set ``name`` onto this machine."""
    files = entry(name)["files"]
    where = download_dir(name)
    urls = "; ".join(f"{r['url']} -> {shown(where / r['name'])}" for r in files)
    return (
        f"On a machine with internet run `python -m helpers.data.fetch {name}` "
        f"(or `make data`), or download by hand and place: {urls}; or point the environment variable "
        f"COURSE_DATA_ARRAYS at a folder of verified array copies (helpers.data.arrays; `make` and the tests set "
        f"it to ../shared/data when that folder exists beside the repository, JupyterLab or papermill started by "
        f"hand do not)"
    )


def ensure_file(name, filename, download=True, verify_checksum=True, timeout=30):
    """Return the local path of a registry file, downloading it when missing.

    Args:
        name: data set name in the registry (``"svhn"``, ``"cifar10"``).
        filename: one of the data set's files.
        download: try the official URL when the file is missing.
        verify_checksum: compare the file's sha256 with the registry.
        timeout: seconds to wait for the server before giving up.

    Returns:
        ``pathlib.Path`` of the verified file.

    Raises:
        DatasetUnavailable: the file is missing and could not be downloaded.
        ChecksumError: the file is there but corrupt.
    """
    record = file_entry(name, filename)
    path = download_dir(name) / filename
    if not path.exists():
        if not download:
            raise DatasetUnavailable(f"{shown(path)} is missing. {fetch_remedy(name)}")
        _download(record["url"], path, record["sha256"] if verify_checksum else None, timeout, name)
    elif verify_checksum:
        verify(path, record["sha256"], f"Delete it and run `python -m helpers.data.fetch {name}`.")
    return path


def _download(url, path, expected_sha256, timeout, name):
    """Stream ``url`` into ``path`` through a ``.part`` file; verify before the rename."""
    from tqdm import tqdm

    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=path.name) as bar:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        part.unlink(missing_ok=True)
        raise DatasetUnavailable(
            f"{shown(path)} is missing and downloading {url} failed ({err}). {fetch_remedy(name)}"
        ) from None
    if expected_sha256 is not None and digest.hexdigest() != expected_sha256:
        part.unlink(missing_ok=True)
        raise ChecksumError(
            f"download of {url} has sha256 {digest.hexdigest()}, expected {expected_sha256}; "
            "nothing was kept. Try again later or download the file by hand."
        )
    os.replace(part, path)
