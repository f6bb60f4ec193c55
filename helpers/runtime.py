"""The one place where a notebook's runtime is prepared.

Every chapter calls :func:`setup` in its second cell. It is the only place in
the course that sets seeds, TensorFlow logging and plot defaults, so a chapter
rendered twice with the same seed prints the same numbers.
"""

import contextlib
import os
import random
import sys
import warnings

import numpy as np
from cycler import cycler

#: Environment variables that must be set before TensorFlow is imported.
TF_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # C++ INFO, WARNING and ERROR lines off
    "TF_ENABLE_ONEDNN_OPTS": "0",  # oneDNN reorders float sums: results differ run to run
    "KERAS_BACKEND": "tensorflow",
}

#: matplotlib defaults shared by every figure of the course.
#:
#: Sized for the two places figures are read: the report (1134 px of output width in a 1280 px
#: window) and JupyterLab (about 830 px; it shrinks a wider image to fit). A font of ``pt``
#: points shows ``pt * dpi / 72`` px tall, times the shrink factor of a figure wider than its
#: place. At 120 dpi a 6 pt tile title is 10 px and a 10 pt title 16.7 px in the report, for
#: every figure up to 9.4 in wide (1134 / 120); the default figure, 6.8 in x 120 = 816 px, fits
#: JupyterLab unshrunk. Figures wider than their place shrink to it whatever the dpi, so there
#: the font size in points decides: tick and legend text is 9 pt, 10.8 px in JupyterLab for the
#: course's median figure (9.6 in). Titles their helpers set smaller (``fontsize=6``) stay under
#: 10 px in such figures: only a larger size there can fix that.
#: Series told apart by marker and line style as well as colour: a marker every tenth of the axes,
#: each series' markers shifted a little, so that curves lying on top of each other still show all
#: their markers side by side.
SERIES_CYCLE = cycler(
    color=["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442", "#7F7F7F",
           "#8C564B"],
    linestyle=["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1)), (0, (1, 1)), (0, (5, 5)), (0, (3, 5, 1, 5)),
               (0, (3, 1, 1, 1, 1, 1))],
    marker=["o", "s", "^", "D", "v", "P", "X", "*", "<", ">"],
    markevery=[(0.012 * k, 0.1) for k in range(10)],
)

PLOT_STYLE = {
    "figure.dpi": 120,
    "savefig.dpi": 120,
    "figure.figsize": (6.8, 3.4),
    "image.cmap": "gray",
    "image.interpolation": "nearest",
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "figure.titlesize": 12,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "axes.prop_cycle": SERIES_CYCLE,
    "lines.markersize": 4.5,
    "svg.hashsalt": "cnn-vis-course",  # stable ids in saved SVGs
}


#: Widths in pixels where the course's figures are read: the report's column at a 1280 px window
#: and JupyterLab's output area; a wider figure is shrunk to fit there.
SHOWN_WIDTH_PX = {"report": 1134, "jupyterlab": 830}


def legible_fontsize(fig, px=10.0, largest=12.0):
    """The font size in points at which text of ``fig`` shows at least ``px`` pixels tall where it is
    read most shrunk (:data:`SHOWN_WIDTH_PX`), at most ``largest`` (what its tile has room for).

    Args:
        fig: the matplotlib figure (its width and dpi decide the shrink).
        px: the height the text should have on screen.
        largest: the size the text's place allows (a tile title must not overrun its tile).

    Returns:
        A size in points, at least 6.
    """
    width_px = fig.get_figwidth() * fig.dpi
    shrink = min(1.0, min(SHOWN_WIDTH_PX.values()) / width_px)
    return float(max(6.0, min(largest, px * 72.0 / fig.dpi / shrink)))


@contextlib.contextmanager
def _quiet_native_stderr(enabled=True):
    """Send file descriptor 2 to /dev/null for the duration of the block.

    TensorFlow's C++ start-up lines (absl's "before InitializeLog" notice, the
    missing-CUDA note) ignore ``TF_CPP_MIN_LOG_LEVEL`` and are written straight
    to the process's stderr, which Jupyter copies into the cell output.
    """
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _warning_to_stdout(message, category, filename, lineno, file=None, line=None):
    """Show a warning as one plain line on stdout (Jupyter paints stderr like an error)."""
    print(f"{category.__name__}: {message}", file=sys.stdout)


def setup(seed=0, deterministic=True, quiet=True):
    """Prepare a reproducible session: logging, seeds, determinism, plot style.

    Args:
        seed: integer seed for Python's ``random``, NumPy and TensorFlow
            (through ``keras.utils.set_random_seed``).
        deterministic: enable TensorFlow op determinism, so that training and
            gradients give bit-identical results on the same machine.
        quiet: silence TensorFlow and absl logging, hide deprecation noise, and show the
            remaining Python warnings as one line on stdout instead of a red stderr block.

    Returns:
        A dict with the seed and the library versions in use, for the record.

    Raises:
        ValueError: if ``seed`` is not a non-negative integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    if "tensorflow" in sys.modules and os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "3":
        warnings.warn(
            "TensorFlow was imported before helpers.setup(); its C++ log level can no "
            "longer be changed. Call helpers.setup() before importing tensorflow or keras.",
            stacklevel=2,
        )
    for key, value in TF_ENV.items():
        os.environ.setdefault(key, value)
    os.environ["PYTHONHASHSEED"] = str(seed)

    with _quiet_native_stderr(quiet and "tensorflow" not in sys.modules):
        import keras
        import tensorflow as tf

        tf.config.list_logical_devices()  # device discovery logs its notes now, inside the silence
    import matplotlib

    if quiet:
        tf.get_logger().setLevel("ERROR")
        import absl.logging  # a TensorFlow dependency

        absl.logging.set_verbosity(absl.logging.ERROR)
        warnings.showwarning = _warning_to_stdout
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", module="keras")

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()

    matplotlib.rcParams.update(PLOT_STYLE)
    np.set_printoptions(precision=4, suppress=True)
    return {
        "seed": seed,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }
