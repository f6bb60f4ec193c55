"""The exercises of chapters 01-05 and their checks.

Each exercise is one function a student writes in a chapter notebook, in a cell
that starts with ``# EXERCISE <name>``; the reference solution sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` (see :mod:`helpers.assignments`).
Checks compare the student's function with hand-computed values and with the
course's own implementation, with tolerances rather than exact floats.

``check(name, function)`` prints a student's result in the notebook;
:mod:`helpers.grade` runs the same checks on a submission.
"""

from dataclasses import dataclass, field

import numpy as np

MARKER = "# EXERCISE"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


@dataclass(frozen=True)
class Exercise:
    """One exercise: where it lives, what the student writes, how it is checked."""

    chapter: str
    function: str
    todo: str
    checks: tuple = field(default_factory=tuple)
    points: float = 2.0


def _close(actual, expected, atol, what):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape}, expected {expected.shape}")
    worst = float(np.max(np.abs(actual - expected))) if actual.size else 0.0
    if not worst <= atol:
        raise AssertionError(f"{what}: off by up to {worst:.4g} (tolerance {atol:g})")


# -- 01: confusion matrix -------------------------------------------------------------
def _confusion_by_hand(f):
    _close(f(np.array([0, 1, 1, 2]), np.array([0, 2, 1, 2]), 3), [[1, 0, 0], [0, 1, 1], [0, 0, 1]], 0,
           "y_true [0,1,1,2], y_pred [0,2,1,2]")


def _confusion_random(f):
    from helpers.evaluation import confusion_matrix

    rng = np.random.default_rng(1)
    t, p = rng.integers(0, 10, 1000), rng.integers(0, 10, 1000)
    _close(f(t, p, 10), confusion_matrix(t, p, classes=10), 0, "1,000 random labels")


def _confusion_absent_classes(f):
    expected = np.zeros((5, 5))
    expected[0, 0] = expected[0, 2] = expected[2, 2] = 1
    _close(f(np.array([0, 0, 2]), np.array([0, 2, 2]), 5), expected, 0, "5 classes, only 0 and 2 present")


# -- 02: per-channel normalization of a feature map -------------------------------------
def _normalize_random(f):
    from helpers.featuremaps import normalize_channel

    channel = np.random.default_rng(2).gamma(1.0, 2.0, (13, 13))
    _close(f(channel), normalize_channel(channel), 1, "a 13x13 map (rounding may differ by 1)")


def _normalize_constant(f):
    out = np.asarray(f(np.zeros((5, 5))), dtype=np.float64)
    if np.isnan(out).any():
        raise AssertionError("an all-zero map gave NaN; a constant map must become uniform grey 128")
    _close(out, np.full((5, 5), 128), 1, "an all-zero map")


def _normalize_clips(f):
    channel = np.zeros((10, 10))
    channel[0, 0] = 1000.0
    out = np.asarray(f(channel), dtype=np.float64)
    if out.min() < 0 or out.max() > 255:
        raise AssertionError(f"values {out.min():.1f}..{out.max():.1f} leave the display range 0..255")
    _close(out[0, 0], 255, 1, "the single bright pixel")


# -- 03: closed-form optimum of a first-layer neuron ------------------------------------
def _optimum_by_hand(f):
    _close(f(np.array([[[3.0], [4.0]]]), 10.0), [[[6.0], [8.0]]], 1e-6, "kernel [3, 4], rho 10")


def _optimum_random(f):
    from helpers.filters import closed_form_optimum

    kernel = np.random.default_rng(3).normal(size=(3, 3, 1))
    _close(f(kernel, 2.5), closed_form_optimum(kernel, rho=2.5), 1e-6, "a random 3x3 kernel, rho 2.5")


def _optimum_beats_random_patches(f):
    rng = np.random.default_rng(4)
    kernel = rng.normal(size=(3, 3, 3))
    best = float(np.sum(kernel * np.asarray(f(kernel, 1.0))))
    patches = rng.normal(size=(500, 3, 3, 3))
    patches /= np.linalg.norm(patches.reshape(500, -1), axis=1)[:, None, None, None]
    if best < float(np.max(np.sum(patches * kernel, axis=(1, 2, 3)))) - 1e-9:
        raise AssertionError("a random patch of the same norm reaches a higher w . x")


# -- 04: total variation ----------------------------------------------------------------
def _tv_by_hand(f):
    image = np.array([[[0.0], [1.0]], [[0.0], [1.0]]])[None]
    _close(f(image), [1.0], 1e-6, "a 2x2 image with one vertical edge")


def _tv_constant(f):
    _close(f(np.full((3, 8, 8, 3), 0.7)), np.zeros(3), 1e-9, "constant images")


def _tv_random(f):
    from helpers.regularizers import total_variation

    images = np.random.default_rng(5).random((4, 12, 12, 3)).astype(np.float32)
    _close(f(images), np.asarray(total_variation(images)), 1e-5, "4 random 12x12 RGB images")


# -- 05: Grad-CAM channel weights ---------------------------------------------------------
def _weights_by_hand(f):
    gradients = np.zeros((1, 2, 2, 2))
    gradients[0, :, :, 0] = [[1, 2], [3, 6]]
    gradients[0, 0, 0, 1] = -4
    _close(f(gradients), [[3.0, -1.0]], 1e-9, "gradients [[1, 2], [3, 6]] and one -4")


def _weights_random(f):
    gradients = np.random.default_rng(6).normal(size=(3, 5, 5, 8))
    _close(f(gradients), gradients.mean(axis=(1, 2)), 1e-6, "3 random 5x5x8 gradient maps")


def _weights_give_grad_cam(f):
    rng = np.random.default_rng(7)
    features, gradients = rng.random((2, 4, 4, 3)), rng.normal(size=(2, 4, 4, 3))
    cam = np.maximum(np.einsum("nhwc,nc->nhw", features, np.asarray(f(gradients))), 0)
    expected = np.maximum(np.einsum("nhwc,nc->nhw", features, gradients.mean(axis=(1, 2))), 0)
    _close(cam, expected, 1e-6, "the Grad-CAM map built from your weights")


EXERCISES = {
    "confusion_counts": Exercise(
        "01", "confusion_counts",
        "count how often true class t was predicted as class p: cm[t, p]; shape (classes, classes), integers.",
        (_confusion_by_hand, _confusion_random, _confusion_absent_classes)),
    "normalize_feature_map": Exercise(
        "02", "normalize_feature_map",
        "centre the map on its mean, divide by its standard deviation (a constant map becomes uniform 128), "
        "multiply by 64, add 128, clip to [0, 255] and return uint8.",
        (_normalize_random, _normalize_constant, _normalize_clips)),
    "first_layer_optimum": Exercise(
        "03", "first_layer_optimum",
        "return the patch x with ||x|| = rho that maximizes w . x (Cauchy-Schwarz: along w).",
        (_optimum_by_hand, _optimum_random, _optimum_beats_random_patches)),
    "total_variation": Exercise(
        "04", "total_variation",
        "per image: the mean absolute difference between vertical neighbours plus the mean absolute "
        "difference between horizontal neighbours (over rows, columns and channels); shape (n,).",
        (_tv_by_hand, _tv_constant, _tv_random)),
    "grad_cam_weights": Exercise(
        "05", "grad_cam_weights",
        "average the gradients over the two spatial axes: (n, h, w, channels) -> (n, channels).",
        (_weights_by_hand, _weights_random, _weights_give_grad_cam)),
}


def for_chapter(chapter):
    """Names of the exercises of chapter ``chapter`` (``"02"``)."""
    return [name for name, ex in EXERCISES.items() if ex.chapter == chapter]


def run_checks(name, function):
    """Run every check of exercise ``name`` on ``function``; never raises.

    Returns:
        dict with ``exercise``, ``passed``, ``total``, ``score``, ``points`` and
        ``messages`` (one line per failed check).
    """
    exercise = EXERCISES[name]
    passed, messages = 0, []
    if function is None:
        messages.append(f"{exercise.function} is not defined after the exercise cell ran (renamed or deleted?)")
    elif not callable(function):
        messages.append(f"{exercise.function} is not a function (got {type(function).__name__})")
    else:
        for check in exercise.checks:
            try:
                check(function)
            except AssertionError as err:
                messages.append(str(err))
            except Exception as err:  # a student's bug is a failed check, reported with its type
                messages.append(f"{check.__name__.strip('_')}: {type(err).__name__}: {err}")
            else:
                passed += 1
    total = len(exercise.checks)
    return {"exercise": name, "passed": passed, "total": total, "points": exercise.points,
            "score": round(exercise.points * passed / total, 2), "messages": messages}


def check(name, function):
    """Check a solution in the notebook: print the checks passed and what failed (returns None,
    so the cell shows only the printed lines; :func:`run_checks` returns the record)."""
    result = run_checks(name, function)
    print(f"{name}: {result['passed']}/{result['total']} checks passed, {result['score']}/{result['points']} points")
    for line in result["messages"]:
        print("  -", line)
