"""Progress bars that behave in notebooks, papermill renders and terminals alike.

They write to stdout (Jupyter copies stderr into the output as an error-looking
red stream), redraw at most once a second, and vanish when done.
"""

import sys

from tqdm import tqdm


def progress(iterable, desc, total=None, enabled=True):
    """Wrap ``iterable`` in a progress bar labelled ``desc`` (pass-through when not enabled)."""
    if not enabled:
        return iterable
    return tqdm(iterable, desc=desc, total=total, file=sys.stdout, mininterval=1.0, leave=False, ncols=90)
