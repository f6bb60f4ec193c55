"""Class activation maps: where in the last conv layer's grid is the evidence for a class?

Grad-CAM, Grad-CAM++ and Score-CAM; same call shape as :mod:`helpers.attribution`
(which re-exports them) and maps ``(n, H, W)`` in [0, 1] at input resolution.
"""

import keras
import numpy as np
import tensorflow as tf

from helpers.graph import flatten
from helpers.layerkinds import op_kind
from helpers.modelparts import check_images, find_layer, layer_names, positive_int
from helpers.scoring import (batches, checked_target, choose, class_vector, compiled, normalize_maps,
                             probabilities, score_model, target_indices, targets_for)

#: Layers a class activation map is taken from by default: every 2-D convolution kind.
CONV_LAYERS = (keras.layers.Conv2D, keras.layers.SeparableConv2D, keras.layers.DepthwiseConv2D)


def last_conv_layer(model):
    """Path of the last 2-D convolution called (Conv2D, SeparableConv2D, DepthwiseConv2D; nested models
    searched too); the message lists the layers if there is none."""
    flat = flatten(model, refresh=False)
    for path in reversed(flat.paths):
        if isinstance(flat.layer(path), CONV_LAYERS):
            return path
    raise ValueError(f"{model.name!r} has no convolution layer; pass layer= one of: " + ", ".join(layer_names(model)))


def default_cam_layer(model):
    """The layer a class activation map is taken from by default: the last convolution, or the
    activation layer applied to it right after (``Conv2D`` then ``ReLU()`` gives the same maps as
    ``Conv2D(activation="relu")``)."""
    flat = flatten(model, refresh=False)
    path = last_conv_layer(model)
    output = flat.output(path)
    for later in flat.paths[flat.paths.index(path) + 1:]:
        inputs = flat.inputs[later]
        if len(inputs) == 1 and len(inputs[0]) == 1 and inputs[0][0] is output \
                and op_kind(flat.layer(later)) not in ("", "linear") and not getattr(flat.layer(later), "weights", ()):
            path, output = later, flat.output(later)  # an activation of the map: the map as the model uses it
    return path


def spatial_layer(model, layer):
    """``layer`` (default: :func:`default_cam_layer`) as a path, checked to output maps ``(n, h, w, c)`` once."""
    path = default_cam_layer(model) if layer is None else find_layer(model, layer)
    shape = flatten(model, refresh=False).output(path).shape
    if len(shape) != 4:
        raise ValueError(f"a class activation map needs a layer with spatial maps (n, h, w, channels); {path!r} "
                         f"outputs {tuple(shape)}. Pass layer= a conv layer, e.g. {last_conv_layer(model)!r}")
    return path


def _weighted_maps(model, images, layer, target, head, batch_size, channel_weights, method):
    """Shared body of the gradient CAMs: ``relu(sum_k weight_k * A_k)`` resized to the input.

    ``channel_weights(features, grads)`` returns weights broadcastable to the features.
    The compiled function is cached with the model's flat copy, so calling this image by
    image in a loop traces once.
    """
    images = check_images(model, images)
    layer = spatial_layer(model, layer)
    scorer = score_model(model, head, extra_layer=layer)
    target = checked_target(scorer, target, len(images))
    size = tuple(images.shape[1:3])

    def cam_of(x, score_of):
        with tf.GradientTape() as tape:
            features, outputs = scorer(x, training=False)
            score = tf.reduce_sum(score_of(tf.cast(outputs, tf.float32)))
        grads = tf.cast(tape.gradient(score, features), tf.float32)
        features = tf.cast(features, tf.float32)
        cam = tf.nn.relu(tf.reduce_sum(channel_weights(features, grads) * features, axis=-1))
        return tf.image.resize(cam[..., None], size, method="bilinear")[..., 0]

    def build():
        @tf.function(reduce_retracing=True)  # a graph: TensorFlow then skips the backward work no map needs
        def run(x, classes):  # classes: one index per image, -1 for the predicted class
            return cam_of(x, lambda outputs: choose(outputs, classes))
        return run

    run = compiled(scorer, (method, size), build)
    maps = []
    for batch in batches(images, batch_size):
        x = tf.constant(images[batch])
        if callable(target):  # a user's callable may not trace: run it eagerly
            maps.append(cam_of(x, target).numpy())
        else:
            maps.append(run(x, tf.constant(class_vector(targets_for(target, batch), len(x)))).numpy())
    return normalize_maps(np.concatenate(maps), method)


def _mean_gradient(features, grads):
    return tf.reduce_mean(grads, axis=[1, 2], keepdims=True)


def _higher_order(features, g):
    g2, g3 = g ** 2, g ** 3
    denominator = 2.0 * g2 + tf.reduce_sum(features, axis=[1, 2], keepdims=True) * g3
    alpha = tf.math.divide_no_nan(g2, tf.where(denominator != 0, denominator, tf.ones_like(denominator)))
    return tf.reduce_sum(alpha * tf.nn.relu(g), axis=[1, 2], keepdims=True)


def grad_cam(model, images, layer=None, target=None, head=None, batch_size=64):
    """Grad-CAM (Selvaraju et al. 2017): the conv maps weighted by their mean gradient.

    Args:
        model: a Keras classifier (softmax anywhere, nested or not, or a one-unit sigmoid head:
            target 0 then explains the negative class, 1 the positive one).
        images: ``(n, H, W, C)``.
        layer: conv layer whose maps are weighted (default: the last convolution, or the activation
            layer right after it: see :func:`default_cam_layer`).
        target: see the module docstring.
        head: output name of a multi-output model (its softmax is made linear).
        batch_size: images per backward pass.

    Returns:
        ``(n, H, W)`` maps in [0, 1], bilinearly resized from the layer's resolution.
    """
    return _weighted_maps(model, images, layer, target, head, batch_size, _mean_gradient, "grad_cam")


def grad_cam_plus_plus(model, images, layer=None, target=None, head=None, batch_size=64):
    """Grad-CAM++ (Chattopadhay et al. 2018): per-position weights from higher-order gradients of
    ``exp(score)``, which credit several instances of the class better than Grad-CAM."""
    return _weighted_maps(model, images, layer, target, head, batch_size, _higher_order, "grad_cam_plus_plus")


def score_cam(model, images, layer=None, target=None, head=None, batch_size=256):
    """Score-CAM (Wang et al. 2020): each conv map, upsampled and scaled to [0, 1], masks the image;
    the map's weight is how much the masked image raises the target's probability over a black
    image (softmax; for a one-unit sigmoid head the probability of the target class). No gradients.

    The masked copies of all images and channels stream through one compiled call per
    ``batch_size`` of them (as in occlusion); a constant map (e.g. a 1x1 layer) masks nothing
    and gets weight 0, so a layer whose every map is constant gives the zero map and a warning.
    """
    images = check_images(model, images)
    batch_size = positive_int(batch_size, "batch_size")
    layer = spatial_layer(model, layer)
    scorer = score_model(model, head, extra_layer=layer)
    target = checked_target(scorer, target, len(images))
    features, logits = (np.asarray(a) for a in scorer.predict(images, batch_size=batch_size, verbose=0))
    n, channels = len(images), features.shape[-1]
    weights = np.zeros((n, channels), np.float64)
    if callable(target):  # a user's callable sees the probabilities of one image's masked copies at a time
        black = probabilities(scorer, scorer(np.zeros_like(images[:1]), training=False)[1])
        for i in range(n):
            masks, empty = _masks(features[i:i + 1], images.shape[1:3])
            masked = images[i][None] * np.moveaxis(masks[0], -1, 0)[..., None]
            probs = probabilities(scorer, scorer.predict(masked, batch_size=batch_size, verbose=0)[1])
            weights[i] = np.where(empty[0], 0.0, np.asarray(target(probs)) - np.asarray(target(black))[0])
    else:
        run, classes = _target_probability(scorer), target_indices(target, logits).astype(np.int32)
        seen = np.unique(classes)  # the black image's probability of each explained class, computed alike
        black = np.zeros(int(seen.max()) + 1)
        black[seen] = run(tf.zeros((len(seen), *images.shape[1:])), tf.constant(seen)).numpy()
        per_chunk = max(1, batch_size // channels)
        for start in range(0, n, per_chunk):
            part = slice(start, min(start + per_chunk, n))
            masks, empty = _masks(features[part], images.shape[1:3])  # (m, H, W, C), (m, C)
            masked = images[part][:, None] * np.moveaxis(masks, -1, 1)[..., None]  # (m, C, H, W, channels)
            which = np.repeat(classes[part], channels)
            probs = run(tf.constant(masked.reshape(-1, *images.shape[1:])), tf.constant(which)).numpy()
            weights[part] = np.where(empty, 0.0, probs.reshape(-1, channels) - black[classes[part]][:, None])
    cams = np.maximum(np.einsum("nhwc,nc->nhw", features.astype(np.float64), weights), 0).astype(np.float32)
    maps = tf.image.resize(cams[..., None], images.shape[1:3], method="bilinear")[..., 0].numpy()
    return normalize_maps(maps, "score_cam")


def _masks(features, size):
    """The maps upsampled to ``size`` and scaled to [0, 1] per channel, and which are constant (empty)."""
    masks = tf.image.resize(features, size, method="bilinear").numpy()
    low = masks.min(axis=(1, 2), keepdims=True)
    span = masks.max(axis=(1, 2), keepdims=True) - low
    masks = np.divide(masks - low, span, out=np.zeros_like(masks), where=span > 0)
    return masks, ~(span[:, 0, 0, :] > 0)


def _target_probability(scorer):
    """Compiled ``(x, classes) -> probability of classes[i] for x[i]`` (softmax, or sigmoid per unit)."""
    sigmoid = getattr(scorer, "head_kind", "softmax") == "sigmoid"

    def build():
        @tf.function(reduce_retracing=True)
        def run(x, classes):
            scores = tf.cast(scorer(x, training=False)[1], tf.float32)
            probs = tf.sigmoid(scores) if sigmoid else tf.nn.softmax(scores)
            return tf.gather(probs, classes, axis=1, batch_dims=1)
        return run
    return compiled(scorer, "target_probability", build)
