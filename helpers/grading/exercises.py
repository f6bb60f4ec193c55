"""The exercises of chapters 01-05, and the practice check students run in the notebook.

Each exercise is one function a student writes in a chapter notebook, in a cell
that starts with ``# EXERCISE <name>``; the reference solution sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` (see :mod:`helpers.grading.assignments`).
This module holds only what a student may see: the task, the points, the names of the checks,
and :func:`check`, which tries a function on the *public examples* stored in
``helpers/grading/examples/`` (inputs and expected outputs, written by the instructor's
:mod:`helpers.grading.references.examples`). The grader's reference code and its fresh, secret
check inputs live in :mod:`helpers.grading.references`, which the student kit
(:mod:`helpers.grading.student_kit`) leaves out: passing the examples is a good sign, not a grade.
"""

import json
import pathlib
import types
from dataclasses import dataclass

import numpy as np

from helpers.grading.compare import close, finite

MARKER = "# EXERCISE"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
#: The public examples of the practice checks (one ``.npz``, ``.json`` and ``.keras`` files per exercise).
EXAMPLES = pathlib.Path(__file__).with_name("examples")


@dataclass(frozen=True)
class Exercise:
    """One exercise: where it lives, what the student writes, the names of its checks and its points."""

    chapter: str
    function: str
    todo: str
    checks: tuple = ()
    points: float = 2.0


#: The checks of every exercise by name (their inputs and verification: :mod:`helpers.grading.references`).
CHECK_NAMES = {
    "MOST_CONFIDENT_MISTAKES": ("a batch with mistakes", "fewer mistakes than n", "no mistakes"),
    "NORMALIZE_FEATURE_MAP": ("random map", "constant map", "clipping"),
    "RECEPTIVE_FIELD_SIZE": ("a four-block network", "a six-block network", "the first convolution"),
    "REGULARIZED_CLASS_ASCENT": ("a light regularizer", "a strong regularizer", "long steps"),
    "NEURON_ASCENT": ("a unit of conv2", "a unit of conv1", "long steps"),
    "SCORE_CAM": ("last convolution", "first convolution", "a silent channel"),
    "CHANNEL_MEANS": ("a middle convolution", "the first convolution", "a dense layer"),
    "GRAD_CAM_PLUS_PLUS": ("last convolution", "first convolution", "global average pool"),
}


EXERCISES = {
    "most_confident_mistakes": Exercise(
        "01", "most_confident_mistakes",
        "run the classifier on the images (its outputs are probabilities); the prediction is the most probable "
        "class and the confidence its probability; among the images whose prediction differs from the label, "
        "return the indices of the n most confident, the most confident first (fewer if there are fewer "
        "mistakes; an empty array if there are none).",
        CHECK_NAMES["MOST_CONFIDENT_MISTAKES"]),
    "normalize_feature_map": Exercise(
        "02", "normalize_feature_map",
        "a constant map (np.ptp(channel) == 0) becomes uniform 128; otherwise centre the map on its mean, divide "
        "by its standard deviation, multiply by 64, add 128, clip to [0, 255] and return uint8.",
        CHECK_NAMES["NORMALIZE_FEATURE_MAP"]),
    "receptive_field_size": Exercise(
        "03", "receptive_field_size",
        "return (rows, cols): the height and width of the input window that one unit of the layer's output "
        "depends on. Walk through model.layers from the input to the layer; convolutions (kernel_size, strides, "
        "dilation_rate) and pooling layers (pool_size, strides) change the window, padding does not change its "
        "size, pixel-wise layers (ReLU) leave it as it is.",
        CHECK_NAMES["RECEPTIVE_FIELD_SIZE"]),
    "regularized_class_ascent": Exercise(
        "04", "regularized_class_ascent",
        "the model ends in a Dense layer named 'scores' with a softmax; ascend the class's logit (the softmax's "
        "input: that layer's input times its kernel plus its bias), not its probability. Start from `start` "
        "(1, H, W, C); for each (dy, dx) in `shifts`, one step: objective = the logit of the image rolled by dy rows "
        "and dx columns (tf.roll) minus tv_weight * TV(x), where TV(x) is the mean absolute difference between "
        "vertical neighbours plus that between horizontal neighbours of the unrolled x; g = its gradient with respect "
        "to x; x = clip(x + step_size * g / ||g||, 0, 1) (no move where g is 0). Return x.",
        CHECK_NAMES["REGULARIZED_CLASS_ASCENT"]),
    "neuron_ascent": Exercise(
        "04", "neuron_ascent",
        "with a tf.GradientTape, repeat `steps` times: the gradient g of the unit's value "
        "(the layer's output [:, row, col, channel]) with respect to the image; x = x + step_size * g / ||g|| "
        "(no change where g is 0); clip x to [0, 1]. Start from `start`, shape (1, H, W, C); return x.",
        CHECK_NAMES["NEURON_ASCENT"]),
    "score_cam_map": Exercise(
        "05", "score_cam_map",
        "the layer's maps A (n, h, w, k) have the image's size; per image and channel, the mask is A scaled to "
        "[0, 1] by its own minimum and maximum (zeros where the map is flat); the channel's weight is the class's "
        "softmax probability for the image times the mask minus that probability for an all-black image; return "
        "relu(sum over channels of weight * A), shape (n, h, w).",
        CHECK_NAMES["SCORE_CAM"]),
    "channel_means": Exercise(
        "02", "channel_means",
        "build a keras.Model from model.inputs to the layer's output, run the images through it and "
        "average the activations over every axis but the last (images, and rows and columns if any); "
        "return a NumPy array of shape (channels,).",
        CHECK_NAMES["CHANNEL_MEANS"]),
    "grad_cam_plus_plus_map": Exercise(
        "05", "grad_cam_plus_plus_map",
        "with a tf.GradientTape take g, the gradient of scores[:, class_index] with respect to the layer's maps A; "
        "alpha = g**2 / (2 g**2 + (A summed over rows and columns) * g**3), 0 where that denominator is 0; one "
        "weight per channel: alpha * relu(g) summed over rows and columns; return relu(sum over channels of "
        "weight * A), shape (n, h, w), at the layer's grid (no resizing, no scaling).",
        CHECK_NAMES["GRAD_CAM_PLUS_PLUS"]),
}


def for_chapter(chapter):
    """Names of the exercises of chapter ``chapter`` (``"02"``)."""
    return [name for name, ex in EXERCISES.items() if ex.chapter == chapter]


def partial_score(points, passed, total):
    """``points`` in proportion to the checks passed, rounded to 0.01 and never above ``points``
    (0 when there were no checks to pass)."""
    return min(points, round(points * passed / total, 2)) if total else 0.0


def tally(name, outcomes, needs):
    """The record of exercise ``name`` from one ``(passed, message)`` per check, in the order of its checks.

    Args:
        name: an exercise of :data:`EXERCISES`.
        outcomes: ``[(bool, message or "")]``, one per check.
        needs: ``{check: the check it counts only with}`` (an edge case counts only with a working main case).

    Returns:
        dict with ``exercise``, ``passed``, ``total``, ``score`` (never above ``points``), ``points`` and
        ``messages`` (one line per failed check).
    """
    exercise = EXERCISES[name]
    ok = {what: bool(passed) for what, (passed, _) in zip(exercise.checks, outcomes)}
    messages = [message for _, message in outcomes if message]
    for what in exercise.checks:
        if needs.get(what) and ok.get(what) and not ok.get(needs[what]):
            ok[what] = False
            messages.append(f"{what}: counts only when the check '{needs[what]}' passes")
    passed, total = sum(ok.values()), len(exercise.checks)
    return {"exercise": name, "passed": passed, "total": total, "points": exercise.points,
            "score": partial_score(exercise.points, passed, total), "messages": list(dict.fromkeys(messages))}


def outcome(what, output, verify):
    """``(passed, message)`` of one check: ``output`` is the function's value or a string saying why there is
    none; ``verify(output)`` raises AssertionError with the reason when the value is wrong."""
    if isinstance(output, str):
        return False, f"{what}: {output}"
    try:
        finite(output, what)
        verify(output)
    except AssertionError as err:
        return False, str(err)
    except Exception as err:  # an output of the wrong kind is a failed check, reported with its type
        return False, f"{what}: your output could not be checked ({type(err).__name__}: {err})"
    return True, ""


def call_checks(function, inputs):
    """Call ``function`` on each tuple of ``inputs``: its outputs, or the error of each call as a string."""
    outputs = []
    for arguments in inputs:
        try:
            outputs.append(function(*arguments))
        except Exception as err:  # a student's bug is a failed check, reported with its type
            outputs.append(f"{type(err).__name__}: {err}")
    return outputs


def not_a_function(name, function):
    """Why ``function`` cannot be checked as exercise ``name``'s answer, or ""."""
    if function is None:
        return f"{EXERCISES[name].function} is not defined after the exercise cell ran (renamed or deleted?)"
    if not callable(function):
        return f"{EXERCISES[name].function} is not a function (got {type(function).__name__})"
    return ""


def argument_kind(argument):
    """How a check argument is stored and travels (into the sandbox, into the examples): ``array``, ``scalar``
    (numbers, strings) or ``model`` (a Keras model, as a ``.keras`` file)."""
    if isinstance(argument, np.ndarray):
        return "array"
    if hasattr(argument, "save") and hasattr(argument, "get_weights"):
        return "model"
    return "scalar"


def examples(name):
    """The public examples of exercise ``name``: ``(inputs, expected, meta)``; ``inputs`` one tuple per check
    (models loaded from their ``.keras`` files), ``expected`` one array per check, ``meta`` the stored
    tolerances, descriptions and ``needs``."""
    meta = json.loads((EXAMPLES / f"{name}.json").read_text())
    arrays = np.load(EXAMPLES / f"{name}.npz", allow_pickle=False)
    inputs = []
    for index, kinds in enumerate(meta["kinds"]):
        arguments = []
        for j, kind in enumerate(kinds):
            key = f"{name}__{index}__{j}"
            if kind == "model":
                import keras

                arguments.append(keras.saving.load_model(EXAMPLES / f"{key}.keras", compile=False, safe_mode=True))
            else:
                arguments.append(arrays[key].item() if kind == "scalar" else arrays[key])
        inputs.append(tuple(arguments))
    expected = [arrays[f"{name}__expected__{i}"] for i in range(len(meta["kinds"]))]
    return inputs, expected, meta


def _matches(expected, atol, what):
    def verify(output):
        value = np.asarray(output, dtype=np.float64)
        if value.shape != expected.shape and value.size == expected.size == 2:  # a (rows, cols) pair
            value = value.ravel()
        close(value, expected, atol, what)
    return verify


def practice(name, function):
    """Try ``function`` on the public examples of exercise ``name``; never raises.

    Returns:
        the record of :func:`tally` (scored as the grader scores, on the examples instead of fresh inputs).
    """
    inputs, expected, meta = examples(name)
    why = not_a_function(name, function)
    outputs = [why] * len(inputs) if why else call_checks(function, inputs)
    outcomes = [outcome(what, output, _matches(value, atol, description))
                for what, output, value, atol, description
                in zip(EXERCISES[name].checks, outputs, expected, meta["atol"], meta["what"])]
    return tally(name, outcomes, meta["needs"])


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
    """Check a solution in the notebook on the public examples: print the checks passed and what failed
    (returns None, so the cell shows only the printed lines; :func:`practice` returns the record). An
    answer that uses the course's own ``helpers`` is told that the grader will not have them, so this
    check cannot promise marks the grader then withholds."""
    result = practice(name, function)
    print(f"{name}: {result['passed']}/{result['total']} checks passed, {result['score']}/{result['points']} points")
    for line in result["messages"]:
        print("  -", line)
    used = course_names_used(function)
    if used:
        print(f"  - note: your answer uses the course's helpers ({', '.join(used)}); the grader runs it without them, "
              "so it will score 0 there: write it with NumPy, Keras and TensorFlow")
