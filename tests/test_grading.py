"""Exercises, student versions and the grader, on the real chapters and on broken submissions."""

import json
import pathlib

import nbformat
import numpy as np
import pytest

from helpers.grading import assignments, exercises, grade

pytestmark = pytest.mark.usefixtures("bubblewrap")
REPO = pathlib.Path(__file__).parents[1]
NOTEBOOKS = REPO / "notebooks"
CHAPTERS = sorted(p.name for p in NOTEBOOKS.glob("0[1-5]_*.ipynb"))


def test_every_exercise_is_in_its_chapter_once():
    for name, exercise in exercises.EXERCISES.items():
        [path] = NOTEBOOKS.glob(f"{exercise.chapter}_*.ipynb")
        cells = [c for c in nbformat.read(path, as_version=4).cells if assignments.exercise_name(c) == name]
        assert len(cells) == 1, (name, path.name)
        assert exercises.BEGIN in cells[0].source and exercises.END in cells[0].source


def test_checks_fail_wrong_answers_with_a_reason():
    wrong = {"confusion_counts": lambda t, p, c: np.zeros((c, c), int),
             "normalize_feature_map": lambda c: np.clip((c - c.mean()) / c.std() * 64 + 128, 0, 255),
             "first_layer_optimum": lambda k, rho: k,
             "total_variation": lambda x: np.abs(np.diff(x, axis=1)).mean(axis=(1, 2, 3)),
             "grad_cam_weights": lambda g: g.sum(axis=(1, 2))}
    for name, function in wrong.items():
        with np.errstate(invalid="ignore"):
            result = exercises.run_checks(name, function)
        assert result["passed"] < result["total"] and result["messages"], name
    with np.errstate(invalid="ignore"):
        partial = exercises.run_checks("normalize_feature_map", wrong["normalize_feature_map"])
    assert (partial["passed"], partial["score"]) == (2, 1.33)
    assert "NaN" in partial["messages"][0]


def test_student_versions_are_up_to_date():
    assert assignments.stale(NOTEBOOKS, REPO / "assignments") == []
    assert assignments.main(["--verify"]) == 0


def test_student_version_strips_solutions_and_outputs(tmp_path):
    [path] = NOTEBOOKS.glob("02_*.ipynb")
    reference = nbformat.read(path, as_version=4)
    student = assignments.student_version(reference, "02", path.name)
    [cell] = [c for c in student.cells if assignments.exercise_name(c)]
    assert exercises.BEGIN not in cell.source and "np.clip" not in cell.source
    assert "# TODO: centre the map on its mean" in cell.source
    assert '    raise NotImplementedError("exercise normalize_feature_map' in cell.source
    code = [c for c in student.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata["tags"] and code[0].source == [
        c for c in reference.cells if c.cell_type == "code"][0].source
    assert any(o for c in reference.cells if c.cell_type == "code" for o in c.outputs)  # reference untouched
    out = tmp_path / "assignments"
    assignments.generate(NOTEBOOKS, out)
    (out / path.name).write_text((out / path.name).read_text().replace("TODO", "DONE"))
    (out / "99_extra.ipynb").write_text("{}")
    assert assignments.stale(NOTEBOOKS, out) == [f"extra {out / '99_extra.ipynb'}", f"out of date {out / path.name}"]
    assert assignments.main(["--verify", "--out-dir", str(out)]) == 1


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_reference_solutions_get_full_marks(chapter):
    report = grade.grade(NOTEBOOKS / chapter, cell_timeout=60)
    assert report["exercises"] and report["score"] == report["max_score"] == 2.0, report


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_untouched_student_versions_get_zero(chapter):
    report = grade.grade(REPO / "assignments" / chapter, cell_timeout=60)
    [record] = report["exercises"]
    assert report["score"] == 0 and report["max_score"] == 2.0
    assert "NotImplementedError" in " ".join(record["messages"])


def submission(tmp_path, edit, name="02_activations.ipynb"):
    """The chapter-02 reference with its exercise cell's source passed through ``edit``."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in nb.cells:
        if assignments.exercise_name(cell):
            cell.source = edit(cell.source)
    nb.cells = [c for c in nb.cells if c.source is not None]
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


BROKEN = {
    "syntax error": (lambda s: s.replace("def normalize_feature_map(channel):", "def normalize_feature_map(channel:"),
                     "your cell raised SyntaxError"),
    "exception": (lambda s: s.replace("    channel = np.asarray", "    raise ValueError('oops')\n    channel = np.asarray"),
                  "ValueError: oops"),
    "renamed function": (lambda s: s.replace("def normalize_feature_map(", "def normalise(", 1),
                         "normalize_feature_map is not defined after the exercise cell ran (renamed or deleted?)"),
    "loop in the cell": (lambda s: s.replace("\ndef ", "\nwhile True:\n    pass\n\n\ndef ", 1),
                         "your cell did not finish within 5 s"),
    "loop in the function": (lambda s: s.replace("    channel = np.asarray", "    while True:\n        pass\n    channel = np.asarray"),
                             "did not finish within 5 s (an infinite loop?)"),
    "deleted cell": (lambda s: "print('the exercise was here')",
                     "exercise cell '# EXERCISE normalize_feature_map' not found"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_submissions_get_a_score_and_a_message(tmp_path, case, capsys):
    edit, message = BROKEN[case]
    path = submission(tmp_path, edit)
    assert grade.main([str(path), "--cell-timeout", "5", "--total-timeout", "120"]) == 0
    out = capsys.readouterr().out
    report = json.loads(path.with_suffix(".grade.json").read_text())
    [record] = report["exercises"]
    assert record["exercise"] == "normalize_feature_map" and report["score"] == 0 and report["max_score"] == 2.0
    assert message in " ".join(record["messages"]), record
    assert message in out and "total" in out


def test_a_partly_right_submission_gets_partial_credit(tmp_path):
    path = submission(tmp_path, lambda s: s.replace("    if std == 0:\n        return np.full(channel.shape, 128, dtype=np.uint8)\n", ""))
    [record] = grade.grade(path, cell_timeout=30)["exercises"]
    assert (record["passed"], record["score"]) == (2, 1.33)


def test_a_submission_that_ignores_interrupts_is_stopped(tmp_path):
    stubborn = "\nimport time\nwhile True:\n    try:\n        time.sleep(0.1)\n    except BaseException:\n        continue"
    report = grade.grade(submission(tmp_path, lambda s: s + stubborn), cell_timeout=2, total_timeout=20)
    assert report["score"] == 0 and "total limit of 20 s" in report["problem"]
    assert report["exercises"][0]["messages"]


@pytest.mark.parametrize("content", [b"not a notebook", b'{"cells": 3}'])
def test_unreadable_files_are_graded_zero(tmp_path, content):
    path = tmp_path / "03_filters.ipynb"
    path.write_bytes(content)
    report = grade.grade(path)
    assert report["score"] == 0 and report["max_score"] == 2.0
    assert "is not a readable notebook" in report["problem"]
    assert "not a readable notebook" in report["exercises"][0]["messages"][0]
    missing = grade.grade(tmp_path / "04_missing.ipynb")
    assert missing["max_score"] == 2.0 and "does not exist" in missing["exercises"][0]["messages"][0]
