"""The render command on tiny throwaway notebooks (a real kernel runs them)."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from helpers.course import render


def make_notebook(path, body, default="1"):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = new_code_cell(f"value = {default}\nquick = False")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, new_code_cell(body)]
    nbformat.write(nb, path)


@pytest.fixture
def course(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    make_notebook(notebooks / "00_good.ipynb", "print('value is', value * 2, 'quick', quick)")
    make_notebook(notebooks / "01_bad.ipynb", "raise ValueError('broken on purpose')")
    make_notebook(notebooks / "02_cwd.ipynb", "import os\nprint(os.path.basename(os.getcwd()))")
    return notebooks, tmp_path / "build"


def stdout_of(path, cell=-1):
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for o in nb.cells[cell].outputs)


def test_failure_does_not_stop_others_and_is_reported(course, capsys):
    notebooks, build = course
    results = render.render(render.discover(notebook_dir=notebooks), {"value": 21}, build)
    assert [(r["chapter"], r["status"]) for r in results] == [("00_good", "ok"), ("01_bad", "FAILED"), ("02_cwd", "ok")]
    assert "ValueError: broken on purpose" in results[1]["error"]
    assert "value is 42 quick False" in stdout_of(build / "00_good.ipynb")
    assert stdout_of(build / "02_cwd.ipynb").strip() == "notebooks"
    assert (build / "00_good.html").read_text().count("value is 42") >= 1
    assert (build / "01_bad.failed.ipynb").exists() and not (build / "01_bad.ipynb").exists()
    assert not list(build.glob(".*"))  # no partial files left behind


def test_failed_rerender_keeps_the_good_output(course):
    notebooks, build = course
    render.render(render.discover(["00"], notebook_dir=notebooks), {}, build)
    good = (build / "00_good.ipynb").read_text()
    make_notebook(notebooks / "00_good.ipynb", "raise RuntimeError('now broken')")
    [result] = render.render(render.discover(["00"], notebook_dir=notebooks), {}, build)
    assert result["status"] == "FAILED"
    assert (build / "00_good.ipynb").read_text() == good


def test_quick_and_unknown_parameters(course, capsys):
    notebooks, build = course
    params = render.collect_parameters([("value", "5"), ("nonsense", "1")], quick=True)
    assert params == {"value": 5, "nonsense": 1, "quick": True}
    render.render(render.discover(["0"], notebook_dir=notebooks), params, build)
    assert "value is 10 quick True" in stdout_of(build / "00_good.ipynb")
    assert "nonsense" in capsys.readouterr().err


def test_parameters_file(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("value: 3\nseed: 1\n")
    assert render.collect_parameters([("seed", "2")], path) == {"value": 3, "seed": 2}
    path.write_text("- a list\n")
    with pytest.raises(SystemExit, match="mapping"):
        render.collect_parameters([], path)


def test_unknown_chapter_lists_the_chapters(course):
    notebooks, _ = course
    with pytest.raises(SystemExit, match="no chapter 07.*00_good.ipynb"):
        render.discover(["07"], notebook_dir=notebooks)


def test_update_references_strips_volatile_metadata(course):
    notebooks, build = course
    render.render(render.discover(["02"], notebook_dir=notebooks), {}, build, update_references=True)
    nb = nbformat.read(notebooks / "02_cwd.ipynb", as_version=4)
    assert "papermill" not in nb.metadata
    assert nb.cells[0].metadata["tags"] == ["parameters"]
    assert nb.cells[1].execution_count == 2
    assert all("papermill" not in c.metadata and "execution" not in c.metadata for c in nb.cells)
    assert nb.cells[1].outputs[0]["text"].strip() == "notebooks"


def test_main_exit_status_and_summary(course, capsys):
    notebooks, build = course
    assert render.main(["--notebook-dir", str(notebooks), "--build-dir", str(build), "--only", "00", "01"]) == 1
    out = capsys.readouterr().out
    assert "00_good" in out and "FAILED" in out and "total" in out
    summary = json.loads((build / "render_summary.json").read_text())
    assert [r["status"] for r in summary] == ["ok", "FAILED"]
    index = (build / "index.html").read_text()
    assert 'href="00_good.html"' in index and "01_bad.html" not in index and "broken on purpose" in index
    assert 'href="index.html"' in (build / "00_good.html").read_text()


def test_summary_keeps_the_last_good_render_of_a_chapter(tmp_path):
    path = tmp_path / "summary.json"
    render.write_summary(path, [{"chapter": "00_a", "status": "ok", "seconds": 3.0, "error": ""}])
    records = render.write_summary(path, [{"chapter": "00_a", "status": "FAILED", "seconds": 1.0, "error": "boom"},
                                          {"chapter": "01_b", "status": "NO DATA", "seconds": 0.0, "error": "fetch"}])
    assert records[0] == {"chapter": "00_a", "status": "ok", "seconds": 3.0, "error": "last run FAILED: boom"}
    assert records[1]["status"] == "NO DATA"


def test_update_references_refuses_parameters(course):
    with pytest.raises(SystemExit):
        render.main(["--update-references", "--quick"])


def test_chapter_without_its_data_is_reported_and_left_alone(course, tmp_path, monkeypatch):
    import urllib.error

    import helpers.data.registry as reg

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    notebooks, build = course
    monkeypatch.setenv(reg.DOWNLOAD_DIR_ENV, str(tmp_path / "empty"))
    monkeypatch.delenv("COURSE_DATA_ARRAYS", raising=False)  # no array copy either
    monkeypatch.setattr(reg.urllib.request, "urlopen", no_network)
    path = notebooks / "03_svhn.ipynb"
    make_notebook(path, "print('never runs')")
    nb = nbformat.read(path, as_version=4)
    nb.metadata["course"] = {"requires_data": ["svhn"]}
    nbformat.write(nb, path)
    before = path.read_text()
    results = render.render(render.discover(["00", "03"], notebook_dir=notebooks), {}, build, update_references=True)
    assert [(r["chapter"], r["status"]) for r in results] == [("00_good", "ok"), ("03_svhn", "NO DATA")]
    assert "python -m helpers.data.fetch svhn" in results[1]["error"]
    assert path.read_text() == before and not (build / "03_svhn.ipynb").exists()
    assert render.main(["--only", "03", "--notebook-dir", str(notebooks), "--build-dir", str(build)]) == 0


def test_fixture_renders_never_become_the_committed_notebook(course, tmp_path, monkeypatch):
    from helpers.data.fixtures import write_fixtures

    notebooks, build = course
    for key, value in write_fixtures(tmp_path / "fixtures", n_train=10, n_test=10).items():
        monkeypatch.setenv(key, value)
    path = notebooks / "04_svhn.ipynb"
    make_notebook(path, "print('rendered on fixtures')")
    nb = nbformat.read(path, as_version=4)
    nb.metadata["course"] = {"requires_data": ["svhn"]}
    nbformat.write(nb, path)
    before = path.read_text()
    [result] = render.render(render.discover(["04"], notebook_dir=notebooks), {}, build, update_references=True)
    assert result["status"] == "ok" and "svhn points at test fixtures" in result["error"]
    assert path.read_text() == before
    assert "rendered on fixtures" in stdout_of(build / "04_svhn.ipynb")
