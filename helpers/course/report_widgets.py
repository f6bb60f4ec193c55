"""Widget outputs in the report: the static picture an explorer stores beside its live view.

A chapter's explorer cell (:mod:`helpers.explore`) stores a widget view
(``application/vnd.jupyter.widget-view+json``), a PNG of its default state and a line of text.
Rendered by papermill the notebook also carries the widgets' state, and nbconvert then prefers the
widget view: a page that needs the widget manager from a CDN (the report loads nothing from the
internet) and shows an empty box without it. :func:`static_widget_views` drops the widget view
wherever a picture or text stands beside it, and the stored widget state, so the report shows the
explorer's PNG. A widget output with nothing else to show says so in plain text.
"""

import copy

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: What stands in for a widget view that stored nothing else.
NO_STATIC_VIEW = "(an interactive widget: open the notebook in JupyterLab and run the cell to use it)"


def static_widget_views(nb):
    """A copy of ``nb`` whose widget outputs show their static picture (or a plain note).

    Args:
        nb: a notebook node (not modified).

    Returns:
        The copy: widget views removed from every output, ``metadata.widgets`` removed; an output
        that held only a widget view (and its default ``text/plain``) says :data:`NO_STATIC_VIEW`.
    """
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if not data or WIDGET_VIEW not in data:
                continue
            del data[WIDGET_VIEW]
            if not any(key.startswith("image/") or key == "text/html" for key in data):
                data["text/plain"] = NO_STATIC_VIEW
    return nb
