"""What the grader shows and writes: the score file, the score table, and student text made safe to print.

Everything here handles text that came from a submission (error messages, file names) and
reaches the instructor: the terminal, the class CSV, the ``.grade.json``. Used by
:mod:`helpers.grading.grade` and :mod:`helpers.grading.grade_class`.
"""

import json
import os
import pathlib
import re
import tempfile


def write_report(report, output):
    """Write ``report`` as JSON to ``output`` atomically; a symbolic link at ``output`` is replaced, not followed."""
    output = pathlib.Path(output)
    handle, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    try:
        with os.fdopen(handle, "w") as f:
            f.write(json.dumps(report, indent=1) + "\n")
        os.replace(tmp, output)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def submission_problem(path):
    """Why ``path`` cannot be graded as a submission file, or "" (a shell glob that matched nothing
    arrives as its literal pattern; any other suffix would write the ``.grade.json`` of a notebook)."""
    path = pathlib.Path(path)
    if not path.exists() and not path.is_symlink():
        return (f"{path} does not exist" + (" (a pattern that matched no file?)" if any(c in str(path) for c in "*?[")
                                              else ""))
    if path.suffix != ".ipynb":
        return f"{path} is not a notebook (.ipynb); only notebooks are graded"
    return ""


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text):
    """``text`` with control characters shown as ``\\xNN`` / ``\\uNNNN``: a student's error message cannot move the
    cursor, recolour, clear or fake lines of the instructor's terminal (escape sequences, carriage returns,
    newlines, bidirectional overrides)."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}",
                            str(text))


def print_table(report):
    """The per-exercise score table (what came from the submission is shown with :func:`printable`)."""
    print(f"{'exercise':<24} {'chapter':>7} {'checks':>7} {'score':>11}")
    for r in report["exercises"]:
        print(f"{r['exercise']:<24} {r['chapter']:>7} {r['passed']:>3}/{r['total']:<3} {r['score']:>5.2f} / {r['points']:<4}")
        for message in r["messages"]:
            print(f"    - {printable(message)}")
    print(f"{'total':<24} {'':>7} {'':>7} {report['score']:>5.2f} / {report['max_score']}")
    for item in report.get("graded_by_hand", []):
        print(f"question {item['question']} ({item['points']:g} point) is graded by hand, not in this total")
    if report["problem"]:
        print(f"note: {printable(report['problem'])}")
