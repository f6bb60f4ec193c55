"""Grade a submission: ``python -m helpers.grading.grade SUBMISSION.ipynb [--output scores.json]``.

The grader finds the exercise cells of the submission (their ``# EXERCISE name``
line) and runs them in a sandbox (:mod:`helpers.grading.sandbox`): a throwaway directory
holding only those cells, the check inputs and a small runner, with no access to
the course repository (no reference notebooks, no ``helpers``), no network, and a
per-cell and a total time limit. Inside, the runner calls the student's function on
the inputs of every check and saves what it returns; outside, in this process, the
outputs are verified (:func:`helpers.grading.references.score_outputs`). The student's code
therefore never shares a process with the checks or the expected values: replacing
``run_checks``, writing a results file or exiting early earns nothing. Random check
inputs are drawn from a fresh seed per submission (recorded in the report) keyed with the
instructor's secret (:mod:`helpers.grading.seeds`), and
every score is capped at the exercise's points.

Whatever the submission does (syntax error, exception, infinite loop, deleted
cell, renamed function, a file that is not a notebook) every expected exercise
gets a score and a message; the grader itself does not crash. It prints a table
and writes the scores as JSON (default: ``SUBMISSION.grade.json`` beside it,
replaced atomically; a symbolic link there is replaced, never followed).
"""

import argparse
import contextlib
import functools
import json
import os
import pathlib
import secrets
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from helpers.grading import questions, sandbox, seeds
from helpers.grading.assignments import exercise_name
from helpers.grading.exercises import EXERCISES, MARKER, argument_kind
from helpers.grading.references import check_inputs, score_outputs
from helpers.grading.report import print_table, printable, submission_problem, write_report
from helpers.grading.preamble import notebook_preamble
from helpers.grading.submission import (expected_exercises, read_submission, write_beside,
                                        regular_file)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # some checks compare with TensorFlow code
_RUNNER = pathlib.Path(__file__).with_name("sandbox_runner.py")
_MAX_RESULTS_BYTES = 2**20
#: Bound on the work done before the sandbox: an exercise cell (a solution is a few hundred characters).
MAX_CELL_CHARS = 100_000
_MAX_OUTPUT_VALUES = 10**7
#: Chapters with exercises, as ``--chapter`` takes them.
CHAPTERS = sorted({exercise.chapter for exercise in EXERCISES.values()})
#: Seconds of silence from the sandbox's supervisor before the grader kills the sandbox from outside.
SILENCE = 10.0


@functools.lru_cache(maxsize=1)
def _course_modules():
    """Names of the course package's modules (``helpers``, ``helpers.featuremaps``, ...): importing one in the
    sandbox works, using it says that the course is not there (:mod:`helpers.grading.sandbox_runner`)."""
    import pkgutil

    import helpers

    return ("helpers", *sorted(m.name for m in pkgutil.walk_packages(helpers.__path__, "helpers.")))


def write_job(workdir, cells, cell_timeout, seed, imports=None):
    """Write ``job.json``, ``inputs.npz`` and the runner into ``workdir``; return the inputs per exercise.
    ``imports``: ``{exercise: [imports and constants of earlier cells]}`` (:func:`notebook_preamble`)."""
    job = {"cell_timeout": cell_timeout, "exercises": [], "course_modules": list(_course_modules())}
    arrays, inputs = {}, {}
    for name, source in cells.items():
        inputs[name] = check_inputs(name, seed)
        kinds = []
        for index, arguments in enumerate(inputs[name]):
            kinds.append([argument_kind(a) for a in arguments])
            for j, a in enumerate(arguments):
                key = f"{name}__{index}__{j}"
                if kinds[-1][j] == "model":  # a network travels as a .keras file, loaded inside the sandbox
                    a.save(workdir / f"{key}.keras")
                else:
                    arrays[key] = np.asarray(a)
        job["exercises"].append({"name": name, "function": EXERCISES[name].function,
                                 "source": source, "arguments": kinds,
                                 "imports": (imports or {}).get(name, [])})
    (workdir / "job.json").write_text(json.dumps(job))
    np.savez(workdir / "inputs.npz", **arrays)
    shutil.copy(_RUNNER, workdir / "runner.py")
    return inputs


def read_results(workdir):
    """The runner's ``results.json`` as a dict (empty when missing, not a regular file, too large or malformed)."""
    path = workdir / "results.json"
    try:
        if not regular_file(path) or path.stat().st_size > _MAX_RESULTS_BYTES:
            return {}
        results = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):  # deeply nested brackets exhaust the parser's recursion
        return {}
    return results if isinstance(results, dict) else {}


def _output(workdir, name, index, status):
    """One check's output: the saved array, or a string saying why there is none."""
    if status != "ok":
        return str(status)[:300] if isinstance(status, str) else "no output (the function never ran)"
    path = workdir / f"out_{name}_{index}.npy"
    try:
        if not regular_file(path):
            raise OSError("not a plain file")
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)  # a header cannot claim more than the file holds
        if mapped.size > _MAX_OUTPUT_VALUES:
            raise ValueError(f"{mapped.size} values, more than any check expects")
        return np.array(mapped)
    except Exception as err:  # any header NumPy cannot parse (SyntaxError, TokenError, ...) is this output's 0
        return f"its output could not be read ({type(err).__name__})"


@contextlib.contextmanager
def _workdir():
    """A fresh sandbox directory (its own tmpfs for a root grader: :func:`helpers.grading.sandbox.own_disk`),
    removed afterwards by ``rm -rf`` (thousands of nested directories left by a submission would exhaust
    ``shutil.rmtree``'s recursion)."""
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="grade-"))
    try:
        with sandbox.own_disk(tmp):  # a root grader: a tmpfs of the disk limit, enforced by the kernel
            yield tmp
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(tmp)], check=False)


def run_submission(cells, cell_timeout, total_timeout, seed, isolate=True, imports=None):
    """Run ``cells`` (``{exercise: source}``, each after its ``imports`` lines) in a sandbox; return
    ``{exercise: record}`` and a note."""
    with _workdir() as workdir:
        inputs = write_job(workdir, cells, cell_timeout, seed, imports)
        code, tail = sandbox.run(workdir, "runner.py", timeout=total_timeout, isolate=isolate, supervised=SILENCE)
        note = f"grading stopped after the total limit of {total_timeout:g} s" if code is None else ""
        if tail.startswith(sandbox.DISK_STOP):
            note = (f"grading stopped: the submission wrote more than {sandbox.LIMITS['disk'] // 2**20} MiB or "
                    f"{sandbox.LIMITS['files']:,} files")
        elif tail.startswith(sandbox.STALL_STOP):
            note = "grading stopped: your code stopped or killed the grader's supervising process"
        elif regular_file(workdir / "stopped.json"):
            note = (f"grading stopped: a step of your code ran past its limit of {cell_timeout:g} s and did not let "
                    "itself be interrupted (it caught, ignored or cancelled the timer), so it was killed")
        results = read_results(workdir)
        records = {}
        for name in cells:
            exercise, raw = EXERCISES[name], results.get(name)
            raw = raw if isinstance(raw, dict) else {}
            statuses = raw.get("outputs") if isinstance(raw.get("outputs"), list) else []
            statuses = [x[:300] if isinstance(x, str) else x for x in statuses[:len(inputs[name]) + 1]]
            cut_short = name in results and len(statuses) < len(inputs[name])  # the process ended in this exercise
            statuses = (statuses + [None] * len(inputs[name]))[:len(inputs[name])]
            outputs = [_output(workdir, name, i, status) for i, status in enumerate(statuses)]
            messages = []
            cell_error = raw.get("cell_error")  # what the sandbox wrote: the submission may have forged it
            cell_error = cell_error[:300] if isinstance(cell_error, str) else None
            if isinstance(cell_error, str) and cell_error.startswith("did not finish"):
                messages.append(f"your cell {cell_error}")
            elif isinstance(cell_error, str):
                messages.append(f"your cell raised {cell_error}")
            undefined = name in results and not cut_short and all(s is None for s in statuses)
            if cut_short:
                messages.append(note or f"the grading process ended while your code ran (exit status {code}): "
                                        "did it exit, or kill the process running it?")
            if name not in results:
                messages.append(note or "the checks did not run (the submission ended the grading process)")
            elif undefined:
                messages.append(f"{exercise.function} is not defined after the exercise cell ran (renamed or deleted?)")
            record = score_outputs(name, outputs, inputs[name])
            record["messages"] = messages + ([] if undefined or name not in results else record["messages"])
            raised = [cell_error] + [s for s in statuses if isinstance(s, str)]
            if any(isinstance(e, str) and e.startswith("NameError") for e in raised):
                record["messages"].append("only the exercise cell runs when grading, after the imports and constants "
                                          "(names set to plain numbers or strings) of the cells before it: define "
                                          "everything else your answer uses inside the exercise cell")
            if any(isinstance(e, str) and (e.startswith(("ModuleNotFoundError", "ImportError")) and "'helpers" in e
                                           or "not available when grading" in e) for e in raised):
                record["messages"].append("the course's helpers package is not there when grading: write the "
                                          "function with NumPy, Keras and TensorFlow, as the exercise asks")
            records[name] = record
    return records, note


def grade(path, cell_timeout=30, total_timeout=300, seed=None, isolate=True, root=None, chapter=None):
    """Grade the submission at ``path``.

    Args:
        path: the submitted notebook.
        cell_timeout: seconds for each exercise cell and for each call of its function.
        total_timeout: seconds for the whole submission (every process is then killed).
        seed: the submission's seed, recorded in the report (default: a fresh one); the check inputs are drawn
            from it keyed with the instructor's secret (:func:`helpers.grading.seeds.input_seed`), so a student
            who reads the report cannot compute them.
        isolate: False runs the submission without bubblewrap (see :mod:`helpers.grading.sandbox`).
        root: the class folder ``path`` must be in, with no symbolic link between it and the file; None:
            no component of ``path`` may be a link (:func:`helpers.grading.submission.link_problem`).
        chapter: the assignment's chapter (``"02"``), which decides the exercises graded; None: the chapter the
            file name starts with (the command-line graders require ``--chapter``).

    Returns:
        dict with ``submission``, ``score``, ``max_score``, ``exercises`` (one record per
        exercise: ``score``, ``points``, ``passed``, ``total``, ``messages``), ``problem``,
        ``seed``, ``isolated`` and ``graded_by_hand`` (the chapter's interpretation questions and
        their points, not part of ``score``: see :mod:`helpers.grading.questions`).
    """
    if isolate:
        sandbox.ensure_works()
    seed = secrets.randbits(32) if seed is None else int(seed)
    nb, problem = read_submission(path, root=root)
    names = expected_exercises(path, nb, chapter)
    cells = {}
    if nb is not None:
        for cell in nb.cells:  # the last cell of an exercise wins, as when the notebook runs from the top
            name = exercise_name(cell)
            if name in names:
                cells[name] = cell.source
    too_long = {name: len(source) for name, source in cells.items() if len(source) > MAX_CELL_CHARS}
    cells = {name: source for name, source in cells.items() if name not in too_long}
    results = {name: _missing(name, f"your exercise cell has {length:,} characters, more than the {MAX_CELL_CHARS:,} "
                                    "a solution needs; it was not run") for name, length in too_long.items()}
    if cells:
        imports = {name: notebook_preamble(nb, name) for name in cells}
        ran, note = run_submission(cells, cell_timeout, total_timeout, seeds.input_seed(seed), isolate, imports)
        results.update(ran)
        problem = problem or note
    return _report(path, names, results, problem, seed, isolate)


def refused(path, problem, seed, isolate=True, chapter=None):
    """The report of a submission that is not read at all (e.g. the same file as one listed before it).

    Args:
        path: the submission, as listed.
        problem: why it is not graded (every expected exercise gets 0 with this message).
        seed: the seed its position in the class drew (recorded, as for a graded one).
        isolate: whether the class is graded in the sandbox (recorded).
        chapter: the assignment's chapter (as for :func:`grade`).

    Returns:
        dict: a report as :func:`grade` returns it, score 0.
    """
    return _report(path, expected_exercises(path, None, chapter), {}, problem, int(seed), isolate)


def _report(path, names, results, problem, seed, isolate):
    """The report of :func:`grade` from the expected exercise ``names`` and their ``results`` (records)."""
    records = [results.get(name) or _missing(name, problem) for name in names]
    for record in records:
        record["chapter"] = EXERCISES[record["exercise"]].chapter
    if not names and not problem:
        problem = (f"cannot tell which assignment {path} answers: name its chapter (--chapter 02), or grade it under "
                   "the assignment's file name (NN_*.ipynb)")
    chapters = sorted({record["chapter"] for record in records})
    manual = [{"question": q, "points": questions.QUESTIONS[q].points} for c in chapters for q in questions.for_chapter(c)]
    return {"submission": str(path), "score": round(sum(r["score"] for r in records), 2),
            "max_score": sum(r["points"] for r in records), "exercises": records, "problem": problem,
            "seed": seed, "isolated": bool(isolate), "graded_by_hand": manual}


def _missing(name, problem):
    exercise = EXERCISES[name]
    return {"exercise": name, "points": exercise.points, "score": 0.0, "passed": 0, "total": len(exercise.checks),
            "messages": [problem or f"exercise cell '{MARKER} {name}' not found (deleted, or its first line changed)"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submission", type=pathlib.Path)
    parser.add_argument("--output", type=pathlib.Path, help="JSON scores (default SUBMISSION.grade.json)")
    parser.add_argument("--cell-timeout", type=float, default=30, help="seconds per cell before it is interrupted")
    parser.add_argument("--total-timeout", type=float, default=300, help="seconds for the whole grading")
    parser.add_argument("--chapter", required=True, choices=CHAPTERS,
                        help="the assignment's chapter: it decides what is graded (not the file's name or contents)")
    parser.add_argument("--seed", type=int, help="seed of the random check inputs (default: a fresh one)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run the submission without bubblewrap (it can then read and write your files)")
    args = parser.parse_args(argv)
    sandbox.exit_cleanly_on_sigterm()
    problem = submission_problem(args.submission)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        report = grade(args.submission, args.cell_timeout, args.total_timeout, args.seed, not args.no_sandbox,
                       chapter=args.chapter)
    except sandbox.SandboxUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print_table(report)
    output = args.output or args.submission.with_suffix(".grade.json")
    try:  # beside the submission: never through a linked folder (into another student's); elsewhere as asked
        refused = write_beside(report, args.submission) if args.output is None else write_report(report, output)
        print(f"no score file written beside it ({printable(refused)})" if refused else f"scores written to {output}")
    except OSError as err:
        print(f"could not write {output} ({err}); the scores are in the table above")
    return 0


if __name__ == "__main__":
    sys.exit(main())
