"""Chapters 06 (SVHN) and 07 (CIFAR-10) end to end on format-faithful fixtures.

The real data cannot be had here, so both notebooks are executed with papermill
in the quick profile on tiny files written in the official layouts
(:mod:`helpers.data.fixtures`), through the real loaders (which verify the
fixtures' sha256 against the fixture registry). Models go to a throwaway cache.
"""

import json
import os
import pathlib
import re

import nbformat
import pytest

from helpers.data.fixtures import write_fixtures
from helpers.live_channels import FIGURE_LOG_VARIABLE
from helpers.models.training import CACHE_ENV

NOTEBOOKS = pathlib.Path(__file__).parents[1] / "notebooks"
#: Figures each chapter draws, counted from its plotting cells (loops included).
EXPECTED_FIGURES = {
    # classes, history + confusion, image + 4 grids, kernels, kernels against their start, 4 pattern grids,
    # enhanced, seed 002's hand-made conv1 optima, seed 002's settings, maps, most activated
    "06_svhn": 1 + 2 + 5 + 1 + 1 + 4 + 1 + 1 + 1 + 1 + 1,
    # classes, 2 x (history + confusion), image + 6 grids, 2 plain grids, 2 kernels, 2 kernels against their
    # start, 5 pattern grids, 2 class-image figures, maps, maps to inner layers, most activated
    "07_cifar10": 1 + 4 + 7 + 2 + 2 + 2 + 5 + 2 + 1 + 1 + 1,
}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Run both chapters once on the fixtures; return name -> executed notebook."""
    import papermill

    root = tmp_path_factory.mktemp("fixtures")
    env = {**write_fixtures(root / "downloads", n_train=300, n_test=100), CACHE_ENV: str(root / "models")}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        done = {}
        for name in EXPECTED_FIGURES:
            out = root / f"{name}.ipynb"
            os.environ[FIGURE_LOG_VARIABLE] = str(root / f"{name}.figures.jsonl")
            papermill.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(out), kernel_name="python3",
                                       parameters={"quick": True, "validation_size": 50},
                                       cwd=str(NOTEBOOKS), progress_bar=False)
            done[name] = nbformat.read(out, as_version=4)
            log = root / f"{name}.figures.jsonl"
            done[name].figure_log = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return done
    finally:
        os.environ.pop(FIGURE_LOG_VARIABLE, None)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def outputs(nb):
    return [(cell, out) for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


def stdout(nb):
    return "".join(out.get("text", "") for _, out in outputs(nb) if out.output_type == "stream")


@pytest.mark.parametrize("name", sorted(EXPECTED_FIGURES))
def test_every_figure_is_drawn_and_nothing_failed(executed, name):
    nb = executed[name]
    assert not [out for _, out in outputs(nb) if out.output_type == "error"]
    assert not [out.text for _, out in outputs(nb) if out.output_type == "stream" and out.name == "stderr"]
    figures = [cell for cell, out in outputs(nb) if "image/png" in out.get("data", {})]
    assert len(figures) == EXPECTED_FIGURES[name]
    for cell in nb.cells:
        if cell.cell_type == "code" and "plt.show()" in cell.source:
            assert any("image/png" in out.get("data", {}) for out in cell.outputs), cell.source


@pytest.mark.parametrize("name, real", [("06_svhn", "SVHN"), ("07_cifar10", "CIFAR-10")])
def test_fixture_data_is_never_shown_under_the_real_name(executed, name, real):
    text = stdout(executed[name])
    assert f"data: TEST FIXTURE in {real}'s file format (synthetic squares, not {real})" in text
    assert ("train (250, 32, 32, 3), validation (50, 32, 32, 3), test (100, 32, 32, 3)" if name == "06_svhn"
            else "train (300, 32, 32, 3), test (100, 32, 32, 3), uint8") in text


def test_svhn_chapter_values(executed):
    text = stdout(executed["06_svhn"])
    assert "test images per digit: [10, 10, 10, 10, 10, 10, 10, 10, 10, 10]" in text
    assert "seed002_svhn: 2,168,362 parameters, 1 epochs on 250 images" in text
    assert "conv4  (16, 16, 64)" in text and "conv1: 32 channels" in text and "conv4: 64 channels" in text
    assert "Grad-CAM layer conv4: a 16x16 grid over 32x32 pixels" in text
    accuracy = float(text.split("test accuracy ")[1].split(" ")[0])
    assert accuracy >= 0.3  # the squares are learnable in one epoch; chance is 0.1
    assert "better than always answering the most common digit: True" in text


def test_cifar_chapter_values(executed):
    text = stdout(executed["07_cifar10"])
    assert "'airplane': 10" in text and "'truck': 10" in text
    assert "seed002_cifar10    4,778,954 parameters" in text and "keras_cifar10_cnn  1,250,858 parameters" in text
    for shape in ("conv2  (30, 30, 32)", "pool1  (15, 15, 32)", "conv4  (13, 13, 64)", "pool2    (6, 6, 64)"):
        assert shape in text
    logits = [line.split("after: ")[1].split(" -> ") for line in text.splitlines() if "logit before -> after" in line]
    assert len(logits) == 2 and all(float(after) > float(before) for before, after in logits)
    assert "seed002_cifar10: Grad-CAM at conv2, a 16x16 grid over 32x32 pixels" in text
    assert "keras_cifar10_cnn: Grad-CAM at conv4, a 13x13 grid over 32x32 pixels" in text
    assert text.count("class score rose for every class: True") == 2


@pytest.mark.parametrize("name", sorted(EXPECTED_FIGURES))
def test_what_each_pattern_figure_marks_at_zero_equals_the_printed_count(executed, name):
    """One dead/live decision: the grey 'zero' panels of every pattern gallery are exactly the
    channels the chapter's printed line counts as 'still zero', layer by layer."""
    printed = [int(n) for n in re.findall(r"still zero +(\d+),", stdout(executed[name]))]
    figures = executed[name].figure_log
    assert len(printed) == len(figures) >= 4
    assert [f["marked"] for f in figures] == printed
    assert all(f["word"] == "zero" and 0 <= f["marked"] <= f["panels"] for f in figures)
