"""Benchmark: the quick profile against the full render, chapter by chapter, in the same run.

The target (issue: ``--quick`` is quick) is at most a third of the full render's time per
chapter, with the shipped networks loaded in both. Each chapter is rendered twice here, first
with its defaults and then with ``quick=True``, into throwaway build folders, one after the
other so that both see the same machine. Run:

    .venv/bin/python benchmarks/quick_profile.py [--only 02 04]

It prints one row per chapter (full seconds, quick seconds, quick / full) and the totals.
"""

import argparse
import os
import pathlib
import tempfile

from helpers.course import render


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NN", help="chapter numbers (default: all)")
    args = parser.parse_args(argv)
    shared = render.REPO_ROOT.parent / "shared" / "data"  # the verified array copies, as make sets them
    if (shared / "PROVENANCE.md").exists():
        os.environ.setdefault("COURSE_DATA_ARRAYS", str(shared))
    rows = []
    with tempfile.TemporaryDirectory(prefix="quick-bench-") as tmp:
        for path in render.discover(args.only):
            timed = {}
            for profile, params in (("full", {}), ("quick", {render.QUICK_PARAMETER: True})):
                [result] = render.render([path], params, build_dir=pathlib.Path(tmp) / profile)
                timed[profile] = result["seconds"] if result["status"] == "ok" else float("nan")
            rows.append((path.stem, timed["full"], timed["quick"]))
    print(f"\n{'chapter':<16} {'full s':>8} {'quick s':>8} {'quick/full':>10}  target <= 0.33")
    for name, full, quick in rows:
        print(f"{name:<16} {full:8.1f} {quick:8.1f} {quick / full:10.2f}  {'met' if quick <= full / 3 else 'MISSED'}")
    full, quick = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"{'total':<16} {full:8.1f} {quick:8.1f} {quick / full:10.2f}")


if __name__ == "__main__":
    main()
