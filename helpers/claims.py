"""Checked claims: a sentence of the course's prose that is tested every time the chapter runs.

A chapter states a result right after the cell that computes its evidence::

    claim("The network classifies {accuracy:.2%} of the test digits correctly, at least 99 %.",
          accuracy >= 0.99, accuracy=accuracy)

The sentence is written from the numbers (``str.format`` with the keyword arguments), so it
cannot drift from them, and it is printed with a check mark. When the condition is false,
:class:`ClaimFailed` is raised: the cell fails, so ``make render`` reports the chapter as
FAILED with the cell and the sentence with its numbers, and nbval fails in ``make test``.
A claim about a trained network states a margin (``>= 0.99``, "at least 40 of 64"), never an
exact digit, so it holds for weights trained on any CPU type.

Claims are statements about the chapter's default parameters and real data. A run with the
quick profile, or on test fixtures, calls ``check_claims(False, reason)`` first: its claims are
then printed as *not checked* with the reason, and never fail (nor count as checked).

A chapter names its defaults once, ``check_claims(not quick, reason, defaults={"image_index": 227})``,
and the claims compare them with the notebook's variables of those names. When a reader or a
render changed one (``papermill -p image_index 321``, or an edited parameters cell), a claim
that does not hold is a *finding* of that run, printed ``✘ does not hold for image_index=321:
...``, counted (:func:`count_findings`), and not an error: the course's sentences are about its
defaults, and a sweep (:mod:`helpers.course.sweep`) tabulates where else they hold.

When the environment variable ``COURSE_CLAIMS_LOG`` names a file, every claim also appends one
JSON line there (its sentence template, its text, ``held`` / ``finding`` / ``unchecked`` and the
changed parameters): the render reads it for its summary and the sweep for its table.
"""

import json
import math
import numbers as _numbers
import os
import sys

import numpy as np

#: Printed before every claim that held; :func:`count_checked` counts it in executed notebooks.
MARK = "\u2714 checked:"
#: Printed before a claim of a run that does not check claims (quick profile, test fixtures).
UNCHECKED = "\u2013 not checked:"
#: Printed before a claim that does not hold under parameters changed from the defaults.
FINDING = "\u2718 does not hold for"
#: File (environment variable) that receives one JSON line per claim, when set.
LOG_VARIABLE = "COURSE_CLAIMS_LOG"
_state = {"reason": None, "changed": {}}


def _differs(value, default):
    try:
        return bool(value != default)
    except (TypeError, ValueError):  # arrays and other values without one truth value
        return repr(value) != repr(default)


def changed_parameters(defaults, namespace):
    """The parameters of ``defaults`` whose value in ``namespace`` differs, in order.

    Args:
        defaults: ``{name: default value}`` as the chapter's parameters cell sets them.
        namespace: the notebook's variables (``globals()`` of the calling cell).

    Returns:
        ``{name: value}`` of the changed ones (empty at the defaults).

    Raises:
        NameError: a name of ``defaults`` is not a variable of the notebook.
    """
    missing = [name for name in defaults if name not in namespace]
    if missing:
        raise NameError(f"defaults names {missing}, which the notebook does not define; "
                        "pass the names of the parameters cell")
    return {name: namespace[name] for name, default in defaults.items() if _differs(namespace[name], default)}


def check_claims(enabled=True, reason="", defaults=None):
    """Check the claims that follow (default), or print them unchecked with ``reason``.

    Args:
        enabled: False for a run the claims are not about (``quick``, test fixtures).
        reason: why, printed after every unchecked claim; required when ``enabled`` is False.
        defaults: ``{name: default}`` of the chapter's parameters the claims are about; the
            values are read from the calling notebook's variables of those names. When one
            differs, a claim that does not hold is printed as a finding instead of failing.

    Returns:
        The changed parameters (``{}`` at the defaults).
    """
    if not enabled and not reason:
        raise ValueError("say why the claims are not checked (reason='...')")
    if defaults is not None and not isinstance(defaults, dict):
        raise TypeError(f"defaults must be a dict name -> default value, got {type(defaults).__name__}")
    changed = changed_parameters(defaults or {}, sys._getframe(1).f_globals)
    _state["reason"] = None if enabled else reason
    _state["changed"] = changed
    if changed and enabled:
        listed = ", ".join(f"{name}={value!r} (default {defaults[name]!r})" for name, value in changed.items())
        print(f"This run changes {listed}. The sentences below are about the defaults: one that does not "
              f"hold here is printed as a finding ({FINDING} ...), not an error.")
    return dict(changed)


def _log(template, text, status):
    path = os.environ.get(LOG_VARIABLE)
    if not path:
        return
    record = {"template": template, "text": text, "status": status,
              "changed": {k: repr(v) for k, v in _state["changed"].items()}}
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")


class Sentence(str):
    """The text of a claim, as :func:`claim` returns it: a plain ``str`` that a notebook does not echo
    as the cell's result (the sentence is already printed once, with its mark)."""

    def _ipython_display_(self):
        """Display nothing: IPython calls this instead of showing the repr of the cell's last value."""


class ClaimFailed(AssertionError):
    """A sentence of the chapter is false for the numbers just computed."""


def _plain(value):
    """Python scalars for NumPy scalars (so that format specs and messages read the same)."""
    return value.item() if isinstance(value, np.generic) else value


def _shown(value):
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def claim(sentence, holds, **numbers):
    """Check ``holds`` and print ``sentence`` written from ``numbers``; raise when it is false.

    Args:
        sentence: the claim as it should read, with ``{name:format}`` fields for the numbers
            it quotes (``"{accuracy:.2%}"``); every field must be given in ``numbers``.
        holds: the condition that makes the sentence true: a Python or NumPy bool (an
            array is refused: reduce it with ``.all()`` or ``.any()`` to say which you mean).
        **numbers: the values the sentence quotes and the condition was computed from;
            a NaN among them fails the claim whatever ``holds`` says.

    Returns:
        The sentence as printed (without the mark), a :class:`Sentence`: a ``str`` that a
        notebook does not echo a second time when ``claim(...)`` ends a cell.

    Raises:
        ClaimFailed: the condition is false or a number is NaN; the message gives the
            sentence and the numbers (the render adds the chapter and the cell).
        TypeError: ``holds`` is not a single bool.
        KeyError: the sentence names a number that was not passed.
    """
    if isinstance(holds, np.ndarray) or not isinstance(holds, (bool, np.bool_)):
        raise TypeError(f"claim condition must be one bool, got {type(holds).__name__}"
                        f"{' of shape ' + str(holds.shape) if isinstance(holds, np.ndarray) else ''}; "
                        "reduce an array with .all() or .any()")
    values = {name: _plain(value) for name, value in numbers.items()}
    try:
        text = sentence.format(**values)
    except KeyError as err:
        raise KeyError(f"the claim names {err} but only {sorted(values) or 'no numbers'} were passed") from None
    if _state["reason"] is not None:
        print(f"{UNCHECKED} {text} [{_state['reason']}]")
        _log(sentence, text, "unchecked")
        return Sentence(text)
    nan = [name for name, v in values.items()
           if isinstance(v, _numbers.Real) and not isinstance(v, bool) and math.isnan(v)]
    if (not holds or nan) and _state["changed"]:
        where = ", ".join(f"{name}={value!r}" for name, value in _state["changed"].items())
        print(f"{FINDING} {where}: {text}" + (f" (NaN: {', '.join(nan)})" if nan else ""))
        _log(sentence, text, "finding")
        return Sentence(text)
    if not holds or nan:
        listed = ", ".join(f"{name}={_shown(v)}" for name, v in values.items()) or "no numbers"
        raise ClaimFailed(f"false claim: {text!r} does not hold for {listed}"
                          + (f" (NaN: {', '.join(nan)})" if nan else ""))
    print(f"{MARK} {text}")
    _log(sentence, text, "held")
    return Sentence(text)


def _count_lines(nb, prefix):
    total = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                total += sum(line.startswith(prefix) for line in output.get("text", "").splitlines())
    return total


def count_checked(nb):
    """Number of claims that held in executed notebook ``nb`` (an ``nbformat`` node)."""
    return _count_lines(nb, MARK)


def count_findings(nb):
    """Number of claims of executed notebook ``nb`` that did not hold under changed parameters."""
    return _count_lines(nb, FINDING)
