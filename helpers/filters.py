"""What a filter looks for: its weights, the exact optimum of a first-layer neuron, and plain
gradient ascent in input space (the method chapter 04 regularizes)."""

import math

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from helpers.arguments import check_seed, unit_position
from helpers.modelparts import (channel_indices, find_layer, get_layer, layer_model, layer_names, positive_int,
                               positive_number, spatial_shape)
from helpers.progress import progress as progress_bar
from helpers.runtime import legible_fontsize

__all__ = ["conv_layer", "kernels", "plot_kernels", "closed_form_optimum", "layer_model", "channel_indices",
           "gradient_ascent", "piecewise_optimum", "stretch", "high_frequency_energy"]


def conv_layer(model, layer):
    """The Conv2D layer given by name, ``outer/inner`` path, index or object; others list the conv layers."""
    convs = [name for name in layer_names(model) if isinstance(get_layer(model, name), keras.layers.Conv2D)]
    path = find_layer(model, layer)
    if path not in convs:
        kind = type(get_layer(model, path)).__name__
        raise ValueError(f"{path!r} is a {kind}, not a Conv2D layer of {model.name!r}; "
                         f"conv layers: {', '.join(convs) or 'none'}")
    return get_layer(model, path)


def kernels(model, layer):
    """Kernel weights of a conv layer as ``(filters, kh, kw, in_channels)`` and the biases.

    A layer built with ``use_bias=False`` has zero biases.
    """
    conv = conv_layer(model, layer)
    kernel = np.asarray(conv.kernel)
    bias = np.asarray(conv.bias) if conv.use_bias else np.zeros(kernel.shape[-1], kernel.dtype)
    return np.transpose(kernel, (3, 0, 1, 2)), bias


def plot_kernels(model, layer, ncols=16, size=0.7, title=None):
    """Draw every filter of a conv layer.

    One input channel: grey images on one symmetric colour scale (colour bar:
    weight). Three input channels: RGB images, each filter stretched to [0, 1].
    More input channels: the mean over input channels, on a symmetric scale.

    Args:
        model, layer: the model and its conv layer (name, path, index or object).
        ncols, size: filters per row and inches per filter.
        title: what the figure title names before ": N filters of KxK" (default: the layer's name),
            e.g. which network it is when two are compared.
    """
    weights, _ = kernels(model, layer)
    layer = find_layer(model, layer)
    n, _, _, cin = weights.shape
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols + 1, size * nrows + 0.6), squeeze=False)
    shown_weights = weights if cin in (1, 3) else weights.mean(axis=-1, keepdims=True)
    limit = float(np.abs(shown_weights).max()) or 1.0
    image = None
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= n:
            ax.axis("off")
            continue
        w = shown_weights[k]
        if w.shape[-1] == 3:
            ax.imshow((w - w.min()) / (np.ptp(w) or 1.0))
        else:
            image = ax.imshow(w[..., 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(str(k), fontsize=legible_fontsize(fig, px=13, largest=size * 72 * 0.4), pad=1)
    if image is not None:
        fig.colorbar(image, ax=axes, fraction=0.02, pad=0.01,
                     label="weight" if cin == 1 else "mean weight over input channels")
    what = "RGB" if cin == 3 else ("weights" if cin == 1 else f"mean over {cin} input channels")
    fig.suptitle(f"{title or layer}: {n} filters of {weights.shape[1]}x{weights.shape[2]} ({what})")
    return fig


def brightness_share(model, layer):
    """How much of each colour kernel responds to brightness rather than to colour contrast.

    A kernel ``W[i, j, c]`` splits into its mean over the colour planes (the same weight on
    red, green and blue: a brightness detector) and the rest (weights that differ between the
    planes: colour contrast). The share is the squared norm of the first part over the
    kernel's squared norm: 1 for a kernel blind to colour, 0 for one blind to brightness, and
    1/C on average for random weights (the mean is one of C directions per pixel).

    Returns:
        ``(filters,)`` shares in [0, 1].
    """
    weights, _ = kernels(model, layer)
    if weights.shape[-1] < 2:
        raise ValueError(f"layer {layer!r} has one input channel: its kernels have no colour to compare")
    grey = weights.mean(axis=-1, keepdims=True)
    total = (weights ** 2).sum(axis=(1, 2, 3))
    return (grey ** 2 * weights.shape[-1]).sum(axis=(1, 2, 3)) / np.where(total > 0, total, 1.0)


def closed_form_optimum(kernel, rho=None, box=False):
    """The input patch that maximizes ``w . x + b`` for one first-layer filter.

    Under the L2 bound ``||x|| <= rho`` the optimum is ``rho * w / ||w||`` (Cauchy-Schwarz).
    Under the box ``0 <= x <= 1`` it is 1 where the weight is positive and 0 elsewhere.

    Args:
        kernel: one filter's weights ``(kh, kw, in_channels)``.
        rho: the L2 bound (required unless ``box``).
        box: use the [0, 1] box instead of the L2 ball.

    Returns:
        Array of the kernel's shape.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if box:
        return (kernel > 0).astype(np.float64)
    if rho is None or rho <= 0:
        raise ValueError("give a positive L2 bound rho, or box=True")
    norm = np.linalg.norm(kernel)
    if norm == 0:
        raise ValueError("an all-zero filter has no direction to maximize")
    return rho * kernel / norm


def gradient_ascent(model, layer, channels=None, steps=100, step_size=1.0, position=None,
                    linear=False, noise=0.01, seed=0, progress=True):
    """Plain gradient ascent in input space for many filters at once.

    Starts from grey (0.5) plus a little uniform noise; each step adds
    ``step_size`` times the gradient divided by its L2 norm, with no other
    constraint. All filters are optimized together: image ``k`` maximizes filter
    ``channels[k]``, in one compiled step.

    Args:
        model: a Keras model with a single image input (not modified).
        layer: the layer whose filters are maximized (name, path, index or object); a
            conv layer's channels or a dense layer's units.
        channels: filter indices (default: all).
        steps, step_size: number and length of the normalized steps.
        position: ``(row, col)`` to maximize one unit (a neuron) of a conv layer; default the
            mean of the map.
        linear: maximize the pre-activation (on a copy with a linear activation).
        noise: amplitude of the starting noise.
        seed: seed of the starting noise.
        progress: show a progress bar over steps.

    Returns:
        ``(images, trajectory)``: float32 ``(k, H, W, C)`` (not clipped) and the
        objective ``(steps + 1, k)``: row ``i`` after ``i`` steps (row 0: the start).
    """
    steps = positive_int(steps, "steps", minimum=0)
    step_size = positive_number(step_size, "step_size")
    noise = positive_number(noise, "noise", allow_zero=True)
    name = find_layer(model, layer)
    extractor = layer_model(model, layer, pre_activation=linear)
    out_shape = extractor.output.shape
    n_filters = out_shape[-1]
    channels = channel_indices(channels, n_filters, f"layer {name} has filters")
    spatial = len(out_shape) - 2  # 2 for conv maps, 0 for dense units
    if position is not None:
        if spatial != 2:
            raise ValueError(f"layer {name} has no spatial maps (output {tuple(out_shape[1:])}): leave position=None")
        row, col = unit_position(position, out_shape, name)
    rng = np.random.default_rng(check_seed(seed))
    shape = (len(channels),) + spatial_shape(model)
    images = tf.Variable(0.5 + noise * (rng.random(shape, dtype=np.float32) - 0.5))
    # image k looks at filter channels[k]: a one-hot row per image, broadcast over the spatial axes
    selector = tf.reshape(tf.one_hot(channels, n_filters), [len(channels)] + [1] * spatial + [n_filters])

    def objective(x):
        maps = tf.reduce_sum(extractor(x, training=False) * selector, axis=-1)  # (k, h, w) or (k,)
        if spatial == 0:
            return maps
        if position is None:
            return tf.reduce_mean(maps, axis=[1, 2])
        return maps[:, row, col]

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            value = objective(images)
            total = tf.reduce_sum(value)  # images are independent: one backward pass serves all
        grads = tape.gradient(total, images)
        norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3], keepdims=True)) + 1e-12
        images.assign_add(step_size * grads / norms)
        return value

    trajectory = []
    for _ in progress_bar(range(steps), f"gradient ascent on {name}", enabled=progress):
        trajectory.append(step().numpy())
    trajectory.append(objective(images).numpy())
    return images.numpy(), np.stack(trajectory)


def piecewise_optimum(model, layer, channels, position, rho, iterations=400, damping=0.05, seed=0):
    """The closed-form optimum of one unit of a deeper layer, where it exists.

    ReLUs and max pools make a deeper unit piecewise linear in the input: on each piece
    (one fixed set of active ReLUs and pool winners) it is ``g . x + c`` with a constant
    gradient ``g``, and the first-layer formula applies to that piece: ``x = rho g / ||g||``.
    Jumping straight there usually lands on another piece (the ReLUs switch), so each
    iteration moves only part of the way (``damping``) from a random start towards the
    current piece's optimum and back onto the sphere ``||x|| = rho``. Where this settles
    inside one piece, ``x`` points along its own gradient: it is the closed-form optimum of
    that piece and a local optimum of the unit. Where it does not (the best point lies on
    a boundary between pieces, or the iteration cycles), no such closed form exists.

    Args:
        model, layer: the model and a conv layer; the unit is its pre-activation.
        channels: filters of ``layer``; position: ``(row, col)`` of the unit in the map.
        rho: the L2 length of the input.
        iterations, damping: number and size of the moves.
        seed: seed of the random starting directions.

    Returns:
        ``(images, alignment, values)``: float32 ``(k, H, W, C)``; per filter the cosine between
        ``x`` and the unit's gradient there (1: ``x`` is the closed form of its piece); the
        unit's value ``(iterations + 1, k)``, row 0 at the start.
    """
    rho = positive_number(rho, "rho")
    iterations = positive_int(iterations, "iterations")
    if not 0 < float(damping) <= 1:
        raise ValueError(f"damping is the fraction of the way moved per iteration, in (0, 1]; got {damping}")
    name = find_layer(model, layer)
    extractor = layer_model(model, layer, pre_activation=True)
    out_shape = extractor.output.shape
    if len(out_shape) != 4:
        raise ValueError(f"layer {name} has no spatial maps (output {tuple(out_shape[1:])}); pick a conv layer")
    channels = channel_indices(channels, out_shape[-1], f"layer {name} has filters")
    row, col = unit_position(position, out_shape, name)
    selector = tf.one_hot(channels, out_shape[-1])

    def value_and_gradient(x):
        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = tf.reduce_sum(extractor(x, training=False)[:, row, col, :] * selector, axis=-1)
            total = tf.reduce_sum(value)  # the images are independent: one backward pass serves all
        return value.numpy(), tape.gradient(total, x).numpy()

    def onto_sphere(v):
        norms = np.linalg.norm(v.reshape(len(v), -1), axis=1).reshape(-1, 1, 1, 1)
        return (rho * v / np.maximum(norms, 1e-12)).astype(np.float32)

    x = onto_sphere(np.random.default_rng(check_seed(seed)).normal(size=(len(channels),) + spatial_shape(model)))
    values = []
    for _ in range(iterations):
        value, grad = value_and_gradient(x)
        values.append(value)
        x = onto_sphere((1 - damping) * x + damping * onto_sphere(grad))
    value, grad = value_and_gradient(x)
    values.append(value)
    flat_x, flat_g = x.reshape(len(x), -1), grad.reshape(len(x), -1)
    cosine = np.sum(flat_x * flat_g, axis=1) / np.maximum(
        np.linalg.norm(flat_x, axis=1) * np.linalg.norm(flat_g, axis=1), 1e-12)
    return x, cosine, np.stack(values)


def stretch(images):
    """Scale each image to [0, 1] on its own (min to 0, max to 1) for display."""
    images = np.asarray(images, dtype=np.float64)
    axes = tuple(range(1, images.ndim))
    low = images.min(axis=axes, keepdims=True)
    span = images.max(axis=axes, keepdims=True) - low
    return np.divide(images - low, span, out=np.zeros_like(images), where=span > 0)


def high_frequency_energy(images, cutoff=0.5):
    """Fraction of each image's spectral energy above ``cutoff`` times the Nyquist frequency.

    The mean is removed first, so a flat image scores 0; white noise scores about
    ``1 - (pi / 4) * cutoff**2`` (the share of the spectrum outside the disc).

    Args:
        images: ``(n, H, W[, C])``.
        cutoff: radius in units of the Nyquist frequency, in (0, 1].

    Returns:
        ``(n,)`` fractions in [0, 1].
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 3:
        images = images[..., None]
    centred = images - images.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(centred, axes=(1, 2))) ** 2
    fy = np.fft.fftfreq(images.shape[1])[:, None] / 0.5
    fx = np.fft.fftfreq(images.shape[2])[None, :] / 0.5
    high = (np.sqrt(fx ** 2 + fy ** 2) > cutoff)[None, :, :, None]
    total = power.sum(axis=(1, 2, 3))
    return np.divide((power * high).sum(axis=(1, 2, 3)), total, out=np.zeros_like(total), where=total > 0)
