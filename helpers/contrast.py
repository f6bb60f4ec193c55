"""Contrast views of optimized images: a global percentile stretch, and local contrast.

Optimized patterns are mostly saturated at 0 and 1; these views show what the plain
image hides (seed 004's contrast-enhanced view; chapter 04). :mod:`helpers.maximize`
re-exports them.
"""

import numpy as np

from helpers.runtime import legible_fontsize


def enhance_contrast(images, low=1.0, high=99.0):
    """Per-image percentile stretch: the ``low``-th percentile to 0, the ``high``-th to 1 (seed 004's
    contrast-enhanced view)."""
    images = np.asarray(images, np.float64)
    axes = tuple(range(1, images.ndim))
    lo = np.percentile(images, low, axis=axes, keepdims=True)
    hi = np.percentile(images, high, axis=axes, keepdims=True)
    return np.clip(np.divide(images - lo, hi - lo, out=np.zeros_like(images), where=hi > lo), 0, 1)


def local_contrast(images, sigma=1.5, low=1.0, high=99.0):
    """Local contrast: each image minus its blurred copy (``scipy.ndimage.gaussian_filter``, ``sigma``
    pixels, spatial axes only), then stretched per image with :func:`enhance_contrast`.

    Optimized patterns are mostly saturated at 0 and 1, so a global stretch changes nothing;
    what remains after removing the blur is where the pattern changes: stroke edges, and faint
    texture in regions that look flat."""
    from scipy.ndimage import gaussian_filter

    images = np.asarray(images, np.float64)
    sigmas = (0, sigma, sigma) + (0,) * (images.ndim - 3)
    return enhance_contrast(images - gaussian_filter(images, sigmas), low, high)


def show_plain_and_enhanced(images, titles, suptitle, ncols=8, size=1.1, marked=None):
    """Each image twice, plain (values as optimized, 0..1) above its local contrast
    (:func:`local_contrast`), in paired rows; ``marked`` (one bool per image, e.g.
    :func:`helpers.live_channels.at_zero`) titles those images in grey italics."""
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    enhanced = local_contrast(images)
    ncols = min(ncols, len(images))
    pairs = -(-len(images) // ncols)
    fig, axes = plt.subplots(2 * pairs, ncols, figsize=(size * ncols, (size + 0.3) * 2 * pairs + 0.4),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, (plain, strong) in enumerate(zip(images, enhanced)):
        row, col = 2 * (k // ncols), k % ncols
        for r, (img, title) in enumerate(((plain, titles[k]), (strong, "local contrast"))):
            shown = img[..., 0] if img.shape[-1] == 1 else img
            axes[row + r, col].imshow(shown, cmap="gray", vmin=0, vmax=1)
            axes[row + r, col].set_title(title, fontsize=legible_fontsize(fig, largest=9))
            if r == 0 and marked is not None and marked[k]:
                axes[row, col].title.set_color("0.55")
                axes[row, col].title.set_fontstyle("italic")
    fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
