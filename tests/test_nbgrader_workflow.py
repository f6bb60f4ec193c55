"""The instructor workflow on nbgrader, end to end: init, generate_assignment, autograde,
generate_feedback, export, on a handful of submissions (honest, partial, untouched, cheating,
noisy on stderr)."""

import csv
import os
import pathlib
import subprocess
import sys

import nbformat
import pytest

from helpers.grading import nbgrader_course

pytestmark = pytest.mark.usefixtures("bubblewrap")
REPO = pathlib.Path(__file__).parents[1]
REFERENCE = REPO / "notebooks" / "02_activations.ipynb"
CHEAT = """
import IPython, helpers.grading.exercises as e
e.run_checks = lambda *a, **k: {"passed": 3, "total": 3, "score": 2.0, "messages": []}
IPython.get_ipython().input_transformers_post.append(lambda lines: ["pass\\n"])"""


def nbgrader(course, *args):
    env = {**os.environ, "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done


def submit(course, student, edit_answer, edit_test=None):
    """A submission made from the released notebook, its ``normalize_feature_map`` answer cell passed
    through ``edit_answer`` (the chapter's other exercise is left as released: it scores 0)."""
    nb = nbformat.read(course / "release" / "ch02" / REFERENCE.name, as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.source.startswith("# EXERCISE normalize_feature_map"):
            cell.source = edit_answer(cell.source)
        elif meta.get("grade") and edit_test:
            cell.source = edit_test(cell.source)
    path = course / "submitted" / student / "ch02" / REFERENCE.name
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    assert nbgrader_course.main(["init", str(course), "--chapters", "02"]) == 0
    nbgrader(course, "generate_assignment", "ch02", "--force")
    [solution] = [c.source for c in nbformat.read(REFERENCE, as_version=4).cells
                  if c.source.startswith("# EXERCISE normalize_feature_map")]
    submit(course, "honest", lambda s: solution)
    submit(course, "partial", lambda s: solution.replace("    if np.ptp(channel) == 0:", "    if False:"))
    submit(course, "untouched", lambda s: s)
    submit(course, "cheater", lambda s: s + CHEAT, edit_test=lambda s: "print('all good')")
    submit(course, "noisy", lambda s: solution + "\nimport sys, warnings\nwarnings.warn('a library warning')"
                                                 "\nprint('progress', file=sys.stderr)")
    nbgrader(course, "autograde", "ch02", "--create", "--force")
    nbgrader(course, "generate_feedback", "ch02", "--force")
    nbgrader(course, "export", "--to", "grades.csv")
    return course


def test_generate_assignment_strips_the_solution_and_locks_the_test_cell(course):
    nb = nbformat.read(course / "release" / "ch02" / REFERENCE.name, as_version=4)
    answers = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
    tests = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    assert len(answers) == len(tests) == 2  # normalize_feature_map and channel_means
    for answer in answers:
        assert "raise NotImplementedError()" in answer.source and "np.clip" not in answer.source
        assert "keras.Model(" not in answer.source
    for test in tests:
        assert test.metadata["nbgrader"]["locked"] and test.metadata["nbgrader"]["points"] == 2.0
        assert test.metadata["nbgrader"]["checksum"]
    [question] = [c for c in nb.cells if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution")]
    assert question.metadata["nbgrader"]["grade"] and question.metadata["nbgrader"]["points"] == 1.0
    assert "YOUR ANSWER HERE" in question.source and "Rubric" not in question.source
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_autograde_scores_exported_to_csv(course):
    with open(course / "grades.csv") as f:
        scores = {row["student_id"]: (float(row["score"]), float(row["max_score"])) for row in csv.DictReader(f)}
    # every submission leaves channel_means as released (0 of 2 points); the question (1 point) is
    # graded by hand and counts 0 until an instructor grades it
    assert scores == {"honest": (2.0, 5.0), "partial": (1.33, 5.0), "untouched": (0.0, 5.0),
                      "cheater": (0.0, 5.0), "noisy": (2.0, 5.0)}


def test_feedback_names_what_failed(course):
    feedback = {p.parts[-3]: p.read_text() for p in (course / "feedback").glob("*/ch02/*.html")}
    assert set(feedback) == {"honest", "partial", "untouched", "cheater", "noisy"}
    assert "3/3 checks passed" in feedback["honest"]
    assert "2/3 checks passed" in feedback["partial"] and "a constant map" in feedback["partial"]
    assert "NotImplementedError" in feedback["untouched"]


def test_the_cheaters_test_cell_was_restored_from_the_database(course):
    nb = nbformat.read(course / "autograded" / "cheater" / "ch02" / REFERENCE.name, as_version=4)
    [test] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "check_normalize_feature_map"]
    assert 'exercises.check("normalize_feature_map"' in test.source and "all good" not in test.source
    assert any(o.output_type == "error" for o in test.outputs)
    assert not any(o.get("name") == "stderr" for o in test.outputs)


def test_init_refuses_a_chapter_without_exercises(tmp_path, capsys):
    assert nbgrader_course.main(["init", str(tmp_path), "--chapters", "00"]) == 2
    assert "has no exercises" in capsys.readouterr().err
