"""The instructor workflow on nbgrader: ``python -m helpers.grading.nbgrader_course init COURSE_DIR``.

``init`` writes an nbgrader course directory: ``source/chNN/<chapter>.ipynb`` for
every chapter with exercises (the chapter notebook with nbgrader's cell metadata:
the ``# EXERCISE`` cell is an answer cell, the check cell after it a read-only,
checksummed test cell worth the exercise's points, the interpretation question's answer
cell a manually graded answer whose rubric ``generate_assignment`` removes) and
``nbgrader_config.py``. From
there nbgrader's own commands apply (see the README): ``generate_assignment``,
``release_assignment``/``collect``, ``autograde``, ``generate_feedback``, ``export``;
``python -m helpers.grading.nbgrader_course autograde ASSIGNMENT`` autogrades one student at a
time, so a notebook nbgrader cannot grade is its student's 0 with a reason, never the end of the
class (:mod:`helpers.grading.nbgrader_class`).

Autograding does not run the submission in a notebook kernel, where a student's code
could replace the checks or rewrite the test cells: the config swaps nbgrader's
``Execute`` step for :class:`SandboxedExecute`, which grades the answer cells with
:func:`helpers.grading.grade.run_submission` (sandboxed, outputs verified outside) and writes
each test cell's outputs itself: nothing on stderr, a partial score as the cell's
result, an error when no check passed. The chapters' figures and training are not
run, so a submission grades in seconds.
"""

import argparse
import pathlib
import secrets
import sys

import nbformat
from nbformat.v4 import new_output

from helpers.grading import questions
from helpers.grading.assignments import exercise_name
from helpers.data.registry import REPO_ROOT
from helpers.grading.exercises import EXERCISES, for_chapter, partial_score

SCHEMA = 3
CONFIG = '''"""nbgrader configuration written by `python -m helpers.grading.nbgrader_course init`."""
from helpers.grading.nbgrader_course import autograde_preprocessors, sanitize_preprocessors

c = get_config()  # noqa: F821 (provided by nbgrader)
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = {root!r}
c.Autograde.sanitize_preprocessors = sanitize_preprocessors()
c.Autograde.autograde_preprocessors = autograde_preprocessors()
c.SandboxedExecute.cell_timeout = 30
c.SandboxedExecute.total_timeout = 300
'''


def assignment_id(chapter):
    """nbgrader assignment name of a chapter: ``"ch02"``."""
    return f"ch{chapter}"


def _check_cell_of(cell):
    """Exercise name whose checks this cell runs (``exercises.check("name", ...)``), or None."""
    if cell.cell_type != "code":
        return None
    return next((name for name in EXERCISES if f'exercises.check("{name}"' in cell.source), None)


def source_notebook(nb, chapter):
    """Chapter notebook ``nb`` with nbgrader metadata on its answer and test cells (a copy; outputs kept)."""
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)
    wanted = set(for_chapter(chapter))
    answers = {exercise_name(c) for c in nb.cells} & wanted
    tests = {_check_cell_of(c) for c in nb.cells} & wanted
    if answers != wanted or tests != wanted:
        raise ValueError(f"chapter {chapter}: need an exercise cell and a check cell for each of {sorted(wanted)}; "
                         f"found exercise cells {sorted(answers)} and check cells {sorted(tests)}")
    for cell in nb.cells:
        if questions.question_of(cell):  # a manually graded answer: nbgrader strips the rubric for students
            name = questions.question_of(cell)
            cell.metadata["nbgrader"] = {"grade": True, "solution": True, "locked": False,
                                         "points": questions.QUESTIONS[name].points, "grade_id": name,
                                         "schema_version": SCHEMA}
        elif exercise_name(cell) in wanted:
            cell.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False,
                                         "grade_id": exercise_name(cell), "schema_version": SCHEMA}
        elif _check_cell_of(cell) in wanted:
            name = _check_cell_of(cell)
            cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                         "points": EXERCISES[name].points, "grade_id": f"check_{name}",
                                         "schema_version": SCHEMA}
    return nb


def init(course_dir, chapters=None, course_id="cnn-vis-course", notebook_dir=REPO_ROOT / "notebooks"):
    """Write ``source/`` and ``nbgrader_config.py`` under ``course_dir``; return the assignment names."""
    course_dir = pathlib.Path(course_dir).resolve()
    chapters = chapters or sorted({e.chapter for e in EXERCISES.values()})
    names = []
    for chapter in chapters:
        if not for_chapter(chapter):
            raise ValueError(f"chapter {chapter} has no exercises; chapters with exercises: "
                             f"{sorted({e.chapter for e in EXERCISES.values()})}")
        [path] = pathlib.Path(notebook_dir).glob(f"{chapter}_*.ipynb")
        target = course_dir / "source" / assignment_id(chapter) / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(source_notebook(nbformat.read(path, as_version=4), chapter), target)
        names.append(assignment_id(chapter))
    (course_dir / "nbgrader_config.py").write_text(
        CONFIG.format(course_id=course_id, root=str(course_dir)))
    return names


def sanitize_preprocessors():
    """nbgrader's sanitize steps after :class:`helpers.grading.nbgrader_class.CheckSubmittedMetadata`, which turns
    metadata nbgrader would stop the whole class on into that one student's failure."""
    from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteCells,
                                        OverwriteKernelspec)

    from helpers.grading import nbgrader_class

    return [nbgrader_class.CheckSubmittedMetadata, ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells,
            CheckCellMetadata]


def autograde_preprocessors():
    """nbgrader's autograde steps with ``Execute`` replaced by :class:`SandboxedExecute`."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput,
                                        SaveAutoGrades)

    return [__getattr__("SandboxedExecute"), IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
            AssignLatePenalties, CheckCellMetadata]


def _test_outputs(record, points):
    """Outputs of a test cell for one exercise record: full marks print, partial marks return the score,
    no marks raise. Nothing goes to stderr (nbgrader would read it as a failure)."""
    score = partial_score(points, record["passed"], record["total"])
    lines = [f"{record['exercise']}: {record['passed']}/{record['total']} checks passed, {score}/{points} points"]
    lines += [f"  - {m}" for m in record["messages"]]
    outputs = [new_output("stream", name="stdout", text="\n".join(lines) + "\n")]
    if record["passed"] == 0:
        outputs.append(new_output("error", ename="AssertionError", evalue="no check passed",
                                  traceback=["AssertionError: no check passed"]))
    elif score < points:
        outputs.append(new_output("execute_result", data={"text/plain": repr(float(score))}, execution_count=1))
    return outputs


def _make_preprocessor():
    from nbgrader.preprocessors.base import NbGraderPreprocessor
    from traitlets import Bool, Float

    class SandboxedExecute(NbGraderPreprocessor):
        """Grade the answer cells in the course sandbox and fill in the test cells' outputs."""

        cell_timeout = Float(30, help="seconds for each answer cell and each call of its function").tag(config=True)
        total_timeout = Float(300, help="seconds for one submission").tag(config=True)
        isolate = Bool(True, help="run submissions in bubblewrap (False: unisolated, trusted code only)").tag(config=True)

        def preprocess(self, nb, resources):
            from helpers.grading import grade, preamble, sandbox, seeds

            if self.isolate:
                try:
                    sandbox.ensure_works()
                except sandbox.SandboxUnavailable as err:  # one message and a stop, not a traceback and 0 per student
                    raise SystemExit(f"autograde stopped before grading any submission: {err.reason}; or set "
                                     "c.SandboxedExecute.isolate = False in nbgrader_config.py to run submissions "
                                     "unisolated (only for notebooks you trust)") from None
            assignment = str(resources.get("nbgrader", {}).get("assignment", ""))
            graded = for_chapter(assignment[2:]) if assignment.startswith("ch") else list(EXERCISES)
            cells = {}
            for cell in nb.cells:  # the assignment (the instructor's) decides what is graded; the last cell wins
                meta = cell.metadata.get("nbgrader", {})
                name = meta.get("grade_id") if meta.get("solution") else None
                name = name if name in EXERCISES else exercise_name(cell)
                if cell.cell_type == "code" and name in graded:
                    cells[name] = cell.source
            seed = secrets.randbits(32)
            imports = {name: preamble.notebook_preamble(nb, name) for name in cells}
            records, note = grade.run_submission(cells, self.cell_timeout, self.total_timeout, seeds.input_seed(seed),
                                                 self.isolate, imports) if cells else ({}, "")
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                grade_id = str(meta.get("grade_id", ""))
                if cell.cell_type != "code" or not meta.get("grade") or not grade_id.startswith("check_"):
                    continue
                name = grade_id[len("check_"):]
                record = records.get(name) or {"exercise": name, "passed": 0, "total": 0, "messages": [
                    note or f"answer cell {name} not found (deleted, or its metadata changed)"]}
                cell.outputs = _test_outputs(record, float(meta.get("points", 0)))
                cell.outputs[0].text += f"(check inputs drawn with seed {seed})\n"
                cell.execution_count = None
            return nb, resources

    return SandboxedExecute


def __getattr__(name):
    if name == "SandboxedExecute":  # built on first use, so importing this module does not import nbgrader
        globals()[name] = globals().get(name) or _make_preprocessor()
        return globals()[name]
    raise AttributeError(name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("init", help="write source/ and nbgrader_config.py of a course directory")
    make.add_argument("course_dir", type=pathlib.Path)
    make.add_argument("--chapters", nargs="+", help="chapter numbers, e.g. 02 05 (default: every chapter with exercises)")
    make.add_argument("--course-id", default="cnn-vis-course")
    grade = sub.add_parser("autograde", help="nbgrader autograde one student at a time: a broken notebook is its "
                                             "student's 0, not the end of the class")
    grade.add_argument("assignment", help="e.g. ch02")
    grade.add_argument("--course-dir", type=pathlib.Path, default=pathlib.Path("."))
    grade.add_argument("--student", nargs="+", help="student ids (default: every submission in submitted/)")
    args = parser.parse_args(argv)
    if args.command == "autograde":
        from helpers.grading import nbgrader_class

        return nbgrader_class.main(args.course_dir, args.assignment, args.student)
    try:
        names = init(args.course_dir, args.chapters, args.course_id)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"course directory {args.course_dir}: assignments {', '.join(names)}")
    print(f"next: cd {args.course_dir} && nbgrader generate_assignment {names[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
