"""What an attribution explains: pre-softmax scores picked by a target, and map normalization.

Shared by :mod:`helpers.attribution` and :mod:`helpers.cams`. ``target`` is a
class index, a list with one class per image, or a callable ``score(outputs) ->
(n,)``; ``None`` means the predicted class.
"""

import warnings

import keras
import numpy as np
import tensorflow as tf

from helpers.modelparts import (check_target, find_layer, get_layer, graph_input, layer_output, logit_model,
                               positive_int)


def score_model(model, head=None, extra_layer=None):
    """Copy of the model giving pre-softmax outputs (and optionally one inner layer's output).

    ``extra_layer`` is a name, ``outer/inner`` path, index or layer object of ``model``.
    """
    path = None if extra_layer is None else find_layer(model, extra_layer)
    logits, _ = logit_model(model, head)
    if path is None:
        return logits
    if "/" in path:  # inside a nested model: its tensors are not in the outer graph, so record them
        return _RecordingScorer(logits, path)
    return keras.Model(graph_input(logits), [layer_output(logits, path).output, logits.output])


class _RecordingScorer:
    """``(inner layer output, scores)`` of a score model whose layer sits inside a nested model.

    The layer of the (copied) model records its output on every call, so gradients
    with respect to it can be taken under a ``tf.GradientTape``.
    """

    def __init__(self, logits, path):
        self.model, self.outputs, self._seen = logits, logits.outputs, []
        layer = get_layer(logits, path)
        original = layer.call

        def recording_call(*args, **kwargs):
            result = original(*args, **kwargs)
            self._seen.append(result)
            return result

        layer.call = recording_call  # the copy's layer only

    def __call__(self, x, training=False):
        self._seen.clear()
        outputs = self.model(x, training=training)
        return self._seen[-1], outputs


def n_classes(scorer):
    """Number of classes of a score model (its last output axis)."""
    return int(scorer.outputs[-1].shape[-1])


def checked_target(scorer, target, n):
    """``target`` checked against the score model's classes and ``n`` images (see :func:`check_target`)."""
    return check_target(target, n_classes(scorer), n)


def pick_scores(outputs, target, n):
    """Scores ``(n,)`` picked from ``outputs`` by ``target`` (see the module docstring)."""
    if callable(target):
        scores = target(outputs)
        if tuple(np.shape(scores)) != (n,):
            raise ValueError(f"a target callable must return one score per image, shape ({n},); "
                             f"got shape {tuple(np.shape(scores))}")
        return scores
    if target is None:
        target = tf.argmax(outputs, axis=-1)
    else:
        target = check_target(target, int(outputs.shape[-1]), n)
    target = tf.broadcast_to(tf.cast(tf.convert_to_tensor(target), tf.int32), [n])
    return tf.gather(outputs, target, axis=1, batch_dims=1)


def normalize_maps(maps, method):
    """Scale each map to [0, 1]; warn about maps that are zero everywhere."""
    maps = np.asarray(maps, dtype=np.float64)
    peak = maps.reshape(len(maps), -1).max(axis=1)
    empty = ~(peak > 0)
    if empty.any():
        warnings.warn(f"{method}: {int(empty.sum())} image(s) got an all-zero map (zero gradients, or no positive "
                      "evidence for the target anywhere); their maps are zeros, not NaN", stacklevel=3)
    peak = np.where(empty, 1.0, peak)
    return (np.maximum(maps, 0) / peak[:, None, None]).astype(np.float32)


def batches(images, batch_size):
    """Slices of ``batch_size`` images covering the whole batch."""
    batch_size = positive_int(batch_size, "batch_size")
    for start in range(0, len(images), batch_size):
        yield slice(start, start + batch_size)


def targets_for(target, batch):
    """The part of a per-image ``target`` list that belongs to ``batch`` (others pass through)."""
    if target is None or callable(target) or np.ndim(target) == 0:
        return target
    return np.asarray(target)[batch]


def target_indices(target, outputs):
    """Class index per image: the predicted class for ``None``, else ``target`` broadcast to ``(n,)``."""
    outputs = np.asarray(outputs)
    if target is None:
        return outputs.argmax(axis=-1)
    target = check_target(target, outputs.shape[-1], len(outputs))
    return np.broadcast_to(target, (len(outputs),)).astype(np.int64)
