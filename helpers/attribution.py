"""Attribution maps: which input pixels does a prediction depend on?

Every method has the same call shape, ``method(model, images, target=None, ...)``,
and returns maps ``(n, H, W)`` at input resolution, scaled to [0, 1] per image.
``target`` is a class index, a list with one class per image, or a callable
``score(outputs) -> (n,)`` (a head of a multi-output model, a regression output);
``None`` explains the predicted class: **one class per image, fixed on the clean image**
before anything is perturbed, in every method (the noisy copies of SmoothGrad, the path
images of Integrated Gradients, the covered copies of occlusion, the masked copies of
Score-CAM all explain the class the clean image is predicted as). Scores are taken before the softmax, wherever
it sits (a nested classifier included: see :mod:`helpers.graph`); a one-unit sigmoid
head is a binary classifier whose target 0 is the negative class and 1 the positive
one. The user's model is never called symbolically, modified or extended.
An image whose map is zero everywhere gets a warning and zeros, never NaN.

Gradient methods live here; the class activation maps (Grad-CAM, Grad-CAM++,
Score-CAM) in :mod:`helpers.cams`, re-exported.
"""

import numpy as np
import tensorflow as tf

from helpers import gradient_loops as loops
from helpers.cams import grad_cam, grad_cam_plus_plus, last_conv_layer, score_cam
from helpers.arguments import check_seed
from helpers.modelparts import (channel_indices, check_images, find_layer, finite_number, layer_model, positive_int,
                                positive_number)
from helpers.scoring import (batches, checked_target, class_vector, normalize_maps, pick_scores, score_model,
                             target_scores, targets_for)


def _gradients(scorer, images, target, batch_size):
    """Input gradients of the target score of ``scorer`` (any pre-softmax model copy): one compiled call
    loops over all batches (:mod:`helpers.gradient_loops`); a user's callable target runs eagerly."""
    batch_size = positive_int(batch_size, "batch_size")
    if not callable(target):
        return loops.input_gradients(scorer, images, class_vector(target, len(images)), batch_size)
    grads = []
    for batch in batches(images, batch_size):
        x = tf.constant(images[batch])
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.reduce_sum(pick_scores(scorer(x, training=False), target, len(x)))
        grads.append(tape.gradient(score, x).numpy())
    return np.concatenate(grads)


def input_gradients(model, images, target=None, head=None, batch_size=64):
    """Gradients of the target score with respect to the input pixels, ``(n, H, W, C)``."""
    images = check_images(model, images)
    scorer = score_model(model, head)
    return _gradients(scorer, images, checked_target(scorer, target, len(images)), batch_size)


def saliency(model, images, target=None, head=None, batch_size=64):
    """Saliency (Simonyan et al. 2014): the largest absolute input gradient over colour channels."""
    return normalize_maps(np.abs(input_gradients(model, images, target, head, batch_size)).max(axis=-1), "saliency")


def layer_saliency(model, images, layer, channel=None, batch_size=64):
    """Back-propagation map to an intermediate layer (seed 002): the absolute input gradient of
    the summed activation of ``layer`` (or of one ``channel`` of it), largest over colour channels.

    Shows which pixels the layer's response depends on, without involving any class.
    """
    images = check_images(model, images)
    name = find_layer(model, layer)
    extractor = layer_model(model, name)
    if channel is not None:
        channel = int(channel_indices([channel], extractor.output.shape[-1], f"layer {name} has channels")[0])
    grads = []
    for batch in batches(images, batch_size):
        x = tf.constant(images[batch])
        with tf.GradientTape() as tape:
            tape.watch(x)
            act = extractor(x, training=False)
            total = tf.reduce_sum(act if channel is None else act[..., channel])
        grads.append(tape.gradient(total, x).numpy())
    return normalize_maps(np.abs(np.concatenate(grads)).max(axis=-1), "layer_saliency")


def smoothgrad(model, images, target=None, head=None, samples=16, noise=0.15, seed=0, batch_size=64):
    """SmoothGrad (Smilkov et al. 2017): saliency averaged over noisy copies of each image.

    ``noise`` is the standard deviation relative to each image's value range.
    """
    images = check_images(model, images)
    samples = positive_int(samples, "samples")
    noise = positive_number(noise, "noise", allow_zero=True)
    scorer = score_model(model, head)
    target = _fixed(scorer, images, checked_target(scorer, target, len(images)), batch_size)
    rng = np.random.default_rng(check_seed(seed))
    spread = noise * (images.max(axis=(1, 2, 3), keepdims=True) - images.min(axis=(1, 2, 3), keepdims=True))

    def draw(k):  # the next k samples' noise: the same numbers as k draws of images.shape in turn
        return rng.standard_normal((k, *images.shape)).astype(np.float32)

    batch_size = positive_int(batch_size, "batch_size")
    if callable(target):
        total = np.zeros(images.shape, np.float64)
        for _ in range(samples):
            total += np.abs(_gradients(scorer, images + spread * draw(1)[0], target, batch_size))
    else:
        total = loops.noisy_gradient_sums(scorer, images, spread.astype(np.float32), draw, samples,
                                          class_vector(target, len(images)), batch_size)
    return normalize_maps(total.max(axis=-1) / samples, "smoothgrad")


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
    steps = positive_int(steps, "steps")
    baseline = _baseline(baseline, images)
    scorer = score_model(model, head)
    target = checked_target(scorer, target, len(images))
    fixed = _fixed(scorer, images, target, batch_size)
    batch_size = positive_int(batch_size, "batch_size")
    alphas = (np.arange(steps) + 0.5) / steps  # midpoint rule, in this order
    if callable(fixed):
        total = np.zeros(images.shape, np.float64)
        for alpha in alphas:
            total += _gradients(scorer, (baseline + alpha * (images - baseline)).astype(np.float32), fixed, batch_size)
    else:
        total = loops.path_gradient_sums(scorer, images, baseline, alphas, class_vector(fixed, len(images)), batch_size)
    attributions = (images - baseline) * total / steps
    maps = normalize_maps(np.abs(attributions).sum(axis=-1), "integrated_gradients")
    if not return_details:
        return maps
    score = np.asarray(pick_scores(scorer(images, training=False), targets_for(fixed, slice(None)), len(images)))
    base = np.asarray(pick_scores(scorer(np.asarray(baseline, np.float32), training=False),
                                  targets_for(fixed, slice(None)), len(images)))
    gap = attributions.reshape(len(images), -1).sum(axis=1) - (score - base)
    return maps, {"attributions": attributions, "scores": score, "baseline_scores": base, "completeness_gap": gap}


def _fixed(scorer, images, target, batch_size):
    """``target``, or for ``None`` the class each clean image is predicted as (see the module docstring)."""
    if target is not None:
        return target
    return np.asarray(scorer.predict(images, batch_size=batch_size, verbose=0)).argmax(axis=-1)


def _baseline(baseline, images):
    if baseline is None:
        return np.zeros_like(images)
    if isinstance(baseline, str) or np.asarray(baseline).dtype.kind not in "biuf":
        raise TypeError(f"baseline must be None (a black image), a number (e.g. 0.0) or an array of images; got "
                        f"{baseline!r}. For black pass baseline=None or 0.0, for the mean pass images.mean(axis=0)")
    baseline = np.asarray(baseline, np.float32)
    try:
        baseline = np.broadcast_to(baseline, images.shape)
    except ValueError:
        raise ValueError(f"baseline of shape {baseline.shape} does not fit images {images.shape}: give one image "
                         f"{images.shape[1:]}, a batch of that shape, or a number") from None
    if not np.isfinite(baseline).all():
        raise ValueError("the baseline contains NaN or infinite values")
    return baseline


def occlusion(model, images, target=None, head=None, patch=4, stride=2, fill=0.0, batch_size=256):
    """Occlusion (Zeiler and Fergus 2014): how much the score drops when a patch is covered.

    Each map pixel is the mean drop over all patches that cover it; rises are clipped to 0.
    The covered copies of all images and patch positions stream through one compiled
    call per ``batch_size`` of them (not one ``predict`` per position).
    """
    images = check_images(model, images)
    n, h, w, _ = images.shape
    patch, stride = positive_int(patch, "patch"), positive_int(stride, "stride")
    batch_size = positive_int(batch_size, "batch_size")
    if patch > min(h, w):
        raise ValueError(f"patch {patch} is larger than the images ({h}x{w}); choose patch <= {min(h, w)}")
    fill = finite_number(fill, "fill")
    scorer = score_model(model, head)
    target = checked_target(scorer, target, n)
    fixed = target if target is not None else np.asarray(scorer(images, training=False)).argmax(axis=-1)
    base = np.asarray(pick_scores(scorer(images, training=False), targets_for(fixed, slice(None)), n))
    corners = [(r, c) for r in range(0, h - patch + 1, stride) for c in range(0, w - patch + 1, stride)]
    scores = np.empty(n * len(corners), np.float64)  # pair k: image k // positions, corner k % positions
    if callable(fixed):
        for i in range(n):  # a user's callable sees whole batches of one image's covered copies
            covered = _covered(images, np.full(len(corners), i), corners, range(len(corners)), patch, fill)
            scores[i * len(corners):(i + 1) * len(corners)] = np.asarray(fixed(scorer(covered, training=False)))
    else:
        run, classes = target_scores(scorer), class_vector(fixed, n)
        for start in range(0, len(scores), batch_size):
            pairs = np.arange(start, min(start + batch_size, len(scores)))
            covered = _covered(images, pairs // len(corners), corners, pairs % len(corners), patch, fill)
            scores[pairs] = run(tf.constant(covered), tf.constant(classes[pairs // len(corners)])).numpy()
    drops = base[:, None] - scores.reshape(n, len(corners))
    drop, count = np.zeros((n, h, w)), np.zeros((h, w))
    for k, (r, c) in enumerate(corners):
        drop[:, r:r + patch, c:c + patch] += drops[:, k, None, None]
        count[r:r + patch, c:c + patch] += 1
    return normalize_maps(drop / np.maximum(count, 1), "occlusion")


def _covered(images, which, corners, positions, patch, fill):
    """Copies of ``images[which[j]]`` with the patch at ``corners[positions[j]]`` set to ``fill``."""
    covered = images[np.asarray(which)].copy()
    for j, k in enumerate(positions):
        r, c = corners[k]
        covered[j, r:r + patch, c:c + patch, :] = fill
    return covered


@tf.custom_gradient
def _guided_relu(x):
    def grad(dy):
        return dy * tf.cast(x > 0, dy.dtype) * tf.cast(dy > 0, dy.dtype)

    return tf.nn.relu(x), grad


@tf.custom_gradient
def _deconv_relu(x):
    def grad(dy):
        return tf.nn.relu(dy)  # Zeiler-Fergus: rectify the signal going back, ignore the forward sign

    return tf.nn.relu(x), grad


def _modified_backprop(model, images, target, head, batch_size, relu, method):
    """Input gradients through a copy of ``model`` whose every ReLU (``activation="relu"``, ``ReLU()``
    layers, ``Activation("relu")``) uses the backward rule ``relu``; other rectifiers are refused."""
    images = check_images(model, images)
    scorer = score_model(model, head, relu_backward=relu)
    grads = _gradients(scorer, images, checked_target(scorer, target, len(images)), batch_size)
    return normalize_maps(np.abs(grads).max(axis=-1), method)


def guided_backprop(model, images, target=None, head=None, batch_size=64):
    """Guided backpropagation (Springenberg et al. 2015): at every ReLU only positive gradients
    flowing into units that were active pass back. Every ReLU is changed on a copy (activation
    arguments, ``ReLU()`` and ``Activation("relu")`` layers); a model with other rectifiers (relu6,
    LeakyReLU, ELU, ...) is refused, since the rule is defined for the plain ReLU only. Max pooling
    routes the gradient to the maximum as usual."""
    return _modified_backprop(model, images, target, head, batch_size, _guided_relu, "guided_backprop")


def deconvnet(model, images, target=None, head=None, batch_size=64):
    """Deconvnet (Zeiler and Fergus 2014): unpool through the max-pooling switches, rectify the
    backward signal at every ReLU (whatever the forward sign), filter with the transposed kernels."""
    return _modified_backprop(model, images, target, head, batch_size, _deconv_relu, "deconvnet")


#: Every method by name, all with the call shape ``method(model, images, target=..., head=...)``.
METHODS = {
    "grad_cam": grad_cam, "grad_cam_plus_plus": grad_cam_plus_plus, "score_cam": score_cam,
    "saliency": saliency, "smoothgrad": smoothgrad, "integrated_gradients": integrated_gradients,
    "guided_backprop": guided_backprop, "deconvnet": deconvnet, "occlusion": occlusion,
}

__all__ = ["METHODS", "last_conv_layer", "layer_saliency", "input_gradients", *METHODS]
