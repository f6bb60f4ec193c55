"""What every explorer shares: controls, a cache of renders, PNG output and the static fallback.

An :class:`Explorer` is a row of ipywidgets controls, a status line and one ``ipywidgets.Image``.
Its callbacks are plain methods, usable without a browser:

- :meth:`Explorer.check` turns a choice (a dict of control values) into its canonical form or
  raises ``ValueError`` naming the control and what it accepts;
- :meth:`Explorer.render_state` returns the RGB picture (``uint8 (h, w, 3)``) of a choice, cached
  in a least-recently-used cache keyed by the canonical choice;
- :meth:`Explorer.update` sets controls, renders and shows the picture (what a UI change calls).

Displayed in a notebook, an explorer sends the live widget *and* a PNG of its default state:
JupyterLab shows the widget (its renderer ranks first), and where no kernel runs (an HTML export,
see :mod:`helpers.course.report_widgets`) the PNG is what remains.
"""

import base64
import collections
import html
import io
import time

import numpy as np

#: Width of every explorer figure in inches: at the course's 120 dpi it fits JupyterLab unshrunk.
FIGURE_WIDTH = 6.8
#: The mime type of a widget's view in a notebook output.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class LRU:
    """A small least-recently-used cache that counts its hits and misses.

    Args:
        size: entries kept; the least recently used one is dropped beyond it.
    """

    def __init__(self, size):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"cache size must be a whole number >= 1; got {size!r}")
        self.size, self.hits, self.misses = size, 0, 0
        self._entries = collections.OrderedDict()

    def __contains__(self, key):
        return key in self._entries

    def __len__(self):
        return len(self._entries)

    def get(self, key, compute):
        """The value cached under ``key``, or ``compute()`` stored under it.

        Args:
            key: a hashable key (the canonical choice).
            compute: called without arguments on a miss.

        Returns:
            The cached or computed value.
        """
        if key in self._entries:
            self.hits += 1
            self._entries.move_to_end(key)
            return self._entries[key]
        self.misses += 1
        value = compute()
        self._entries[key] = value
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return value


def figure_to_array(fig):
    """Draw a matplotlib figure and return its pixels; the figure is closed.

    Args:
        fig: a matplotlib figure.

    Returns:
        ``uint8 (h, w, 3)`` RGB array.
    """
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return pixels


def png_bytes(pixels):
    """Encode an RGB ``uint8 (h, w, 3)`` array as PNG bytes (lossless: :func:`decode_png` gives it back)."""
    from PIL import Image

    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[-1] != 3:
        raise ValueError(f"png_bytes takes RGB uint8 pixels (h, w, 3); got {pixels.dtype} {pixels.shape}")
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def decode_png(data):
    """RGB ``uint8 (h, w, 3)`` pixels of PNG ``data`` (bytes)."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def panel_pixels(pixels, box):
    """The part of a rendered picture inside one panel.

    Args:
        pixels: ``(h, w, 3)`` as :meth:`Explorer.render_state` returns it.
        box: ``(left, bottom, width, height)`` in figure fractions (:attr:`Explorer.boxes`).

    Returns:
        The panel's pixels (a view), rows from the top.
    """
    h, w = pixels.shape[:2]
    left, bottom, width, height = box
    return pixels[int(round((1 - bottom - height) * h)):int(round((1 - bottom) * h)),
                  int(round(left * w)):int(round((left + width) * w))]


def style():
    """The course's plot style (:data:`helpers.runtime.PLOT_STYLE`) as a context: every render looks the
    same whatever the caller's matplotlib settings, so a test can compare pixels across processes."""
    import matplotlib

    from helpers.runtime import PLOT_STYLE

    return matplotlib.rc_context(PLOT_STYLE)


def index_in(value, n, name):
    """``value`` as an index 0..n-1, or a ``ValueError`` naming ``name`` and the valid range."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < n:
        raise ValueError(f"{name} must be a whole number 0..{n - 1}; got {value!r}")
    return int(value)


def one_of(value, options, name):
    """``value`` if it is one of ``options``, else a ``ValueError`` listing them."""
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}")
    return value


class Explorer:
    """Base class: controls that choose, a cached render per choice, a status line and the picture.

    Subclasses define :meth:`check` (canonical choice), :meth:`compute` (the figure of a canonical
    choice) and, when one control's options depend on another, :meth:`sync_controls`.

    Args:
        controls: dict name -> ipywidgets control (its ``value`` is that part of the choice).
        title: a one-line description, used as the static view's text.
        cache_size: renders kept (:class:`LRU`).
    """

    def __init__(self, controls, title, cache_size=64):
        import ipywidgets as widgets

        self.controls, self.title = dict(controls), title
        self.renders = LRU(cache_size)
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", height="auto"))
        self.status = widgets.HTML(layout=widgets.Layout(min_height="1.6em"))
        row = widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        self.widget = widgets.VBox([row, self.status, self.image])
        self.widget.add_class("course-explorer")
        self.last_seconds, self.last_cached, self.last_error = None, None, None
        #: Where the last figure drew its panels: name -> (left, bottom, width, height), figure fractions
        #: (the same for every choice of an explorer: its layout is fixed).
        self.boxes = {}
        self._muted = False
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self.sync_controls(self.choice())
        self.default = self.check(self.choice())
        self.update()

    # ------------------------------------------------------------------ for subclasses
    def check(self, choice):
        """The canonical form of ``choice`` (a full dict of control values); raises ``ValueError``."""
        raise NotImplementedError(f"{type(self).__name__} must define check(choice)")

    def compute(self, choice):
        """The matplotlib figure of a canonical ``choice``."""
        raise NotImplementedError(f"{type(self).__name__} must define compute(choice)")

    def sync_controls(self, choice):
        """Adjust controls whose options depend on others (called with the controls muted)."""

    def needs_long_work(self, choice):
        """True when rendering ``choice`` may take over a second (the status says "computing…")."""
        return False

    # ------------------------------------------------------------------ the callbacks
    def choice(self):
        """The current control values as a dict."""
        return {name: control.value for name, control in self.controls.items()}

    def key(self, choice):
        """Hashable cache key of a canonical choice."""
        return tuple(sorted(choice.items()))

    def complete(self, changes):
        """The current choice with ``changes`` applied; unknown names raise ``TypeError``."""
        unknown = set(changes) - set(self.controls)
        if unknown:
            raise TypeError(f"unknown controls {sorted(unknown)}; {type(self).__name__} has {sorted(self.controls)}")
        return {**self.choice(), **changes}

    def render_state(self, choice=None, **changes):
        """The picture of a choice, from the cache when it was rendered before.

        Args:
            choice: a dict of control values (default: the current ones); missing names keep
                their current values.
            **changes: control values overriding ``choice``.

        Returns:
            ``uint8 (h, w, 3)`` RGB pixels (shared with the cache: do not modify).
        """
        choice = self.check(self.complete({**(choice or {}), **changes}))
        return self.renders.get(self.key(choice), lambda: self._draw(choice))

    def _draw(self, choice):
        with style():
            pixels = figure_to_array(self.compute(choice))
        # compute() names its panels' axes in self.boxes; once drawn (aspect applied) they give their places
        self.boxes = {name: tuple(ax.get_position().bounds) for name, ax in self.boxes.items()}
        return pixels

    def update(self, **changes):
        """Apply ``changes`` to the controls, render and show the result.

        Args:
            **changes: control values, e.g. ``update(channel=3)``.

        Returns:
            The picture shown, ``uint8 (h, w, 3)``.

        Raises:
            TypeError, ValueError: an unknown control or a value it does not accept; nothing changes.
        """
        choice = self.check(self.complete(changes))
        self._set_controls(choice)
        choice = self.check(self.choice())
        cached = self.key(choice) in self.renders
        if not cached and self.needs_long_work(choice):
            self.status.value = "<i>computing…</i>"
        began = time.perf_counter()
        pixels = self.render_state(choice)
        self.image.value = png_bytes(pixels)
        self.last_seconds, self.last_cached, self.last_error = time.perf_counter() - began, cached, None
        self.status.value = (f"<span class='explorer-done'>{html.escape(self.describe(choice))} · "
                             f"{'cached' if cached else 'computed'} in {self.last_seconds:.2f} s</span>")
        return pixels

    def describe(self, choice):
        """One line naming the choice, for the status line."""
        return ", ".join(f"{name} {value}" for name, value in choice.items())

    def _set_controls(self, choice):
        self._muted = True
        try:
            for name, value in choice.items():
                if self.controls[name].value != value:
                    self.controls[name].value = value
                    self.sync_controls(self.choice())
            self.sync_controls(self.choice())
        finally:
            self._muted = False

    def _changed(self, change):
        """A control moved in the UI: show the new choice, or say in the status line why not."""
        if self._muted:
            return
        self._muted = True
        try:
            self.sync_controls(self.choice())
        finally:
            self._muted = False
        try:
            self.update()
        except (TypeError, ValueError) as err:  # shown to the reader: the UI has no traceback to read
            self.last_error = str(err)
            self.status.value = f"<span style='color:#b00020'>{html.escape(str(err))}</span>"

    # ------------------------------------------------------------------ display
    def static_png(self):
        """PNG bytes of the default state (what an export without a kernel shows)."""
        return png_bytes(self.render_state(self.default))

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude, **kwargs))
        bundle["image/png"] = base64.b64encode(self.static_png()).decode("ascii")
        bundle["text/plain"] = f"{self.title} (static view of the default state; run the cell for the explorer)"
        return bundle

    def __repr__(self):
        return f"<{type(self).__name__}: {self.title}>"
