"""Heatmaps over images: one figure for many attribution methods side by side."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from scipy import ndimage

from helpers.runtime import legible_fontsize

ALPHA = 0.75  # weight of the map's colour in every overlay
DIM = 0.5  # brightness of the image's white before it is blended in


def image_share(alpha=ALPHA, dim=DIM):
    """The most an image's brightness adds to a pixel of :func:`overlay`: ``(1 - alpha) * dim``.

    It is also the farthest any overlay pixel lies from its value's colour in
    :func:`overlay_colormap`, the colour bar drawn beside overlays.
    """
    return (1 - alpha) * dim


def overlay_colormap(alpha=ALPHA, cmap="magma"):
    """The colours :func:`overlay` gives each value over a black image: ``alpha * cmap(value)``.

    Use it for the colour bar beside overlays (and for a map drawn alone next to them), so that a
    value's colour on the bar and in the picture differ by at most :func:`image_share`.
    """
    colours = colormaps[cmap](np.linspace(0, 1, 256))
    colours[:, :3] *= alpha
    return ListedColormap(colours, name=f"{cmap}_x{alpha:g}")


def overlay(image, heatmap, alpha=ALPHA, cmap="magma", dim=DIM):
    """A heatmap in [0, 1] drawn over a faint greyscale copy of an image; returns RGB in [0, 1].

    Every pixel is ``alpha * cmap(value) + (1 - alpha) * dim * grey``: the map's colour with a
    constant weight, so a value is drawn in the same colour whatever the image below it (the
    colour bar's, :func:`overlay_colormap`, lightened by at most :func:`image_share`: 0.125 of
    full scale with the defaults), and the image only as a shadow. The image is turned to grey
    (its brightest channel at each pixel, so a pure blue or red line is as visible as a white one)
    and dimmed to ``[0, dim]`` first, so neither its colours nor its brightness can be
    read as attribution: white ink, a pale wall or the sky under a zero map stay a dark grey, far
    from the pale top of the colour map (``magma``, perceptual).

    Args:
        image: ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` in [0, 1]; uint8 images
            (0..255) are scaled to [0, 1].
        heatmap: ``(H, W)`` in [0, 1], same size as the image.
        alpha: weight of the heatmap's colour, in [0, 1]; 1 draws the map alone.
        cmap: a matplotlib colour map name.
        dim: brightness of the image's white before blending, in (0, 1].

    Returns:
        ``(H, W, 3)`` float RGB in [0, 1].
    """
    raw = np.asarray(image)
    image = raw.astype(np.float64) / (255.0 if raw.dtype == np.uint8 else 1.0)
    heatmap = np.asarray(heatmap, np.float64)
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha is the heatmap's weight, in [0, 1]; got {alpha}")
    if not 0 < dim <= 1:
        raise ValueError(f"dim is the brightness of the image's white before blending, in (0, 1]; got {dim}")
    if not (np.isfinite(image).all() and np.isfinite(heatmap).all()):
        raise ValueError("the image or the heatmap contains NaN or infinite values")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (1, 3)):
        raise ValueError(f"image must be (H, W), (H, W, 1) or (H, W, 3); got {raw.shape}")
    if image.ndim == 3:
        image = image.max(axis=-1)  # the brightest channel: a pure blue or red line stays visible
    if image.shape[:2] != heatmap.shape:
        raise ValueError(f"heatmap {heatmap.shape} must match the image's height and width {image.shape[:2]}")
    coloured = colormaps[cmap](np.clip(heatmap, 0, 1))[..., :3]
    return np.clip(alpha * coloured + (1 - alpha) * dim * np.clip(image, 0, 1)[..., None], 0, 1)


def outline(ax, mask, colour="cyan", linewidth=0.8):
    """Outline a binary mask one pixel *outside* its edge, so a thin masked line stays visible.

    A contour at the mask's own edge covers a one-pixel line; this one is drawn around the mask
    grown by one pixel in all eight directions (``scipy.ndimage.binary_dilation``, a 3x3 square),
    leaving a pixel between the two even beside a diagonal line.
    """
    grown = ndimage.binary_dilation(np.asarray(mask) > 0.5, structure=np.ones((3, 3), bool))  # diagonals too
    if grown.any():
        ax.contour(grown.astype(float), levels=[0.5], colors=colour, linewidths=linewidth)


def show_maps(images, maps, titles=None, masks=None, suptitle=None, size=1.4, alpha=ALPHA):
    """Rows = methods, columns = images: every map over a faint greyscale image (:func:`overlay`),
    one shared colour bar; the first row shows the images themselves, in colour.

    Args:
        images: ``(n, H, W[, C])`` in [0, 1].
        maps: dict method name -> ``(n, H, W)`` maps in [0, 1].
        titles: one title per image (column).
        masks: optional ``(n, H, W)`` ground truth, outlined in cyan (a colour the map never takes)
            one pixel outside the mask (:func:`outline`).
        alpha: the map's weight in every overlay (:func:`overlay`); 1 draws the maps alone.
    """
    images = np.asarray(images)
    n = len(images)
    rows = len(maps) + 1
    fig, axes = plt.subplots(rows, n, figsize=(size * n + 0.9, size * rows * 1.02 + 0.5), squeeze=False,
                             layout="constrained")
    fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
    font = legible_fontsize(fig, largest=10)
    for col in range(n):
        shown = images[col][..., 0] if images.shape[-1] == 1 else images[col]
        axes[0, col].imshow(shown, cmap="gray", vmin=0, vmax=1)
        axes[0, col].set_title(titles[col] if titles is not None else f"image {col}", fontsize=font)
    for row, (name, method_maps) in enumerate(maps.items(), start=1):
        for col in range(n):
            axes[row, col].imshow(overlay(images[col], method_maps[col], alpha))
            if masks is not None:
                outline(axes[row, col], masks[col])
            if not np.asarray(method_maps[col]).max() > 0:
                axes[row, col].text(0.5, 0.5, "all zero", transform=axes[row, col].transAxes, ha="center",
                                    va="center", color="0.8", fontstyle="italic", fontsize=font)
        axes[row, 0].set_ylabel(name, fontsize=font)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("input", fontsize=font)
    fig.colorbar(ScalarMappable(Normalize(0, 1), overlay_colormap(alpha)), ax=axes, fraction=0.04,
                 shrink=0.5, pad=0.01, label="attribution (each map scaled to max 1)")
    if suptitle:
        fig.suptitle(suptitle)
    return fig
