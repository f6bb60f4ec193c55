"""The activations explorer of chapter 02 in a real JupyterLab, driven through its controls.

JupyterLab is started from the course's environment as ``make lab`` starts it (the server,
its private folders and the browser come from ``tests/test_lab_browser.py``). Into its folder goes
a copy of chapter 02 cut down to the cells the explorer needs (parameters, setup, the model and
data, the pool of test images) and the chapter's own explorer cells. Headless Chromium runs it
(Run > Run All Cells), checks that the cell shows the live widget (controls and a picture, not the
static PNG), then picks another layer in the widget's menu (a real click on the <select>) and
another channel with the keyboard on the slider. After each change the picture the page shows (the
<img>'s bytes, fetched in the page) must change and equal the picture this process renders for that
choice with the same cells (:meth:`helpers.explore.common.Explorer.render_state`).

``python tests/test_explore_browser.py --screenshots docs/img`` runs the three explorers (chapters
02, 04 and the cell proposed for 05) the same way and saves a screenshot of each (docs/explore.md).
"""

import base64
import contextlib
import pathlib
import sys
import tempfile
import time

import nbformat
import numpy as np
import pytest

from test_lab_browser import LabServer, Student, headless_chromium, lab_browser, lab_server  # noqa: F401 (fixtures)

REPO = pathlib.Path(__file__).parents[1]
CHAPTER = REPO / "notebooks" / "02_activations.ipynb"
NOTEBOOK = "explore_02.ipynb"
SERVER_START_S, RUN_S, CHANGE_S = 90, 240, 120
#: The chapter's cells the explorer needs, found by what they define.
NEEDED = ("seed = 0", "session = helpers.setup(seed)", "model = models.trained(", "batch = x_test[:n_stats]")

# The explorer in the visible notebook: its picture's bytes (base64), its status line and its controls.
EXPLORER = """
const done = arguments[arguments.length - 1];
const box = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .course-explorer');
if (!box) { done(null); return; }
const img = box.querySelector('img');
const status = box.querySelector('.widget-html-content');
const state = {status: status ? status.textContent : '', selects: box.querySelectorAll('select').length,
               sliders: box.querySelectorAll('.widget-slider').length, src: img ? img.src : null};
if (!img || !img.complete || !img.naturalWidth) { state.png = null; done(state); return; }
fetch(img.src).then(r => r.arrayBuffer()).then(buffer => {
    const bytes = new Uint8Array(buffer);
    let text = '';
    for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
    state.png = btoa(text);
    done(state);
}).catch(err => { state.error = String(err); done(state); });
"""


def chapter_cells(path, needed):
    """The code cells of ``path`` that start ``needed`` things, then the explorer's markdown and code."""
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and any(n in c.source for n in needed)]
    assert len(cells) == len(needed), f"{path.name}: found {len(cells)} of the cells {needed}"
    at = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "from helpers.explore import" in c.source)
    return cells + [nb.cells[at - 1], nb.cells[at]]


def write_notebook(cells, path):
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}}
    nb.cells = [nbformat.v4.new_code_cell(c.source) if c.cell_type == "code" else nbformat.v4.new_markdown_cell(c.source)
                for c in cells]  # fresh cells: no outputs, new ids
    nbformat.write(nb, path)


def reference_explorer(cells):
    """Run the same code cells here; the explorer the last one shows (its last expression)."""
    import ast

    namespace = {}
    for cell in cells[:-2]:
        exec(compile(cell.source, "<chapter cell>", "exec"), namespace)
    tree = ast.parse(cells[-1].source)
    *body, last = tree.body
    assert isinstance(last, ast.Expr), "the explorer cell must end with the explorer's call"
    exec(compile(ast.Module(body=body, type_ignores=[]), "<explorer cell>", "exec"), namespace)
    return eval(compile(ast.Expression(last.value), "<explorer cell>", "eval"), namespace)


def explorer_state(driver):
    return driver.execute_async_script(EXPLORER)


def wait_for_picture(driver, what, timeout, differs_from=None, status_has=""):
    """The explorer's state once its picture is loaded (and differs from ``differs_from``'s bytes)."""
    deadline, state = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        state = explorer_state(driver)
        if state and state.get("png") and state["png"] != differs_from and status_has in state["status"] \
                and "computing" not in state["status"]:
            return state
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; explorer: "
                         f"{ {k: v for k, v in (state or {}).items() if k != 'png'} }")


def decoded(state):
    from helpers.explore.common import decode_png

    return decode_png(base64.b64decode(state["png"]))


def open_and_run(server, driver, name):
    """Open notebook ``name`` in the server's JupyterLab and click Run > Run All Cells."""
    student = Student(driver)
    driver.get(f"{server.url}lab/tree/{name}?token={server.token}")
    student.wait("the notebook with its kernel idle", 120, steady=2.0,
                 done=lambda s: s.get("ready") and s["status"] == "idle" and len(s["cells"]) > 0)
    student.click("the Run menu", ".lm-MenuBar-item", text="Run")
    student.click("Run > Run All Cells", '.lm-Menu-item[data-type="command"]', text="Run All Cells")
    return student


def test_activations_explorer_follows_the_controls_in_jupyterlab(lab_server, lab_browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    began = time.monotonic()
    cells = chapter_cells(CHAPTER, NEEDED)
    lab_server.wait_ready(SERVER_START_S)
    write_notebook(cells, lab_server.root / NOTEBOOK)
    try:
        open_and_run(lab_server, lab_browser, NOTEBOOK)
        reference = reference_explorer(cells)  # computed here while the kernel runs the same cells
        first = wait_for_picture(lab_browser, "the explorer's first picture", RUN_S, status_has="computed")
        assert first["selects"] == 1 and first["sliders"] == 2, f"the live widget's controls are missing: {first}"
        assert np.array_equal(decoded(first), reference.render_state(reference.default)), \
            "the page's first picture is not the explorer's default state"

        select = lab_browser.find_element(By.CSS_SELECTOR, ".course-explorer select")
        Select(select).select_by_visible_text("pool1")
        second = wait_for_picture(lab_browser, "the picture of layer pool1", CHANGE_S, differs_from=first["png"],
                                  status_has="pool1")
        expected = reference.render_state(layer="pool1")
        assert np.array_equal(decoded(second), expected), "the page shows another picture than pool1's"

        handle = lab_browser.find_elements(By.CSS_SELECTOR, ".course-explorer .widget-slider .noUi-handle")[1]
        handle.click()
        handle.send_keys(Keys.ARROW_RIGHT)
        channel = reference.default["channel"] + 1
        third = wait_for_picture(lab_browser, f"the picture of channel {channel}", CHANGE_S,
                                 differs_from=second["png"], status_has=f"channel {channel}")
        assert np.array_equal(decoded(third), reference.render_state(layer="pool1", channel=channel))
    except Exception as err:
        shot = tmp_path / "explore-failure.png"
        lab_browser.save_screenshot(str(shot))
        raise AssertionError(f"{err}\n\nscreenshot: {shot}\nserver log ends with:\n{lab_server.log_tail(1500)}") \
            from err
    print(f"JupyterLab explorer test: {time.monotonic() - began:.1f} s")


# ---------------------------------------------------------------------------- screenshots for docs/explore.md
#: Extra cells of the screenshot notebook: chapter 04's explorer and the cell proposed for chapter 05.
SCREENSHOT_CELLS = [
    "from helpers.explore import explore_maximization\n\n"
    "explore_maximization(model, layer='conv2', channel=1, jitter=1, blur=0.5, tv=0.05, steps=100)",
    "from helpers import data, models\nfrom helpers.data.lines import class_factors\n"
    "from helpers.explore import explore_attribution\n\n"
    "base = models.trained('seed001_base_lines', epochs=5, batch_size=64, seed=0, verbose=0)\n"
    "test = data.make_lines(48, seed=102)\n"
    "names = [', '.join(class_factors(c).values()) for c in range(96)]\n"
    "explore_attribution(base, test.images, test.labels, masks=test.masks, class_names=names,\n"
    "                    method='grad_cam')",
]


@contextlib.contextmanager
def chromium():
    """Headless Chromium as ``lab_browser`` starts it, outside pytest."""
    driver, _ = headless_chromium()
    try:
        yield driver
    finally:
        driver.quit()


def screenshots(folder):
    """Save ``explore_activations.png``, ``explore_maximization.png`` and ``explore_attribution.png`` in ``folder``."""
    from selenium.webdriver.common.by import By

    folder = pathlib.Path(folder)
    with tempfile.TemporaryDirectory() as tmp:
        server = LabServer(pathlib.Path(tmp))
        try:
            server.wait_ready(SERVER_START_S)
            cells = chapter_cells(CHAPTER, NEEDED) + [nbformat.v4.new_code_cell(s) for s in SCREENSHOT_CELLS]
            write_notebook(cells, server.root / NOTEBOOK)
            with chromium() as driver:
                student = open_and_run(server, driver, NOTEBOOK)
                student.wait("three explorers with pictures", 600, lambda s: s.get("ready") and s["status"] == "idle"
                             and driver.execute_script("return document.querySelectorAll("
                                                       "'.course-explorer img[src^=\"blob:\"]').length") == 3)
                time.sleep(1.0)
                boxes = driver.find_elements(By.CSS_SELECTOR, ".course-explorer")
                for box, name in zip(boxes, ("activations", "maximization", "attribution")):
                    driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", box)
                    time.sleep(0.5)
                    box.screenshot(str(folder / f"explore_{name}.png"))
                    print("saved", folder / f"explore_{name}.png")
        finally:
            server.stop()


if __name__ == "__main__":
    if sys.argv[1:2] != ["--screenshots"] or len(sys.argv) != 3:
        sys.exit("usage: python tests/test_explore_browser.py --screenshots FOLDER")
    screenshots(sys.argv[2])
