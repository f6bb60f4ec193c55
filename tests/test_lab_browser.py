"""``make lab`` end to end: JupyterLab serves the reader copies, a student restarts and runs a chapter in the UI.

The argv is the one ``make -n lab LAB_ARGS=...`` prints (reader copies first, then ``jupyter lab DIR
LAB_ARGS``), with ``build/lab`` replaced by a temporary folder and ``.venv/bin/jupyter`` by this
interpreter's ``-m jupyter``. Headless Chromium (driven as in ``tests/test_report.py``) opens chapter 00
(the fastest: about 25 s of cells, no training), clicks Kernel > Restart Kernel and Run All Cells...,
accepts the dialog, waits for every code cell to run again and checks what the cells show: no
traceback, the printed lines nbval checks in the committed notebook, every image.

JupyterLab runs with its own token, settings, workspaces, runtime and config folders (nothing of the
machine's user leaks in or is written), and the server and its kernel are stopped whatever happens.
On failure a screenshot and the server's log are left under the test's ``tmp_path``.
"""

import contextlib
import json
import os
import pathlib
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import nbformat
import pytest

REPO = pathlib.Path(__file__).parents[1]
CHAPTER = "00_datasets.ipynb"
#: A line chapter 00 prints (checked with nbval too): the student's run really reached the MNIST cells.
KNOWN_LINE = "test[227]: label 4, 92 non-zero pixels, mean 15.86"
STDOUT = "application/vnd.jupyter.stdout"
STDERR = "application/vnd.jupyter.stderr"  # stream stderr and error outputs alike, in JupyterLab 4
#: Kept short: start, open and run together take well under a minute here; these are only ceilings.
SERVER_START_S, OPEN_S, RUN_S = 90, 90, 300
#: How long the opened notebook's kernel must stay idle before the restart; how long a restart may take.
SETTLE_S, STUCK_S = 3.0, 90
#: User settings for the test's own JupyterLab: every cell in the DOM (no windowing), no news toast.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}

# The visible notebook: its code cells in order (prompt, outputs) and the kernel's state in its toolbar.
STATE = f"""
const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
const dialogs = Array.from(document.querySelectorAll('.jp-Dialog')).map(d => d.innerText.trim());
if (!panel) return {{ready: false, dialogs: dialogs}};
const texts = (cell, mime) => Array.from(cell.querySelectorAll(
    '.jp-OutputArea-output[data-mime-type="' + mime + '"]')).map(e => e.textContent);
const cells = Array.from(panel.querySelectorAll('.jp-Notebook .jp-Cell.jp-CodeCell')).map(c => ({{
    prompt: (c.querySelector('.jp-InputPrompt') || {{textContent: ''}}).textContent.trim(),
    stdout: texts(c, '{STDOUT}').join(''),
    stderr: texts(c, '{STDERR}'),
    images: Array.from(c.querySelectorAll('.jp-OutputArea-output[data-mime-type^="image/"] img'))
                 .map(i => i.complete && i.naturalWidth > 0),
}}));
const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
return {{ready: true, status: indicator ? indicator.dataset.status : null, cells: cells, dialogs: dialogs,
         stale: panel.querySelectorAll('[data-labcheck-stale]').length}};
"""
# Marks every output shown now: a cell's outputs are new nodes once it ran again, so none may be left.
MARK_STALE = """
const outputs = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output');
outputs.forEach(e => e.setAttribute('data-labcheck-stale', '1'));
return outputs.length;
"""
SHOW_FIRST_ERROR = f"""
const first = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) [data-mime-type="{STDERR}"]');
if (first) first.scrollIntoView({{block: 'center'}});
"""
ERROR_LINE = re.compile(r"^\s*(\w+(Error|Exception|Interrupt)|Traceback)\b", re.MULTILINE)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_pytest():
    """In the server's process before exec: SIGTERM (a clean shutdown, kernels included) if pytest is killed."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def make_lab_commands(lab_args):
    """The two command lines of ``make lab LAB_ARGS=lab_args`` as make itself expands them (``make -n``)."""
    if shutil.which("make") is None:  # the recipe as the Makefile writes it, without make to expand it
        return ([".venv/bin/python", "-m", "helpers.grading.assignments", "--reader-copies", "build/lab"],
                [".venv/bin/jupyter", "lab", "build/lab"] + shlex.split(lab_args))
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    done = subprocess.run(["make", "-n", "--no-print-directory", "lab", f"LAB_ARGS={lab_args}"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"make -n lab failed: {done.stderr[-800:]}"
    lines = [shlex.split(line) for line in done.stdout.splitlines() if "--reader-copies" in line or " lab " in line]
    copies = [t for t in lines if t[1:4] == ["-m", "helpers.grading.assignments", "--reader-copies"]]
    lab = [t for t in lines if len(t) > 2 and pathlib.Path(t[0]).name == "jupyter" and t[1] == "lab"]
    assert len(copies) == 1 and len(lab) == 1, f"`make -n lab` no longer prints the two expected lines:\n{done.stdout}"
    return copies[0], lab[0]


def lab_argv(lab_dir, lab_args):
    """Make the reader copies in ``lab_dir`` and return the server's argv, both as ``make lab`` runs them."""
    from helpers.grading import assignments

    copies, lab = make_lab_commands(shlex.join(lab_args))
    folder = copies[4]
    assert len(copies) == 5 and lab[2] == folder, f"make lab opens {lab[2:3]}, not the copies it wrote to {folder}"
    assert lab[3:] == lab_args, f"LAB_ARGS {lab_args} reach jupyter lab as {lab[3:]}"
    assert assignments.main(copies[3:4] + [str(lab_dir)]) == 0
    argv = [sys.executable, "-m", "jupyter", "lab", str(lab_dir)] + lab[3:]
    return argv + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])


class LabServer:
    """``jupyter lab`` on the reader copies in ``root``, private to one test; :meth:`stop` ends it and its kernels."""

    def __init__(self, tmp_path):
        self.root, self.log_path = tmp_path / "lab", tmp_path / "jupyter-lab.log"
        self.token = secrets.token_hex(16)
        private = {name: tmp_path / name for name in ("runtime", "config", "data", "settings", "workspaces", "ipython")}
        for path in private.values():
            path.mkdir()
        for name, values in LAB_SETTINGS.items():
            (private["settings"] / name).parent.mkdir(parents=True, exist_ok=True)
            (private["settings"] / name).write_text(json.dumps(values))
        self.runtime = private["runtime"]
        self.argv = lab_argv(self.root, ["--port", str(free_port()), "--ip", "127.0.0.1", "--no-browser"]) + [
            f"--IdentityProvider.token={self.token}",
            f"--LabApp.user_settings_dir={private['settings']}",
            f"--LabApp.workspaces_dir={private['workspaces']}",
        ]
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(private["runtime"]), JUPYTER_CONFIG_DIR=str(private["config"]),
                   JUPYTER_DATA_DIR=str(private["data"]), IPYTHONDIR=str(private["ipython"]),
                   JUPYTER_PLATFORM_DIRS="0")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True, preexec_fn=_die_with_pytest)
        self.launched, self.info = time.monotonic(), None

    def log_tail(self, chars=3000):
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def wait_ready(self, timeout):
        """The server's own record of itself (``jpserver-PID.json``), once its REST API answers."""
        deadline = time.monotonic() + timeout
        info_file = self.runtime / f"jpserver-{self.proc.pid}.json"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {self.proc.returncode}:\n{self.log_tail()}")
            if info_file.exists():
                with contextlib.suppress(ValueError, OSError):  # half-written record, API not up yet
                    self.info = json.loads(info_file.read_text())
                    self.request("api/status", timeout=5)
                    return self.info
            time.sleep(0.2)
        pytest.fail(f"jupyter lab did not answer within {timeout} s:\n{self.log_tail()}")

    @property
    def url(self):
        return self.info["url"].rstrip("/") + "/"

    def request(self, path, method="GET", timeout=10):
        req = urllib.request.Request(self.url + path, method=method, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def stop(self):
        """Ask the server to shut down (it stops its kernels), then kill whatever of it is left."""
        import psutil

        try:
            server = psutil.Process(self.proc.pid)
            family = [server] + server.children(recursive=True)
        except psutil.Error:
            family = []
        if self.proc.poll() is None:
            try:
                if self.info:
                    self.request("api/shutdown", method="POST", timeout=10)
                self.proc.wait(timeout=20)
            except (OSError, urllib.error.URLError, subprocess.TimeoutExpired):
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):  # gone, or next signal
                        os.killpg(self.proc.pid, sig)
                        self.proc.wait(timeout=10)
                        break
        # Kernels run in sessions of their own: kill any the shutdown missed.
        _, alive = psutil.wait_procs(family, timeout=5)
        for proc in alive:
            with contextlib.suppress(psutil.NoSuchProcess):  # exited meanwhile
                proc.kill()
        psutil.wait_procs(alive, timeout=5)
        self.log.close()


@pytest.fixture
def lab_server(tmp_path):
    """The server, started (the test waits for it: Chromium starts meanwhile) and stopped whatever happens."""
    server = LabServer(tmp_path)
    try:
        yield server
    finally:
        began = time.monotonic()
        server.stop()
        print(f"server and kernel stopped in {time.monotonic() - began:.1f} s")


def ensure_chromium():
    """Debian's chromium and chromium-driver (installed when missing, as in tests/test_report.py)."""
    if shutil.which("chromedriver") and shutil.which("chromium"):
        return
    command = ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True)
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 or not shutil.which("chromedriver"):
        pytest.fail(f"could not install chromium + chromium-driver ({' '.join(command)}): {done.stderr[-500:]}")


def headless_chromium(window="1280,1600", capabilities=()):
    """Debian's Chromium, headless, through chromedriver (installed when missing): ``(driver, service)``.

    Args:
        window: the window size, ``"width,height"``.
        capabilities: ``(name, value)`` pairs set on the options (e.g. Chrome's logging preferences).
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={window}"):
        options.add_argument(flag)
    for name, value in capabilities:
        options.set_capability(name, value)
    service = Service(shutil.which("chromedriver"))
    return webdriver.Chrome(options=options, service=service), service


@pytest.fixture
def lab_browser(lab_server):
    import psutil

    driver, service = headless_chromium()
    try:
        chromedriver = psutil.Process(service.process.pid)
        family = [chromedriver] + chromedriver.children(recursive=True)
    except psutil.Error:
        family = []
    try:
        yield driver
    finally:
        began = time.monotonic()
        try:
            driver.quit()
        finally:
            _, alive = psutil.wait_procs(family, timeout=10)
            for proc in alive:
                with contextlib.suppress(psutil.NoSuchProcess):  # exited meanwhile
                    proc.kill()
            print(f"browser stopped in {time.monotonic() - began:.1f} s")


def expected_cells(path):
    """Per code cell of the committed chapter: its stdout if nbval checks it (else None) and its image count."""
    cells = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        stdout = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
        images = sum(any(k.startswith("image/") for k in o.get("data", {})) for o in cell.outputs)
        cells.append({"stdout": stdout if "# NBVAL_CHECK_OUTPUT" in cell.source else None, "images": images})
    return cells


def errors_shown(state):
    """``(cell number, text)`` of every stderr output that reads as an error or a traceback."""
    return [(i + 1, text) for i, cell in enumerate(state.get("cells", [])) for text in cell["stderr"]
            if ERROR_LINE.search(text)]


def summary(state):
    if not state or not state.get("ready"):
        return f"no notebook panel yet (dialogs: {state and state.get('dialogs')})"
    return (f"kernel {state['status']!r}, prompts {[c['prompt'] for c in state['cells']]}, "
            f"{state['stale']} outputs from before the restart, dialogs {state['dialogs']}")


class Student:
    """The browser, with waits that say what they waited for and what the page showed instead."""

    def __init__(self, driver):
        self.driver, self.last = driver, None

    def state(self):
        self.last = self.driver.execute_script(STATE)
        return self.last

    def wait(self, what, timeout, done, steady=0.0):
        """The page's state once ``done(state)`` has held for ``steady`` seconds in a row."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        since = []

        def check(_):
            if not done(self.state()):
                since.clear()
                return False
            since.append(time.monotonic())
            return since[-1] - since[0] >= steady
        try:
            WebDriverWait(self.driver, timeout, poll_frequency=0.25).until(check)
            return self.last
        except TimeoutException:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}: {summary(self.last)}") from None

    def find(self, what, css, timeout=30, text=None):
        """The first displayed element matching ``css`` (whose text starts with ``text``), once it is clickable."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        def visible(d):
            found = [e for e in d.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()
                     and (text is None or e.text.strip().startswith(text))]
            return found[0] if found else False
        try:
            element = WebDriverWait(self.driver, timeout).until(visible)
            return WebDriverWait(self.driver, timeout).until(ec.element_to_be_clickable(element))
        except Exception as err:
            raise AssertionError(f"could not find {what} ({css}, {text!r}): {type(err).__name__}") from None

    def click(self, what, css, timeout=30, text=None):
        self.find(what, css, timeout, text).click()


def test_student_restarts_and_runs_chapter_00_in_jupyterlab(lab_server, lab_browser, tmp_path, record_property):
    started = time.monotonic()
    lab_server.wait_ready(SERVER_START_S)
    phases = {"server up (from its launch, Chromium starting meanwhile)": time.monotonic() - lab_server.launched}
    assert lab_server.info["root_dir"].rstrip("/") == str(lab_server.root), lab_server.info
    listed = {item["name"] for item in lab_server.request("api/contents")["content"]}
    assert CHAPTER in listed, f"the server's root {lab_server.root} holds {sorted(listed)}"
    expected = expected_cells(REPO / "notebooks" / CHAPTER)
    student = Student(lab_browser)
    try:
        lab_browser.get(f"{lab_server.url}lab/tree/{CHAPTER}?token={lab_server.token}")
        # Idle for a moment, not only once: JupyterLab 4.6 can lose the kernel's connection (stuck in
        # "starting" for good, "Replacing stale connection" in the server's log) when it is restarted
        # within a second of its first connection, before the notebook's own start-up requests are done.
        student.wait("the notebook with its kernel idle", OPEN_S, steady=SETTLE_S,
                     done=lambda s: s.get("dialogs") or (s.get("ready") and s["status"] == "idle"
                                                         and len(s["cells"]) == len(expected)))
        assert not student.last["dialogs"], f"a dialog is open after opening {CHAPTER}: {student.last['dialogs']}"
        phases["notebook open, kernel idle"] = time.monotonic() - started
        assert lab_browser.execute_script(MARK_STALE) > 0, "the reader copy of chapter 00 shows no stored outputs"

        student.click("the Kernel menu", ".lm-MenuBar-item", text="Kernel")
        student.click("Kernel > Restart Kernel and Run All Cells...", '.lm-Menu-item[data-type="command"]',
                      text="Restart Kernel and Run All Cells")  # its command: runmenu:restart-and-run-all
        dialog = student.find("the dialog asking to restart", ".jp-Dialog .jp-Dialog-content").text
        assert "Restart" in dialog, dialog
        student.click("the dialog's Restart button", ".jp-Dialog .jp-Dialog-button.jp-mod-accept")
        clicked = time.monotonic()

        def finished(s):
            if not s.get("ready"):
                return False
            if s["dialogs"] or (s["status"] == "idle" and errors_shown(s)):
                return True  # a failure: reported below, without waiting for the timeout
            if time.monotonic() - clicked > STUCK_S and not any(c["prompt"][1:-2].isdigit() for c in s["cells"]):
                return True  # nothing ran at all: the kernel did not come back
            return (s["status"] == "idle" and s["stale"] == 0
                    and all(re.fullmatch(r"\[\d+\]:", c["prompt"]) for c in s["cells"])
                    and all(all(c["images"]) for c in s["cells"]))
        state = student.wait("every code cell to run again and the kernel to be idle", RUN_S, finished)
        phases["restart and run all"] = time.monotonic() - clicked
        assert any(c["prompt"][1:-2].isdigit() for c in state["cells"]), \
            f"no cell ran within {STUCK_S} s of the restart (the kernel did not come back): {summary(state)}"
        errors = errors_shown(state)
        assert not errors, "cells show errors:\n" + "\n".join(f"code cell {i}:\n{text[-1500:]}" for i, text in errors)
        assert not state["dialogs"], f"a dialog opened during the run: {state['dialogs']}"

        prompts = [c["prompt"] for c in state["cells"]]
        assert prompts == [f"[{n}]:" for n in range(1, len(expected) + 1)], \
            f"a fresh kernel runs the cells once each, in order: {prompts}"
        for number, (shown, want) in enumerate(zip(state["cells"], expected), 1):
            if want["stdout"] is not None:
                assert shown["stdout"].rstrip() == want["stdout"].rstrip(), \
                    f"code cell {number} printed\n{shown['stdout']}\ninstead of\n{want['stdout']}"
            assert len(shown["images"]) == want["images"], \
                f"code cell {number} shows {len(shown['images'])} images, the committed chapter {want['images']}"
        assert any(KNOWN_LINE in c["stdout"] for c in state["cells"]), KNOWN_LINE
        assert sum(len(c["images"]) for c in state["cells"]) >= 5
        stderr = [text for c in state["cells"] for text in c["stderr"]]
        if stderr:  # warnings are allowed, but say so
            print("stderr shown by the cells:\n" + "\n".join(stderr))
        kernels = lab_server.request("api/kernels")
        assert [k["execution_state"] for k in kernels] == ["idle"], kernels
    except Exception as err:
        shot = tmp_path / "lab-failure.png"
        try:  # show the first error, not the end of the notebook where Run All leaves the view
            lab_browser.execute_script(SHOW_FIRST_ERROR)
        except Exception:  # noqa: BLE001 - the screenshot matters more than the scrolling
            pass
        saved = lab_browser.save_screenshot(str(shot))
        raise AssertionError(f"{err}\n\nscreenshot: {shot if saved else 'could not be saved'}\n"
                             f"server log {lab_server.log_path} ends with:\n{lab_server.log_tail(1500)}") from err
    lab_browser.save_screenshot(str(tmp_path / "lab-after-run.png"))
    phases["test body"] = time.monotonic() - started
    record_property("lab_phases_s", {k: round(v, 1) for k, v in phases.items()})
    print("JupyterLab run of chapter 00:", {k: f"{v:.1f} s" for k, v in phases.items()})
