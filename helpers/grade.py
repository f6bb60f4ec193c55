"""Grade a submission: ``python -m helpers.grade SUBMISSION.ipynb [--output scores.json]``.

The grader finds the exercise cells of the submission (their ``# EXERCISE name``
line), builds a grading notebook of those cells, each followed by its checks
(:mod:`helpers.exercises`), and executes it with papermill in a separate process
under a per-cell time limit (the kernel is interrupted) and a total one (the
process group is killed). The rest of the chapter (training, figures) is not
needed to grade and is not run, so a submission grades in seconds.

Whatever the submission does (syntax error, exception, infinite loop, deleted
cell, renamed function, a file that is not a notebook) every expected exercise
gets a score and a message; the grader itself does not crash. It prints a table
and writes the scores as JSON (default: ``SUBMISSION.grade.json`` beside it).
"""

import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from helpers.assignments import exercise_name
from helpers.exercises import EXERCISES, MARKER, for_chapter

_RUNNER = """
import sys, papermill
try:
    papermill.execute_notebook(sys.argv[1], sys.argv[2], kernel_name="python3", progress_bar=False,
                               execution_timeout=float(sys.argv[3]), allow_errors=True, interrupt_on_timeout=True)
except papermill.PapermillExecutionError:
    sys.exit(0)  # errors of the submission are read from the executed notebook, cell by cell
"""
_CHECK = """from helpers.exercises import run_checks as _run_checks
import json as _json
with open({path!r}, "a") as _f:
    _f.write(_json.dumps(_run_checks({name!r}, globals().get({function!r}))) + "\\n")"""


def read_submission(path):
    """``(notebook or None, problem message)`` for the file at ``path``."""
    try:
        nb = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        return None, f"{path} does not exist"
    except Exception as err:  # any unreadable file is a broken submission, reported as such
        return None, f"{path} is not a readable notebook ({type(err).__name__}: {err})"
    return nb, ""


def expected_exercises(path, nb):
    """Exercises this submission must answer: its chapter's (from the file name), its metadata's and its cells'."""
    names = set(for_chapter(pathlib.Path(path).name[:2]))
    if nb is not None:
        listed = nb.metadata.get("course", {}).get("exercises", [])
        names |= {n for n in listed if isinstance(n, str) and n in EXERCISES}
        names |= {exercise_name(c) for c in nb.cells if exercise_name(c) in EXERCISES}
    return sorted(names, key=lambda n: (EXERCISES[n].chapter, n))


def grading_notebook(cells, results_path):
    """The notebook that is executed: each exercise cell, then a cell running its checks."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for name, source in cells.items():
        answer = new_code_cell(source)
        answer.metadata["exercise"] = name
        check = new_code_cell(_CHECK.format(path=str(results_path), name=name, function=EXERCISES[name].function))
        check.metadata["check"] = name
        nb.cells += [answer, check]
    return nb


def _first_error(nb, key, name):
    for cell in nb.cells:
        if cell.metadata.get(key) == name:
            for out in cell.get("outputs", []):
                if out.output_type == "error":
                    return out.ename, out.evalue
    return None


def execute(nb, workdir, cell_timeout, total_timeout):
    """Run ``nb`` with papermill in a child process; return ``(executed notebook or None, note)``."""
    source, target = workdir / "grading.ipynb", workdir / "graded.ipynb"
    nbformat.write(nb, source)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-c", _RUNNER, str(source), str(target), str(cell_timeout)]
    process = subprocess.Popen(command, cwd=workdir, env=env, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = process.communicate(timeout=total_timeout)
        note = "" if process.returncode == 0 else f"grading process failed: {stderr.strip()[-300:]}"
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        note = f"grading stopped after the total limit of {total_timeout} s"
    executed = nbformat.read(target, as_version=4) if target.exists() else None
    return executed, note


def grade(path, cell_timeout=30, total_timeout=300):
    """Grade the submission at ``path``.

    Returns:
        dict with ``submission``, ``score``, ``max_score``, ``exercises`` (one record per
        exercise: ``score``, ``points``, ``passed``, ``total``, ``messages``) and ``problem``.
    """
    nb, problem = read_submission(path)
    names = expected_exercises(path, nb)
    cells = {}
    if nb is not None:
        for cell in nb.cells:
            name = exercise_name(cell)
            if name in names and name not in cells:
                cells[name] = cell.source
    results, executed = {}, None
    if cells:
        with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
            workdir = pathlib.Path(tmp)
            results_path = workdir / "results.jsonl"
            executed, note = execute(grading_notebook(cells, results_path), workdir, cell_timeout, total_timeout)
            problem = problem or note
            if results_path.exists():
                for line in results_path.read_text().splitlines():
                    record = json.loads(line)
                    results[record["exercise"]] = record
    records = [_record(name, cells, results, executed, cell_timeout, problem) for name in names]
    if not names and not problem:
        problem = f"no exercise found: {path} has no cell starting with '{MARKER} <name>' and its name has no chapter number"
    return {"submission": str(path), "score": round(sum(r["score"] for r in records), 2),
            "max_score": sum(r["points"] for r in records), "exercises": records, "problem": problem}


def _record(name, cells, results, executed, cell_timeout, problem):
    exercise = EXERCISES[name]
    base = {"exercise": name, "chapter": exercise.chapter, "points": exercise.points, "score": 0.0,
            "passed": 0, "total": len(exercise.checks), "messages": []}
    if name not in cells:
        base["messages"] = [problem or f"exercise cell '{MARKER} {name}' not found (deleted, or its first line changed)"]
        return base
    record = {**base, **results.get(name, {})}
    record["chapter"] = exercise.chapter
    answer_error = _first_error(executed, "exercise", name) if executed else None
    if answer_error and answer_error[0] == "KeyboardInterrupt":
        record["messages"] = [f"your cell did not finish within {cell_timeout:g} s (an infinite loop?)"] + record["messages"]
    elif answer_error:
        record["messages"] = [f"your cell raised {answer_error[0]}: {answer_error[1]}"] + record["messages"]
    if name not in results:
        check_error = _first_error(executed, "check", name) if executed else None
        if check_error and check_error[0] == "KeyboardInterrupt":
            record["messages"].append(f"the checks did not finish within {cell_timeout:g} s (an infinite loop?)")
        elif check_error:
            record["messages"].append(f"checks stopped: {check_error[0]}: {check_error[1]}")
        elif not answer_error:
            record["messages"].append(problem or "the checks did not run")
    return record


def print_table(report):
    """The per-exercise score table."""
    print(f"{'exercise':<24} {'chapter':>7} {'checks':>7} {'score':>11}")
    for r in report["exercises"]:
        print(f"{r['exercise']:<24} {r['chapter']:>7} {r['passed']:>3}/{r['total']:<3} {r['score']:>5.2f} / {r['points']:<4}")
        for message in r["messages"]:
            print(f"    - {message}")
    print(f"{'total':<24} {'':>7} {'':>7} {report['score']:>5.2f} / {report['max_score']}")
    if report["problem"]:
        print(f"note: {report['problem']}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submission", type=pathlib.Path)
    parser.add_argument("--output", type=pathlib.Path, help="JSON scores (default SUBMISSION.grade.json)")
    parser.add_argument("--cell-timeout", type=float, default=30, help="seconds per cell before it is interrupted")
    parser.add_argument("--total-timeout", type=float, default=300, help="seconds for the whole grading")
    args = parser.parse_args(argv)
    report = grade(args.submission, args.cell_timeout, args.total_timeout)
    print_table(report)
    output = args.output or args.submission.with_suffix(".grade.json")
    try:
        output.write_text(json.dumps(report, indent=1) + "\n")
        print(f"scores written to {output}")
    except OSError as err:
        print(f"could not write {output} ({err}); the scores are in the table above")
    return 0


if __name__ == "__main__":
    sys.exit(main())
