"""Benchmark: the quick profile against the full render, chapter by chapter, in the same run.

The target (issue: ``--quick`` is quick) is at most a third of the full render's time per
chapter, with the shipped networks loaded in both. Each chapter is rendered twice here, first
with its defaults and then with ``quick=True``, into throwaway build folders, one after the
other so that both see the same machine. Run:

    .venv/bin/python benchmarks/quick_profile.py [--only 02 04]

It prints one row per chapter (full seconds, quick seconds, quick / full) and the totals, and
the chapter's *start*: the same chapter cut to its first two code cells (parameters and
``helpers.setup``), executed the same way. The start (kernel, TensorFlow and the course's imports)
is paid by both profiles, so where it exceeds a third of the full render no quick profile can meet
the target.
"""

import argparse
import os
import pathlib
import tempfile
import time

import nbformat

from helpers.course import render


def start_seconds(path, tmp):
    """Seconds to execute ``path`` cut to its first two code cells (parameters, setup)."""
    import papermill

    nb = nbformat.read(path, as_version=4)
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    nb.cells = nb.cells[: code[1] + 1]
    cut = pathlib.Path(tmp) / f"{path.stem}.start.ipynb"
    nbformat.write(nb, cut)
    begin = time.perf_counter()
    papermill.execute_notebook(str(cut), str(cut), kernel_name="python3", cwd=str(path.parent),
                               progress_bar=False)
    return time.perf_counter() - begin


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
            rows.append((path.stem, timed["full"], timed["quick"], start_seconds(path, tmp)))
    print(f"\n{'chapter':<16} {'full s':>8} {'quick s':>8} {'quick/full':>10}  target <= 0.33"
          f"  {'start s':>8} {'start/full':>10}")
    for name, full, quick, start in rows:
        verdict = "met" if quick <= full / 3 else "MISSED"
        print(f"{name:<16} {full:8.1f} {quick:8.1f} {quick / full:10.2f}  {verdict:<14}"
              f"  {start:8.1f} {start / full:10.2f}")
    full, quick, start = (sum(r[i] for r in rows) for i in (1, 2, 3))
    print(f"{'total':<16} {full:8.1f} {quick:8.1f} {quick / full:10.2f}  {'':<14}  {start:8.1f} {start / full:10.2f}")


if __name__ == "__main__":
    main()
