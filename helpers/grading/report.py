"""What the grader shows and writes: the score file, the score table, and student text made safe to print
and to open in a spreadsheet.

Everything here handles text that came from a submission (error messages, file names) and
reaches the instructor: the terminal, the class CSV (:func:`spreadsheet_cell`), the ``.grade.json``. Used by
:mod:`helpers.grading.grade` and :mod:`helpers.grading.grade_class`.
"""

import json
import os
import pathlib
import unicodedata
import secrets
import tempfile


def write_report(report, output, dir_fd=None):
    """Write ``report`` as JSON to ``output`` atomically; a symbolic link at ``output`` is replaced, not followed.

    Args:
        report: the dict to write.
        output: the file; with ``dir_fd``, a bare file name in that folder.
        dir_fd: an open descriptor of the folder to write in (the class grader's, reached without following
            a link): the file lands there whatever a link in the folder's path leads to now.

    Raises:
        OSError: the file cannot be written (nothing is left behind).
    """
    text = json.dumps(report, indent=1) + "\n"
    if dir_fd is None:
        output = pathlib.Path(output)
        handle, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    else:
        tmp = f".{output}.{secrets.token_hex(8)}"
        handle = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
    try:
        with os.fdopen(handle, "w") as f:
            f.write(text)
        os.replace(tmp, output, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        if dir_fd is None:
            pathlib.Path(tmp).unlink(missing_ok=True)
        elif tmp in os.listdir(dir_fd):
            os.unlink(tmp, dir_fd=dir_fd)
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


def _hidden(char):
    """Control characters (C0, DEL, C1) and Unicode format and separator characters (categories Cf, Zl, Zp:
    bidirectional marks and overrides, zero-width joiners, U+2028/2029 line and paragraph separators, BOM)."""
    return ord(char) < 0x20 or 0x7f <= ord(char) <= 0x9f or unicodedata.category(char) in ("Cf", "Zl", "Zp")


def printable(text):
    """``text`` with control, format and separator characters shown as ``\\xNN`` / ``\\uNNNN``: a student's error
    message cannot move the cursor, recolour, clear or fake lines of the instructor's terminal (escape sequences,
    carriage returns, newlines, line separators, bidirectional overrides)."""
    return "".join((f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}") if _hidden(c) else c
                   for c in str(text))


#: First characters that make a spreadsheet read a cell as a formula (``=HYPERLINK(...)``, ``+cmd|...``,
#: ``-1+1``, ``@SUM(...)``) or drop to the next field (tab, carriage return).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(text):
    """``text`` for a CSV cell: :func:`printable`, with a ``'`` in front when it begins with a character a
    spreadsheet would evaluate (:data:`FORMULA_STARTS`), so opening the class CSV runs nothing a student wrote.

    Args:
        text: what came from a submission (its path, a problem message); anything ``str`` accepts.

    Returns:
        str: the escaped text, prefixed with ``'`` when it (or its escaped form) begins with a formula character.
    """
    shown = printable(text)
    return "'" + shown if str(text).startswith(FORMULA_STARTS) or shown.startswith(FORMULA_STARTS) else shown


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
