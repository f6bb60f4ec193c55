"""Pictures of the explorers: a matplotlib figure to RGB pixels, PNG bytes and back, one panel's pixels,
and the fixed plot style every render uses (so pixels compare across processes)."""

import io

import numpy as np


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
