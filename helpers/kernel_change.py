"""What training did to a layer's kernels: each trained kernel beside its initial value and the change.

A trained network's first-layer kernels are often read as what the network *learned*. But training
starts from random kernels and may move them little: a picture of a trained kernel can be mostly a
picture of its seeded initialization. :func:`initial_model` rebuilds a course network exactly as
:func:`helpers.models.trained` built it before the first step (same seed, same architecture), and
:func:`moved_share` measures, per kernel, the share of its norm that training moved:
``||W_trained - W_initial|| / ||W_trained||`` (0: the kernel is its initialization; about 1.4 for
a kernel that moved to an independent random one of the same size).
"""

import matplotlib.pyplot as plt
import numpy as np

from helpers.filters import kernels
from helpers.runtime import legible_fontsize


def initial_model(name, seed=0, **options):
    """Architecture ``name`` with the initial weights :func:`helpers.models.trained` gave it for ``seed``.

    The training run seeds Keras with ``seed`` and then builds the model; this does the same and
    stops there. Keras' global seeds are left set to ``seed`` afterwards, as after a training run.

    Args:
        name: a course architecture (:func:`helpers.models.available`).
        seed: the training seed of the trained model to compare with.
        **options: the architecture's builder options, as passed to ``trained``.
    """
    import keras

    from helpers.models import build

    keras.utils.set_random_seed(seed)
    return build(name, compile=False, **options)


def moved_share(initial, trained, layer):
    """Per kernel, ``||W_trained - W_initial|| / ||W_trained||`` for conv layer ``layer``.

    Args:
        initial, trained: two models with the same architecture (:func:`initial_model` and the trained one).
        layer: the conv layer, by name.

    Returns:
        ``(filters,)`` shares.
    """
    before, _ = kernels(initial, layer)
    after, _ = kernels(trained, layer)
    if before.shape != after.shape:
        raise ValueError(f"{layer!r} has kernels {before.shape} in the first model and {after.shape} in the "
                         "second: compare a trained model with the initial model of its own architecture")
    norm = np.linalg.norm(after.reshape(len(after), -1), axis=1)
    change = np.linalg.norm((after - before).reshape(len(after), -1), axis=1)
    return change / np.where(norm > 0, norm, 1.0)


def _shown(weights, scale=None):
    """Kernels as display images: RGB stretched per kernel (or, with ``scale``, mapped from
    ``[-scale, scale]`` to [0, 1] for all alike), or one channel on a symmetric limit."""
    if weights.shape[-1] == 3:
        if scale is not None:
            return np.clip(0.5 + weights / (2 * scale), 0, 1), None
        low = weights.min(axis=(1, 2, 3), keepdims=True)
        span = np.ptp(weights.reshape(len(weights), -1), axis=1).reshape(-1, 1, 1, 1)
        return (weights - low) / np.where(span > 0, span, 1.0), None
    return weights.mean(axis=-1), None


def plot_change(initial, trained, layer, count=12, title=None):
    """Rows: initial kernels, trained kernels, their difference; the moved share in each column's title.

    Colour kernels are shown as RGB, each stretched on its own (so a small change can still look
    large: read the share); single-channel kernels share one symmetric scale per row.

    Args:
        initial, trained: the initial and trained models (same architecture).
        layer: the conv layer, by name.
        count: how many kernels to show (the first ``count``).
        title: the figure title (default names the layer and the median share).

    Returns:
        ``(figure, shares)``: the figure and the shares of every kernel of the layer.
    """
    before, _ = kernels(initial, layer)
    after, _ = kernels(trained, layer)
    shares = moved_share(initial, trained, layer)
    count = min(count, len(after))
    rows = [("initial", before[:count]), ("trained", after[:count]), ("change", after[:count] - before[:count])]
    fig, axes = plt.subplots(3, count, figsize=(0.75 * count + 1.6, 3.0), squeeze=False)
    font = legible_fontsize(fig, largest=9)
    grey = before.shape[-1] != 3
    limit = max(float(np.abs(w.mean(axis=-1) if grey else w).max()) for _, w in rows) or 1.0
    image = None
    for r, (label, weights) in enumerate(rows):
        images, _ = _shown(weights, scale=limit if label == "change" else None)
        for k, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            if grey:
                image = ax.imshow(images[k], cmap="RdBu_r", vmin=-limit, vmax=limit)
            else:
                ax.imshow(images[k])
            if r == 0:
                unmoved = shares[k] < 1e-6
                ax.set_title(f"{k}: unmoved" if unmoved else f"{k}: {shares[k]:.2f}", fontsize=font, pad=2,
                             color="0.55" if unmoved else "black", fontstyle="italic" if unmoved else "normal")
        axes[r, 0].set_ylabel(label, fontsize=font)
    if image is not None:
        fig.colorbar(image, ax=axes, fraction=0.02, pad=0.01, label="weight (one scale for all rows)")
    how = "one weight scale for all rows" if grey else ("RGB: kernels each stretched on their own, the change on one "
                                                       "scale for all (grey: no change)")
    fig.suptitle(title or f"{layer}: kernels before and after training ({how}; title: share of the norm moved, "
                 f"median {np.median(shares):.2f})", fontsize=font + 1)
    return fig, shares
