"""Run a student's code in a throwaway, isolated directory (bubblewrap).

The grader never runs a submission in its own process. :func:`run` starts the
Python interpreter inside `bubblewrap <https://github.com/containers/bubblewrap>`_
(Debian package ``bubblewrap``) with:

- a file system that holds only the operating system, the Python installation and
  its packages, all read-only; the course repository (reference notebooks, the
  ``helpers`` package and its checks) is not there at all;
- one writable directory, the sandbox (mounted at ``/sandbox``), and a private ``/tmp``;
- no network, its own process tree (every process it starts, ``setsid`` daemons
  included, is killed when it ends or is stopped);
- its own user namespace in which the code runs as ``nobody`` with no capabilities
  (``--cap-drop ALL``): no remount, no way to make the read-only directories writable,
  also when the grader runs as root (a container, CI). Of ``/etc`` only the loader's
  cache is there, so root-owned secrets (``/etc/shadow``) are not even visible;
- an empty environment, for bubblewrap itself too (``/proc/1/environ`` shows nothing of
  the grader's), and limits (:data:`LIMITS`): memory and processes of the whole run (a control
  group, :mod:`helpers.grading.limits`, where the machine allows one; else the address
  space of each process), the size of every file, the sizes of ``/tmp`` and ``/dev/shm``, and
  the total size and file count of the sandbox directory (measured while the code runs; the
  run is stopped when it grows past them).

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
import time

from helpers.grading.limits import ControlGroup

MOUNT_POINT = "/sandbox"
FILE_SIZE_LIMIT = 64 * 2**20
#: Limits of a sandboxed run, stated in the README.
LIMITS = {"memory": 2 * 2**30, "processes": 64, "address space": 4 * 2**30, "file size": FILE_SIZE_LIMIT,
          "/tmp": 64 * 2**20, "/dev/shm": 16 * 2**20, "disk": 256 * 2**20, "files": 10_000}
#: How often the sandbox directory's size is measured while the code runs (seconds).
DISK_POLL = 0.05
#: The first line of the output of a run stopped for writing too much.
DISK_STOP = "[sandbox stopped: the sandbox directory grew past its limit]"
#: The user the code runs as inside the sandbox (``nobody``).
UNPRIVILEGED = 65534
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc/ld.so.cache")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create its namespaces here.

    ``reason`` says why and how to fix it; the message adds the command-line way to grade without
    isolation (``--no-sandbox``); other front ends (nbgrader) name their own."""

    def __init__(self, reason):
        self.reason = reason
        super().__init__(f"{reason}; or pass --no-sandbox to run submissions unisolated (only for notebooks you trust)")


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
                                 "`apt-get install bubblewrap` (Debian/Ubuntu)")
    python = _python_paths()
    args = [executable, "--unshare-all", "--unshare-user", "--uid", str(UNPRIVILEGED), "--gid", str(UNPRIVILEGED),
            "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--clearenv", "--proc", "/proc", "--dev", "/dev",
            "--size", str(LIMITS["/dev/shm"]), "--tmpfs", "/dev/shm", "--size", str(LIMITS["/tmp"]), "--tmpfs", "/tmp"]
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


def own_processes():
    """How many processes this user runs now (``/proc``); the process limit of an unprivileged grader counts
    them all, so a sandbox gets :data:`LIMITS` ``["processes"]`` more than that."""
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        try:
            count += entry.name.isdigit() and entry.stat().st_uid == uid
        except OSError:  # ended meanwhile
            continue
    return count


def _limits(processes=None):
    """Per-process limits set in the sandbox's first process; ``processes``: the ``RLIMIT_NPROC`` to set
    (never enforced for root, whose runs are counted by the control group instead)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (LIMITS["address space"], LIMITS["address space"]))
    if processes is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


def disk_usage(root, max_entries=LIMITS["files"]):
    """Bytes allocated below ``root`` (links not followed), or None when it holds more than ``max_entries``
    entries (counting them all could itself take long)."""
    total, count, stack = 0, 0, [str(root)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:  # removed or made unreadable meanwhile: what is left is counted next time
            continue
        for entry in entries:
            count += 1
            if count > max_entries:
                return None
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            else:
                total += info.st_blocks * 512
    return total


def _wait(process, workdir, timeout):
    """The exit code, or None when the time ran out or the directory grew past ``LIMITS["disk"]`` /
    ``LIMITS["files"]`` (measured every :data:`DISK_POLL` s); second value: True for the disk."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return process.wait(timeout=max(0.0, min(DISK_POLL, deadline - time.monotonic()))), False
        except subprocess.TimeoutExpired:
            pass
        used = disk_usage(workdir)
        if used is None or used > LIMITS["disk"]:
            return None, True
        if time.monotonic() >= deadline:
            return None, False


def run(workdir, script, args=(), timeout=300, isolate=True):
    """Run ``python script args`` in ``workdir``, isolated unless ``isolate=False``.

    Args:
        workdir: the sandbox directory; the script's relative paths point into it.
        script: file name of the script, inside ``workdir``.
        args: further command-line arguments.
        timeout: seconds before the whole process tree is killed.
        isolate: False runs without bubblewrap (no file-system isolation).

    Returns:
        ``(returncode or None when killed at the time limit or for writing more than
        ``LIMITS["disk"]`` bytes or ``LIMITS["files"]`` files in ``workdir``, last 2,000
        characters of its output)``; the output is also in ``workdir/output.log``; a run stopped
        for the disk has :data:`DISK_STOP` as the first line of that tail. The directory is
        measured every :data:`DISK_POLL` s, so a run can pass the limit by what it writes in
        that time (each file is at most ``LIMITS["file size"]``).
    """
    workdir = pathlib.Path(workdir)
    python = pathlib.Path(sys.executable)
    if isolate:
        argv = command(workdir, [python, "-I", script, *args])
        env = {"PATH": "/usr/bin:/bin"}  # bubblewrap's own environment is readable inside as /proc/1/environ
    else:
        argv = [str(python), "-I", script, *map(str, args)]
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir)}
    log = workdir / "output.log"
    group = ControlGroup(LIMITS["memory"], LIMITS["processes"])
    with group, open(log, "w+b") as out:  # read back through this handle: the code may replace the file by a pipe
        processes = None if os.geteuid() == 0 or "pids.max" in group.enforced else own_processes() + LIMITS["processes"]

        def prepare():
            group.join()
            _limits(processes)

        process = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True, preexec_fn=prepare, env=env)
        disk = False
        try:
            code, disk = _wait(process, workdir, timeout)
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # whatever the code left behind in its session
            except ProcessLookupError:
                pass
            process.wait()
        out.seek(max(0, os.fstat(out.fileno()).st_size - 2000))
        tail = out.read(2000).decode("utf-8", "replace")
    return code, (DISK_STOP + "\n" + tail) if disk else tail


_WORKS = {}


def ensure_works():
    """Raise :class:`SandboxUnavailable` unless bubblewrap runs Python here (checked once per process)."""
    if "ok" not in _WORKS:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as tmp:
            argv = command(tmp, [pathlib.Path(sys.executable), "-I", "-c", "import numpy"])
            done = subprocess.run(argv, capture_output=True, text=True, timeout=120, preexec_fn=_limits,
                                  env={"PATH": "/usr/bin:/bin"})
        _WORKS["ok"] = done.returncode == 0
        _WORKS["why"] = (done.stderr or done.stdout).strip()[-300:]
    if not _WORKS["ok"]:
        raise SandboxUnavailable(f"bubblewrap cannot start a sandbox on this machine ({_WORKS['why']}); it needs "
                                 "user namespaces (or root)")
