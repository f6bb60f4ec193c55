"""Heatmaps over images: one figure for many attribution methods side by side."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from helpers.runtime import legible_fontsize


def overlay(image, heatmap, alpha=0.8, cmap="magma", dim=0.45):
    """A heatmap in [0, 1] over a dimmed greyscale version of an image; returns RGB in [0, 1].

    The image is drawn in grey (luminance) and dimmed to ``[0, dim]``, so neither its colours nor
    its brightness can be read as attribution: white ink, a pale wall or the sky stay a mid grey,
    far from the pale top of the colour map. The map's colour (a perceptual sequential map,
    ``magma``) is blended in with a weight of ``alpha`` times the map's value, so zero attribution
    leaves the dimmed grey image and only attributed pixels take the map's colour.

    Args:
        image: ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` in [0, 1]; uint8 images
            (0..255) are scaled to [0, 1].
        heatmap: ``(H, W)`` in [0, 1], same size as the image.
        alpha: weight of the heatmap colour where the map is 1, in [0, 1].
        cmap: a matplotlib colour map name.
        dim: brightness of the image's white under the map, in (0, 1]; 1 keeps the image as it is.
    """
    raw = np.asarray(image)
    image = raw.astype(np.float64) / (255.0 if raw.dtype == np.uint8 else 1.0)
    heatmap = np.asarray(heatmap, np.float64)
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha is the heatmap's weight, in [0, 1]; got {alpha}")
    if not 0 < dim <= 1:
        raise ValueError(f"dim is the brightness of the image's white under the map, in (0, 1]; got {dim}")
    if not (np.isfinite(image).all() and np.isfinite(heatmap).all()):
        raise ValueError("the image or the heatmap contains NaN or infinite values")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (1, 3)):
        raise ValueError(f"image must be (H, W), (H, W, 1) or (H, W, 3); got {raw.shape}")
    if image.ndim == 3:
        image = image[..., 0] if image.shape[-1] == 1 else image @ np.array([0.299, 0.587, 0.114])
    if image.shape[:2] != heatmap.shape:
        raise ValueError(f"heatmap {heatmap.shape} must match the image's height and width {image.shape[:2]}")
    heat = np.clip(heatmap, 0, 1)
    weight = alpha * heat[..., None]
    coloured = colormaps[cmap](heat)[..., :3]
    return np.clip((1 - weight) * dim * image[..., None] + weight * coloured, 0, 1)


def show_maps(images, maps, titles=None, masks=None, suptitle=None, size=1.4, alpha=0.8):
    """Rows = methods, columns = images: every map over the dimmed greyscale image (:func:`overlay`),
    one shared colour bar; the first row shows the images themselves, in colour.

    Args:
        images: ``(n, H, W[, C])`` in [0, 1].
        maps: dict method name -> ``(n, H, W)`` maps in [0, 1].
        titles: one title per image (column).
        masks: optional ``(n, H, W)`` ground truth, outlined in cyan (a colour the map never takes).
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
                axes[row, col].contour(masks[col], levels=[0.5], colors="cyan", linewidths=0.8)
            if not np.asarray(method_maps[col]).max() > 0:
                axes[row, col].text(0.5, 0.5, "all zero", transform=axes[row, col].transAxes, ha="center",
                                    va="center", color="0.8", fontstyle="italic", fontsize=font)
        axes[row, 0].set_ylabel(name, fontsize=font)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("input", fontsize=font)
    fig.colorbar(ScalarMappable(Normalize(0, 1), "magma"), ax=axes, fraction=0.04, shrink=0.5, pad=0.01,
                 label="attribution (each map scaled to max 1)")
    if suptitle:
        fig.suptitle(suptitle)
    return fig
