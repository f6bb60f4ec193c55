"""Regularized activation maximization, batched: every channel, neuron or class at once.

All images of a call are optimized together in one compiled ``tf.function``
step: transforms, regularizers and the gradient update run inside it, so a
layer's 64 filters cost about as much as one.

- :func:`maximize_channels` -- mean activation of whole feature maps.
- :func:`maximize_neuron` -- one unit at one position.
- :func:`maximize_classes` -- pre-softmax class scores (the softmax is swapped
  for a linear activation on a copy of the model).

Each returns ``(images, trajectory)``: images ``(n, H, W, C)`` in [0, 1] and the
objective per image, ``steps + 1`` rows like :func:`helpers.filters.gradient_ascent`:
row 0 at the start, row ``i`` after ``i`` steps (rows 1 .. steps-1 are measured inside
the step, on the randomly transformed image; the last row on the final image).
"""

import warnings

import numpy as np
import tensorflow as tf

from helpers import regularizers as R
from helpers.arguments import unit_position
from helpers.modelparts import (channel_indices, find_layer, layer_model, logit_model, positive_int, positive_number,
                               spatial_shape)
from helpers.contrast import enhance_contrast, local_contrast, show_plain_and_enhanced  # noqa: F401 (chapter 04's views)
from helpers.graph import flatten
from helpers.progress import progress as progress_bar

#: The regularization used in chapter 04 unless told otherwise.
DEFAULT = R.Regularization(jitter=1, rotate=5.0, scale=0.05, blur_every=4, blur_sigma=0.5, tv_weight=0.05)
PLAIN = R.Regularization()


def bytes_per_image(extractor, input_shape):
    """Rough memory one optimized image costs: every layer output of the extractor in float32,
    four times over (forward values, gradients, the transformed copy and the tape)."""
    h, w, _ = input_shape
    total = h * w * input_shape[2]
    for layer in extractor.layers:
        for tensor in (t for node in layer._inbound_nodes for t in node.output_tensors):
            dims = [d if d is not None else (h if i == 0 else w if i == 1 else 1)
                    for i, d in enumerate(tensor.shape[1:])]
            total += int(np.prod(dims))
    return 16 * total


def _optimize(extractor, pick, groups, input_shape, *, memory_budget, scale=1.0, **options):
    """The engine: optimize one image per entry of ``groups`` (the unit each one maximizes) so that
    ``pick(extractor(x), groups)`` rises; in chunks when all of them at once would not fit in
    ``memory_budget`` bytes (a warning says how many). ``scale``: the model's pixel range (255 for
    a model with an integer input: start and result images are in its units, 0..255)."""
    if scale != 1.0:  # an integer-input model: optimize in [0, 1], show the model scale * x, return its units
        mean, std = options["standardize"] or (np.float32(0.0), np.float32(1.0))
        options["standardize"] = (np.float32(mean) / scale, np.float32(std) / scale)
        if not isinstance(options["start"], str):
            options["start"] = np.asarray(options["start"], np.float32) / scale
        images, trajectory = _optimize(extractor, pick, groups, input_shape, memory_budget=memory_budget,
                                       **options)
        return images * scale, trajectory
    n = len(groups)
    size = max(1, int(memory_budget // bytes_per_image(extractor, input_shape)))
    if n <= size:
        return _optimize_batch(extractor, pick, groups, input_shape, **options)
    chunks = -(-n // size)
    warnings.warn(f"{n} images would need about {n * bytes_per_image(extractor, input_shape) / 2**30:.1f} GiB; "
                  f"optimizing them in {chunks} chunks of up to {size} (memory_budget={memory_budget:.3g} bytes). "
                  "A diversity term then compares images within a chunk only", stacklevel=3)
    start = options.pop("start")
    if isinstance(start, str):  # the same start images as one batch would get
        start = R.start_images(start, (n,) + tuple(input_shape), options["seed"], options["length_scale"])
    parts = [_optimize_batch(extractor, pick, groups[a:a + size], input_shape, start=np.asarray(start)[a:a + size],
                             **options) for a in range(0, n, size)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts], axis=1)


def _optimize_batch(extractor, pick, groups, input_shape, *, steps, step_size, regularization, start, length_scale,
                    parametrization, standardize, seed, progress, desc):
    reg = regularization or PLAIN
    n = len(groups)
    group_ids = tf.constant(np.asarray(groups, np.int64))
    h, w, c = input_shape
    if isinstance(start, str):
        pixels = R.start_images(start, (n, h, w, c), seed, length_scale)
    else:
        pixels = np.asarray(start, np.float32)
        if pixels.shape != (n, h, w, c):
            raise ValueError(f"start images must have shape {(n, h, w, c)}; got {pixels.shape}")
        if not np.isfinite(pixels).all():
            raise ValueError("start images contain NaN or infinite values")
    if parametrization == "fourier":
        scale = tf.constant(R.fourier_scale(h, w))
        variable = tf.Variable(R.image_to_fourier(pixels, scale.numpy()))

        def to_image(v):
            return R.fourier_to_image(v, scale, h, w)
    elif parametrization == "pixel":
        variable = tf.Variable(pixels)

        def to_image(v):
            return v
    else:
        raise ValueError(f"parametrization must be 'pixel' or 'fourier', got {parametrization!r}")
    mean, std = (np.float32(0.0), np.float32(1.0)) if standardize is None else standardize
    if mean.size not in (1, c) or std.size not in (1, c):
        raise ValueError(f"standardize=(mean, std) must give one number or {c} (one per channel) each; "
                         f"got {mean.size} and {std.size}")
    mean, std = tf.constant(mean.reshape(-1), tf.float32), tf.constant(std.reshape(-1), tf.float32)

    def objective(x):
        return pick(extractor((x - mean) / std, training=False), group_ids)

    def step(i):
        with tf.GradientTape() as tape:
            x = to_image(variable)
            value = objective(R.random_transform(x, reg, tf.stack([seed, i])))
            penalty = reg.tv_weight * R.total_variation(x)
            if reg.lp_weight:
                penalty += reg.lp_weight * tf.reduce_mean(tf.abs(x) ** reg.lp, [1, 2, 3])
            if reg.diversity:
                penalty += reg.diversity * R.similarity_to_siblings(x, group_ids)
            total = tf.reduce_sum(value - penalty)
        grads = tape.gradient(total, variable)
        if reg.normalize_gradient:
            axes = list(range(1, len(grads.shape)))
            grads = grads / (tf.sqrt(tf.reduce_sum(grads ** 2, axis=axes, keepdims=True)) + 1e-12)
        update = variable.assign_add(step_size * grads)
        if parametrization == "pixel":
            x = tf.clip_by_value(variable, 0.0, 1.0) * (1.0 - reg.l2_decay)
            if reg.blur_every:
                x = tf.cond(i % reg.blur_every == reg.blur_every - 1, lambda: R.gaussian_blur(x, reg.blur_sigma),
                            lambda: x)
            if reg.clip_percentile:
                x = R.clip_weak_pixels(x, reg.clip_percentile)
            update = variable.assign(x)
        with tf.control_dependencies([update]):  # the value comes out only once the image is updated
            return tf.identity(value)

    @tf.function(autograph=False)  # plain TF control flow below: no source transformation to pay for
    def run_steps(first, count):
        """Steps ``first .. first+count-1`` in one call (a graph loop, no Python between steps)."""
        def body(k, values):
            with tf.control_dependencies([values.flow]):  # step k+1 starts after step k's value (and update)
                value = step(first + k)
            return k + 1, values.write(k, value)

        _, values = tf.while_loop(lambda k, _: k < count, body,
                                  [tf.constant(0), tf.TensorArray(tf.float32, size=count)])
        return values.stack()

    trajectory = [objective(to_image(variable)).numpy()]  # row 0: the start, untransformed
    chunk = max(1, min(25, steps // 10))  # a progress update every chunk of steps
    with progress_bar(None, desc, total=steps, enabled=progress) as bar:
        for first in range(0, steps, chunk):
            count = min(chunk, steps - first)
            trajectory.extend(run_steps(tf.constant(first), tf.constant(count)).numpy())
            bar.update(count)
    images = to_image(variable).numpy()
    # the value inside step i+1 is the objective after i steps; step 1's (the start again) is dropped
    trajectory = trajectory[:1] + trajectory[2:] + [objective(images).numpy()] if steps else trajectory
    return images, np.stack(trajectory)


def _run_options(kwargs):
    """The engine's options with their defaults, each checked (a message names the bad one)."""
    options = dict(steps=200, step_size=None, regularization=DEFAULT, start="lowfreq", length_scale=4.0,
                   parametrization="pixel", standardize=None, seed=0, progress=True, memory_budget=2 * 2**30)
    unknown = set(kwargs) - set(options)
    if unknown:
        raise TypeError(f"unknown options {sorted(unknown)}; options: {sorted(options)}")
    options.update(kwargs)
    options["steps"] = positive_int(options["steps"], "steps", minimum=0)
    options["seed"] = positive_int(options["seed"], "seed", minimum=0)
    if options["parametrization"] not in ("pixel", "fourier"):
        raise ValueError(f"parametrization must be 'pixel' or 'fourier', got {options['parametrization']!r}")
    if options["step_size"] is None:  # a step of the same visible size in either parametrization
        options["step_size"] = 16.0 if options["parametrization"] == "fourier" else 1.0
    options["step_size"] = positive_number(options["step_size"], "step_size")
    if options["regularization"] is not None and not isinstance(options["regularization"], R.Regularization):
        raise TypeError("regularization must be a helpers.regularizers.Regularization (or maximize.PLAIN for none); "
                        f"got {type(options['regularization']).__name__}")
    if options["standardize"] is not None:
        try:
            mean, std = (np.asarray(v, np.float32) for v in options["standardize"])
        except (TypeError, ValueError):
            raise ValueError("standardize must be (mean, std): two numbers, or two sequences with one number per "
                             f"channel; got {options['standardize']!r}") from None
        if mean.ndim > 1 or std.ndim > 1 or not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise ValueError(f"standardize=(mean, std) needs finite means and a std > 0 everywhere (numbers or one per channel); "
                             f"got {options['standardize']}")
        options["standardize"] = (mean, std)
    options["memory_budget"] = positive_number(options["memory_budget"], "memory_budget")
    return options


def _pixel_scale(model):
    """255 for a model whose input is an integer type (uint8 pixels), else 1."""
    return 255.0 if "int" in flatten(model, refresh=False).input_dtype else 1.0


def _input_shape(model, start):
    """(H, W, C) of the images to optimize; a model with free spatial size takes it from ``start``."""
    return spatial_shape(model, None if isinstance(start, str) else start)


def maximize_channels(model, layer, channels=None, starts=1, pre_activation=True, **options):
    """Images that maximize the mean activation of whole channels of ``layer``.

    Args:
        model: a Keras model with one image input; not modified.
        layer: the layer (name, ``outer/inner`` path, index or object): a conv layer, or a
            dense layer whose units are the channels.
        channels: channel indices (default: all).
        starts: optimize each channel from this many different starts
            (diversity, seed 004); images are ordered channel by channel.
        pre_activation: maximize the layer's output before its activation (on a copy),
            so channels that the start image leaves at zero still get a gradient.
        **options: ``steps`` (200), ``step_size`` (the L2 length of a step: 1.0 for
            pixels, 16.0 for the Fourier parametrization),
            ``regularization`` (:data:`DEFAULT`; :data:`PLAIN` for none), ``start``
            (``"lowfreq"``, ``"grey"``, ``"uniform"``, ``"multiscale"`` or an array of
            images to continue from; a model with free spatial size needs the array),
            ``length_scale`` (pixels, for smooth starts),
            ``parametrization`` (``"pixel"`` or ``"fourier"``), ``standardize``
            (``(mean, std)`` applied before the model, for models trained on
            standardized inputs: numbers, or one per channel for RGB), ``seed``, ``progress``,
            ``memory_budget`` (bytes, default 2 GiB: more images than fit are optimized in
            chunks, with a warning).

    Returns:
        ``(images, trajectory)``; trajectory has ``steps + 1`` rows (see the module docstring).
    """
    opts = _run_options(options)
    starts = positive_int(starts, "starts")
    name = find_layer(model, layer)
    extractor = layer_model(model, layer, pre_activation)
    available = extractor.output.shape[-1]
    chosen = np.repeat(channel_indices(channels, available, f"layer {name} has channels"), starts)
    spatial = len(extractor.output.shape) - 2

    def pick(act, groups):
        selector = tf.reshape(tf.one_hot(groups, available), [-1] + [1] * spatial + [available])
        per_unit = tf.reduce_sum(act * selector, axis=-1)  # image k's own channel
        return tf.reduce_mean(per_unit, axis=list(range(1, spatial + 1))) if spatial else per_unit

    return _optimize(extractor, pick, chosen, _input_shape(model, opts["start"]), desc=f"maximizing {name}",
                     scale=_pixel_scale(model), **opts)


def maximize_neuron(model, layer, channel, position, starts=1, pre_activation=True, **options):
    """Images that maximize one unit: ``channel`` of ``layer`` at ``position = (row, col)``.

    Same options and return value as :func:`maximize_channels`; ``starts`` images
    from different random starts.
    """
    opts = _run_options(options)
    starts = positive_int(starts, "starts")
    name = find_layer(model, layer)
    extractor = layer_model(model, layer, pre_activation)
    shape = extractor.output.shape
    if len(shape) != 4:
        raise ValueError(f"layer {name} has no spatial maps (output {tuple(shape[1:])}); use maximize_channels for "
                         "the units of a dense layer")
    channel = int(channel_indices([channel], shape[-1], f"layer {name} has channels")[0])
    row, col = unit_position(position, shape, name)

    def pick(act, groups):
        return act[:, row, col, channel]

    return _optimize(extractor, pick, np.zeros(starts, np.int64), _input_shape(model, opts["start"]),
                     desc=f"maximizing {name}[{row},{col},{channel}]", scale=_pixel_scale(model), **opts)


def maximize_classes(model, classes=None, head=None, starts=1, **options):
    """Images that maximize pre-softmax class scores ("what does the model think a 3 is").

    Args:
        model: a classifier; not modified (the softmax is swapped on a copy).
        classes: class indices (default: all).
        head: output name, for multi-output models.
        starts: different starts per class.
        **options: as :func:`maximize_channels`.
    """
    opts = _run_options(options)
    starts = positive_int(starts, "starts")
    logits, _ = logit_model(model, head)
    n_classes = logits.output.shape[-1]
    chosen = np.repeat(channel_indices(classes, n_classes, "the output has classes"), starts)

    def pick(act, groups):
        return tf.reduce_sum(act * tf.one_hot(groups, n_classes), axis=-1)

    return _optimize(logits, pick, chosen, _input_shape(model, opts["start"]), desc="maximizing classes",
                     scale=_pixel_scale(model), **opts)


def reached_activation(model, images, layer, channels):
    """Mean post-activation value of channel ``channels[k]`` on image ``k`` (what was reached)."""
    from helpers.activations import layer_activations

    layer = find_layer(model, layer)
    maps = layer_activations(model, images, layer)[layer]
    if np.ndim(channels) != 1 or len(channels) != len(maps):
        raise ValueError(f"channels must give one channel of layer {layer} per image ({len(maps)} images, "
                         f"e.g. np.arange({len(maps)})); got shape {np.shape(channels)}")
    channels = channel_indices(channels, maps.shape[-1], f"channels: layer {layer} has channels")
    axes = tuple(range(1, maps.ndim - 1))
    means = maps.mean(axis=axes) if axes else maps
    return means[np.arange(len(channels)), channels]
