"""Run a student's code in a throwaway, isolated directory (bubblewrap).

The grader never runs a submission in its own process. :func:`run` starts the
Python interpreter inside `bubblewrap <https://github.com/containers/bubblewrap>`_
(Debian package ``bubblewrap``) with:

- a file system that holds only the operating system, the Python installation and
  its packages, all read-only; the course repository (reference notebooks, the
  ``helpers`` package and its checks) is not there at all;
- one writable directory, the sandbox (mounted at ``/sandbox``), and a private ``/tmp``;
- no network, its own process tree (every process it starts, ``setsid`` daemons
  included, is killed when it ends or is stopped) and a size limit on every file.

Without bubblewrap :func:`run` refuses (:class:`SandboxUnavailable`, naming the
package to install) unless ``isolate=False`` is passed on purpose: the code then runs
in a plain child process and can read and write whatever its user can.
"""

import os
import pathlib
import resource
import shutil
import signal
import subprocess
import sys

MOUNT_POINT = "/sandbox"
FILE_SIZE_LIMIT = 64 * 2**20
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create its namespaces here."""


def bwrap():
    """Path of the ``bwrap`` executable, or None."""
    return shutil.which("bwrap")


def _python_paths():
    """Directories the interpreter and its packages live in (resolved, deduplicated, outermost only)."""
    candidates = {pathlib.Path(p).resolve() for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)}
    candidates.add(pathlib.Path(sys.executable).resolve().parent.parent)
    for entry in sys.path:
        if entry and pathlib.Path(entry).is_dir() and "site-packages" in entry:
            candidates.add(pathlib.Path(entry).resolve())
    outer = sorted(candidates, key=lambda p: len(p.parts))
    kept = []
    for path in outer:
        if not any(path == k or k in path.parents for k in kept):
            kept.append(path)
    return kept


def _hidden_paths(bound):
    """Course directories that must stay unreadable although they lie under a bound directory."""
    import helpers

    package = pathlib.Path(helpers.__file__).resolve().parent
    hidden = [package, package.parent / "notebooks", package.parent / "assignments"]
    return [h for h in hidden if h.exists() and any(b == h or b in h.parents for b in bound)]


def command(workdir, argv):
    """The ``bwrap`` command line that runs ``argv`` with ``workdir`` as the only writable directory."""
    executable = bwrap()
    if executable is None:
        raise SandboxUnavailable("grading runs submissions in bubblewrap, which is not installed: "
                                 "`apt-get install bubblewrap` (Debian/Ubuntu), or pass --no-sandbox to "
                                 "run them unisolated (only for notebooks you trust)")
    python = _python_paths()
    args = [executable, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in _SYSTEM:
        args += ["--ro-bind-try", path, path]
    for path in python:
        args += ["--ro-bind", str(path), str(path)]
    for path in _hidden_paths(python):
        args += ["--tmpfs", str(path)]
    args += ["--bind", str(pathlib.Path(workdir).resolve()), MOUNT_POINT, "--remount-ro", "/", "--chdir", MOUNT_POINT]
    env = {"PATH": "/usr/bin:/bin", "HOME": MOUNT_POINT, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg", "LANG": "C.UTF-8"}
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args + ["--"] + [str(a) for a in argv]


def _limits():
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(workdir, script, args=(), timeout=300, isolate=True):
    """Run ``python script args`` in ``workdir``, isolated unless ``isolate=False``.

    Args:
        workdir: the sandbox directory; the script's relative paths point into it.
        script: file name of the script, inside ``workdir``.
        args: further command-line arguments.
        timeout: seconds before the whole process tree is killed.
        isolate: False runs without bubblewrap (no file-system isolation).

    Returns:
        ``(returncode or None when killed at the time limit, last 2,000 characters of
        its output)``; the output is also in ``workdir/output.log``.
    """
    workdir = pathlib.Path(workdir)
    python = pathlib.Path(sys.executable)
    if isolate:
        argv = command(workdir, [python, "-I", script, *args])
        cwd = workdir
    else:
        argv, cwd = [str(python), "-I", script, *map(str, args)], workdir
    log = workdir / "output.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True, preexec_fn=_limits,
                                   env=None if isolate else {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir)})
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # whatever the code left behind in its session
            except ProcessLookupError:
                pass
            process.wait()
    tail = log.read_bytes()[-2000:].decode("utf-8", "replace") if log.exists() else ""
    return code, tail


_WORKS = {}


def ensure_works():
    """Raise :class:`SandboxUnavailable` unless bubblewrap runs Python here (checked once per process)."""
    if "ok" not in _WORKS:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as tmp:
            argv = command(tmp, [pathlib.Path(sys.executable), "-I", "-c", "import numpy"])
            done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        _WORKS["ok"] = done.returncode == 0
        _WORKS["why"] = (done.stderr or done.stdout).strip()[-300:]
    if not _WORKS["ok"]:
        raise SandboxUnavailable(f"bubblewrap cannot start a sandbox on this machine ({_WORKS['why']}); it needs "
                                 "user namespaces (or root), or pass --no-sandbox to run submissions unisolated")
