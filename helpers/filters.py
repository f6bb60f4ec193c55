"""What a filter looks for: its weights, the exact optimum of a first-layer neuron, and plain
gradient ascent in input space (the method chapter 04 regularizes)."""

import math

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from helpers.activations import graph_input
from helpers.progress import progress as progress_bar


def conv_layer(model, layer_name):
    """The Conv2D layer ``layer_name``; other names list the model's conv layers."""
    convs = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    if layer_name not in convs:
        raise ValueError(f"{layer_name!r} is not a Conv2D layer of {model.name!r}; conv layers: {', '.join(convs)}")
    return model.get_layer(layer_name)


def kernels(model, layer_name):
    """Kernel weights of a conv layer as ``(filters, kh, kw, in_channels)`` and the biases."""
    layer = conv_layer(model, layer_name)
    kernel, bias = (np.asarray(w) for w in layer.get_weights()[:2])
    return np.transpose(kernel, (3, 0, 1, 2)), bias


def plot_kernels(model, layer_name, ncols=16, size=0.7):
    """Draw every filter of a conv layer.

    One input channel: grey images on one symmetric colour scale (colour bar:
    weight). Three input channels: RGB images, each filter stretched to [0, 1].
    More input channels: the mean over input channels, on a symmetric scale.
    """
    weights, _ = kernels(model, layer_name)
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
        ax.set_title(str(k), fontsize=6, pad=1)
    if image is not None:
        fig.colorbar(image, ax=axes, fraction=0.02, pad=0.01,
                     label="weight" if cin == 1 else "mean weight over input channels")
    what = "RGB" if cin == 3 else ("weights" if cin == 1 else f"mean over {cin} input channels")
    fig.suptitle(f"{layer_name}: {n} filters of {weights.shape[1]}x{weights.shape[2]} ({what})")
    return fig


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


def linear_copy(model, layer_name):
    """A copy of ``model`` (same weights) whose layer ``layer_name`` has a linear activation.

    Maximizing a ReLU output from an input where it is zero gives zero gradients;
    the pre-activation always has a gradient. The user's model is not touched.
    """
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.get_layer(layer_name).activation = keras.activations.linear
    return copy


def layer_model(model, layer_name, pre_activation=False):
    """Sub-model from the image input to ``layer_name``'s output (names are listed when unknown).

    With ``pre_activation`` the layer's activation is made linear on a copy
    (see :func:`linear_copy`); layers without an activation are taken as they are.
    """
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(f"no layer {layer_name!r} in {model.name!r}; layers: {', '.join(names)}")
    if pre_activation and getattr(model.get_layer(layer_name), "activation", None) is not None:
        model = linear_copy(model, layer_name)
    return keras.Model(graph_input(model), model.get_layer(layer_name).output)


def channel_indices(channels, available, what):
    """``channels`` (default: all ``available``) as an int array, checked to lie in 0..available-1.

    ``what`` starts the error message, e.g. ``"layer conv1 has filters"``.
    """
    channels = np.atleast_1d(np.asarray(channels if channels is not None else np.arange(available)))
    if channels.size == 0 or channels.min() < 0 or channels.max() >= available:
        raise ValueError(f"{what} 0..{available - 1}; got {channels.tolist()}")
    return channels.astype(np.int64)


def gradient_ascent(model, layer_name, channels=None, steps=100, step_size=1.0, position=None,
                    linear=False, noise=0.01, seed=0, progress=True):
    """Plain gradient ascent in input space for many filters at once.

    Starts from grey (0.5) plus a little uniform noise; each step adds
    ``step_size`` times the gradient divided by its L2 norm, with no other
    constraint. All filters are optimized together: image ``k`` maximizes filter
    ``channels[k]``, in one compiled step.

    Args:
        model: a Keras model with a single image input.
        layer_name: the layer whose filters are maximized.
        channels: filter indices (default: all).
        steps, step_size: number and length of the normalized steps.
        position: ``(row, col)`` to maximize one unit (a neuron); default the mean of the map.
        linear: maximize the pre-activation (on a copy with a linear activation).
        noise: amplitude of the starting noise.
        seed: seed of the starting noise.
        progress: show a progress bar over steps.

    Returns:
        ``(images, trajectory)``: float32 ``(k, H, W, C)`` (not clipped) and the
        objective per step ``(steps + 1, k)``.
    """
    extractor = layer_model(model, layer_name, pre_activation=linear)
    n_filters = extractor.output.shape[-1]
    channels = channel_indices(channels, n_filters, f"layer {layer_name} has filters")
    rng = np.random.default_rng(seed)
    shape = (len(channels),) + tuple(model.input_shape[1:])
    images = tf.Variable(0.5 + noise * (rng.random(shape, dtype=np.float32) - 0.5))
    selector = tf.one_hot(channels, n_filters)[:, None, None, :]  # image k looks at filter channels[k]

    def objective(x):
        maps = tf.reduce_sum(extractor(x, training=False) * selector, axis=-1)  # (k, h, w)
        if position is None:
            return tf.reduce_mean(maps, axis=[1, 2])
        return maps[:, position[0], position[1]]

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
    for _ in progress_bar(range(steps), f"gradient ascent on {layer_name}", enabled=progress):
        trajectory.append(step().numpy())
    trajectory.append(objective(images).numpy())
    return images.numpy(), np.stack(trajectory)


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
