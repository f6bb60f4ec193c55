"""Checks of chapter 04's exercises: gradient ascent on one unit, and regularized ascent on a class.

Both run a network the grader builds from the submission's seed (:func:`~helpers.grading.references.model_checks.check_cnn`)
from a start drawn from the seed, and are compared with the grader's own ascent, a
``tf.GradientTape`` loop written here. The class ascent works on a network that ends in a softmax:
the objective is the class's *logit*, the softmax's input, computed from the last layer's weights
(an ascent on the probability stalls where the softmax saturates, and goes elsewhere before); each
step rolls the image by the step's jitter shift before the network sees it and subtracts a
total-variation penalty of the unrolled image.
"""

import numpy as np

from helpers.grading.references.checks import Check, close, per_network
from helpers.grading.references.model_checks import CLASSES, _layer_output, check_cnn


@per_network
def ascent_by_tape(model, layer, channel, row, col, start, steps, step_size):
    """The grader's plain gradient ascent on the unit (``row``, ``col``, ``channel``) of ``layer``'s output:
    ``steps`` steps of L2 length ``step_size`` along the normalized gradient (none where the gradient is
    zero), the image clipped to [0, 1] after each."""
    import keras
    import tensorflow as tf

    probe = keras.Model(model.input, model.get_layer(layer).output)
    x = tf.Variable(np.asarray(start, np.float32))
    for _ in range(steps):
        with tf.GradientTape() as tape:
            value = probe(x, training=False)[:, row, col, channel]
        g = tape.gradient(value, x)
        x.assign(tf.clip_by_value(x + step_size * tf.math.divide_no_nan(g, tf.norm(g)), 0.0, 1.0))
    return np.asarray(x, np.float64)


def _ascent_inputs(layer, steps, step_size):
    """A network, a unit of ``layer`` that is on at the start, and a start whose ascent hits the [0, 1] box
    (so that a missing clip shows)."""
    def inputs(rng):
        for _ in range(100):
            model = check_cnn(rng)
            h, w, k = model.get_layer(layer).output.shape[1:]
            channel, row, col = int(rng.integers(k)), int(rng.integers(h)), int(rng.integers(w))
            start = rng.uniform(0.3, 0.7, (1, 12, 12, 1)).astype(np.float32)
            if _layer_output(model, layer, start)[0, row, col, channel] <= 0.05:
                continue
            end = ascent_by_tape(model, layer, channel, row, col, start, steps, step_size)
            if ((end == 0) | (end == 1)).any():
                return model, layer, channel, row, col, start, steps, step_size
        raise RuntimeError(f"no unit of {layer} on at the start in 100 draws")
    return inputs


def _verify_ascent(what):
    def verify(out, model, layer, channel, row, col, start, steps, step_size):
        close(out, ascent_by_tape(model, layer, channel, row, col, start, steps, step_size), 1e-3, what)
    return verify


NEURON_ASCENT = (
    Check("a unit of conv2", _ascent_inputs("conv2", 15, 1.0), _verify_ascent("15 steps on a conv2 unit")),
    Check("a unit of conv1", _ascent_inputs("conv1", 4, 0.6), _verify_ascent("4 steps of length 0.6 on a conv1 unit")),
    Check("long steps", _ascent_inputs("conv2", 20, 2.0), _verify_ascent("20 steps of length 2 on a conv2 unit")),
)


@per_network
def class_ascent_by_tape(model, class_index, start, shifts, tv_weight, step_size):
    """The grader's regularized class ascent: for each jitter shift ``(dy, dx)`` one step along the normalized
    gradient of ``logit(roll(x, shift)) - tv_weight * TV(x)`` (TV: mean absolute difference of vertical plus of
    horizontal neighbours), the image clipped to [0, 1] after each."""
    import keras
    import tensorflow as tf

    scores = model.get_layer("scores")
    features = keras.Model(model.input, scores.input)
    kernel, bias = (tf.constant(w) for w in scores.get_weights())
    x = tf.Variable(np.asarray(start, np.float32))
    for dy, dx in np.asarray(shifts, int):
        with tf.GradientTape() as tape:
            moved = tf.roll(x, [int(dy), int(dx)], axis=[1, 2])
            logit = tf.matmul(features(moved, training=False), kernel)[:, class_index] + bias[class_index]
            tv = tf.reduce_mean(tf.abs(x[:, 1:] - x[:, :-1])) + tf.reduce_mean(tf.abs(x[:, :, 1:] - x[:, :, :-1]))
            objective = tf.reduce_sum(logit) - tv_weight * tv
        g = tape.gradient(objective, x)
        x.assign(tf.clip_by_value(x + step_size * tf.math.divide_no_nan(g, tf.norm(g)), 0.0, 1.0))
    return np.asarray(x, np.float64)


def _class_inputs(steps, tv_weight, step_size):
    """A softmax network, a class, a start, ``steps`` jitter shifts of -1, 0 or 1 pixel (at least one non-zero
    per axis) and the regularizer's weight; redrawn until the ascent reaches the [0, 1] box."""
    def inputs(rng):
        for _ in range(100):
            model, class_index = check_cnn(rng, softmax=True), int(rng.integers(CLASSES))
            start = rng.uniform(0.3, 0.7, (1, 12, 12, 1)).astype(np.float32)
            shifts = rng.integers(-1, 2, (steps, 2))
            if not shifts.any(axis=0).all():
                continue
            end = class_ascent_by_tape(model, class_index, start, shifts, tv_weight, step_size)
            if ((end == 0) | (end == 1)).any():
                return model, class_index, start, shifts, tv_weight, step_size
        raise RuntimeError("no class ascent that reaches the [0, 1] box in 100 draws")
    return inputs


def _verify_class_ascent(what):
    def verify(out, model, class_index, start, shifts, tv_weight, step_size):
        close(out, class_ascent_by_tape(model, class_index, start, shifts, tv_weight, step_size), 1e-3, what)
    return verify


REGULARIZED_CLASS_ASCENT = (
    Check("a light regularizer", _class_inputs(12, 0.1, 1.0), _verify_class_ascent("12 jittered steps, TV weight 0.1")),
    Check("a strong regularizer", _class_inputs(10, 2.0, 0.5),
          _verify_class_ascent("10 jittered steps of length 0.5, TV weight 2")),
    Check("long steps", _class_inputs(20, 0.5, 2.0),
          _verify_class_ascent("20 jittered steps of length 2, TV weight 0.5")),
)
