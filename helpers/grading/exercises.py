"""The exercises of chapters 01-05 and their checks.

Each exercise is one function a student writes in a chapter notebook, in a cell
that starts with ``# EXERCISE <name>``; the reference solution sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` (see :mod:`helpers.grading.assignments`).
Checks compare the student's function with hand-computed values and with the
course's own implementation, with tolerances rather than exact floats.

``check(name, function)`` prints a student's result in the notebook;
:mod:`helpers.grading.grade` runs the same checks on a submission.
"""

from dataclasses import dataclass, field
from typing import Callable

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


@dataclass(frozen=True)
class Check:
    """One check: ``inputs(rng)`` gives the arguments of the student's function and
    ``verify(output, *arguments)`` raises AssertionError (with the reason) when the
    function's output is wrong. The two halves are separate so that the grader can call
    the student's function in a sandbox and verify its output outside it."""

    what: str
    inputs: Callable
    verify: Callable


# -- 01: confusion matrix -------------------------------------------------------------
def _cm_expected(t, p, classes):
    cm = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(t), np.asarray(p)), 1)
    return cm


def _verify_confusion(what):
    return lambda out, t, p, c: _close(out, _cm_expected(t, p, c), 0, what)


_CONFUSION = (
    Check("by hand", lambda rng: (np.array([0, 1, 1, 2]), np.array([0, 2, 1, 2]), 3),
          lambda out, *args: _close(out, [[1, 0, 0], [0, 1, 1], [0, 0, 1]], 0, "y_true [0,1,1,2], y_pred [0,2,1,2]")),
    Check("random labels", lambda rng: (rng.integers(0, 10, 1000), rng.integers(0, 10, 1000), 10),
          _verify_confusion("1,000 random labels")),
    Check("absent classes", lambda rng: (np.array([0, 0, 2]), np.array([0, 2, 2]), 5),
          _verify_confusion("5 classes, only 0 and 2 present")),
)


# -- 02: per-channel normalization of a feature map -------------------------------------
def _verify_normalize_random(out, channel):
    from helpers.featuremaps import normalize_channel

    _close(out, normalize_channel(channel), 1, "a 13x13 map (rounding may differ by 1)")


def _verify_normalize_constant(out, channel):
    if np.isnan(np.asarray(out, dtype=np.float64)).any():
        raise AssertionError("an all-zero map gave NaN; a constant map must become uniform grey 128")
    _close(out, np.full(channel.shape, 128), 1, "an all-zero map")


def _verify_normalize_clips(out, channel):
    out = np.asarray(out, dtype=np.float64)
    if out.shape != channel.shape:
        raise AssertionError(f"a 10x10 map with one bright pixel: shape {out.shape}, expected {channel.shape}")
    if out.min() < 0 or out.max() > 255:
        raise AssertionError(f"values {out.min():.1f}..{out.max():.1f} leave the display range 0..255")
    _close(out[0, 0], 255, 1, "the single bright pixel")


def _one_bright_pixel(rng):
    channel = np.zeros((10, 10))
    channel[0, 0] = 1000.0
    return (channel,)


_NORMALIZE = (
    Check("random map", lambda rng: (rng.gamma(1.0, 2.0, (13, 13)),), _verify_normalize_random),
    Check("constant map", lambda rng: (np.zeros((5, 5)),), _verify_normalize_constant),
    Check("clipping", _one_bright_pixel, _verify_normalize_clips),
)


# -- 03: closed-form optimum of a first-layer neuron ------------------------------------
def _verify_optimum_random(out, kernel, rho):
    from helpers.filters import closed_form_optimum

    _close(out, closed_form_optimum(kernel, rho=rho), 1e-6, f"a random 3x3 kernel, rho {rho:g}")


def _verify_optimum_beats_patches(out, kernel, rho):
    out = np.asarray(out, dtype=np.float64)
    if out.shape != kernel.shape:
        raise AssertionError(f"a random 3x3x3 kernel: shape {out.shape}, expected {kernel.shape}")
    if abs(float(np.linalg.norm(out)) - rho) > 1e-6:
        raise AssertionError(f"the patch has norm {np.linalg.norm(out):.4g}, not rho = {rho:g}")
    patches = np.random.default_rng(4).normal(size=(500,) + kernel.shape)
    patches *= rho / np.linalg.norm(patches.reshape(500, -1), axis=1)[:, None, None, None]
    if float(np.sum(kernel * out)) < float(np.max(np.sum(patches * kernel, axis=(1, 2, 3)))) - 1e-9:
        raise AssertionError("a random patch of the same norm reaches a higher w . x")


_OPTIMUM = (
    Check("by hand", lambda rng: (np.array([[[3.0], [4.0]]]), 10.0),
          lambda out, *args: _close(out, [[[6.0], [8.0]]], 1e-6, "kernel [3, 4], rho 10")),
    Check("random kernel", lambda rng: (rng.normal(size=(3, 3, 1)), 2.5), _verify_optimum_random),
    Check("beats random patches", lambda rng: (rng.normal(size=(3, 3, 3)), 1.0), _verify_optimum_beats_patches),
)


# -- 04: total variation ----------------------------------------------------------------
def _verify_tv_random(out, images):
    from helpers.regularizers import total_variation

    _close(out, np.asarray(total_variation(images)), 1e-5, "4 random 12x12 RGB images")


_TV = (
    Check("by hand", lambda rng: (np.array([[[0.0], [1.0]], [[0.0], [1.0]]])[None],),
          lambda out, image: _close(out, [1.0], 1e-6, "a 2x2 image with one vertical edge")),
    Check("constant images", lambda rng: (np.full((3, 8, 8, 3), 0.7),),
          lambda out, images: _close(out, np.zeros(3), 1e-9, "constant images")),
    Check("random images", lambda rng: (rng.random((4, 12, 12, 3)).astype(np.float32),), _verify_tv_random),
)


# -- 05: Grad-CAM channel weights ---------------------------------------------------------
def _gradients_by_hand(rng):
    gradients = np.zeros((1, 2, 2, 2))
    gradients[0, :, :, 0] = [[1, 2], [3, 6]]
    gradients[0, 0, 0, 1] = -4
    return (gradients,)


def _verify_weights_give_grad_cam(out, gradients):
    features = np.random.default_rng(7).random(gradients.shape)
    weights = np.asarray(out, dtype=np.float64)
    if weights.shape != gradients.shape[::3]:
        raise AssertionError(f"the weights of 2 4x4x3 gradient maps: shape {weights.shape}, expected {gradients.shape[::3]}")
    cam = np.maximum(np.einsum("nhwc,nc->nhw", features, weights), 0)
    expected = np.maximum(np.einsum("nhwc,nc->nhw", features, gradients.mean(axis=(1, 2))), 0)
    _close(cam, expected, 1e-6, "the Grad-CAM map built from your weights")


_WEIGHTS = (
    Check("by hand", _gradients_by_hand,
          lambda out, g: _close(out, [[3.0, -1.0]], 1e-9, "gradients [[1, 2], [3, 6]] and one -4")),
    Check("random gradients", lambda rng: (rng.normal(size=(3, 5, 5, 8)),),
          lambda out, g: _close(out, g.mean(axis=(1, 2)), 1e-6, "3 random 5x5x8 gradient maps")),
    Check("gives Grad-CAM", lambda rng: (rng.normal(size=(2, 4, 4, 3)),), _verify_weights_give_grad_cam),
)


EXERCISES = {
    "confusion_counts": Exercise(
        "01", "confusion_counts",
        "count how often true class t was predicted as class p: cm[t, p]; shape (classes, classes), integers.",
        _CONFUSION),
    "normalize_feature_map": Exercise(
        "02", "normalize_feature_map",
        "centre the map on its mean, divide by its standard deviation (a constant map becomes uniform 128), "
        "multiply by 64, add 128, clip to [0, 255] and return uint8.",
        _NORMALIZE),
    "first_layer_optimum": Exercise(
        "03", "first_layer_optimum",
        "return the patch x with ||x|| = rho that maximizes w . x (Cauchy-Schwarz: along w).",
        _OPTIMUM),
    "total_variation": Exercise(
        "04", "total_variation",
        "per image: the mean absolute difference between vertical neighbours plus the mean absolute "
        "difference between horizontal neighbours (over rows, columns and channels); shape (n,).",
        _TV),
    "grad_cam_weights": Exercise(
        "05", "grad_cam_weights",
        "average the gradients over the two spatial axes: (n, h, w, channels) -> (n, channels).",
        _WEIGHTS),
}


def for_chapter(chapter):
    """Names of the exercises of chapter ``chapter`` (``"02"``)."""
    return [name for name, ex in EXERCISES.items() if ex.chapter == chapter]


def partial_score(points, passed, total):
    """``points`` in proportion to the checks passed, rounded to 0.01 and never above ``points``
    (0 when there were no checks to pass)."""
    return min(points, round(points * passed / total, 2)) if total else 0.0


def check_inputs(name, seed=0):
    """The arguments of every check of exercise ``name``: one tuple per check.

    The by-hand checks are fixed; the random ones draw from ``seed`` (the grader draws a
    fresh seed per submission, so answers cannot be looked up for known inputs)."""
    rng = np.random.default_rng(seed)
    return [check.inputs(rng) for check in EXERCISES[name].checks]


def score_outputs(name, outputs, inputs):
    """Score exercise ``name`` from what the student's function returned.

    Args:
        name: an exercise of :data:`EXERCISES`.
        outputs: one entry per check: the function's return value, or a string saying
            why there is none (the function raised, or the cell never defined it).
        inputs: the arguments the function was called with (:func:`check_inputs`).

    Returns:
        dict with ``exercise``, ``passed``, ``total``, ``score`` (never above ``points``),
        ``points`` and ``messages`` (one line per failed check).
    """
    exercise = EXERCISES[name]
    passed, messages = 0, []
    for check, output, arguments in zip(exercise.checks, outputs, inputs):
        if isinstance(output, str):
            messages.append(f"{check.what}: {output}")
            continue
        try:
            check.verify(output, *arguments)
        except AssertionError as err:
            messages.append(str(err))
        except Exception as err:  # an output of the wrong kind is a failed check, reported with its type
            messages.append(f"{check.what}: your output could not be checked ({type(err).__name__}: {err})")
        else:
            passed += 1
    total = len(exercise.checks)
    score = partial_score(exercise.points, passed, total)
    return {"exercise": name, "passed": passed, "total": total, "points": exercise.points,
            "score": score, "messages": list(dict.fromkeys(messages))}


def call_checks(function, inputs):
    """Call ``function`` on each tuple of ``inputs``: its outputs, or the error of each call as a string."""
    outputs = []
    for arguments in inputs:
        try:
            outputs.append(function(*arguments))
        except Exception as err:  # a student's bug is a failed check, reported with its type
            outputs.append(f"{type(err).__name__}: {err}")
    return outputs


def run_checks(name, function, seed=0):
    """Run every check of exercise ``name`` on ``function`` in this process; never raises.

    Returns:
        the record of :func:`score_outputs`.
    """
    exercise = EXERCISES[name]
    inputs = check_inputs(name, seed)
    if function is None:
        why = f"{exercise.function} is not defined after the exercise cell ran (renamed or deleted?)"
        outputs = [why] * len(inputs)
    elif not callable(function):
        outputs = [f"{exercise.function} is not a function (got {type(function).__name__})"] * len(inputs)
    else:
        outputs = call_checks(function, inputs)
    return score_outputs(name, outputs, inputs)


def check(name, function):
    """Check a solution in the notebook: print the checks passed and what failed (returns None,
    so the cell shows only the printed lines; :func:`run_checks` returns the record)."""
    result = run_checks(name, function)
    print(f"{name}: {result['passed']}/{result['total']} checks passed, {result['score']}/{result['points']} points")
    for line in result["messages"]:
        print("  -", line)
