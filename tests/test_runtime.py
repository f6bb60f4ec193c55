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


def test_tile_titles_are_sized_to_show_ten_pixels_where_the_figure_is_read():
    import matplotlib.pyplot as plt

    from helpers.runtime import SHOWN_WIDTH_PX, legible_fontsize

    narrowest = min(SHOWN_WIDTH_PX.values())
    for width, dpi in ((6.8, 120), (11.2, 120), (9.6, 100)):
        fig = plt.figure(figsize=(width, 2), dpi=dpi)
        points = legible_fontsize(fig)
        shown_px = points * dpi / 72 * min(1.0, narrowest / (width * dpi))
        assert abs(shown_px - 10.0) < 1e-9 or points == 6.0, (width, dpi, points, shown_px)
        assert legible_fontsize(fig, largest=7.0) <= max(7.0, 6.0)
        plt.close(fig)
    assert legible_fontsize(plt.figure(figsize=(2, 2), dpi=120)) == 6.0  # a small figure: 6 pt already shows 10 px
