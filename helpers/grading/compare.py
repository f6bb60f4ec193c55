"""The comparisons of the exercise checks, shared by the students' practice checks and the grader.

Nothing here knows an answer: :func:`close` compares an output with an expected value it is given.
While :func:`recording` is active, every comparison also notes the expected value and tolerance it
was given; the instructor's example writer (:mod:`helpers.grading.references.examples`) uses that to
store the public examples of the practice checks.
"""

import contextlib

import numpy as np

_recorded = []
_recording = [False]


@contextlib.contextmanager
def recording():
    """Collect ``(expected, atol, what)`` of every :func:`close` call made inside the ``with`` block."""
    _recorded.clear()
    _recording[0] = True
    try:
        yield _recorded
    finally:
        _recording[0] = False


def close(actual, expected, atol, what):
    """Raise AssertionError (saying ``what`` and by how much) unless ``actual`` has ``expected``'s shape and
    lies within ``atol`` of it everywhere (NaN never does)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if _recording[0]:
        _recorded.append((expected.copy(), float(atol), what))
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape}, expected {expected.shape}")
    worst = float(np.max(np.abs(actual - expected))) if actual.size else 0.0
    if not worst <= atol:
        raise AssertionError(f"{what}: off by up to {worst:.4g} (tolerance {atol:g})")


def finite(output, what):
    """Refuse NaN or infinite outputs before any comparison (a NaN passes ``a >= b`` tests)."""
    try:
        values = np.asarray(output, dtype=np.float64)
    except (TypeError, ValueError):
        return  # not numbers: the check's own comparison reports it
    if not np.isfinite(values).all():
        raise AssertionError(f"{what}: your output contains {int((~np.isfinite(values)).sum())} NaN or infinite values")
