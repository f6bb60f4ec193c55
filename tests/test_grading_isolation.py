"""Cheating does not pay: each way a student could take marks without the work is tried here.

Every submission starts from the student version of chapter 02 (its function raises
NotImplementedError) plus code that tries to get the marks another way; each must
still score 0, and nothing outside the sandbox may change.
"""

import json
import os
import pathlib
import shutil
import subprocess
import time

import nbformat
import numpy as np
import pytest

from helpers.featuremaps import normalize_channel
from helpers.grading import assignments, exercises, grade, references, sandbox

REPO = pathlib.Path(__file__).parents[1]
STUDENT = REPO / "assignments" / "02_activations.ipynb"
REFERENCE = REPO / "notebooks" / "02_activations.ipynb"


pytestmark = pytest.mark.usefixtures("bubblewrap")


#: Points of chapter 02's exercises (normalize_feature_map and channel_means).
POINTS = sum(exercises.EXERCISES[n].points for n in exercises.for_chapter("02"))


def cheat(tmp_path, code, base=STUDENT):
    """The student version with ``code`` appended to its ``normalize_feature_map`` cell (the chapter's other
    exercise cell is removed: it scores 0 whatever happens)."""
    nb = nbformat.read(base, as_version=4)
    for cell in nb.cells:
        if assignments.exercise_name(cell) == "normalize_feature_map":
            cell.source += "\n" + code
    nb.cells = [c for c in nb.cells if assignments.exercise_name(c) in (None, "normalize_feature_map")]
    path = tmp_path / base.name
    nbformat.write(nb, path)
    return path


def graded(path, **kwargs):
    report = grade.grade(path, cell_timeout=10, total_timeout=60, **kwargs)
    record = next(r for r in report["exercises"] if r["exercise"] == "normalize_feature_map")
    return report, record


CHEATS = {
    "read the reference notebook next to helpers": """
import pathlib, helpers, json
nb = json.loads((pathlib.Path(helpers.__file__).parents[1] / "notebooks/02_activations.ipynb").read_text())
exec(next("".join(c["source"]) for c in nb["cells"] if "# EXERCISE" in "".join(c["source"])))""",
    "read the reference notebook by its absolute path": f"""
import json
nb = json.load(open({str(REFERENCE)!r}))
exec(next("".join(c["source"]) for c in nb["cells"] if "# EXERCISE" in "".join(c["source"])))""",
    "replace run_checks": """
import helpers.grading.exercises as e
e.run_checks = lambda name, f, seed=0: {"exercise": name, "passed": 3, "total": 3, "points": 2.0,
                                        "score": 2.0, "messages": []}""",
    "replace the comparison": """
import helpers.grading.checks as c
import helpers.grading.exercises as e
c.close = e.close = lambda *args: None""",
    "forge the results and exit": """
import json, os, numpy as np
json.dump({"normalize_feature_map": {"cell_error": None, "outputs": ["ok", "ok", "ok"], "score": 100}},
          open("results.json", "w"))
for i in range(3):
    np.save(f"out_normalize_feature_map_{i}.npy", np.zeros(1))
with open("results.jsonl", "a") as f:
    f.write(json.dumps({"exercise": "normalize_feature_map", "score": 100, "passed": 3, "total": 3}) + "\\n")
os._exit(0)""",
    "import the course's own answer": """
from helpers.featuremaps import normalize_channel
def normalize_feature_map(channel):
    return normalize_channel(channel)""",
    "put the repository on sys.path": f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from helpers.featuremaps import normalize_channel
def normalize_feature_map(channel):
    return normalize_channel(channel)""",
}


@pytest.mark.parametrize("case", sorted(CHEATS))
def test_cheats_gain_no_marks(tmp_path, case):
    report, record = graded(cheat(tmp_path, CHEATS[case]))
    assert report["score"] == 0 and record["passed"] == 0 and report["max_score"] == POINTS, record
    assert report["isolated"] is True


def test_the_honest_answer_still_gets_full_marks(tmp_path):
    report, record = graded(REFERENCE)
    assert (report["score"], record["passed"]) == (POINTS, 3)


def test_no_file_outside_the_sandbox_is_read_written_or_deleted(tmp_path):
    secret, victim = tmp_path / "secret.txt", tmp_path / "victim.txt"
    secret.write_text("expected values")
    victim.write_text("untouched")
    outside = REPO / "written_by_a_submission.txt"
    code = f"""
import os, pathlib
found = [p for p in ({str(secret)!r}, {str(victim)!r}) if os.path.exists(p)]
for path in ({str(victim)!r}, {str(outside)!r}, "/etc/written_by_a_submission"):
    try:
        open(path, "w").write("pwned")
    except OSError:
        pass
try:
    os.remove({str(victim)!r})
except OSError:
    pass
def normalize_feature_map(channel):
    raise RuntimeError("saw " + repr(found))"""
    report, record = graded(cheat(tmp_path, code))
    assert "saw []" in " ".join(record["messages"]), record  # neither file was visible
    assert victim.read_text() == "untouched" and secret.read_text() == "expected values"
    assert not outside.exists() and not pathlib.Path("/etc/written_by_a_submission").exists()


def test_processes_started_by_a_submission_die_with_it(tmp_path):
    marker = f"{os.getpid() % 1000 + 7000}.{time.time_ns() % 1000}"
    code = f"""
import subprocess
subprocess.Popen(["setsid", "sh", "-c", "sleep {marker}"])
subprocess.Popen(["sh", "-c", "nohup sleep {marker} &"])"""
    graded(cheat(tmp_path, code))
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True).stdout.split()
    assert left == [], f"processes still running after grading: {left}"


def test_a_symlinked_score_file_is_replaced_not_followed(tmp_path):
    target = tmp_path / "do_not_overwrite.txt"
    target.write_text("precious")
    path = tmp_path / "02_activations.ipynb"
    shutil.copy(REFERENCE, path)
    link = path.with_suffix(".grade.json")
    link.symlink_to(target)
    assert grade.main([str(path), "--chapter", "02", "--cell-timeout", "10"]) == 0
    assert target.read_text() == "precious"
    assert not link.is_symlink() and json.loads(link.read_text())["score"] == POINTS


def test_check_inputs_change_with_the_seed_so_answers_cannot_be_looked_up():
    first, second = references.check_inputs("normalize_feature_map", 1), references.check_inputs("normalize_feature_map", 2)
    for a, b in zip(first, second):  # every check, the small hand-sized ones too
        assert not np.array_equal(a[0], b[0])
    seeds = {grade.grade(REFERENCE, cell_timeout=10)["seed"] for _ in range(2)}
    assert len(seeds) == 2


def test_an_answer_that_only_knows_the_published_inputs_fails_fresh_ones(tmp_path):
    [published] = [a for a in references.check_inputs("normalize_feature_map", 0)[:1]]
    table = {published[0].tobytes(): np.round(np.asarray(np.clip(
        (published[0] - published[0].mean()) / published[0].std() * 64 + 128, 0, 255))).tolist()}
    code = f"""
import numpy as np
TABLE = {{bytes.fromhex({next(iter(table)).hex()!r}): {next(iter(table.values()))!r}}}
def normalize_feature_map(channel):
    return np.array(TABLE[np.asarray(channel, dtype=np.float64).tobytes()])"""
    report, record = graded(cheat(tmp_path, code), seed=12345)
    assert record["passed"] == 0 and report["score"] == 0
    assert references.run_checks("normalize_feature_map", _namespace(code)["normalize_feature_map"])["passed"] == 1


def _namespace(code):
    namespace = {}
    exec(code, namespace)
    return namespace


def test_scores_are_capped_at_the_points():
    name = "normalize_feature_map"
    inputs = references.check_inputs(name, 0)
    outputs = [normalize_channel(*args) for args in inputs]
    record = references.score_outputs(name, outputs * 5, inputs * 5)  # more passes than checks
    assert record["score"] == exercises.EXERCISES[name].points == 2.0


def test_without_bubblewrap_grading_refuses_and_names_the_package(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sandbox, "bwrap", lambda: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap"):
        sandbox.command(tmp_path, ["true"])
    monkeypatch.setattr(sandbox, "_WORKS", {})
    assert grade.main([str(REFERENCE), "--chapter", "02", "--output", str(tmp_path / "s.json")]) == 2
    assert "--no-sandbox" in capsys.readouterr().err
    report = grade.grade(REFERENCE, cell_timeout=10, isolate=False)
    assert report["score"] == report["max_score"] > 0 and report["isolated"] is False


def test_nbgrader_without_bubblewrap_stops_once_and_names_its_own_setting(monkeypatch):
    import nbformat
    from helpers.grading import nbgrader_course

    monkeypatch.setattr(sandbox, "bwrap", lambda: None)
    monkeypatch.setattr(sandbox, "_WORKS", {})
    with pytest.raises(SystemExit) as stop:  # not an exception nbgrader would log and pass over per student
        nbgrader_course.SandboxedExecute().preprocess(nbformat.v4.new_notebook(), {})
    message = str(stop.value)
    assert "apt-get install bubblewrap" in message and "c.SandboxedExecute.isolate = False" in message
    assert "--no-sandbox" not in message
