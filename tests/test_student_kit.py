"""What students get holds no answer: the student kit, the student versions and the practice checks.

The kit (:mod:`helpers.grading.student_kit`) is searched for the text of every solution of the
chapter notebooks and of every function of the grader's references; inside it, the references
cannot be imported, and the practice check passes every reference solution and fails every stub.
"""

import inspect
import json
import os
import pathlib
import subprocess
import sys

import nbformat
import pytest

from helpers.grading import assignments, exercises, references, student_kit
from helpers.grading.references import examples as public_examples

REPO = pathlib.Path(__file__).resolve().parents[1]
#: Lines shorter than this are too common to mean anything (``import numpy as np``, ``return x``).
MIN_CHARS = 30


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    return student_kit.build(tmp_path_factory.mktemp("kit") / "student-kit", data=False)


def _solutions():
    """``{exercise: its solution block's lines}`` from the chapter notebooks."""
    found = {}
    for path in sorted((REPO / "notebooks").glob("0[1-5]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            name = assignments.exercise_name(cell)
            if name:
                block = cell.source.split(exercises.BEGIN, 1)[1].split(exercises.END, 1)[0]
                found[name] = block.splitlines()
    assert sorted(found) == sorted(exercises.EXERCISES)
    return found


def _reference_functions():
    """``{qualified name: source}`` of every function defined in the grader's reference modules."""
    import importlib
    import pkgutil

    found = {}
    for info in pkgutil.iter_modules(references.__path__, "helpers.grading.references."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isfunction(value) and value.__module__ == module.__name__:
                found[f"{info.name}.{name}"] = inspect.getsource(value)
    assert len(found) > 20
    return found


def _text(path):
    """A file's text; a notebook's cell sources and outputs as they read (not JSON-escaped)."""
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8", errors="replace")
    nb = nbformat.read(path, as_version=4)
    return "\n".join([c.source for c in nb.cells] + [json.dumps(o) for c in nb.cells for o in c.get("outputs", [])])


def _kit_text(kit):
    return {path: _text(path) for path in kit.rglob("*")
            if path.is_file() and path.suffix in (".py", ".ipynb", ".md", ".json", ".toml", ".txt", ".cfg")}


def test_the_kit_leaves_out_the_grader_its_references_the_rubrics_and_the_solved_chapters(kit):
    grading = kit / "helpers" / "grading"
    assert sorted(p.name for p in grading.glob("*.py")) == ["__init__.py", "compare.py", "exercises.py"]
    assert not (grading / "references").exists() and not (kit / "notebooks").exists()
    assert sorted(p.name for p in (kit / "assignments").glob("*.ipynb")) == sorted(
        p.name for p in (REPO / "assignments").glob("*.ipynb"))


#: Solutions that restate a function the chapter itself teaches with, which students therefore have:
#: chapter 02 shows its feature maps with ``helpers.featuremaps.normalize_channel`` and asks students to
#: write that normalization themselves (README, "What the grader promises").
TAUGHT = {("the solution of normalize_feature_map", "helpers/featuremaps.py")}


def _significant(lines):
    return [line.strip() for line in lines if len(line.strip()) >= MIN_CHARS
            and not line.strip().startswith(("#", '"""', "raise ", "parser.", "args = parser"))]


def test_no_solution_and_no_reference_code_is_in_anything_students_get(kit):
    """A copy is three or more lines of one solution or one reference function in one file (single lines
    such as ``with tf.GradientTape() as tape:`` are everywhere in the course)."""
    texts = _kit_text(kit)
    texts.update({p: _text(p) for p in (REPO / "assignments").glob("*.ipynb")})
    pieces = {f"the solution of {name}": _significant(lines) for name, lines in _solutions().items()}
    pieces.update({f"the reference {name}": _significant(source.splitlines()[1:])
                   for name, source in _reference_functions().items()})
    assert sum(len(lines) for lines in pieces.values()) > 150
    hits, taught = [], []
    for path, text in texts.items():
        where = str(path.relative_to(kit)) if kit in path.parents else str(path.relative_to(REPO))
        for piece, lines in pieces.items():
            found = [line for line in lines if line in text]
            if len(found) >= min(3, len(lines)) and found:
                (taught if (piece, where) in TAUGHT else hits).append((piece, where, found))
    assert hits == [], "\n".join(map(str, hits))
    instructor = "".join(_text(p) for p in [*(REPO / "notebooks").glob("0[1-5]_*.ipynb"),
                                                  *(REPO / "helpers" / "grading" / "references").glob("*.py")])
    assert [piece for piece, lines in pieces.items() if lines and not all(line in instructor for line in lines)] == []
    assert {(piece, where) for piece, where, _ in taught} == TAUGHT  # the exception is still needed


def test_no_rubric_or_model_answer_is_in_the_kit(kit):
    from helpers.grading import questions

    texts = _kit_text(kit)
    rubric_lines = [line.strip() for path in sorted((REPO / "notebooks").glob("0[1-5]_*.ipynb"))
                    for cell in nbformat.read(path, as_version=4).cells if questions.question_of(cell)
                    for line in cell.source.splitlines() if len(line.strip()) >= MIN_CHARS]
    assert len(rubric_lines) >= 5
    assert [line for line in rubric_lines if any(line in text for text in texts.values())] == []


def test_inside_the_kit_the_practice_check_passes_solutions_fails_stubs_and_has_no_references(kit):
    script = f"""
import pathlib, re, sys
# a student's machine has the kit, not this repository's editable install: drop the latter's finder
sys.meta_path = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")
                 and "__editable__" not in getattr(type(f), "__module__", "")]
import nbformat
import helpers
assert pathlib.Path(helpers.__file__).is_relative_to({str(kit)!r}), helpers.__file__
from helpers.grading import exercises
try:
    import helpers.grading.references
    print("REFERENCES IMPORTED")
except ModuleNotFoundError:
    print("no references")
marker = re.compile(r"^# EXERCISE\\s+(\\w+)", re.M)
for kind, folder in (("solution", {str(REPO / "notebooks")!r}), ("stub", "assignments")):
    for path in sorted(pathlib.Path(folder).glob("0[1-5]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            found = marker.search(cell.source) if cell.cell_type == "code" else None
            if found:
                namespace = {{}}
                exec(cell.source, namespace)
                record = exercises.practice(found.group(1), namespace[exercises.EXERCISES[found.group(1)].function])
                print(kind, found.group(1), record["passed"], record["total"])
"""
    env = {**os.environ, "PYTHONPATH": str(kit), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script], cwd=kit, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "no references"
    results = {tuple(line.split()[:2]): tuple(map(int, line.split()[2:])) for line in lines[1:]}
    for name, exercise in exercises.EXERCISES.items():
        total = len(exercise.checks)
        assert results[("solution", name)] == (total, total), name
        assert results[("stub", name)] == (0, total), name


def test_the_stored_examples_agree_with_the_references_and_come_from_the_public_seed():
    for name in exercises.EXERCISES:
        assert public_examples.disagreements(name) == []
        meta = json.loads((exercises.EXAMPLES / f"{name}.json").read_text())
        assert meta["seed"] == public_examples.PUBLIC_SEED
        assert len(meta["atol"]) == len(exercises.EXERCISES[name].checks)


def _html_text(path):
    from bs4 import BeautifulSoup

    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser").get_text()


def _leaks(texts):
    """``[(what, where)]``: three or more lines of a solution, or any line of a rubric, found in ``texts``."""
    from helpers.grading import questions

    pieces = {f"the solution of {name}": _significant(lines) for name, lines in _solutions().items()}
    rubrics = [line.strip() for path in sorted((REPO / "notebooks").glob("0[1-5]_*.ipynb"))
               for cell in nbformat.read(path, as_version=4).cells if questions.question_of(cell)
               for line in cell.source.splitlines() if len(line.strip()) >= MIN_CHARS]
    found = []
    for where, text in texts.items():
        found += [(piece, where) for piece, lines in pieces.items()
                  if len([line for line in lines if line in text]) >= min(3, len(lines))]
        found += [("a rubric line", where) for line in rubrics if line in text]
    return found


def test_the_readers_report_and_the_lab_copies_hold_no_solution_no_rubric_no_test_marker(tmp_path):
    from helpers.course import report

    report.from_notebooks(REPO / "notebooks", tmp_path / "report")
    assignments.reader_copies(REPO / "notebooks", tmp_path / "lab")
    texts = {p.name: _html_text(p) for p in (tmp_path / "report").glob("0*.html")}
    texts.update({f"lab/{p.name}": _text(p) for p in (tmp_path / "lab").glob("*.ipynb")})
    assert len(texts) >= 2 * 6
    assert _leaks(texts) == []
    assert not [where for where, text in texts.items() if "NBVAL_" in text]
    assert all("graded by hand: the model answer and the rubric are in the instructor's copy" in texts[f"{c}.html"]
               for c in ("01_train_mnist", "02_activations", "05_attribution"))


def test_the_instructor_copy_shows_what_the_readers_copy_hides(tmp_path):
    from helpers.course import report

    chapter = tmp_path / "notebooks"
    chapter.mkdir()
    (chapter / "02_activations.ipynb").write_bytes((REPO / "notebooks" / "02_activations.ipynb").read_bytes())
    report.from_notebooks(chapter, tmp_path / "instructor", instructor=True)
    leaks = _leaks({"02": _html_text(tmp_path / "instructor" / "02_activations.html")})
    assert ("the solution of normalize_feature_map", "02") in leaks and ("a rubric line", "02") in leaks
    written, kept = assignments.reader_copies(chapter, tmp_path / "lab")
    (tmp_path / "lab" / "02_activations.ipynb").write_text(written[0].read_text() + " ")  # the reader's own work
    again, kept = assignments.reader_copies(chapter, tmp_path / "lab")
    assert again == [] and kept == written and (tmp_path / "lab" / "02_activations.ipynb").read_text().endswith(" ")
