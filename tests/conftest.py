"""Shared fixtures. TensorFlow logging is quieted before anything imports it."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
if "COURSE_GRADER_KEY" not in os.environ:  # the grader's secret key: a throwaway one, not the instructor's
    import atexit
    import shutil
    import tempfile

    _KEY_DIR = tempfile.mkdtemp(prefix="grader-key-")
    atexit.register(shutil.rmtree, _KEY_DIR, True)
    os.environ["COURSE_GRADER_KEY"] = os.path.join(_KEY_DIR, "grader.key")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


@pytest.fixture(scope="module")
def seeded_session():
    """``helpers.setup(0)`` once per test module that asks for it: the seeds and logging the chapters use."""
    import helpers

    helpers.setup(0)



@pytest.fixture(scope="session")
def bubblewrap():
    """Install Debian's bubblewrap when it is missing (root needed), then check that it runs here:
    the grader runs every submission in it."""
    import shutil
    import subprocess

    from helpers.grading import sandbox

    command = ["apt-get", "install", "-y", "-q", "bubblewrap"]
    if shutil.which("bwrap") is None:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            done = subprocess.run(command, capture_output=True, text=True)
        if shutil.which("bwrap") is None:
            pytest.fail(f"could not install bubblewrap ({' '.join(command)}): {done.stderr[-400:]}")
    sandbox.ensure_works()
