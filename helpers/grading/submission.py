"""What the grader reads of a submission, before any of it runs: the notebook file (regular files
only, size-capped), the exercises the assignment grades, each exercise cell as plain Python, and
the notebook's import lines that run before it.
"""

import os
import pathlib
import re
import stat

import nbformat

from helpers.grading.assignments import exercise_name
from helpers.grading.exercises import EXERCISES, for_chapter

#: Bound on the work done before the sandbox: a submitted file (the rendered chapters are under 3 MiB).
MAX_SUBMISSION_BYTES = 64 * 2**20


def regular_file(path):
    """True for a regular file (not a link, pipe, socket or device: opening a pipe would block the grader)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def read_submission(path):
    """``(notebook or None, problem message)`` for the file at ``path``; a symbolic link or anything but a
    regular file is refused (a link could point at another student's notebook or at the solutions)."""
    if pathlib.Path(path).is_symlink():
        return None, f"{path} is a symbolic link, not a submitted notebook: submit the file itself"
    if pathlib.Path(path).exists() and not regular_file(path):
        return None, f"{path} is not a regular file"
    size = pathlib.Path(path).stat().st_size if pathlib.Path(path).exists() else 0
    if size > MAX_SUBMISSION_BYTES:
        return None, (f"{path} is {size / 2**20:.0f} MiB, more than the {MAX_SUBMISSION_BYTES // 2**20} MiB a notebook of this "
                      "course needs: clear its outputs (Kernel > Restart & Clear Output) and submit it again")
    try:
        nb = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        return None, f"{path} does not exist"
    except Exception as err:  # any unreadable file is a broken submission, reported as such
        return None, f"{path} is not a readable notebook ({type(err).__name__}: {err})"
    return nb, ""


def expected_exercises(path, nb):
    """Exercises this submission is graded on: its chapter's, from the file name (``02_*.ipynb``), else
    the list the student version records in its metadata. Exercise cells of other chapters pasted into
    it are not graded: the assignment, not the submission, decides what is marked."""
    names = for_chapter(pathlib.Path(path).name[:2])
    if not names and nb is not None:
        listed = nb.metadata.get("course", {}).get("exercises", [])
        names = [n for n in listed if isinstance(n, str) and n in EXERCISES] if isinstance(listed, list) else []
    return sorted(set(names), key=lambda n: (EXERCISES[n].chapter, n))


def python_source(source):
    """Cell source as plain Python (IPython magics become ``get_ipython()`` calls, which fail in the sandbox)."""
    from IPython.core.inputtransformer2 import TransformerManager

    lines = source.splitlines()
    for i, line in enumerate(lines):  # `%matplotlib inline`, `!pip ...`: notebook commands, not the answer
        if line.lstrip().startswith(("%", "!")):
            lines[i] = line[:len(line) - len(line.lstrip())] + "pass  # a notebook command, not run by the grader"
    source = "\n".join(lines)
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # a cell IPython cannot parse is left as it is; compiling it reports the error
        return source


#: Bounds on the import lines of earlier cells that are run before an exercise cell.
MAX_IMPORT_LINES, MAX_IMPORT_CHARS = 50, 200
_IMPORT_RE = re.compile(r"^(import\s+[\w.]+(\s+as\s+\w+)?(\s*,\s*[\w.]+(\s+as\s+\w+)?)*"
                        r"|from\s+[\w.]+\s+import\s+[\w*]+(\s+as\s+\w+)?(\s*,\s*\w+(\s+as\s+\w+)?)*)\s*(#.*)?$")


def notebook_imports(nb, name):
    """The top-level import lines (``import x``, ``from x import y``; nothing else, one statement per
    line) of the code cells before exercise ``name``'s cell: run before it when grading, so an answer
    may rely on the notebook's imports as it did when the student ran it."""
    lines = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if exercise_name(cell) == name:
            break
        lines += [line.strip() for line in cell.source.splitlines()
                  if len(line) <= MAX_IMPORT_CHARS and _IMPORT_RE.match(line)]
    return list(dict.fromkeys(lines))[:MAX_IMPORT_LINES]
