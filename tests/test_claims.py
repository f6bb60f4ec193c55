"""Checked claims: written from their numbers, false ones fail the render, counted per chapter."""

import json
import pathlib
import subprocess
import sys

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from helpers.claims import MARK, ClaimFailed, claim, count_checked

REPO = pathlib.Path(__file__).resolve().parent.parent
CHAPTERS = sorted((REPO / "notebooks").glob("0[1-7]_*.ipynb"))


def test_a_true_claim_prints_the_sentence_written_from_its_numbers(capsys):
    text = claim("{hits} of {n} images ({share:.1%}) point at the line", np.int64(37) / 40 > 0.9,
                 hits=np.int64(37), n=40, share=np.float32(37 / 40))
    assert text == "37 of 40 images (92.5%) point at the line"
    assert capsys.readouterr().out == f"{MARK} 37 of 40 images (92.5%) point at the line\n"


def test_a_false_claim_raises_with_the_sentence_and_every_number(capsys):
    with pytest.raises(ClaimFailed, match=r"'accuracy 0.9870 is at least 0.99' does not hold for accuracy=0.987, "
                                          r"floor=0.99"):
        claim("accuracy {accuracy:.4f} is at least {floor}", 0.987 >= 0.99, accuracy=0.987, floor=0.99)
    assert capsys.readouterr().out == ""  # nothing printed as if it held


def test_nan_fails_even_when_the_condition_was_written_the_wrong_way_round():
    value = float("nan")
    with pytest.raises(ClaimFailed, match=r"\(NaN: score\)"):
        claim("score {score} is not below 0.5", not value < 0.5, score=value)


def test_arrays_and_missing_numbers_are_refused_with_the_fix():
    with pytest.raises(TypeError, match=r"shape \(3,\); reduce an array with .all\(\) or .any\(\)"):
        claim("all positive", np.array([1, 2, 3]) > 0)
    with pytest.raises(KeyError, match=r"names 'b' but only \['a'\] were passed"):
        claim("{a} < {b}", True, a=1)


def test_count_checked_counts_only_printed_marks():
    nb = new_notebook()
    cell = new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{MARK} one\nother\n{MARK} two\n"),
                    nbformat.v4.new_output("stream", name="stderr", text=f"{MARK} not counted\n")]
    nb.cells = [cell, nbformat.v4.new_markdown_cell(f"{MARK} prose")]
    assert count_checked(nb) == 2


def test_a_false_claim_fails_make_render_naming_chapter_cell_and_numbers(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = new_code_cell("floor = 0.99")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, new_code_cell("from helpers.claims import claim\naccuracy = 0.9871"),
                new_code_cell("claim('accuracy {accuracy:.4f} is at least {floor}', accuracy >= floor, "
                              "accuracy=accuracy, floor=floor)")]
    nbformat.write(nb, notebooks / "09_claims.ipynb")
    build = tmp_path / "build"
    run = subprocess.run(["make", "-s", "-C", str(REPO), "render",
                          f"ARGS=--only 09 --notebook-dir {notebooks} --build-dir {build}"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode != 0
    assert ("09_claims.ipynb, cell 2 (In [3]): ClaimFailed: false claim: "
            "'accuracy 0.9871 is at least 0.99' does not hold for accuracy=0.9871, floor=0.99") in run.stderr
    assert "09_claims  FAILED" in run.stdout and not (build / "09_claims.ipynb").exists()
    summary = json.loads((build / "render_summary.json").read_text())
    assert summary[0]["status"] == "FAILED" and summary[0]["claims"] == 0
    # the same chapter with a floor the number meets renders and counts its claim
    run = subprocess.run([sys.executable, "-m", "helpers.course.render", "--only", "09", "-p", "floor", "0.98",
                          "--notebook-dir", str(notebooks), "--build-dir", str(build)],
                         capture_output=True, text=True, timeout=600, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert json.loads((build / "render_summary.json").read_text())[0]["claims"] == 1


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_checks_claims_and_the_readme_counts_them(path):
    nb = nbformat.read(path, as_version=4)
    calls = sum(cell.source.count("claim(") for cell in nb.cells if cell.cell_type == "code")
    if any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"):
        assert count_checked(nb) >= calls > 0, f"{path.name}: {calls} claim calls, {count_checked(nb)} held"
    readme = (REPO / "docs" / "claims.md").read_text()
    assert f"| `{path.stem}` | {count_checked(nb)} |" in readme, f"docs/claims.md table of checked claims lacks {path.stem}"


def test_a_run_the_claims_are_not_about_prints_them_unchecked(capsys):
    from helpers.claims import UNCHECKED, check_claims

    with pytest.raises(ValueError, match="say why"):
        check_claims(False)
    check_claims(False, "quick profile")
    try:
        assert claim("accuracy {a:.2f} >= 0.99", False, a=0.9) == "accuracy 0.90 >= 0.99"
    finally:
        check_claims()
    assert capsys.readouterr().out == f"{UNCHECKED} accuracy 0.90 >= 0.99 [quick profile]\n"
    with pytest.raises(ClaimFailed):
        claim("accuracy {a:.2f} >= 0.99", False, a=0.9)


def test_changed_parameters_turn_a_false_claim_into_a_finding(capsys, tmp_path, monkeypatch):
    from helpers.claims import FINDING, LOG_VARIABLE, check_claims, count_findings

    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv(LOG_VARIABLE, str(log))
    namespace = {"image_index": 321, "seed": 0}
    with pytest.raises(NameError, match=r"\['epochs'\], which the notebook does not define"):
        exec("check_claims(True, defaults={'epochs': 3})", {"check_claims": check_claims})
    try:
        changed = eval("check_claims(True, defaults={'image_index': 227, 'seed': 0})",
                       {"check_claims": check_claims, **namespace})
        assert changed == {"image_index": 321}
        claim("image {i} is a {label}", False, i=321, label=2)
        claim("image {i} is read with p {p:.2f}", True, i=321, p=0.8)
    finally:
        check_claims()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("This run changes image_index=321 (default 227).")
    assert out[1:] == [f"{FINDING} image_index=321: image 321 is a 2", f"{MARK} image 321 is read with p 0.80"]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["template"], r["status"], r["changed"]) for r in records] == [
        ("image {i} is a {label}", "finding", {"image_index": "321"}),
        ("image {i} is read with p {p:.2f}", "held", {"image_index": "321"})]
    nb = new_notebook()
    cell = new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="\n".join(out) + "\n")]
    nb.cells = [cell]
    assert count_findings(nb) == 1 and count_checked(nb) == 1
    # at the defaults the same false claim is an error again
    eval("check_claims(True, defaults={'image_index': 321})", {"check_claims": check_claims, **namespace})
    with pytest.raises(ClaimFailed):
        claim("image {i} is a {label}", False, i=321, label=2)


def _claims_chapter(folder):
    folder.mkdir()
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = new_code_cell("floor = 0.99\nquick = False")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, new_code_cell("from helpers.claims import check_claims, claim\naccuracy = 0.9871\n"
                                      "check_claims(not quick, 'quick', defaults=dict(floor=0.99))"),
                new_code_cell("claim('accuracy {accuracy:.4f} is at least {floor}', accuracy >= floor, "
                              "accuracy=accuracy, floor=floor)\nclaim('accuracy is below 1', accuracy < 1)")]
    nbformat.write(nb, folder / "09_claims.ipynb")


def test_a_sweep_exits_0_and_tabulates_which_claims_hold_for_which_values(tmp_path):
    notebooks = tmp_path / "notebooks"
    _claims_chapter(notebooks)
    root = tmp_path / "sweeps"
    run = subprocess.run([sys.executable, "-m", "helpers.course.sweep", "--vary", "floor", "0.98", "0.995",
                          "--serial", "--build-root", str(root), "--only", "09", "--notebook-dir", str(notebooks)],
                         capture_output=True, text=True, timeout=600, cwd=REPO)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"robustness table: {root / 'robustness.md'} (2 claims, 1 findings)" in run.stdout
    table = (root / "robustness.md").read_text()
    assert "| 09 | accuracy {accuracy:.4f} is at least {floor} | \u2714 | \u2718 |" in table
    assert "| 09 | accuracy is below 1 | \u2714 | \u2714 |" in table
    summary = json.loads((root / "floor-0.995" / "render_summary.json").read_text())
    assert summary[0]["status"] == "ok" and summary[0]["findings"] == 1
    assert summary[0]["parameters"] == {"floor": 0.995}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_each_chapter_names_its_defaults_once_as_its_parameters_cell_sets_them(path):
    import ast

    import papermill

    nb = nbformat.read(path, as_version=4)
    declared = {name: ast.literal_eval(p["default"]) for name, p in papermill.inspect_notebook(str(path)).items()
                if name != "quick"}
    calls = [node for cell in nb.cells if cell.cell_type == "code" and "check_claims(" in cell.source
             for node in ast.walk(ast.parse(cell.source))
             if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "check_claims"]
    assert len(calls) == 1, f"{path.name}: one check_claims call, found {len(calls)}"
    given = {k.arg: k.value for k in calls[0].keywords}
    assert "defaults" in given, f"{path.name}: check_claims(..., defaults=dict(...)) names the parameters"
    defaults = {k.arg: ast.literal_eval(k.value) for k in given["defaults"].keywords}
    assert defaults == declared
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "This run changes" not in text, f"{path.name}: rendered at its defaults, no parameter may read as changed"
