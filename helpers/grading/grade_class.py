"""A whole class graded in parallel on Dask.

``python -m helpers.grading.grade_class SUBMISSIONS... [--csv scores.csv]`` grades every
submission (:func:`helpers.grading.grade.grade`, each in its own sandbox) on a Dask
``LocalCluster`` (``--workers``, default 2) or on an existing cluster
(``--scheduler tcp://host:8786``); ``--serial`` grades in this process, in order.

Scores do not depend on how the work is spread: each submission's check inputs are
drawn from a seed derived from one class seed (``--seed``; printed and stored) and
the submission's position, so serial and parallel grading give the same scores.
"""

import argparse
import csv
import pathlib
import secrets
import sys

from helpers.course.cluster import close, gather, make_client
from helpers.grading import report as report_files
from helpers.progress import progress


def submission_seeds(count, seed):
    """One check-input seed per submission, derived from the class ``seed``."""
    import numpy as np

    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(count)]


def _grade_one(path, seed, cell_timeout, total_timeout, isolate):
    from helpers.grading import grade

    try:
        return grade.grade(path, cell_timeout, total_timeout, seed, isolate)
    except Exception as err:  # a failure of the grading machinery itself is reported, not a crash of the class
        return {"submission": str(path), "score": 0.0, "max_score": 0.0, "exercises": [], "seed": seed,
                "isolated": isolate, "problem": f"grading failed: {type(err).__name__}: {err}"}


def grade_class(paths, seed=None, scheduler=None, workers=2, serial=False, cell_timeout=30, total_timeout=300,
                isolate=True, client=None, done=None):
    """Grade ``paths`` in parallel; return ``(reports in the order of paths, class seed)``.

    ``client``: an existing Dask client to use (left open); otherwise one is made from
    ``scheduler``/``workers`` and closed at the end. ``done(report)`` is called with each
    report as soon as it is there, so a class run that is stopped keeps what it graded."""
    from helpers.grading import sandbox

    if isolate:
        sandbox.ensure_works()  # fail once, here, rather than once per submission on the workers
    paths = [str(p) for p in paths]
    seed = secrets.randbits(32) if seed is None else int(seed)
    seeds = submission_seeds(len(paths), seed)
    args = (cell_timeout, total_timeout, isolate)
    if serial:
        reports = []
        for p, s in progress(list(zip(paths, seeds)), "grading"):
            reports.append(_grade_one(p, s, *args))
            if done is not None:
                done(reports[-1])
        return reports, seed
    own = client is None
    client = make_client(scheduler, workers) if own else client
    try:
        futures = client.map(_grade_one, paths, seeds, *[[a] * len(paths) for a in args], pure=False)
        return gather(client, futures, "grading", done), seed
    finally:
        if own:
            close(client, scheduler)


def write_csv(reports, path):
    """One row per submission: submission, score, max_score, problem (control characters escaped)."""

    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "score", "max_score", "seed", "problem"])
        for r in reports:
            writer.writerow([report_files.printable(r["submission"]), r["score"], r["max_score"], r["seed"],
                             report_files.printable(r["problem"])])


def _saver(csv_path):
    """``save(report)``: write one submission's ``.grade.json`` beside it, now (reports are saved as they
    finish); when that fails, say so at once and note it in the report (it reaches the CSV)."""
    def save(report):
        try:
            report_files.write_report(report, pathlib.Path(report["submission"]).with_suffix(".grade.json"))
        except OSError as err:
            report["problem"] = (report["problem"] + "; " if report["problem"] else "") + f"its .grade.json: {err}"
            print(f"{report_files.printable(report['submission'])}: could not write its .grade.json "
                  f"({report_files.printable(err)}); the score is in {csv_path}", file=sys.stderr)
    return save


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", nargs="+", type=pathlib.Path)
    parser.add_argument("--csv", type=pathlib.Path, default=pathlib.Path("class_scores.csv"))
    parser.add_argument("--seed", type=int, help="class seed of the check inputs (default: a fresh one)")
    parser.add_argument("--no-sandbox", action="store_true", help="grade unisolated (trusted notebooks only)")
    parser.add_argument("--cell-timeout", type=float, default=30, help="seconds per cell and per function call")
    parser.add_argument("--total-timeout", type=float, default=300, help="seconds per submission")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (default: a LocalCluster)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    parser.add_argument("--serial", action="store_true", help="no Dask: one submission after the other")
    args = parser.parse_args(argv)
    from helpers.grading import sandbox

    problems = [p for p in map(report_files.submission_problem, args.submissions) if p]
    if problems:
        print("error: " + "; ".join(problems) + ". Nothing was graded.", file=sys.stderr)
        return 2
    unique = {}
    for path in args.submissions:
        if path.resolve() in unique:
            print(f"warning: {path} is listed twice (as {unique[path.resolve()]}); graded once", file=sys.stderr)
        else:
            unique[path.resolve()] = path
    try:
        reports, seed = grade_class(list(unique.values()), args.seed, args.scheduler, args.workers, args.serial,
                                    args.cell_timeout, args.total_timeout, not args.no_sandbox,
                                    done=_saver(args.csv))
    except sandbox.SandboxUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for report in reports:
        print(f"{report_files.printable(report['submission'])}: {report['score']:.2f} / {report['max_score']}")
    write_csv(reports, args.csv)
    print(f"class seed {seed}; scores in {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
