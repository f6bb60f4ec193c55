"""The exercises of chapters 01-05 and their checks.

Each exercise is one function a student writes in a chapter notebook, in a cell
that starts with ``# EXERCISE <name>``; the reference solution sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` (see :mod:`helpers.grading.assignments`).
Checks compare what the student's function returns with the grader's own values
(computed in the ``*_checks`` modules; the normalization's reference is the course's
``featuremaps.normalize_channel``), with tolerances rather than exact floats.

``check(name, function)`` prints a student's result in the notebook;
:mod:`helpers.grading.grade` runs the same checks on a submission.
"""

import types
from dataclasses import dataclass, field

import numpy as np

from helpers.grading.ascent_checks import NEURON_ASCENT, REGULARIZED_CLASS_ASCENT
from helpers.grading.checks import Check, close, finite
from helpers.grading.field_checks import RECEPTIVE_FIELD_SIZE
from helpers.grading.model_checks import CHANNEL_MEANS, GRAD_CAM_PLUS_PLUS
from helpers.grading.perturbation_checks import SCORE_CAM
from helpers.grading.prediction_checks import MOST_CONFIDENT_MISTAKES

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


# -- 02: per-channel normalization of a feature map -------------------------------------
def _verify_normalize(what):
    def verify(out, channel):
        from helpers.featuremaps import normalize_channel

        close(out, normalize_channel(channel), 1, what)
    return verify


def _constant_map(rng):
    shape = tuple(int(v) for v in rng.integers(4, 10, 2))
    return (np.full(shape, float(rng.normal(0, 10))),)


def _one_bright_pixel(rng):
    channel = rng.random((10, 10)) * 0.1
    channel[tuple(rng.integers(0, 10, 2))] = rng.uniform(500, 2000)
    return (channel,)


_NORMALIZE = (
    Check("random map", lambda rng: (rng.gamma(1.0, 2.0, (13, 13)),),
          _verify_normalize("a 13x13 map (rounding may differ by 1)")),
    Check("constant map", _constant_map, _verify_normalize("a constant map (it must become uniform grey 128)"),
          needs="random map"),
    Check("clipping", _one_bright_pixel, _verify_normalize("a 10x10 map with one very bright pixel (clipped)")),
)


EXERCISES = {
    "most_confident_mistakes": Exercise(
        "01", "most_confident_mistakes",
        "run the classifier on the images (its outputs are probabilities); the prediction is the most probable "
        "class and the confidence its probability; among the images whose prediction differs from the label, "
        "return the indices of the n most confident, the most confident first (fewer if there are fewer "
        "mistakes; an empty array if there are none).",
        MOST_CONFIDENT_MISTAKES),
    "normalize_feature_map": Exercise(
        "02", "normalize_feature_map",
        "a constant map (np.ptp(channel) == 0) becomes uniform 128; otherwise centre the map on its mean, divide "
        "by its standard deviation, multiply by 64, add 128, clip to [0, 255] and return uint8.",
        _NORMALIZE),
    "receptive_field_size": Exercise(
        "03", "receptive_field_size",
        "return (rows, cols): the height and width of the input window that one unit of the layer's output "
        "depends on. Walk through model.layers from the input to the layer; convolutions (kernel_size, strides, "
        "dilation_rate) and pooling layers (pool_size, strides) change the window, padding does not change its "
        "size, pixel-wise layers (ReLU) leave it as it is.",
        RECEPTIVE_FIELD_SIZE),
    "regularized_class_ascent": Exercise(
        "04", "regularized_class_ascent",
        "the model ends in a Dense layer named 'scores' with a softmax; ascend the class's logit (the softmax's "
        "input: that layer's input times its kernel plus its bias), not its probability. Start from `start` "
        "(1, H, W, C); for each (dy, dx) in `shifts`, one step: objective = the logit of the image rolled by dy rows "
        "and dx columns (tf.roll) minus tv_weight * TV(x), where TV(x) is the mean absolute difference between "
        "vertical neighbours plus that between horizontal neighbours of the unrolled x; g = its gradient with respect "
        "to x; x = clip(x + step_size * g / ||g||, 0, 1) (no move where g is 0). Return x.",
        REGULARIZED_CLASS_ASCENT),
    "neuron_ascent": Exercise(
        "04", "neuron_ascent",
        "with a tf.GradientTape, repeat `steps` times: the gradient g of the unit's value "
        "(the layer's output [:, row, col, channel]) with respect to the image; x = x + step_size * g / ||g|| "
        "(no change where g is 0); clip x to [0, 1]. Start from `start`, shape (1, H, W, C); return x.",
        NEURON_ASCENT),
    "score_cam_map": Exercise(
        "05", "score_cam_map",
        "the layer's maps A (n, h, w, k) have the image's size; per image and channel, the mask is A scaled to "
        "[0, 1] by its own minimum and maximum (zeros where the map is flat); the channel's weight is the class's "
        "softmax probability for the image times the mask minus that probability for an all-black image; return "
        "relu(sum over channels of weight * A), shape (n, h, w).",
        SCORE_CAM),
    "channel_means": Exercise(
        "02", "channel_means",
        "build a keras.Model from model.inputs to the layer's output, run the images through it and "
        "average the activations over every axis but the last (images, and rows and columns if any); "
        "return a NumPy array of shape (channels,).",
        CHANNEL_MEANS),
    "grad_cam_plus_plus_map": Exercise(
        "05", "grad_cam_plus_plus_map",
        "with a tf.GradientTape take g, the gradient of scores[:, class_index] with respect to the layer's maps A; "
        "alpha = g**2 / (2 g**2 + (A summed over rows and columns) * g**3), 0 where that denominator is 0; one "
        "weight per channel: alpha * relu(g) summed over rows and columns; return relu(sum over channels of "
        "weight * A), shape (n, h, w), at the layer's grid (no resizing, no scaling).",
        GRAD_CAM_PLUS_PLUS),
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

    Every check draws its inputs from ``seed`` (the grader draws a fresh seed per
    submission, so answers cannot be looked up for known inputs)."""
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
    ok, messages = {}, []
    for check, output, arguments in zip(exercise.checks, outputs, inputs):
        ok[check.what] = False
        if isinstance(output, str):
            messages.append(f"{check.what}: {output}")
            continue
        try:
            finite(output, check.what)
            check.verify(output, *arguments)
        except AssertionError as err:
            messages.append(str(err))
        except Exception as err:  # an output of the wrong kind is a failed check, reported with its type
            messages.append(f"{check.what}: your output could not be checked ({type(err).__name__}: {err})")
        else:
            ok[check.what] = True
    for check in exercise.checks:  # an edge case counts only with a working main case
        if check.needs and ok.get(check.what) and not ok.get(check.needs):
            ok[check.what] = False
            messages.append(f"{check.what}: counts only when the check '{check.needs}' passes")
    passed = sum(ok.values())
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


def course_names_used(function):
    """Names ``function`` reads from its module or its closure that belong to the course's ``helpers``
    package (modules, functions, classes): the grader runs the answer without that package."""
    code = getattr(function, "__code__", None)
    if code is None:
        return []
    names, stack = set(), [code]
    while stack:  # the function's own names and those of the functions and lambdas defined inside it
        current = stack.pop()
        names.update(current.co_names)
        stack += [c for c in current.co_consts if hasattr(c, "co_names")]
    visible = dict(getattr(function, "__globals__", {}))
    for name, cell in zip(code.co_freevars, getattr(function, "__closure__", None) or ()):
        names.add(name)
        try:
            visible[name] = cell.cell_contents
        except ValueError:  # a closure variable not assigned yet
            continue
    used = []
    for name in sorted(names):
        value = visible.get(name)
        origin = getattr(value, "__name__", "") if isinstance(value, types.ModuleType) else getattr(value, "__module__", "")
        if isinstance(origin, str) and origin.split(".")[0] == "helpers":
            used.append(name)
    return used


def check(name, function):
    """Check a solution in the notebook: print the checks passed and what failed (returns None,
    so the cell shows only the printed lines; :func:`run_checks` returns the record). An answer that
    uses the course's own ``helpers`` is told that the grader will not have them, so this check cannot
    promise marks the grader then withholds."""
    result = run_checks(name, function)
    print(f"{name}: {result['passed']}/{result['total']} checks passed, {result['score']}/{result['points']} points")
    for line in result["messages"]:
        print("  -", line)
    used = course_names_used(function)
    if used:
        print(f"  - note: your answer uses the course's helpers ({', '.join(used)}); the grader runs it without them, "
              "so it will score 0 there: write it with NumPy, Keras and TensorFlow")
