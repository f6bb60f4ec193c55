"""Class activation maps: where in the last conv layer's grid is the evidence for a class?

Grad-CAM, Grad-CAM++ and Score-CAM; same call shape as :mod:`helpers.attribution`
(which re-exports them) and maps ``(n, H, W)`` in [0, 1] at input resolution.
"""

import keras
import numpy as np
import tensorflow as tf

from helpers.graph import flatten
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


def spatial_layer(model, layer):
    """``layer`` (default: the last convolution) as a path, checked to output maps ``(n, h, w, c)`` once."""
    path = last_conv_layer(model) if layer is None else find_layer(model, layer)
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
        layer: conv layer whose maps are weighted (default: the last convolution).
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
    image (softmax; for a one-unit sigmoid head the probability of the target class). No gradients."""
    images = check_images(model, images)
    batch_size = positive_int(batch_size, "batch_size")
    layer = spatial_layer(model, layer)
    scorer = score_model(model, head, extra_layer=layer)
    target = checked_target(scorer, target, len(images))
    features, logits = (np.asarray(a) for a in scorer.predict(images, batch_size=batch_size, verbose=0))
    masks = tf.image.resize(features, images.shape[1:3], method="bilinear").numpy()
    low = masks.min(axis=(1, 2), keepdims=True)
    span = masks.max(axis=(1, 2), keepdims=True) - low
    masks = np.divide(masks - low, span, out=np.zeros_like(masks), where=span > 0)
    indices = None if callable(target) else target_indices(target, logits)

    def pick(probs, i):
        return np.asarray(target(probs)) if callable(target) else probs[:, indices[i]]

    black = probabilities(scorer, scorer(np.zeros_like(images[:1]), training=False)[1])
    cams = np.zeros(features.shape[:3], np.float32)
    for i in range(len(images)):
        masked = images[i][None] * np.moveaxis(masks[i], -1, 0)[..., None]
        probs = probabilities(scorer, scorer.predict(masked, batch_size=batch_size, verbose=0)[1])
        weights = pick(probs, i) - pick(black, i)[0]
        cams[i] = np.maximum(np.tensordot(features[i], weights, axes=([-1], [0])), 0)
    maps = tf.image.resize(cams[..., None], images.shape[1:3], method="bilinear")[..., 0].numpy()
    return normalize_maps(maps, "score_cam")
