"""What an exercise check is (its inputs drawn from the submission's seed, its verification against the
grader's reference); the comparisons live in :mod:`helpers.grading.compare`, which students have too."""

import functools
import weakref
from dataclasses import dataclass
from typing import Callable

import numpy as np

from helpers.grading.compare import close, finite  # noqa: F401 (the checks import them from here)


@dataclass(frozen=True)
class Check:
    """One check: ``inputs(rng)`` gives the arguments of the student's function and
    ``verify(output, *arguments)`` raises AssertionError (with the reason) when the
    function's output is wrong. The two halves are separate so that the grader can call
    the student's function in a sandbox and verify its output outside it.

    Every input is drawn from ``rng`` (the grader seeds it per submission), so no answer
    can be looked up. ``needs`` names the check of the main case that an edge case
    (a constant map, constant images) counts only with: a function that returns 128 for
    every map is not given the constant-map point."""

    what: str
    inputs: Callable
    verify: Callable
    needs: str = ""


def _key(argument):
    return (argument.shape, argument.dtype.str, argument.tobytes()) if isinstance(argument, np.ndarray) else argument


def per_network(reference):
    """Remember ``reference(model, *arguments)`` per network (weakly: forgotten with the network).

    Drawing a check's inputs computes the grader's reference to accept the draw (a map that is not
    zero, an ascent that reaches the [0, 1] box); verifying the student's output needs the same value
    for the same network and arguments. Arrays are compared by content, other arguments by value.
    The value is computed from the network as drawn, before the student's function sees it."""
    memo = weakref.WeakKeyDictionary()

    @functools.wraps(reference)
    def remembered(model, *arguments):
        values = memo.setdefault(model, {})
        key = tuple(_key(a) for a in arguments)
        if key not in values:
            values[key] = reference(model, *arguments)
        return values[key]
    return remembered
