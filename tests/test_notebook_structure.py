"""Structure rules every chapter notebook follows (no kernel is started)."""

import pathlib
import re

import nbformat
import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
FORBIDDEN = re.compile(r"^\s*[!%]\s*pip\b|google\.colab|^\s*!\s*(apt|wget|curl)\b", re.MULTILINE)
MAX_CELL_LINES = 15


def test_there_are_chapters():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_datasets.ipynb"


@pytest.fixture(params=NOTEBOOKS, ids=[nb.name for nb in NOTEBOOKS])
def notebook(request):
    return nbformat.read(request.param, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_kernel_is_python3(notebook):
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_first_code_cell_is_the_only_parameters_cell(notebook):
    tagged = [i for i, c in enumerate(code_cells(notebook)) if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [0]
    assert "quick" in code_cells(notebook)[0].source


def test_second_code_cell_calls_setup_with_the_seed(notebook):
    assert "helpers.setup(seed)" in code_cells(notebook)[1].source


def test_no_installs_or_colab(notebook):
    for cell in code_cells(notebook):
        assert not FORBIDDEN.search(cell.source), cell.source


def test_code_cells_are_short(notebook):
    for cell in code_cells(notebook):
        assert len(cell.source.splitlines()) <= MAX_CELL_LINES, cell.source


def without_outputs_note(nb):
    """True for a chapter on unshippable data that is committed without outputs and says so."""
    needs = nb.metadata.get("course", {}).get("requires_data", [])
    blank = not any(c.outputs for c in code_cells(nb))
    return bool(needs) and blank and "committed without" in nb.cells[0].source


def test_outputs_are_stored_and_clean(notebook):
    cells = code_cells(notebook)
    if without_outputs_note(notebook):
        assert all(c.execution_count is None for c in cells)
        return
    assert all(c.execution_count is not None for c in cells), "render with --update-references"
    checked = [c for c in cells if "# NBVAL_CHECK_OUTPUT" in c.source]
    assert checked and all(c.outputs for c in checked)
    for cell in cells:
        for out in cell.outputs:
            assert out.output_type != "error", cell.source
            assert not (out.output_type == "stream" and out.name == "stderr"), out.text
        if "# NBVAL_CHECK_OUTPUT" in cell.source:
            assert all("image/png" not in out.get("data", {}) for out in cell.outputs), "checked cells print text only"


def test_plotting_cells_end_with_show(notebook):
    for cell in code_cells(notebook):
        if re.search(r"\bgallery\.|plt\.", cell.source) and "plt.subplots" not in cell.source:
            if any("image/png" in out.get("data", {}) for out in cell.outputs):
                assert cell.source.rstrip().endswith("plt.show()"), cell.source


def test_only_chapters_on_unshippable_data_may_lack_outputs():
    from helpers.data.registry import load_registry

    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for name in nb.metadata.get("course", {}).get("requires_data", []):
            assert not load_registry()[name]["shipped"], f"{path.name}: {name} is shipped, render it"


def test_no_volatile_metadata(notebook):
    assert "papermill" not in notebook.metadata
    for cell in notebook.cells:
        assert "papermill" not in cell.metadata and "execution" not in cell.metadata
