"""Which channels an optimization switched on: one decision for the counts, the titles and the marks.

Activation maximization ends with a reached activation per channel. Whether a channel is *at
zero* (its pattern never switched it on) is decided here, once, by :func:`at_zero`; the printed
counts (:func:`count_at_zero`), the panel titles (:func:`titles`) and the grey marks of a pattern
gallery (:func:`show_patterns`) all call it, so a figure can never call a channel live that the
count beside it calls dead, or print "0.0" for a channel that reached 0.04.
"""

import json
import os

import numpy as np

from helpers import gallery

#: A channel whose reached activation is at most this is "at zero" (ReLU outputs are never below 0).
ZERO = 0.0
#: When this environment variable names a file, every :func:`show_patterns` figure appends one JSON
#: line there (its title, panels and how many it marks), so a test of a rendered chapter can compare
#: what each figure marks with the counts the chapter printed.
FIGURE_LOG_VARIABLE = "COURSE_FIGURE_LOG"
#: The title word and colour of a channel at zero.
ZERO_WORD, ZERO_COLOUR = "zero", "0.55"


def at_zero(reached):
    """Boolean array: True for each channel whose reached activation is at most :data:`ZERO`."""
    reached = np.asarray(reached, np.float64)
    if not np.isfinite(reached).all():
        raise ValueError("reached activations contain NaN or infinite values")
    return reached <= ZERO


def count_at_zero(reached):
    """How many channels are at zero (:func:`at_zero`)."""
    return int(at_zero(reached).sum())


def format_value(value):
    """A reached activation with enough digits that no live value reads as zero: 12, 3.4, 0.042, 0.50."""
    value = float(value)
    if value <= ZERO:
        return ZERO_WORD
    if value >= 10:
        return f"{value:.0f}"
    if value >= 1:
        return f"{value:.1f}"
    return f"{value:#.2g}"


def titles(reached, channels=None, marked=None, marked_word=ZERO_WORD):
    """Panel titles ``"k: value"``, with ``"k: zero"`` exactly where :func:`at_zero` is True.

    Args:
        reached: one reached activation per panel.
        channels: the channel index shown in each title (default ``0, 1, ...``).
        marked: boolean per panel to title with ``marked_word`` instead (default :func:`at_zero`).
        marked_word: the word of a marked panel.
    """
    reached = np.asarray(reached, np.float64).ravel()
    channels = np.arange(len(reached)) if channels is None else np.asarray(channels).ravel()
    marked = at_zero(reached) if marked is None else np.asarray(marked, bool).ravel()
    if not len(channels) == len(marked) == len(reached):
        raise ValueError(f"got {len(reached)} reached activations but {len(channels)} channel indices and "
                         f"{len(marked)} marks")
    return [f"{int(c)}: {marked_word if m else format_value(v)}" for c, v, m in zip(channels, reached, marked)]


def show_patterns(images, reached, suptitle, channels=None, marked=None, marked_word=ZERO_WORD, ncols=16,
                  size=0.9, note=True):
    """A gallery of patterns titled by reached activation; channels at zero titled and drawn in grey.

    Args:
        images: ``(k, H, W[, C])`` patterns in [0, 1].
        reached: the reached activation of each pattern's channel.
        suptitle: the figure title.
        channels: channel index of each pattern (default ``0..k-1``).
        marked: boolean per pattern to title in grey with ``marked_word`` (default :func:`at_zero`
            of ``reached``), for another decision made once elsewhere (an image that never moved).
        marked_word: the word of a marked panel.
        ncols, size: as :func:`helpers.gallery.show_images`.
        note: append "(n of k <word>, titled in grey)" to the figure title.

    Returns:
        ``(figure, n_marked)``: the figure and the number of panels it marks.
    """
    marked = at_zero(reached) if marked is None else np.asarray(marked, bool).ravel()
    if not len(images) == len(marked) == len(np.ravel(reached)):
        raise ValueError(f"got {len(images)} patterns but {len(np.ravel(reached))} reached activations and "
                         f"{len(marked)} marks")
    n = int(marked.sum())
    zero_too = at_zero(reached) & ~marked  # e.g. an image that moved but whose channel ends at zero
    phrase = "at zero" if marked_word == ZERO_WORD else marked_word
    extra = f", {int(zero_too.sum())} {'moved' if marked_word == 'unmoved' else 'other'} but at zero" if zero_too.any() else ""
    label = f"{suptitle} ({n} of {len(marked)} {phrase}{extra}, titled in grey)" if note else suptitle
    fig = gallery.show_images(images, titles=titles(reached, channels, marked, marked_word), ncols=ncols, size=size,
                              suptitle=label)
    for ax, is_marked in zip(fig.axes, marked | zero_too):
        if is_marked:
            ax.title.set_color(ZERO_COLOUR)
            ax.title.set_fontstyle("italic")
    log = os.environ.get(FIGURE_LOG_VARIABLE)
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(json.dumps({"suptitle": suptitle, "panels": len(marked), "marked": n, "word": marked_word}) + "\n")
    return fig, n
