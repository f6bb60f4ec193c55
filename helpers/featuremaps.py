"""Feature maps as pictures: every channel of a layer in a grid, or one channel up close."""

import math

import matplotlib.pyplot as plt
import numpy as np

from helpers.arguments import finite_array, positive_int
from helpers.runtime import legible_fontsize


def normalize_channel(channel):
    """Map one feature map to display values 0..255 the way the course's sources do.

    Centre on the mean, divide by the standard deviation, scale by 64, shift to
    128 and clip to [0, 255]. A constant map (standard deviation 0, for example a
    channel that is all zero) becomes uniform grey 128 instead of NaN.

    Args:
        channel: 2-D array ``(H, W)``.

    Returns:
        uint8 array ``(H, W)``.

    Raises:
        ValueError: the map is not 2-D or holds NaN/infinite values (which would
            otherwise hide as a uniform grey).
    """
    channel = np.asarray(channel, dtype=np.float64)
    if channel.ndim != 2:
        raise ValueError(f"normalize_channel takes one feature map (H, W); got shape {channel.shape}")
    if not np.isfinite(channel).all():
        raise ValueError(f"the feature map holds {int((~np.isfinite(channel)).sum())} NaN or infinite values")
    if np.ptp(channel) == 0:  # constant: its standard deviation can come out as a rounding error, not 0
        return np.full(channel.shape, 128, dtype=np.uint8)
    centred = channel - channel.mean()
    scaled = centred / centred.std() * 64 + 128
    return np.clip(scaled, 0, 255).astype(np.uint8)


def feature_map_grid(activation, ncols=16, mode="normalized", title=None, size=0.8):
    """Every channel of one layer's activation for one image, in a grid.

    Args:
        activation: ``(H, W, C)`` array (one image), any number of channels.
        ncols: channels per row; the last row is padded with blank cells.
        mode: ``"normalized"`` -- each channel stretched by :func:`normalize_channel`
            (shapes visible even in weak channels; a constant channel, for a ReLU layer
            a silent one, is drawn in plain grey, outside the colour map); ``"raw"`` -- one
            shared colour scale for all channels with a colour bar (strengths comparable;
            zero is the bottom of the scale).
        title: figure title.
        size: inches per channel.

    Returns:
        The matplotlib figure.
    """
    activation = np.asarray(activation)
    if activation.ndim != 3:
        raise ValueError(f"feature_map_grid takes one image's activation (H, W, C); got shape {activation.shape}. "
                         "For a dense layer use plot_dense_pattern; for a batch pick one image, e.g. act[0]")
    if mode not in ("normalized", "raw"):
        raise ValueError(f"mode must be 'normalized' or 'raw', got {mode!r}")
    finite_array(activation, "activation")
    ncols = positive_int(ncols, "ncols")
    channels = activation.shape[-1]
    ncols = min(ncols, channels)
    nrows = math.ceil(channels / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols + (0.8 if mode == "raw" else 0.2),
                                                    size * nrows + 0.6), squeeze=False)
    vmax = float(activation.max()) or 1.0
    vmin = min(float(activation.min()), 0.0)
    image = None
    for c, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if c >= channels:
            ax.axis("off")
            continue
        if mode == "normalized" and np.ptp(activation[..., c]) == 0:  # constant: no shape to stretch
            ax.imshow(np.full(activation.shape[:2], 0.6), cmap="gray", vmin=0, vmax=1)
        elif mode == "normalized":
            ax.imshow(normalize_channel(activation[..., c]), cmap="viridis", vmin=0, vmax=255)
        else:
            image = ax.imshow(activation[..., c], cmap="viridis", vmin=vmin, vmax=vmax)
        ax.set_title(str(c), fontsize=legible_fontsize(fig, largest=size * 72 * 0.4), pad=1)
    if image is not None:
        fig.colorbar(image, ax=axes, fraction=0.02, pad=0.01, label="activation")
    if title:
        fig.suptitle(title)
    return fig


def show_channel(image, activation, channel, layer, cmap="viridis"):
    """The input image beside one channel of a layer, large, with a colour bar.

    Args:
        image: the input ``(H, W)`` or ``(H, W, C)``.
        activation: that layer's ``(h, w, channels)`` activation for the image.
        channel: channel index.
        layer: the layer's name, for the title.

    Returns:
        The matplotlib figure.
    """
    channels = activation.shape[-1]
    if not 0 <= channel < channels:
        raise ValueError(f"layer {layer} has channels 0..{channels - 1}; got {channel}")
    image = np.asarray(image)
    fig, (ax_in, ax_map) = plt.subplots(1, 2, figsize=(6.4, 3))
    ax_in.imshow(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image, cmap="gray")
    ax_in.set_title("input")
    shown = ax_map.imshow(activation[..., channel], cmap=cmap)
    ax_map.set_title(f"{layer}, channel {channel} ({activation.shape[0]}x{activation.shape[1]})")
    fig.colorbar(shown, ax=ax_map, label="activation")
    for ax in (ax_in, ax_map):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def show_most_activated(images, activations_by_layer, titles=None, suptitle=None, size=1.5):
    """For each image (a row), its most activated channel in each layer (a column).

    The channel with the highest mean activation is the feature the layer
    "sees most" in that image (:func:`helpers.statistics.most_activated_channel`).

    Args:
        images: ``(n, H, W, C)`` inputs in [0, 1].
        activations_by_layer: dict layer name -> ``(n, h, w, channels)`` activations of those images.
        titles: one label per image (row), e.g. its class name.
        suptitle: figure title.

    Returns:
        ``(figure, choices)``: ``choices[layer]`` is the ``(channel, mean)`` array pair per image.
    """
    from helpers.statistics import most_activated_channel

    images = np.asarray(images)
    choices = {name: most_activated_channel(a) for name, a in activations_by_layer.items()}
    n, cols = len(images), len(choices) + 1
    fig, axes = plt.subplots(n, cols, figsize=(size * cols + 0.6, size * n + 0.5), squeeze=False)
    for row in range(n):
        image = images[row]
        axes[row, 0].imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_title(titles[row] if titles is not None else f"image {row}",
                                fontsize=legible_fontsize(fig, largest=9))
        for ax, (name, (best, mean)) in zip(axes[row, 1:], choices.items()):
            shown = ax.imshow(activations_by_layer[name][row][..., best[row]], cmap="viridis")
            ax.set_title(f"{name} ch {best[row]} (mean {mean[row]:.2f})", fontsize=legible_fontsize(fig, largest=8))
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(suptitle or "Most activated channel of each layer, per image")
    fig.tight_layout()
    return fig, choices
