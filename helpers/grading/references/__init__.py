"""The grader's side of the exercises: check inputs drawn from a seed, and verification against the
grader's own reference code. Instructors only: the student kit (:mod:`helpers.grading.student_kit`)
leaves this package out, and the students' practice checks (:func:`helpers.grading.exercises.check`)
use stored public examples instead.

- :mod:`~helpers.grading.references.checks` -- what a check is (:class:`~.checks.Check`);
- the checks of each exercise: ``prediction_checks`` (01), ``normalize_checks`` and ``model_checks`` (02, 05),
  ``field_checks`` (03), ``ascent_checks`` (04), ``perturbation_checks`` (05);
- :mod:`~helpers.grading.references.examples` -- writes the public examples of the practice checks.
"""

import numpy as np

from helpers.grading.exercises import CHECK_NAMES, EXERCISES, call_checks, not_a_function, outcome, tally
from helpers.grading.references.ascent_checks import NEURON_ASCENT, REGULARIZED_CLASS_ASCENT
from helpers.grading.references.field_checks import RECEPTIVE_FIELD_SIZE
from helpers.grading.references.model_checks import CHANNEL_MEANS, GRAD_CAM_PLUS_PLUS
from helpers.grading.references.normalize_checks import NORMALIZE_FEATURE_MAP
from helpers.grading.references.perturbation_checks import SCORE_CAM
from helpers.grading.references.prediction_checks import MOST_CONFIDENT_MISTAKES

_GROUPS = {"MOST_CONFIDENT_MISTAKES": MOST_CONFIDENT_MISTAKES, "NORMALIZE_FEATURE_MAP": NORMALIZE_FEATURE_MAP,
           "RECEPTIVE_FIELD_SIZE": RECEPTIVE_FIELD_SIZE, "REGULARIZED_CLASS_ASCENT": REGULARIZED_CLASS_ASCENT,
           "NEURON_ASCENT": NEURON_ASCENT, "SCORE_CAM": SCORE_CAM, "CHANNEL_MEANS": CHANNEL_MEANS,
           "GRAD_CAM_PLUS_PLUS": GRAD_CAM_PLUS_PLUS}
#: The checks (:class:`~.checks.Check`) of every exercise, in the order of ``EXERCISES[name].checks``.
CHECKS = {name: next(_GROUPS[g] for g, names in CHECK_NAMES.items() if names == exercise.checks)
          for name, exercise in EXERCISES.items()}
for _name, _checks in CHECKS.items():
    if tuple(c.what for c in _checks) != EXERCISES[_name].checks:
        raise RuntimeError(f"exercise {_name}: its checks are not the ones helpers.grading.exercises names")


def check_inputs(name, seed=0):
    """The arguments of every check of exercise ``name``: one tuple per check.

    Every check draws its inputs from ``seed`` (the grader draws a fresh seed per
    submission, so answers cannot be looked up for known inputs)."""
    rng = np.random.default_rng(seed)
    return [check.inputs(rng) for check in CHECKS[name]]


def score_outputs(name, outputs, inputs):
    """Score exercise ``name`` from what the student's function returned.

    Args:
        name: an exercise of :data:`~helpers.grading.exercises.EXERCISES`.
        outputs: one entry per check: the function's return value, or a string saying
            why there is none (the function raised, or the cell never defined it).
        inputs: the arguments the function was called with (:func:`check_inputs`).

    Returns:
        the record of :func:`helpers.grading.exercises.tally`.
    """
    outcomes = [outcome(check.what, output, lambda out, c=check, a=arguments: c.verify(out, *a))
                for check, output, arguments in zip(CHECKS[name], outputs, inputs)]
    outcomes += [(False, "")] * (len(CHECKS[name]) - len(outcomes))
    return tally(name, outcomes, {c.what: c.needs for c in CHECKS[name] if c.needs})


def run_checks(name, function, seed=0):
    """Run every check of exercise ``name`` on ``function`` in this process, on the inputs of ``seed``;
    never raises.

    Returns:
        the record of :func:`score_outputs`.
    """
    inputs = check_inputs(name, seed)
    why = not_a_function(name, function)
    return score_outputs(name, [why] * len(inputs) if why else call_checks(function, inputs), inputs)
