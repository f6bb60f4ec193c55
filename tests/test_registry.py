import re

import pytest

from helpers.data import load_registry
from helpers.data.registry import entry, file_entry


def test_every_entry_has_provenance():
    for name, record in load_registry().items():
        assert record["source"] and record["licence"] and record["description"], name
        for f in record["files"]:
            assert re.fullmatch(r"[0-9a-f]{64}", f["sha256"]), (name, f["name"])
            assert f["size"] > 0
            assert record["shipped"] or f["url"].startswith("http")


def test_unknown_names_list_the_known_ones():
    with pytest.raises(KeyError, match="cifar10.*mnist.*svhn"):
        entry("imagenet")
    with pytest.raises(KeyError, match="train_32x32.mat"):
        file_entry("svhn", "extra_32x32.mat")
