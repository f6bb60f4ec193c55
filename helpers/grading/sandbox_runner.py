"""Inside the sandbox: run a submission's exercise cells and call its functions on the check inputs.

This script is copied into the sandbox directory and run there by :mod:`helpers.grading.grade`
(``python -I runner.py``); it imports only the standard library and NumPy, and Keras when an
exercise takes a model (saved by the grader as ``<key>.keras`` and loaded here with Keras's safe
mode). It reads ``job.json`` (cells, function names, time limit) and ``inputs.npz``, executes the cells
in order in one namespace, calls each exercise's function on the inputs of each of its
checks and saves every return value as ``out_<exercise>_<check>.npy``. What happened
goes to ``results.json`` after every step. Nothing here decides a score: the grader
verifies the saved outputs outside the sandbox, so replacing anything in this
process gains nothing.
"""

import json
import signal
import sys

import numpy as np


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so that ``except Exception`` in a submission lets it through."""


def _alarm(signum, frame):
    raise _Timeout()


def _limited(seconds, action):
    """``(value, None)`` or ``(None, message)`` for ``action()`` run under a time limit."""
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return action(), None
    except _Timeout:
        return None, f"did not finish within {seconds:g} s (an infinite loop?)"
    except SystemExit as err:
        return None, f"SystemExit: {err}"
    except BaseException as err:  # the submission's error, reported as its message
        return None, f"{type(err).__name__}: {str(err)[:300]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _argument(inputs, key, kind, models):
    """One argument of a check: an array, a plain number or string, or a model loaded from ``<key>.keras``."""
    if kind == "model":
        if key not in models:
            import keras  # only exercises that take a model pay for importing it

            models[key] = keras.saving.load_model(f"{key}.keras", compile=False, safe_mode=True)
        return models[key]
    value = inputs[key]
    return value.item() if kind == "scalar" else value


def _save(results):
    with open("results.json", "w") as f:
        json.dump(results, f)


def main():
    with open("job.json") as f:
        job = json.load(f)
    inputs = np.load("inputs.npz", allow_pickle=False)
    signal.signal(signal.SIGALRM, _alarm)
    limit = float(job["cell_timeout"])
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    results, models = {}, {}
    for exercise in job["exercises"]:
        name = exercise["name"]
        record = results[name] = {"cell_error": None, "outputs": []}
        _save(results)
        for line in exercise.get("imports", []):  # the notebook's own imports; one that fails here is skipped
            _, failed = _limited(limit, lambda: exec(compile(line, "<notebook imports>", "exec"), namespace))
            if failed:
                record.setdefault("imports_not_run", []).append(line)
        code = exercise["source"]
        _, record["cell_error"] = _limited(limit, lambda: exec(compile(code, f"<exercise {name}>", "exec"), namespace))
        function = namespace.get(exercise["function"])
        stuck = None
        for index, kinds in enumerate(exercise["arguments"]):
            if function is None or not callable(function):
                record["outputs"].append(None)
                continue
            if stuck:  # a function that ran out of time once is not given the time again
                record["outputs"].append(f"not run: an earlier call {stuck}")
                continue
            arguments, error = _limited(limit, lambda: [_argument(inputs, f"{name}__{index}__{j}", kind, models)
                                                        for j, kind in enumerate(kinds)])
            if error is None:
                value, error = _limited(limit, lambda: np.asarray(function(*arguments), dtype=np.float64))
            if error is None:
                np.save(f"out_{name}_{index}.npy", value, allow_pickle=False)
            elif error.startswith("did not finish"):
                stuck = error
            record["outputs"].append(error or "ok")
            _save(results)
        _save(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
