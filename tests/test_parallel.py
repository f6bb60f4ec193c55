"""A class graded on a 2-worker Dask LocalCluster gives the serial scores; render sweeps get their own folders."""

import csv
import json
import pathlib
import shutil

import nbformat
import pytest
import yaml

from helpers.course import sweep
from helpers.grading import assignments, grade_class

pytestmark = pytest.mark.usefixtures("bubblewrap")
REPO = pathlib.Path(__file__).parents[1]
REFERENCE = REPO / "notebooks" / "02_activations.ipynb"
STUDENT = REPO / "assignments" / "02_activations.ipynb"

EDITS = {
    "honest": lambda s: s,
    "partial": lambda s: s.replace("    if np.ptp(channel) == 0:", "    if False:"),
    "syntax": lambda s: s.replace("def normalize_feature_map(channel):", "def normalize_feature_map(channel:"),
    "loop": lambda s: s.replace("    channel = np.asarray", "    while True:\n        pass\n    channel = np.asarray"),
    "cheat": lambda s: s + "\nimport os, json\njson.dump({'normalize_feature_map': {'score': 100}}, "
                           "open('results.json', 'w'))\nos._exit(0)",
}
EXPECTED = {"honest": 2.0, "partial": 1.33, "syntax": 0.0, "loop": 0.0, "cheat": 0.0, "untouched": 0.0, "garbage": 0.0}


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    """24 submissions: honest, partial, broken, looping, cheating, untouched and unreadable ones."""
    root = tmp_path_factory.mktemp("class")
    kinds = list(EDITS) + ["untouched", "garbage"]
    paths, truth = [], []
    for i in range(24):
        kind = kinds[i % len(kinds)]
        path = root / f"student{i:02d}" / REFERENCE.name
        path.parent.mkdir()
        if kind == "garbage":
            path.write_text("not a notebook")
        elif kind == "untouched":
            shutil.copy(STUDENT, path)
        else:
            nb = nbformat.read(REFERENCE, as_version=4)
            for cell in nb.cells:  # the chapter's other exercise is removed: it scores 0 for everyone
                if assignments.exercise_name(cell) == "normalize_feature_map":
                    cell.source = EDITS[kind](cell.source)
            nb.cells = [c for c in nb.cells if assignments.exercise_name(c) in (None, "normalize_feature_map")]
            nbformat.write(nb, path)
        paths.append(path)
        truth.append(EXPECTED[kind])
    return paths, truth


# An honest answer needs a few seconds per cell on a loaded 2-CPU machine (two Dask workers and a
# render beside them); 8 s leaves it room, the looping ones still end at their limit.
def test_dask_grading_equals_serial_grading(classroom, tmp_path):
    paths, truth = classroom
    serial, seed = grade_class.grade_class(paths, seed=7, serial=True, cell_timeout=8, total_timeout=60)
    dask, same_seed = grade_class.grade_class(paths, seed=7, workers=2, cell_timeout=8, total_timeout=60)
    assert seed == same_seed == 7
    assert [r["score"] for r in serial] == truth
    assert [r["score"] for r in dask] == [r["score"] for r in serial]
    assert [r["seed"] for r in dask] == [r["seed"] for r in serial] == grade_class.submission_seeds(len(paths), 7)
    assert [r["submission"] for r in dask] == [str(p) for p in paths]
    grade_class.write_csv(dask, tmp_path / "scores.csv")
    with open(tmp_path / "scores.csv") as f:
        assert [float(row["score"]) for row in csv.DictReader(f)] == truth


def test_class_command_writes_scores(classroom, tmp_path, capsys):
    paths, truth = classroom
    out = tmp_path / "class.csv"
    assert grade_class.main([*map(str, paths[:7]), "--chapter", "02", "--serial", "--seed", "3", "--cell-timeout", "8", "--csv", str(out)]) == 0
    assert "class seed 3" in capsys.readouterr().out
    assert [json.loads(p.with_suffix(".grade.json").read_text())["score"] for p in paths[:7]] == truth[:7]


def test_sweep_renders_each_parameter_set_into_its_own_folder(tmp_path):
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(yaml.safe_dump({"seed1": {"seed": 1}, "seed2": {"seed": 2}}))
    records = sweep.sweep(sweep.read_sweep(sweep_file), only=["00"], build_root=tmp_path / "sweeps", workers=2)
    assert [r["returncode"] for r in records] == [0, 0]
    for name, seed in (("seed1", 1), ("seed2", 2)):
        folder = tmp_path / "sweeps" / name
        nb = nbformat.read(folder / "00_datasets.ipynb", as_version=4)
        assert nb.metadata["papermill"]["parameters"]["seed"] == seed
        assert (folder / "00_datasets.html").exists() and (folder / "index.html").exists()
        assert json.loads((folder / "render_summary.json").read_text())[0]["status"] == "ok"
    assert not (REPO / "build" / "sweeps" / "seed1").exists()


@pytest.mark.parametrize("text, message", [("[1, 2]", "must map a name"), ("'a b': {seed: 1}", "become folder names")])
def test_bad_sweep_files_are_explained(tmp_path, text, message):
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        sweep.read_sweep(path)


def test_an_existing_scheduler_is_used_by_its_address(classroom):
    from distributed import LocalCluster

    paths, truth = classroom
    seen = []
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        reports, _ = grade_class.grade_class(paths[:7], seed=5, scheduler=cluster.scheduler_address, cell_timeout=3,
                                             done=seen.append)
        assert len(cluster.scheduler.workers) == 1  # still running: the caller's cluster is left alone
    assert [r["score"] for r in reports] == truth[:7]
    assert sorted(r["submission"] for r in seen) == sorted(r["submission"] for r in reports)  # each as it finished
