"""Autograding a class on nbgrader so that one broken notebook costs only its own student.

``nbgrader autograde ASSIGNMENT`` stops the whole class at the first notebook whose nbgrader
metadata has another schema version (``SchemaTooOldError``/``SchemaTooNewError``: "run nbgrader
update"): a cell pasted from an older release, an edited ``schema_version`` and a copied cell
(nbgrader's ``DeduplicateIds`` empties the metadata of a repeated grade id, which then reads as
schema 0) all do it, and every student after that one is left ungraded. Two guards:

- :class:`CheckSubmittedMetadata`, the first sanitize step of the course's ``nbgrader_config.py``,
  refuses such a notebook with :class:`BrokenSubmission`, an ordinary error: nbgrader records
  that student, grades the others, and says at the end which one failed (exit status 1).
- :func:`autograde` (``python -m helpers.grading.nbgrader_course autograde ASSIGNMENT``) runs
  nbgrader's autograde once per student (its API, in this process) and collects the failures:
  a student whose notebook cannot be graded gets 0 in the gradebook and a reason, the others are graded.
"""

import collections
import pathlib
import re
import sys

from helpers.grading.report import printable


class BrokenSubmission(ValueError):
    """A submitted notebook whose nbgrader metadata cannot be graded (its student gets 0, the class goes on)."""


def metadata_problems(nb, schema_version=3):
    """What in the nbgrader metadata of submitted notebook ``nb`` nbgrader cannot grade.

    Args:
        nb: the submitted notebook (nbformat).
        schema_version: the schema of the released notebooks (nbgrader 0.9's is 3).

    Returns:
        list of str: one message per damaged cell or repeated grade id; empty when nbgrader can grade it.
    """
    import jsonschema
    from nbgrader.nbgraderformat import MetadataValidator

    validator, problems, ids = MetadataValidator(), [], collections.Counter()
    for number, cell in enumerate(nb.cells, 1):
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        if not isinstance(meta, dict):
            problems.append(f"cell {number} has nbgrader metadata that is not a record ({type(meta).__name__})")
            continue
        name = meta.get("grade_id", "without a grade id")
        version = meta.get("schema_version", 0)
        if version != schema_version:
            problems.append(f"cell {number} ({name}) has nbgrader metadata of schema version {version}, not "
                            f"{schema_version} (a cell pasted from another release, or edited metadata)")
            continue
        try:
            validator.validate_cell(cell)
        except jsonschema.ValidationError as err:
            problems.append(f"cell {number} ({name}) has damaged nbgrader metadata ({err.message})")
            continue
        if meta.get("grade") or meta.get("solution") or meta.get("locked"):
            ids[meta.get("grade_id")] += 1
    problems += [f"grade id {name} is on {count} cells (a copied cell): keep only the original"
                 for name, count in ids.items() if count > 1]
    return problems


def _make_check():
    from nbgrader.preprocessors.base import NbGraderPreprocessor

    class CheckSubmittedMetadata(NbGraderPreprocessor):
        """Refuse, with :class:`BrokenSubmission`, a submission whose nbgrader metadata nbgrader cannot grade."""

        def preprocess(self, nb, resources):
            problems = metadata_problems(nb)
            if problems:
                raise BrokenSubmission("; ".join(problems))
            return nb, resources

    return CheckSubmittedMetadata


def __getattr__(name):
    if name == "CheckSubmittedMetadata":  # built on first use, so importing this module does not import nbgrader
        globals()[name] = globals().get(name) or _make_check()
        return globals()[name]
    raise AttributeError(name)


_ERROR_LINE = re.compile(r"^(?:[\w.]+\.)?(\w+): (.+)$")


def failure_reason(result):
    """Why an nbgrader API call failed.

    Args:
        result: what :class:`nbgrader.apps.NbGraderAPI` returns (``{"success", "error", "log"}``).

    Returns:
        str: the last exception line of its log or traceback that is not nbgrader's own "see the log" summary
        (e.g. ``"BrokenSubmission: cell 49 (...) has nbgrader metadata of schema version 4, not 3 ..."``).
    """
    lines = [line.strip() for line in (result.get("log", "") + "\n" + result.get("error", "")).splitlines()]
    found = [m for m in map(_ERROR_LINE.match, lines) if m and m.group(1) != "NbGraderException"
             and (m.group(1).endswith(("Error", "Exception")) or m.group(1) == "BrokenSubmission")]
    if found:
        return f"{found[-1].group(1)}: {found[-1].group(2)}"
    return "nbgrader's autograde failed (its log: " + " | ".join(lines[-3:])[-300:] + ")"


def _api(course_dir):
    """An nbgrader API on ``course_dir``, configured by its ``nbgrader_config.py``."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()
    config.CourseDirectory.root = str(course_dir)
    return NbGraderAPI(CourseDirectory(config=config), config=config), config


def zero_grades(api, assignment, student):
    """Give ``student``'s submission of ``assignment`` 0 on every graded cell, none left to grade by hand (as
    nbgrader does for a missing notebook), so an earlier autograde's scores do not stay.

    Args:
        api: the :class:`nbgrader.apps.NbGraderAPI` of the course.
        assignment: the assignment name.
        student: the student id.

    Returns:
        bool: False when the gradebook has no such submission (nbgrader's export then counts it 0).
    """
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            return False
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score, grade.needs_manual_grade = 0.0, False
        gradebook.db.commit()
    return True


def autograde(course_dir, assignment, students=None, force=True):
    """Autograde ``assignment`` one student at a time; a failure is that student's 0, not the class's end.

    Args:
        course_dir: the course directory (with the ``nbgrader_config.py`` of ``nbgrader_course init``).
        assignment: the assignment name, e.g. ``"ch02"``.
        students: the student ids to grade (default: every student with a submission in ``submitted/``).
        force: regrade students already autograded.

    Returns:
        dict: ``{student: ""}`` for each graded student, ``{student: reason}`` for each one not graded (0 points).
    """
    from helpers.grading import sandbox

    api, config = _api(pathlib.Path(course_dir).resolve())
    if config.SandboxedExecute.get("isolate", True):
        sandbox.ensure_works()  # one SandboxUnavailable here, not one failure per student
    outcome = {}
    for student in sorted(students or api.get_submitted_students(assignment)):
        result = api.autograde(assignment, student, force=force, create=True)
        if result["success"]:
            outcome[student] = ""
            continue
        outcome[student] = failure_reason(result)
        if not zero_grades(api, assignment, student):
            outcome[student] += " (no submission in the gradebook: it counts 0)"
    return outcome


def main(course_dir, assignment, students=None):
    """Run :func:`autograde` and print one line per student.

    Returns:
        int: 0 when every student was graded, 1 when some were not (the others were), 2 without a sandbox.
    """
    from helpers.grading import sandbox

    try:
        outcome = autograde(course_dir, assignment, students)
    except sandbox.SandboxUnavailable as err:
        print(f"error: autograde stopped before grading any submission: {err}", file=sys.stderr)
        return 2
    for student, reason in outcome.items():
        print(f"{printable(student)}: " + (f"0 points, not graded: {printable(reason)}" if reason else "graded"))
    failed = sum(1 for reason in outcome.values() if reason)
    print(f"{len(outcome) - failed} of {len(outcome)} submissions of {assignment} graded"
          + (f"; {failed} not graded (0 points, reasons above)" if failed else ""))
    return 1 if failed else 0
