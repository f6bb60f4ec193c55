"""Progress bars that behave in notebooks, papermill renders and terminals alike.

They write to stdout (Jupyter copies stderr into the output as an error-looking
red stream), redraw at most once a second, and vanish when done. A batch render
(``python -m helpers.course.render``) sets ``COURSE_PROGRESS=0``: a stored notebook would
otherwise keep every half-drawn frame of every bar.
"""

import os
import sys

from tqdm import tqdm


def progress(iterable, desc, total=None, enabled=True):
    """Wrap ``iterable`` in a progress bar labelled ``desc`` (silent when not enabled).

    With ``iterable=None`` and a ``total``, the bar is advanced by hand with
    ``bar.update(n)`` (for work done in chunks); ``bar.close()`` ends it. The
    environment variable ``COURSE_PROGRESS=0`` silences every bar.
    """
    enabled = enabled and os.environ.get("COURSE_PROGRESS", "1") != "0"
    return tqdm(iterable, desc=desc, total=total, file=sys.stdout, mininterval=1.0, leave=False, ncols=90,
                disable=not enabled)
