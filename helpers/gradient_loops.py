"""Input gradients of many images, noisy copies or path points in few compiled calls.

The gradient methods of :mod:`helpers.attribution` (saliency, gradient x input, guided
backprop, deconvnet, SmoothGrad, Integrated Gradients) all sum input gradients of a score
model over batches of images. Here each of them is one compiled function whose graph loops
over the batches itself (and, inside each batch, over SmoothGrad's noise samples or IG's path
points), so Python runs once per call instead of once per batch and sample, and nothing is
copied back to NumPy between steps.

The maps are those of the plain Python loop: every backward pass still holds the same
``batch_size`` images of one noise sample or one path point as before, the noisy copies and
path images are computed with the same float32 and float64 operations, and the sums over
samples and steps run in float64 in the same order.

Saliency-like methods and Integrated Gradients take about :data:`CALL_BYTES` of inputs per call
(more images are split into calls of whole batches); SmoothGrad splits the noise samples, not
the images, so its call holds every image and its float64 sums. Every loop runs one iteration at
a time (``parallel_iterations=1``): the activations of one batch of ``batch_size`` images are
alive at once, as in a plain Python loop (TensorFlow's default of 10 in flight raised the peak
memory by 64 % in a measured case). The compiled functions are cached with the score model
(:func:`helpers.scoring.compiled`), whose flat copy :mod:`helpers.graph` rebuilds when the
user's model changes (an activation swapped, a layer replaced): an edited model gets new
functions, never a stale one. Each function has one input signature with a free batch axis,
so it is traced once, whatever the number of images.
"""

import numpy as np
import tensorflow as tf

from helpers.scoring import choose, compiled

#: Bytes of inputs (images, noise, sums) one compiled call takes at most, about.
CALL_BYTES = 2 ** 28


def input_gradients(scorer, images, classes, batch_size):
    """Input gradients ``(n, H, W, C)`` of ``choose(scorer(x), classes)``, one batch per backward pass.

    Args:
        scorer: a score model (:func:`helpers.scoring.score_model`).
        images: float32 ``(n, H, W, C)``.
        classes: int32 ``(n,)``, one class per image, -1 for the predicted class.
        batch_size: images per backward pass.

    Returns:
        float32 gradients ``(n, H, W, C)``.
    """
    run = _runner(scorer, "gradients", images.shape[1:])
    return _in_calls(images, batch_size, 8, lambda part: run(
        tf.constant(images[part]), tf.constant(classes[part]), tf.constant(batch_size, tf.int32)).numpy())


def path_gradient_sums(scorer, images, baseline, alphas, classes, batch_size):
    """Sum over ``alphas`` (in order) of the input gradients at ``baseline + alpha (images - baseline)``.

    Args:
        scorer, classes, batch_size: as :func:`input_gradients`.
        images, baseline: float32 ``(n, H, W, C)``.
        alphas: float64 path positions ``(steps,)``.

    Returns:
        float64 sums ``(n, H, W, C)``.
    """
    run = _runner(scorer, "path", images.shape[1:])
    alphas = tf.constant(np.asarray(alphas, np.float64))
    return _in_calls(images, batch_size, 32, lambda part: run(
        tf.constant(images[part]), tf.constant(baseline[part]), alphas, tf.constant(classes[part]),
        tf.constant(batch_size, tf.int32)).numpy())


def noisy_gradient_sums(scorer, images, spread, draw, samples, classes, batch_size):
    """Sum over ``samples`` noisy copies (in order) of the absolute input gradients.

    Sample ``j`` is ``images + spread * noise_j`` with ``noise_j = draw(k)[i]`` (float32, the
    images' shape), ``draw(k)`` giving the next ``k`` samples' noise in one array ``(k, n, H, W, C)``;
    as many samples are drawn at once as fit in :data:`CALL_BYTES`.

    Args:
        scorer, classes, batch_size: as :func:`input_gradients`.
        images: float32 ``(n, H, W, C)``.
        spread: float32 ``(n, 1, 1, 1)``, the noise scale per image.
        draw: ``draw(k) -> float32 (k, n, H, W, C)``.
        samples: number of noisy copies.

    Returns:
        float64 sums ``(n, H, W, C)``.
    """
    run = _runner(scorer, "noisy", images.shape[1:])
    per_sample = images.size * 12  # the float64 draw and its float32 copy
    group = int(max(1, min(samples, CALL_BYTES // max(per_sample, 1))))
    x, s, c, b = (tf.constant(images), tf.constant(spread), tf.constant(classes), tf.constant(batch_size, tf.int32))
    total = tf.zeros(images.shape, tf.float64)
    for start in range(0, samples, group):
        total = run(x, tf.constant(draw(min(group, samples - start))), s, c, total, b)
    return total.numpy()


def _in_calls(images, batch_size, bytes_per_value, call):
    """``call(slice)`` over calls of whole batches of about :data:`CALL_BYTES`, results concatenated."""
    per_image = max(1, int(np.prod(images.shape[1:])) * bytes_per_value)
    size = max(batch_size, CALL_BYTES // per_image // batch_size * batch_size)
    return np.concatenate([call(slice(a, a + size)) for a in range(0, len(images), size)])


def _gradient(scorer, x, classes):
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = tf.reduce_sum(choose(scorer(x, training=False), classes))
    return tape.gradient(score, x)


def _over_batches(x, batch_size, body, dtype):
    """``concat(body(a, b))`` over the batches ``[a, b)`` of ``x``'s first axis, as a graph loop."""
    n = tf.shape(x)[0]
    count = (n + batch_size - 1) // batch_size

    def step(i, parts):
        start = i * batch_size
        return i + 1, parts.write(i, body(start, tf.minimum(start + batch_size, n)))

    _, parts = tf.while_loop(lambda i, _: i < count, step,
                             [tf.constant(0), tf.TensorArray(dtype, size=count, infer_shape=False)],
                             parallel_iterations=1)  # one batch's activations alive at a time, as batch_size promises
    return parts.concat()


def _runner(scorer, kind, image_shape):
    """The compiled function of ``kind`` for ``scorer`` and images of ``image_shape`` (cached, traced once)."""
    image = tf.TensorSpec((None, *image_shape), tf.float32)
    classes, size = tf.TensorSpec((None,), tf.int32), tf.TensorSpec((), tf.int32)

    def gradients(x, c, batch_size):
        return _over_batches(x, batch_size, lambda a, b: _gradient(scorer, x[a:b], c[a:b]), tf.float32)

    def path(x, baseline, alphas, c, batch_size):
        def batch(a, b):
            start = tf.cast(baseline[a:b], tf.float64)
            delta = tf.cast(x[a:b] - baseline[a:b], tf.float64)  # float32 difference, as NumPy takes it

            def point(k, total):
                inputs = tf.cast(start + alphas[k] * delta, tf.float32)
                return k + 1, total + tf.cast(_gradient(scorer, inputs, c[a:b]), tf.float64)

            return tf.while_loop(lambda k, _: k < tf.shape(alphas)[0], point,
                                 [tf.constant(0), tf.zeros_like(delta)], parallel_iterations=1)[1]
        return _over_batches(x, batch_size, batch, tf.float64)

    def noisy(x, noise, spread, c, total, batch_size):
        def batch(a, b):
            def sample(j, sums):
                inputs = x[a:b] + spread[a:b] * noise[j, a:b]
                return j + 1, sums + tf.cast(tf.abs(_gradient(scorer, inputs, c[a:b])), tf.float64)

            return tf.while_loop(lambda j, _: j < tf.shape(noise)[0], sample, [tf.constant(0), total[a:b]],
                                 parallel_iterations=1)[1]
        return _over_batches(x, batch_size, batch, tf.float64)

    signatures = {
        "gradients": (gradients, [image, classes, size]),
        "path": (path, [image, image, tf.TensorSpec((None,), tf.float64), classes, size]),
        "noisy": (noisy, [image, tf.TensorSpec((None, None, *image_shape), tf.float32),
                          tf.TensorSpec((None, 1, 1, 1), tf.float32), classes,
                          tf.TensorSpec((None, *image_shape), tf.float64), size]),
    }
    function, signature = signatures[kind]
    return compiled(scorer, ("gradient_loops", kind, tuple(image_shape)),
                    lambda: tf.function(function, input_signature=signature))
