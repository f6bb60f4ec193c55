"""Attribution maps: which input pixels does a prediction depend on?

Every method has the same call shape, ``method(model, images, target=None, ...)``,
and returns maps ``(n, H, W)`` at input resolution, scaled to [0, 1] per image.
``target`` is a class index, a list with one class per image, or a callable
``score(outputs) -> (n,)`` (a head of a multi-output model, a regression output);
``None`` explains the predicted class. Scores are taken before the softmax (it is
swapped for a linear activation on a copy); the user's model is never modified.
An image whose gradients are all zero gets an all-zero map and a warning, never NaN.
"""

import warnings

import keras
import numpy as np
import tensorflow as tf

from helpers.activations import check_images, graph_input
from helpers.maximize import logit_model


def _score_model(model, head=None, extra_layer=None):
    """Copy of the model giving pre-softmax outputs (and optionally one inner layer's output)."""
    logits, _ = logit_model(model, head)
    if extra_layer is None:
        return logits
    return keras.Model(graph_input(logits), [logits.get_layer(extra_layer).output, logits.output])


def _scores(outputs, target, n):
    """Scores ``(n,)`` picked from ``outputs`` by ``target`` (see the module docstring)."""
    if callable(target):
        return target(outputs)
    if target is None:
        target = tf.argmax(outputs, axis=-1)
    target = tf.broadcast_to(tf.cast(tf.convert_to_tensor(target), tf.int32), [n])
    return tf.gather(outputs, target, axis=1, batch_dims=1)


def _normalize(maps, method):
    """Scale each map to [0, 1]; warn about maps that are zero everywhere."""
    maps = np.asarray(maps, dtype=np.float64)
    peak = maps.reshape(len(maps), -1).max(axis=1)
    empty = ~(peak > 0)
    if empty.any():
        warnings.warn(f"{method}: {int(empty.sum())} image(s) got an all-zero map (zero gradients, or no positive "
                      "evidence for the target anywhere); their maps are zeros, not NaN", stacklevel=3)
    peak = np.where(empty, 1.0, peak)
    return (np.maximum(maps, 0) / peak[:, None, None]).astype(np.float32)


def last_conv_layer(model):
    """Name of the last layer with a 4-D output that is a convolution; error if there is none."""
    for layer in reversed(model.layers):
        if isinstance(layer, keras.layers.Conv2D):
            return layer.name
    raise ValueError(f"{model.name!r} has no Conv2D layer; pass layer= one of: "
                     + ", ".join(layer.name for layer in model.layers))


def _batches(images, batch_size):
    for start in range(0, len(images), batch_size):
        yield slice(start, start + batch_size)


def _targets_for(target, batch):
    if target is None or callable(target) or np.ndim(target) == 0:
        return target
    return np.asarray(target)[batch]


def grad_cam(model, images, layer=None, target=None, head=None, batch_size=64):
    """Grad-CAM (Selvaraju et al. 2017): the conv maps weighted by their mean gradient.

    Args:
        model: a Keras classifier.
        images: ``(n, H, W, C)``.
        layer: conv layer whose maps are weighted (default: the last Conv2D).
        target: see the module docstring.
        head: output name of a multi-output model (its softmax is made linear).
        batch_size: images per backward pass.

    Returns:
        ``(n, H, W)`` maps in [0, 1], bilinearly resized from the layer's resolution.
    """
    images = check_images(model, images)
    layer = layer or last_conv_layer(model)
    scorer = _score_model(model, head, extra_layer=layer)
    maps = []
    for batch in _batches(images, batch_size):
        x = tf.constant(images[batch])
        with tf.GradientTape() as tape:
            features, outputs = scorer(x, training=False)
            score = tf.reduce_sum(_scores(outputs, _targets_for(target, batch), len(x)))
        grads = tape.gradient(score, features)
        weights = tf.reduce_mean(grads, axis=[1, 2], keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))
        maps.append(tf.image.resize(cam[..., None], images.shape[1:3], method="bilinear")[..., 0].numpy())
    return _normalize(np.concatenate(maps), "grad_cam")


def input_gradients(model, images, target=None, head=None, batch_size=64):
    """Gradients of the target score with respect to the input pixels, ``(n, H, W, C)``."""
    images = check_images(model, images)
    scorer = _score_model(model, head)
    grads = []
    for batch in _batches(images, batch_size):
        x = tf.constant(images[batch])
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.reduce_sum(_scores(scorer(x, training=False), _targets_for(target, batch), len(x)))
        grads.append(tape.gradient(score, x).numpy())
    return np.concatenate(grads)


def saliency(model, images, target=None, head=None, batch_size=64):
    """Saliency (Simonyan et al. 2014): the largest absolute input gradient over colour channels."""
    return _normalize(np.abs(input_gradients(model, images, target, head, batch_size)).max(axis=-1), "saliency")


def smoothgrad(model, images, target=None, head=None, samples=16, noise=0.15, seed=0, batch_size=64):
    """SmoothGrad (Smilkov et al. 2017): saliency averaged over noisy copies of each image.

    ``noise`` is the standard deviation relative to each image's value range.
    """
    images = check_images(model, images)
    rng = np.random.default_rng(seed)
    spread = noise * (images.max(axis=(1, 2, 3), keepdims=True) - images.min(axis=(1, 2, 3), keepdims=True))
    total = np.zeros(images.shape, np.float64)
    for _ in range(samples):
        noisy = images + spread * rng.standard_normal(images.shape).astype(np.float32)
        total += np.abs(input_gradients(model, noisy, target, head, batch_size))
    return _normalize(total.max(axis=-1) / samples, "smoothgrad")


def integrated_gradients(model, images, target=None, head=None, baseline=None, steps=64, batch_size=64,
                         return_details=False):
    """Integrated Gradients (Sundararajan et al. 2017) from a baseline (default: black).

    Attributions are ``(x - baseline)`` times the average gradient along the straight
    path (midpoint rule with ``steps`` points). By completeness they should add up to
    ``score(x) - score(baseline)``; the difference is reported as the completeness gap.

    Returns:
        maps ``(n, H, W)`` (absolute attributions summed over channels, in [0, 1]); with
        ``return_details`` also a dict with ``attributions`` ``(n, H, W, C)``, ``scores``,
        ``baseline_scores`` and ``completeness_gap`` (per image).
    """
    images = check_images(model, images)
    baseline = np.zeros_like(images) if baseline is None else np.broadcast_to(baseline, images.shape)
    scorer = _score_model(model, head)
    fixed = target if target is not None else np.asarray(scorer(images, training=False)).argmax(axis=-1)
    total = np.zeros(images.shape, np.float64)
    for alpha in (np.arange(steps) + 0.5) / steps:
        total += input_gradients(model, baseline + alpha * (images - baseline), fixed, head, batch_size)
    attributions = (images - baseline) * total / steps
    score = np.asarray(_scores(scorer(images, training=False), _targets_for(fixed, slice(None)), len(images)))
    base = np.asarray(_scores(scorer(np.asarray(baseline, np.float32), training=False),
                              _targets_for(fixed, slice(None)), len(images)))
    maps = _normalize(np.abs(attributions).sum(axis=-1), "integrated_gradients")
    if not return_details:
        return maps
    gap = attributions.reshape(len(images), -1).sum(axis=1) - (score - base)
    return maps, {"attributions": attributions, "scores": score, "baseline_scores": base, "completeness_gap": gap}


def occlusion(model, images, target=None, head=None, patch=4, stride=2, fill=0.0, batch_size=256):
    """Occlusion (Zeiler and Fergus 2014): how much the score drops when a patch is covered.

    Each map pixel is the mean drop over all patches that cover it; rises are clipped to 0.
    """
    images = check_images(model, images)
    scorer = _score_model(model, head)
    n, h, w, _ = images.shape
    fixed = target if target is not None else np.asarray(scorer(images, training=False)).argmax(axis=-1)
    base = np.asarray(_scores(scorer(images, training=False), _targets_for(fixed, slice(None)), n))
    drop = np.zeros((n, h, w))
    count = np.zeros((h, w))
    corners = [(r, c) for r in range(0, h - patch + 1, stride) for c in range(0, w - patch + 1, stride)]
    for r, c in corners:
        covered = images.copy()
        covered[:, r:r + patch, c:c + patch, :] = fill
        score = np.asarray(_scores(scorer.predict(covered, batch_size=batch_size, verbose=0),
                                   _targets_for(fixed, slice(None)), n))
        drop[:, r:r + patch, c:c + patch] += (base - score)[:, None, None]
        count[r:r + patch, c:c + patch] += 1
    return _normalize(drop / np.maximum(count, 1), "occlusion")
