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

With ``--heartbeat-fd N`` (how the grader starts it) the script forks: the child does the work above,
the parent runs no student code and supervises. Before each limited step the child sends one byte;
the parent kills the child when a step runs past the time limit plus :data:`GRACE` (code that
ignores, catches or cancels the alarm), accepting no more steps than the job has; it writes to pipe
``N`` every :data:`BEAT` s. The parent is not dumpable (the child cannot trace it or read its
descriptors) and the child has no copy of pipe ``N``: a child that stops or kills the parent
silences the pipe, and the grader, outside the sandbox, then kills everything.
"""

import ctypes
import json
import os
import select
import signal
import sys
import time

import numpy as np

#: Seconds past a step's limit before the supervisor kills the worker.
GRACE = 2.0
#: Seconds between heartbeats of the supervisor.
BEAT = 0.5
#: Written by the supervisor when it killed the worker (the grader reads it for the message).
STOPPED = "stopped.json"
_STEP = b"B"
#: The sandbox directory, as it was when the runner started (the student's code may change the working folder).
_HOME = os.getcwd()
_step_pipe = None


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so that ``except Exception`` in a submission lets it through."""


def _no_more_steps():
    global _step_pipe
    _step_pipe = None


def _alarm(signum, frame):
    raise _Timeout()


def _limited(seconds, action):
    """``(value, None)`` or ``(None, message)`` for ``action()`` run under a time limit."""
    if _step_pipe is not None:
        try:
            os.write(_step_pipe, _STEP)
        except OSError:  # the submission closed the pipe: no new step starts, so its time runs out
            _no_more_steps()
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

            models[key] = keras.saving.load_model(_here(f"{key}.keras"), compile=False, safe_mode=True)
        return models[key]
    value = inputs[key]
    return value.item() if kind == "scalar" else value


class _AbsentCourse:
    """Import finder for the course's ``helpers``, which is not in the sandbox: importing it works (an import
    the answer does not use costs nothing), using anything from it raises an error that says why."""

    def __init__(self, modules):
        self.modules = set(modules)  # the package's real module names, from the grader

    def find_spec(self, fullname, path=None, target=None):
        import importlib.machinery

        if fullname not in self.modules:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        import types

        module = types.ModuleType(spec.name)
        module.__path__ = []

        def missing(attribute):
            if attribute.startswith("__"):
                raise AttributeError(attribute)
            raise AttributeError(f"{spec.name}.{attribute}: the course's helpers package is not available when "
                                 "grading (write the function with NumPy, Keras and TensorFlow)")
        module.__getattr__ = missing
        return module

    def exec_module(self, module):
        return None


class _NoShell:
    """What ``get_ipython()`` returns here: IPython's line and shell commands of a cell (``%matplotlib inline``,
    ``!pip install ...``, ``x = %ls``) do nothing when grading, as the student version says."""

    def run_line_magic(self, *arguments, **options):
        return None

    def run_cell_magic(self, *arguments, **options):
        return None

    def system(self, *arguments, **options):
        return None

    def getoutput(self, *arguments, **options):
        return []


def _as_python(source):
    """A cell as Python: unchanged when it compiles, else through IPython's own transformer (in here, under the
    step's time limit: on a crafted cell it can take minutes)."""
    try:
        compile(source, "<cell>", "exec")
        return source
    except SyntaxError:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)


def _display(*objects, **options):
    """IPython's ``display``, which every notebook has: here it prints what it is given."""
    print(*objects)


def _here(name):
    return os.path.join(_HOME, name)


def _save(results):
    with open(_here("results.json"), "w") as f:
        json.dump(results, f)


def steps(job):
    """How many limited steps the job has (imports, cells, argument loading and calls of every check)."""
    return sum(len(e.get("imports", [])) + 1 + 2 * len(e["arguments"]) for e in job["exercises"])


def _dumpable(flag):
    """``prctl(PR_SET_DUMPABLE, flag)``: a process that is not dumpable cannot be traced by its own user."""
    if ctypes.CDLL(None, use_errno=True).prctl(4, int(flag), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")


def supervise(job, heartbeat):
    """Fork the worker and watch it (see the module's docstring); return the exit code."""
    global _step_pipe
    _dumpable(False)
    limit, allowed = float(job["cell_timeout"]) + GRACE, steps(job) + 1
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: no heartbeat pipe, no way back into the parent
        os.close(read_end)
        os.close(heartbeat)
        _dumpable(True)
        _step_pipe = write_end
        code = 1
        try:
            code = work(job)
        finally:
            os._exit(code)
    os.close(write_end)
    started, accepted = time.monotonic(), 0
    while True:
        os.write(heartbeat, b".")
        if read_end is None:
            time.sleep(BEAT)
        elif select.select([read_end], [], [], BEAT)[0]:
            data = os.read(read_end, 4096)
            for _ in range(data.count(_STEP)):
                if accepted < allowed:
                    accepted, started = accepted + 1, time.monotonic()
            if not data:  # the worker closed its end (or ended): only its time limit is watched now
                os.close(read_end)
                read_end = None
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() - started > limit:
            os.kill(pid, signal.SIGKILL)
            with open(_here(STOPPED), "w") as f:
                json.dump({"limit": limit, "steps": accepted}, f)
            break
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    with open("job.json") as f:
        job = json.load(f)
    if "--heartbeat-fd" in argv:
        return supervise(job, int(argv[argv.index("--heartbeat-fd") + 1]))
    return work(job)


def work(job):
    """Run the cells and the calls of the job in this process."""
    inputs = np.load("inputs.npz", allow_pickle=False)
    signal.signal(signal.SIGALRM, _alarm)
    limit = float(job["cell_timeout"])
    sys.meta_path.append(_AbsentCourse(job.get("course_modules", [])))
    shell = _NoShell()
    namespace = {"__name__": "__main__", "__builtins__": __builtins__, "display": _display,
                 "get_ipython": lambda: shell}
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
        _, record["cell_error"] = _limited(limit, lambda: exec(compile(_as_python(code), f"<exercise {name}>", "exec"),
                                                               namespace))
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
                np.save(_here(f"out_{name}_{index}.npy"), value, allow_pickle=False)
            elif error.startswith("did not finish"):
                stuck = error
            record["outputs"].append(error or "ok")
            _save(results)
        _save(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
