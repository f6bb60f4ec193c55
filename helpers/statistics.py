"""Numbers about activations: sparsity, the strongest channel, class-mean patterns ("FCPs").

Seed 004 calls the typical activation pattern of a class in a layer its FCP;
here it is the mean activation over the images of that class.
"""

import matplotlib.pyplot as plt
import numpy as np

from helpers.arguments import class_labels, finite_array, positive_int


def _channels_last(activation):
    activation = finite_array(activation, "activation (n, ..., channels)", min_ndim=2)
    return activation.reshape(len(activation), -1, activation.shape[-1])


def dead_channels(activation):
    """Boolean ``(n, channels)``: True where a channel is zero everywhere for that image."""
    return np.all(_channels_last(activation) == 0, axis=1)


def sparsity(activation):
    """Sparsity of one layer over a batch of images.

    Returns:
        dict with ``per_image`` -- fraction of channels that are all zero, for
        each image; ``mean`` -- its average; ``dead_on_all`` -- fraction of
        channels that are zero for every image of the batch; ``zero_fraction`` --
        fraction of all activation values that are exactly zero.
    """
    dead = dead_channels(activation)
    return {
        "per_image": dead.mean(axis=1),
        "mean": float(dead.mean()),
        "dead_on_all": float(dead.all(axis=0).mean()),
        "zero_fraction": float((np.asarray(activation) == 0).mean()),  # checked finite and non-empty above
    }


def most_activated_channel(activation):
    """For each image, the channel with the highest mean activation, and that mean."""
    means = _channels_last(activation).mean(axis=1)
    best = means.argmax(axis=1)
    return best, means[np.arange(len(best)), best]


def class_mean_patterns(activation, labels, classes=None):
    """Mean activation per class (seed 004's FCP), flattened.

    Args:
        activation: ``(n, ...)`` activations of one layer.
        labels: ``(n,)`` integer classes.
        classes: number of classes (default ``max(labels) + 1``); every class needs an image.

    Returns:
        ``(classes, features)`` array.
    """
    flat = finite_array(activation, "activation (n, ...)").reshape(len(activation), -1)
    classes = None if classes is None else positive_int(classes, "classes")
    labels = class_labels(labels, "labels", n=len(flat), classes=classes)
    classes = classes or int(labels.max()) + 1
    missing = [c for c in range(classes) if not np.any(labels == c)]
    if missing:
        raise ValueError(f"no image of class {missing}: cannot average a pattern for it")
    return np.stack([flat[labels == c].mean(axis=0) for c in range(classes)])


def cosine_similarity_matrix(patterns):
    """Cosine similarity between every pair of rows (zero rows give similarity 0)."""
    patterns = finite_array(patterns, "patterns (rows to compare)", min_ndim=2).astype(np.float64)
    if patterns.ndim != 2:
        raise ValueError(f"patterns must be 2-D (one row per pattern); got shape {patterns.shape}")
    norms = np.linalg.norm(patterns, axis=1, keepdims=True)
    unit = np.divide(patterns, norms, out=np.zeros_like(patterns), where=norms > 0)
    return unit @ unit.T


def unit_order(patterns):
    """Column order that groups units by the class they respond to most (silent units last), each
    group from the strongest unit down: the order :func:`plot_class_patterns` draws them in."""
    patterns = np.asarray(patterns, dtype=np.float64)
    preferred = np.where(patterns.max(axis=0) > 0, patterns.argmax(axis=0), len(patterns))
    return np.lexsort((-patterns.max(axis=0), preferred))


def plot_class_patterns(patterns, title, class_names=None, sort=True):
    """One row per class: the class-mean activation of every unit, one shared colour scale.

    With ``sort`` the units are grouped by the class they respond to most (:func:`unit_order`), so
    each class's own units form a block; unsorted, hundreds of units read as noise.
    """
    patterns = np.asarray(patterns, dtype=np.float64)
    order = unit_order(patterns) if sort else np.arange(patterns.shape[1])
    fig, ax = plt.subplots(figsize=(9, 0.3 * len(patterns) + 1.2))
    shown = ax.imshow(patterns[:, order], aspect="auto", cmap="magma", vmin=0, interpolation="nearest")
    ax.set_yticks(range(len(patterns)), class_names or range(len(patterns)))
    ax.set_xlabel("unit, grouped by the class it responds to most" if sort else "unit")
    ax.set_ylabel("class")
    ax.set_title(title)
    fig.colorbar(shown, ax=ax, label="mean activation")
    fig.tight_layout()
    return fig


def plot_similarity(similarity, title, class_names=None):
    """Class-by-class similarity matrix with values written in the cells.

    Non-negative similarities (cosines of ReLU activations) get a sequential map from 0 to 1;
    only a matrix with negative values gets a diverging map centred at zero.
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    n = len(similarity)
    names = class_names or [str(i) for i in range(n)]
    fig, ax = plt.subplots(figsize=(0.5 * n + 2, 0.5 * n + 1))
    signed = bool(similarity.min() < 0)
    shown = ax.imshow(similarity, cmap="coolwarm" if signed else "viridis", vmin=-1 if signed else 0, vmax=1)
    for i in range(n):
        for j in range(n):
            dark = not signed and similarity[i, j] < 0.6  # white on viridis's dark end
            ax.text(j, i, f"{similarity[i, j]:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if dark else "black")
    ax.set_xticks(range(n), names)
    ax.set_yticks(range(n), names)
    ax.set_title(title)
    fig.colorbar(shown, ax=ax, label="cosine similarity")
    fig.tight_layout()
    return fig
