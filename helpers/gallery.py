"""Image grids for looking at data sets: samples per class, class balance, Line factors.

Every function draws one labelled figure and returns it; notebooks end the
cell with ``plt.show()``.
"""

import math

import matplotlib.pyplot as plt
import numpy as np

from helpers.data.lines import FACTORS
from helpers.overlays import outline


def _as_display(image):
    """Drop a trailing single channel so matplotlib draws grey images."""
    image = np.asarray(image)
    return image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image


def title_fontsize(fig, titles, size):
    """Tile titles as large as :func:`helpers.runtime.legible_fontsize` asks, but no wider than a
    tile of ``size`` inches (about 0.7 em a character, italic titles included), between 6 and 10 points."""
    from helpers.runtime import legible_fontsize

    longest = max((len(line) for t in titles or [] for line in str(t).split("\n")), default=1)
    return legible_fontsize(fig, largest=min(10.0, max(6.0, size * 72 / (0.7 * max(longest, 1)))))


def wrapped(text, fig, fontsize=None):
    """``text`` broken into lines that fit the width of ``fig`` at the figure-title font size."""
    import textwrap

    points = fontsize or plt.rcParams["figure.titlesize"]
    points = points if isinstance(points, (int, float)) else plt.rcParams["font.size"] * 1.2
    width = max(20, int(fig.get_figwidth() * 72 / (0.55 * points)))
    return "\n".join(textwrap.fill(part, width) for part in str(text).split("\n"))


def show_images(images, titles=None, ncols=10, suptitle=None, cmap="gray", size=1.1):
    """Draw images in a grid with optional per-image titles.

    Args:
        images: array ``(n, H, W)`` or ``(n, H, W, C)`` with C in {1, 3}.
        titles: ``n`` strings, or None.
        ncols: images per row; the last row may be partly empty (any ``n`` works).
        suptitle: figure title.
        cmap: colour map for single-channel images.
        size: inches per image.

    Returns:
        The matplotlib figure.
    """
    images = np.asarray(images)
    n = len(images)
    if n == 0:
        raise ValueError("show_images needs at least one image")
    if titles is not None and len(titles) != n:
        raise ValueError(f"got {n} images but {len(titles)} titles")
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig = plt.figure(figsize=(size * ncols, size * nrows))
    font = title_fontsize(fig, titles, size)
    lines = max((str(t).count("\n") + 1 for t in titles), default=0) if titles is not None else 0
    row_height = size + (lines * font * 1.3 / 72 + 0.08 if lines else 0.0)
    heading = wrapped(suptitle, fig) if suptitle else None
    extra = 0.25 + 0.22 * heading.count("\n") if heading else 0.0
    fig.set_size_inches(size * ncols, row_height * nrows + 0.15 + extra)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(_as_display(images[i]), cmap=cmap)
            if titles is not None:
                ax.set_title(titles[i], fontsize=font)
    if heading:
        fig.suptitle(heading)
    fig.tight_layout()
    return fig


def show_class_samples(images, labels, per_class=10, class_names=None, suptitle=None, cmap="gray"):
    """One row per class with the first ``per_class`` images of that class.

    Args:
        images: ``(n, H, W[, C])`` array.
        labels: ``(n,)`` integer labels.
        per_class: images per row.
        class_names: label -> name (list); default the label itself.
        suptitle: figure title.

    Returns:
        The matplotlib figure.
    """
    labels = np.asarray(labels)
    classes = np.unique(labels)
    fig, axes = plt.subplots(len(classes), per_class, figsize=(0.9 * per_class + 0.8, 0.9 * len(classes) + 0.4),
                             squeeze=False)
    for row, cls in zip(axes, classes):
        picks = np.flatnonzero(labels == cls)[:per_class]
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.axis("off")
        for ax, idx in zip(row, picks):
            ax.imshow(_as_display(images[idx]), cmap=cmap)
        name = class_names[cls] if class_names is not None else str(cls)
        row[0].text(-0.15, 0.5, name, transform=row[0].transAxes, ha="right", va="center", fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_class_distribution(splits, class_names=None, title="Images per class"):
    """Grouped bar chart of class counts for several splits.

    Args:
        splits: dict split name -> label array.
        class_names: names for the x axis; default the class indices.
        title: axes title.

    Returns:
        ``(figure, counts)`` where counts is a dict split -> int array per class.
    """
    n_classes = int(max(np.max(y) for y in splits.values())) + 1
    counts = {name: np.bincount(np.asarray(y), minlength=n_classes) for name, y in splits.items()}
    width = 0.8 / len(splits)
    fig, ax = plt.subplots(figsize=(8, 3))
    for k, (name, c) in enumerate(counts.items()):
        ax.bar(np.arange(n_classes) + k * width, c, width=width, label=f"{name} (n={c.sum():,})")
    ax.set_xticks(np.arange(n_classes) + 0.4 - width / 2)
    ax.set_xticklabels(class_names if class_names is not None else range(n_classes))
    ax.set_xlabel("class")
    ax.set_ylabel("images")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig, counts


def show_lines_by_factor(data, factor, ncols=8, show_masks=True):
    """Line images grouped by one factor: one row per value of ``factor``.

    Args:
        data: :class:`helpers.data.LineData`.
        factor: ``"length"``, ``"width"``, ``"colour"`` or ``"angle"``.
        ncols: images per row.
        show_masks: outline the ground-truth mask in yellow over each image.

    Returns:
        The matplotlib figure.
    """
    if factor not in FACTORS:
        raise ValueError(f"unknown factor {factor!r}; choose one of {', '.join(FACTORS)}")
    values = list(FACTORS[factor])
    factor_labels = getattr(data, factor)
    fig, axes = plt.subplots(len(values), ncols, figsize=(0.95 * ncols + 0.8, 0.95 * len(values) + 0.5),
                             squeeze=False)
    for row, (v, name) in zip(axes, enumerate(values)):
        picks = np.flatnonzero(factor_labels == v)[:ncols]
        for ax in row:
            ax.axis("off")
        for ax, idx in zip(row, picks):
            ax.imshow(data.images[idx])
            if show_masks:
                outline(ax, data.masks[idx], "yellow", 0.6)
        label = f"{name}°" if factor == "angle" else name
        row[0].text(-0.15, 0.5, label, transform=row[0].transAxes, ha="right", va="center", fontsize=9)
    note = " (yellow: an outline just outside the ground-truth mask)" if show_masks else ""
    fig.suptitle(f"Line data by {factor}{note}")
    fig.tight_layout()
    return fig
