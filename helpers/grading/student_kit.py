"""What students get: ``python -m helpers.grading.student_kit OUT_DIR`` (``make student-kit``).

The kit is a folder a class can install and run: the student versions of chapters 01-05 (no
solutions, no rubrics: :mod:`helpers.grading.assignments`), the ``helpers`` package the chapters
use, the shipped data and weights, and the files that install them (``pyproject.toml``,
``requirements.lock``). It leaves out everything that reveals an answer or grades one:

- the chapter notebooks with their solutions (``notebooks/``) and the rendered report;
- everything of ``helpers/grading`` but :data:`STUDENT_PART`: the grader's references
  (``helpers/grading/references/``, whose checks compute the expected values), the interpretation
  questions (``questions.py``), the grader, its key handling, the sandbox and the nbgrader tooling.

What is left of ``helpers.grading`` is :mod:`helpers.grading.exercises` (the tasks and the practice
check on stored public examples) and :mod:`helpers.grading.compare`. The tests search the kit for
the text of every solution and every reference function (``tests/test_student_kit.py``).
"""

import argparse
import pathlib
import shutil
import sys

from helpers.data.registry import REPO_ROOT
from helpers.grading.assignments import generate

#: What of ``helpers/grading`` students get (everything else there is the instructor's, also what is added later).
STUDENT_PART = ("__init__.py", "compare.py", "examples", "exercises.py")
#: The package docstring of ``helpers.grading`` in the kit.
STUDENT_INIT = '''"""The course's exercises, for students.

:func:`helpers.grading.exercises.check` tries your function on the public examples stored in
``helpers/grading/examples/``. Passing them is a good sign, not a grade: your instructor grades
your notebook on fresh inputs that nobody knows in advance.
"""
'''
README = """# Student kit: Seeing inside convolutional networks

1. Install (Python 3.11): `python3.11 -m venv .venv && .venv/bin/pip install -r requirements.lock
   && .venv/bin/pip install --no-deps -e .`
2. Open the assignments: `.venv/bin/jupyter lab assignments/`
3. In each chapter, fill in the cells that start with `# EXERCISE` (keep that first line) and run the
   check cell after each: it tries your function on public examples. Your instructor grades the
   notebook on fresh inputs, with only NumPy, Keras and TensorFlow available (not the course's helpers).
4. Answer the interpretation question of each chapter in its cell; it is graded by hand.
"""


def _ignore(directory, names):
    """``shutil.copytree``'s ``ignore``: caches, and the instructor-only paths below ``helpers/grading``."""
    skipped = {n for n in names if n in ("__pycache__", ".ipynb_checkpoints") or n.endswith(".pyc")}
    if pathlib.Path(directory).resolve() == (REPO_ROOT / "helpers" / "grading").resolve():
        skipped |= set(names) - set(STUDENT_PART)
    return skipped


def build(out_dir, data=True):
    """Write the student kit to ``out_dir`` (which must not exist yet); return ``out_dir``.

    Args:
        out_dir: the folder to create.
        data: False leaves out ``data/`` (MNIST and the shipped weights, about 130 MB), e.g. for a test.

    Returns:
        the kit's path.
    """
    out_dir = pathlib.Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} exists: the kit is written to a new folder (remove it, or name another)")
    shutil.copytree(REPO_ROOT / "helpers", out_dir / "helpers", ignore=_ignore)
    (out_dir / "helpers" / "grading" / "__init__.py").write_text(STUDENT_INIT)
    generate(REPO_ROOT / "notebooks", out_dir / "assignments")
    if data:
        shutil.copytree(REPO_ROOT / "data", out_dir / "data", ignore=_ignore)
    for name in ("pyproject.toml", "requirements.lock"):
        shutil.copy2(REPO_ROOT / name, out_dir / name)
    (out_dir / "README.md").write_text(README)
    return out_dir


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=pathlib.Path)
    parser.add_argument("--no-data", action="store_true", help="leave out data/ (MNIST and the shipped weights)")
    args = parser.parse_args(argv)
    try:
        build(args.out_dir, data=not args.no_data)
    except FileExistsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"student kit written to {args.out_dir}: assignments/, helpers/ (without the grader and its "
          "references), data/, README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
