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
    readme = (REPO / "README.md").read_text()
    assert f"| `{path.stem}` | {count_checked(nb)} |" in readme, f"README's table of checked claims lacks {path.stem}"


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
