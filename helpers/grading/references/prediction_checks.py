"""Checks of chapter 01's exercise that runs a classifier: its most confident mistakes.

The student's function gets a softmax classifier, images, their labels and ``n``; it returns the
indices of the misclassified images, the most confident first (confidence: the probability of the
predicted class). Every check network and every label comes from the submission's seed: a third to
a half of the labels are changed to a class the network does not predict, so which images are
mistakes is known only after running the network. The reference is NumPy on the network's output.
"""

import numpy as np

from helpers.grading.references.checks import Check, close
from helpers.grading.references.model_checks import CLASSES, _images, check_cnn

#: Smallest gap between two confidences (and between the two highest probabilities of an image) in a
#: drawn check, so that float32 noise between ``model(x)`` and ``model.predict(x)`` cannot swap two places.
GAP = 1e-4


def probabilities(model, images):
    """The classifier's class probabilities, float64, ``(n, classes)``."""
    return np.asarray(model(images, training=False), np.float64)


def confident_mistakes(model, images, labels, n):
    """The grader's answer: indices of the misclassified images, the most confident first, at most ``n``."""
    p = probabilities(model, images)
    wrong = np.flatnonzero(p.argmax(axis=1) != np.asarray(labels))
    return wrong[np.argsort(-p.max(axis=1)[wrong], kind="stable")][:n]


def _separated(values):
    ordered = np.sort(values)
    return ordered.size < 2 or np.diff(ordered).min() >= GAP


def _mistake_inputs(count, mistakes, n):
    """``count`` images of which ``mistakes`` (an int, or None for a third to a half) are labelled wrong."""
    def inputs(rng):
        for _ in range(100):
            model, images = check_cnn(rng, softmax=True), _images(rng, count)
            p = probabilities(model, images)
            top2 = np.sort(p, axis=1)[:, -2:]
            if not (_separated(p.max(axis=1)) and (top2[:, 1] - top2[:, 0] >= GAP).all()):
                continue
            predicted = p.argmax(axis=1)
            k = int(rng.integers(count // 3, count // 2 + 1)) if mistakes is None else mistakes
            labels = predicted.copy()
            flipped = rng.choice(count, k, replace=False)
            labels[flipped] = (predicted[flipped] + rng.integers(1, CLASSES, k)) % CLASSES
            return model, images, labels.astype(np.int64), int(n if n else rng.integers(4, 8))
        raise RuntimeError("no check classifier with well separated probabilities in 100 draws")
    return inputs


def _verify(what):
    def verify(out, model, images, labels, n):
        close(out, confident_mistakes(model, images, labels, n), 0, what)
    return verify


MOST_CONFIDENT_MISTAKES = (
    Check("a batch with mistakes", _mistake_inputs(40, None, 0), _verify("40 images, a third to a half mislabelled")),
    Check("fewer mistakes than n", _mistake_inputs(30, 3, 6), _verify("3 mistakes among 30 images, n = 6"),
          needs="a batch with mistakes"),
    Check("no mistakes", _mistake_inputs(20, 0, 5), _verify("20 images, all classified right (an empty array)"),
          needs="a batch with mistakes"),
)
