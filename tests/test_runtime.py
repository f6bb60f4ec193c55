import random

import numpy as np
import pytest

import helpers


def _draws():
    import tensorflow as tf

    return random.random(), float(np.random.rand()), float(tf.random.uniform(()))


def test_same_seed_same_numbers():
    helpers.setup(seed=5)
    first = _draws()
    helpers.setup(seed=5)
    assert _draws() == first
    helpers.setup(seed=6)
    assert _draws() != first


def test_determinism_and_logging():
    import matplotlib
    from tensorflow.python.framework import config

    info = helpers.setup(seed=0)
    assert config.is_op_determinism_enabled()
    assert info["seed"] == 0 and info["tensorflow"].startswith("2.21")
    assert matplotlib.rcParams["image.cmap"] == "gray"


@pytest.mark.parametrize("bad", [-1, 1.5, "1", None, True])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        helpers.setup(seed=bad)


def test_warnings_are_printed_on_stdout(capsys):
    import warnings

    helpers.setup(seed=0)
    warnings.warn("a course warning", UserWarning)
    captured = capsys.readouterr()
    assert "UserWarning: a course warning" in captured.out and captured.err == ""


def test_progress_bars_are_silenced_by_the_environment(monkeypatch):
    from helpers.progress import progress

    assert not progress(range(3), "shown").disable
    monkeypatch.setenv("COURSE_PROGRESS", "0")
    assert progress(range(3), "batch render").disable
    assert list(progress(range(3), "still iterates")) == [0, 1, 2]
