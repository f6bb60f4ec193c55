"""The chapters rendered with parameters other than their defaults, as instructors render them.

Any valid parameter renders: a claim that does not hold for the chosen values is a finding of
that run (printed, counted, tabulated by the sweep), not an error; the prose names no value the
parameters cell chose. At the defaults a false claim still fails the render
(``tests/test_claims.py``).
"""

import json
import pathlib
import re
import subprocess
import sys

import nbformat

from helpers.claims import FINDING, MARK

REPO = pathlib.Path(__file__).resolve().parents[1]
FIRST_CLAIM = "Test image {i} is a {label} and the network reads it as a {pred}, with probability {p:.3f}."


def _text(nb, kind):
    if kind == "markdown":
        return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_chapter_02_renders_for_other_test_images_and_tabulates_which_claims_hold(tmp_path):
    root = tmp_path / "sweeps"
    run = subprocess.run([sys.executable, "-m", "helpers.course.sweep", "--vary", "image_index", "321", "51",
                          "--only", "02", "--serial", "--build-root", str(root)],
                         capture_output=True, text=True, timeout=1500, cwd=REPO)
    logs = "".join(p.read_text()[-3000:] for p in root.glob("*/render.log"))
    assert run.returncode == 0, run.stdout + run.stderr + logs
    table = (root / "robustness.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith(f"| 02 | {FIRST_CLAIM}"))
    assert row.endswith("| \u2718 | \u2714 |"), row  # 321 (a 2) is read as a 7; 51 is read right
    for index, label, status in ((321, 2, "finding"), (51, None, "held")):
        build = root / f"image_index-{index}"
        nb = nbformat.read(build / "02_activations.ipynb", as_version=4)
        out = _text(nb, "code")
        assert f"This run changes image_index={index} (default 227)" in out
        assert re.search(rf"({re.escape(FINDING)} image_index={index}: |{re.escape(MARK)} )Test image {index} is a",
                         out), out[:2000]
        if label is not None:
            assert f"{FINDING} image_index={index}: Test image {index} is a {label} and the network reads it" in out
        assert not re.search(r"\b227\b|\bfour\b", _text(nb, "markdown")), "the prose names the default image"
        [record] = json.loads((build / "render_summary.json").read_text())
        assert record["status"] == "ok" and record["parameters"] == {"image_index": index}
        logged = [json.loads(line) for line in (build / "claims" / "02_activations.jsonl").read_text().splitlines()]
        assert record["findings"] == sum(r["status"] == "finding" for r in logged)
        assert next(r for r in logged if r["template"] == FIRST_CLAIM)["status"] == status


def test_seed_1_renders_chapters_02_and_05(tmp_path):
    """The README's sweep example: another training seed (chapter 05 with fewer epochs and images)."""
    build = tmp_path / "build"
    run = subprocess.run([sys.executable, "-m", "helpers.course.render", "--only", "02", "05", "-p", "seed", "1",
                          "-p", "line_epochs", "1", "-p", "n_eval", "24", "-p", "n_faithfulness", "8",
                          "-p", "n_sanity", "4", "--build-dir", str(build)],
                         capture_output=True, text=True, timeout=2400, cwd=REPO)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    records = {r["chapter"]: r for r in json.loads((build / "render_summary.json").read_text())}
    assert {c: r["status"] for c, r in records.items()} == {"02_activations": "ok", "05_attribution": "ok"}
    assert records["02_activations"]["parameters"] == {"seed": 1}
    for chapter, record in records.items():
        out = _text(nbformat.read(build / f"{chapter}.ipynb", as_version=4), "code")
        assert "This run changes seed=1 (default 0)" in out
        lines = out.splitlines()
        assert sum(line.startswith(FINDING) for line in lines) == record["findings"]
        assert sum(line.startswith(MARK) for line in lines) == record["claims"] > 0


def test_the_quick_profile_loads_the_shipped_networks_and_trains_nothing(tmp_path):
    cache = tmp_path / "empty-model-cache"
    cache.mkdir()
    build = tmp_path / "build"
    env = {**__import__("os").environ, "COURSE_CACHE_DIR": str(cache)}
    env.pop("COURSE_RETRAIN", None)
    run = subprocess.run([sys.executable, "-m", "helpers.course.render", "--only", "02", "03", "--quick",
                          "--build-dir", str(build)], capture_output=True, text=True, timeout=1200, cwd=REPO, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert not [p.name for p in cache.iterdir() if not p.name.startswith(".")], "the quick profile trained a model"
    records = {r["chapter"]: r for r in json.loads((build / "render_summary.json").read_text())}
    assert all(r["status"] == "ok" and r["parameters"] == {"quick": True} for r in records.values()), records
    for chapter in records:
        out = _text(nbformat.read(build / f"{chapter}.ipynb", as_version=4), "code")
        assert "\u2013 not checked:" in out and MARK not in out and FINDING not in out
