"""A whole class graded in parallel on Dask.

``python -m helpers.grading.grade_class SUBMISSIONS... [--csv scores.csv]`` grades every
submission (:func:`helpers.grading.grade.grade`, each in its own sandbox) on a Dask
``LocalCluster`` (``--workers``, default 2) or on an existing cluster
(``--scheduler tcp://host:8786``); ``--serial`` grades in this process, in order.

Scores do not depend on how the work is spread: each submission's check inputs are
drawn from a seed derived from one class seed (``--seed``; printed and stored) and
the submission's position, so serial and parallel grading give the same scores.

Every listed submission gets its own CSV row. A submission reached through a symbolic link below
the class folder (``--class-dir``; default the listed submissions' common folder), a hard link or a
file outside the class folder is refused (0, the reason as its problem, no ``.grade.json`` written
through the link); one that is the same file as a submission listed before it is graded once, in
that row. CSV cells from a submission cannot be spreadsheet formulas (:func:`write_csv`).
"""

import argparse
import csv
import os
import pathlib
import secrets
import sys

from helpers.course.cluster import close, gather, make_client
from helpers.grading import report as report_files
from helpers.grading.exercises import EXERCISES
from helpers.progress import progress


def submission_seeds(count, seed):
    """One check-input seed per submission, derived from the class ``seed``."""
    import numpy as np

    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(count)]


def _grade_one(path, seed, cell_timeout, total_timeout, isolate, root=None, chapter=None):
    from helpers.grading import grade

    try:
        return grade.grade(path, cell_timeout, total_timeout, seed, isolate, root=root, chapter=chapter)
    except Exception as err:  # a failure of the grading machinery itself is reported, not a crash of the class
        return {"submission": str(path), "score": 0.0, "max_score": 0.0, "exercises": [], "seed": seed,
                "isolated": isolate, "problem": f"grading failed: {type(err).__name__}: {err}"}


def class_folder(paths, class_dir=None):
    """The folder every submission must be in, with no symbolic link between it and the file.

    Args:
        paths: the listed submissions.
        class_dir: the folder the instructor named; None: the common folder of ``paths`` (made absolute,
            not resolved: a link at or above it is the instructor's, one below it a student's).

    Returns:
        str: that folder, resolved; None when there are no paths.
    """
    if class_dir is not None:
        return os.path.realpath(class_dir)
    if not paths:
        return None
    return os.path.realpath(os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths]))


def same_files(paths, root):
    """Which listed submissions are the same file as one listed before them.

    Args:
        paths: the listed submissions.
        root: the class folder (:func:`class_folder`); a submission refused for a link below it is left out
            (it gets its own refusal when it is read).

    Returns:
        dict: ``{index: index of the earlier path}`` for each repeat (listed twice, two names of one folder, a
        bind mount: the same device and inode).
    """
    from helpers.grading import submission

    first, same = {}, {}
    for i, path in enumerate(paths):
        if submission.link_problem(path, root):
            continue
        try:
            info = os.stat(path)
            key = (info.st_dev, info.st_ino)
        except OSError:  # a missing file is reported by its own row; its path is its identity
            key = os.path.realpath(path)
        if key in first:
            same[i] = first[key]
        else:
            first[key] = i
    return same


def grade_class(paths, seed=None, scheduler=None, workers=2, serial=False, cell_timeout=30, total_timeout=300,
                isolate=True, client=None, done=None, class_dir=None, chapter=None):
    """Grade ``paths`` in parallel; return ``(reports in the order of paths, class seed)``.

    Every listed path gets its own report: one that is the same file as a path listed before it (a
    ``duplicate_of`` report, not graded) and one refused for a link (:func:`helpers.grading.submission.link_problem`,
    below :func:`class_folder` of ``class_dir``) score 0 with the reason as their ``problem``.
    ``client``: an existing Dask client to use (left open); otherwise one is made from
    ``scheduler``/``workers`` and closed at the end. ``done(report)`` is called with each
    report as soon as it is there, so a class run that is stopped keeps what it graded. ``chapter``: the
    assignment (``"02"``), which decides what is graded (None: each file name's chapter)."""
    from helpers.grading import sandbox

    if isolate:
        sandbox.ensure_works()  # fail once, here, rather than once per submission on the workers
    paths = [str(p) for p in paths]
    seed = secrets.randbits(32) if seed is None else int(seed)
    seeds = submission_seeds(len(paths), seed)
    root = class_folder(paths, class_dir)
    reports = [None] * len(paths)
    for i, j in same_files(paths, root).items():
        from helpers.grading import grade

        reports[i] = grade.refused(paths[i], f"{paths[i]} is the same file as {paths[j]}, listed before it (listed "
                                             "twice, or two names of one folder): graded once, in that row", seeds[i],
                                   isolate, chapter)
        reports[i]["duplicate_of"] = paths[j]
        if done is not None:
            done(reports[i])
    todo = [i for i in range(len(paths)) if reports[i] is None]
    args = (cell_timeout, total_timeout, isolate, root, chapter)
    if serial:
        for i in progress(todo, "grading"):
            reports[i] = _grade_one(paths[i], seeds[i], *args)
            if done is not None:
                done(reports[i])
        return reports, seed
    own = client is None
    client = make_client(scheduler, workers) if own else client
    try:
        futures = client.map(_grade_one, [paths[i] for i in todo], [seeds[i] for i in todo],
                             *[[a] * len(todo) for a in args], pure=False)
        for i, report in zip(todo, gather(client, futures, "grading", done)):
            reports[i] = report
        return reports, seed
    finally:
        if own:
            close(client, scheduler)


def write_csv(reports, path):
    """One row per submission: submission, score, max_score, seed, problem (what came from a submission is
    escaped and made inert for spreadsheets: :func:`helpers.grading.report.spreadsheet_cell`)."""

    with open(path, "w", newline="") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL)  # a ";" in a name cannot start a cell in a ";" locale
        writer.writerow(["submission", "score", "max_score", "seed", "problem"])
        for r in reports:
            writer.writerow([report_files.spreadsheet_cell(r["submission"]), r["score"], r["max_score"], r["seed"],
                             report_files.spreadsheet_cell(r["problem"])])


def _note(report, text):
    report["problem"] = (report["problem"] + "; " if report["problem"] else "") + text


def _saver(csv_path, root=None):
    """``save(report)``: write one submission's ``.grade.json`` beside it, now (reports are saved as they
    finish), into its folder opened without following a link from the class folder ``root``. Nothing is
    written for a submission refused for a link (it would land in the folder the link leads to, another
    student's) nor for a ``duplicate_of`` row (its file's report is the earlier row's); a refusal or a
    failure is said at once and noted in the report (it reaches the CSV)."""
    from helpers.grading import submission

    def save(report):
        if report.get("duplicate_of") is not None:
            return
        path = report["submission"]
        try:
            problem = submission.write_beside(report, path, root)
        except OSError as err:
            _note(report, f"its .grade.json: {err}")
            print(f"{report_files.printable(path)}: could not write its .grade.json ({report_files.printable(err)}); "
                  f"the score is in {csv_path}", file=sys.stderr)
            return
        if problem:
            _note(report, "no .grade.json was written beside it"
                  + ("" if problem in report["problem"] else f" ({problem})"))
            print(f"{report_files.printable(path)}: refused, no .grade.json written "
                  f"({report_files.printable(problem)})", file=sys.stderr)
    return save


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", nargs="+", type=pathlib.Path)
    parser.add_argument("--csv", type=pathlib.Path, default=pathlib.Path("class_scores.csv"))
    parser.add_argument("--chapter", required=True, choices=sorted({e.chapter for e in EXERCISES.values()}),
                        help="the assignment's chapter: it decides what is graded (not the files' names or contents)")
    parser.add_argument("--seed", type=int, help="class seed of the check inputs (default: a fresh one)")
    parser.add_argument("--no-sandbox", action="store_true", help="grade unisolated (trusted notebooks only)")
    parser.add_argument("--cell-timeout", type=float, default=30, help="seconds per cell and per function call")
    parser.add_argument("--total-timeout", type=float, default=300, help="seconds per submission")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (default: a LocalCluster)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    parser.add_argument("--serial", action="store_true", help="no Dask: one submission after the other")
    parser.add_argument("--class-dir", type=pathlib.Path,
                        help="the class folder: a submission must be in it, with no symbolic link between it and the "
                             "file (default: the common folder of the listed submissions; name it when they are all in "
                             "one student's folder, whose own link it cannot see)")
    args = parser.parse_args(argv)
    from helpers.grading import sandbox

    sandbox.exit_cleanly_on_sigterm()

    problems = [p for p in map(report_files.submission_problem, args.submissions) if p]
    if problems:
        print("error: " + "; ".join(problems) + ". Nothing was graded.", file=sys.stderr)
        return 2
    root = class_folder(args.submissions, args.class_dir)
    try:
        reports, seed = grade_class(args.submissions, args.seed, args.scheduler, args.workers, args.serial,
                                    args.cell_timeout, args.total_timeout, not args.no_sandbox,
                                    done=_saver(args.csv, root), class_dir=root, chapter=args.chapter)
    except sandbox.SandboxUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for report in reports:
        if report.get("duplicate_of") is not None:
            print(f"warning: {report_files.printable(report['submission'])} is listed twice (as "
                  f"{report_files.printable(report['duplicate_of'])}); graded once", file=sys.stderr)
    for report in reports:
        print(f"{report_files.printable(report['submission'])}: {report['score']:.2f} / {report['max_score']}")
    write_csv(reports, args.csv)
    print(f"class seed {seed}; scores in {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
