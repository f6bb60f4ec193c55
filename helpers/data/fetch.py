"""Fetch the data sets that cannot be shipped: ``python -m helpers.data.fetch [svhn] [cifar10]``.

Each file is downloaded from its official URL into ``data/downloads/<name>/``
(or ``$COURSE_DOWNLOAD_DIR/<name>/``) and verified against the registry's
sha256. Files already present are verified, not downloaded again.
"""

import argparse
import sys

from helpers.data.registry import DatasetError, ensure_file, load_registry

FETCHABLE = tuple(name for name, e in load_registry().items() if not e["shipped"] and e["files"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=FETCHABLE, help=f"default: all of {', '.join(FETCHABLE)}")
    args = parser.parse_args(argv)
    failures = 0
    for name in args.names or FETCHABLE:
        for record in load_registry()[name]["files"]:
            try:
                path = ensure_file(name, record["name"])
            except DatasetError as err:
                failures += 1
                print(f"[failed] {name}/{record['name']}: {err}", file=sys.stderr)
            else:
                print(f"[ok] {name}/{record['name']}: {path} (sha256 verified)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
