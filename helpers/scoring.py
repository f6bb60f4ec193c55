"""What an attribution explains: pre-softmax scores picked by a target, and map normalization.

Shared by :mod:`helpers.attribution` and :mod:`helpers.cams`. ``target`` is a
class index, a list with one class per image, or a callable ``score(outputs) ->
(n,)``; ``None`` means the predicted class.
"""

import warnings

import keras
import numpy as np
import tensorflow as tf

from helpers.graph import flat_of
from helpers.modelparts import check_target, find_layer, logit_model, positive_int


def score_model(model, head=None, extra_layer=None, relu_backward=None):
    """Model on copied layers giving pre-softmax scores (and optionally one inner layer's output first).

    ``extra_layer`` is a name, ``outer/inner`` path, index or layer object of ``model``;
    with it the model returns ``[layer output, scores]``. The result is cached with the
    model's flat copy (:mod:`helpers.graph`), so asking again returns the same object and
    the compiled functions built on it are reused. ``relu_backward``: see :func:`helpers.graph.flatten`.
    """
    path = None if extra_layer is None else find_layer(model, extra_layer)
    scores, _ = logit_model(model, head, relu_backward=relu_backward)
    if path is None:
        return scores
    flat = flat_of(scores)
    key = ("scored", path, id(scores))
    found = flat._submodels.get(key)
    if found is None:
        found = flat.submodel([flat.output(path), scores.outputs[0]], key=key, cast=False)
        found.head_kind = scores.head_kind
    return found


def compiled(scorer, name, build):
    """A compiled function cached per score model and ``name``: ``build()`` runs once.

    The functions live with the flat copy the score model was cut from, which the
    cache holds weakly on the user's model: a deleted model (and its copy) is freed.
    """
    functions = flat_of(scorer).compiled.setdefault(id(scorer), {})
    if name not in functions:
        functions[name] = build()
    return functions[name]


def target_scores(scorer):
    """Compiled ``(x, classes) -> scores (n,)``: ``classes`` one index per image, -1 for the predicted class."""
    def build():
        @tf.function(reduce_retracing=True)
        def run(x, classes):
            return choose(scorer(x, training=False), classes)
        return run
    return compiled(scorer, "target_scores", build)


def choose(outputs, classes):
    """``outputs[i, classes[i]]`` with -1 meaning the predicted class (graph-friendly)."""
    outputs = tf.cast(outputs, tf.float32)
    chosen = tf.where(classes < 0, tf.argmax(outputs, axis=-1, output_type=tf.int32), classes)
    return tf.gather(outputs, chosen, axis=1, batch_dims=1)


def class_vector(target, n):
    """A per-image int32 class vector from a checked, non-callable ``target`` (-1 = predicted class)."""
    if target is None:
        return np.full(n, -1, np.int32)
    return np.broadcast_to(np.asarray(target), (n,)).astype(np.int32)


def probabilities(scorer, scores):
    """Class probabilities from pre-softmax ``scores``: softmax, or the sigmoid of multi-label heads."""
    if getattr(scorer, "head_kind", "softmax") == "sigmoid":
        return keras.ops.convert_to_numpy(keras.ops.sigmoid(scores))
    return keras.ops.convert_to_numpy(keras.ops.softmax(scores))


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
