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
import time
import traceback

import numpy as np

from helpers.explore.pictures import decode_png, figure_to_array, panel_pixels, png_bytes, style  # noqa: F401

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

    def clear(self):
        """Drop every entry (the counts stay)."""
        self._entries.clear()

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
        self._busy, self.last_traceback = 0, None
        self.follow_model()  # the model as it is now (a subclass may have looked at it already)
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

    def caches(self):
        """Every cache of results computed from the model (emptied when the model changes): the renders and
        the LRUs of a subclass's ``cache`` dict."""
        return [self.renders, *getattr(self, "cache", {}).values()]

    def forget(self):
        """The model changed: empty every cache (subclasses also rebuild what they derived from it)."""
        for cache in self.caches():
            cache.clear()

    # ------------------------------------------------------------------ following the model
    def model_state(self):
        """What the explorer's ``model`` computes with now: its structure (:func:`helpers.graph.signature`)
        and a digest of every weight's value (None without a model)."""
        import hashlib

        import keras

        from helpers.graph import signature

        model = getattr(self, "model", None)
        if model is None:
            return None
        digest = hashlib.blake2b(digest_size=16)
        for weight in model.weights:  # trainable or not (batch-norm statistics too)
            digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
        return signature(model), digest.hexdigest()

    def follow_model(self):
        """Empty the caches when the model was edited since the last look (new weights, a swapped
        activation, a replaced layer), so no picture of the old model is shown as the new one's."""
        if getattr(self, "_busy", 0):  # within one render the model is looked at once, at its start
            return
        state = self.model_state()
        if not hasattr(self, "_model_state"):  # the first look: nothing computed yet
            self._model_state = state
        elif state != self._model_state:
            self._model_state = state
            self.forget()

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
        choice = {**self.choice(), **changes}
        channels = getattr(self, "channels", None)  # layer -> channel count, where the explorer has both
        if channels and "layer" in changes and "channel" not in changes and choice["layer"] in channels:
            choice["channel"] = min(choice["channel"], channels[choice["layer"]] - 1)  # as the UI's slider does
        return choice

    def render_state(self, choice=None, **changes):
        """The picture of a choice, from the cache when it was rendered before.

        Args:
            choice: a dict of control values (default: the current ones); missing names keep
                their current values.
            **changes: control values overriding ``choice``.

        Returns:
            ``uint8 (h, w, 3)`` RGB pixels (shared with the cache: do not modify).
        """
        self.follow_model()
        self._busy += 1
        try:
            choice = self.check(self.complete({**(choice or {}), **changes}))
            return self.renders.get(self.key(choice), lambda: self._draw(choice))
        finally:
            self._busy -= 1

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
        self.follow_model()
        self._busy += 1
        try:
            return self._update(changes)
        finally:
            self._busy -= 1

    def _update(self, changes):
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
        except (TypeError, ValueError) as err:  # a choice it does not accept: the message names the fix
            self._show_error(str(err))
        except Exception as err:  # anything else (TensorFlow, memory): said in the cell, never "computing…" forever
            self._show_error(f"{type(err).__name__}: {err}", traceback.format_exc())

    def _show_error(self, message, trace=None):
        self.last_error, self.last_traceback = message, trace
        self.status.value = f"<span style='color:#b00020'>{html.escape(message)}</span>"

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
