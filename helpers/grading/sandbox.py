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
  (``--cap-drop ALL``): no remount, no way to make the read-only directories writable.
  That ``nobody`` is the host user who started bubblewrap; so when the grader runs as root (a
  container, CI) it first switches to a fresh unprivileged host uid (:func:`host_uid`), and the
  code never runs as host uid 0 (whose sysctl writes the kernel accepts from any namespace:
  ``kernel.core_pattern`` would run a program of the student's as root). ``/proc/sys`` is
  read-only inside in every case, core dumps are off, ``/sys`` is not there. Of ``/etc`` only
  the loader's cache is there, so root-owned secrets (``/etc/shadow``) are not even visible;
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

import contextlib
import os
import pathlib
import pwd
import random
import resource
import select
import shutil
import signal
import subprocess
import sys
import time

from helpers.grading import processes
from helpers.grading.limits import ControlGroup, memory_bounded

MOUNT_POINT = "/sandbox"
FILE_SIZE_LIMIT = 64 * 2**20
#: Limits of a sandboxed run, stated in the README.
LIMITS = {"memory": 2 * 2**30, "processes": 256, "cpus": 1, "address space": 4 * 2**30, "file size": FILE_SIZE_LIMIT,
          "/tmp": 64 * 2**20, "/dev/shm": 16 * 2**20, "disk": 256 * 2**20, "files": 10_000,
          "open files": 1024}
#: How often the sandbox directory's size is measured while the code runs (seconds).
DISK_POLL = 0.05
#: The first line of the output of a run stopped for writing too much.
DISK_STOP = "[sandbox stopped: the sandbox directory grew past its limit]"
#: The first line of the output of a run stopped because its supervisor went silent (:func:`run`).
STALL_STOP = "[sandbox stopped: its supervisor stopped answering (stopped, traced or killed from inside)]"
#: The user the code runs as inside the sandbox (``nobody``).
UNPRIVILEGED = 65534
#: Host uids a root grader runs sandboxes as: a fresh one per run, above every system and login user.
HOST_UIDS = (2**30, 2**30 + 2**24)
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


def host_uid():
    """The host uid a sandbox runs as: the grader's own, or, when the grader is root, a fresh id from
    :data:`HOST_UIDS` that no account and no running process has (so each run also has its own
    ``RLIMIT_NPROC`` count and cannot signal another run's processes)."""
    if os.geteuid() != 0:
        return os.geteuid()
    busy = processes.uids_in_use()
    while True:
        uid = random.SystemRandom().randrange(*HOST_UIDS)
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if uid not in busy:
                return uid


def _closed_ancestor(path):
    """The outermost directory above ``path`` that other users cannot enter, or None."""
    for parent in reversed(pathlib.Path(path).parents):
        try:
            if not parent.stat().st_mode & 0o001:
                return parent
        except OSError:
            return parent
    return None


def _drop_to(uid, reachable, argv):
    """``argv`` run as host ``uid`` (no groups, no capabilities, no new privileges); directories in
    ``reachable`` that lie below a directory ``uid`` cannot enter (``/root``, pytest's ``/tmp/pytest-of-root``)
    are shown to it through a private mount namespace that holds only them below that directory."""
    wrap = []
    for closed in sorted({c for c in map(_closed_ancestor, reachable) if c is not None}):
        wrap += ["--tmpfs", str(closed)]
        below = sorted(p for p in reachable if closed in p.parents)
        between = {a for p in below for a in p.parents if closed in a.parents}  # made by bwrap, else mode 0700
        for directory in sorted(between - set(below), key=lambda a: len(a.parts)):
            wrap += ["--perms", "0755", "--dir", str(directory)]
        for path in below:
            wrap += ["--bind", str(path), str(path)]
    drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all", "--no-new-privs"]
    return [bwrap(), "--dev-bind", "/", "/", *wrap, "--die-with-parent", "--", *drop, *argv]


def command(workdir, argv, uid=None):
    """The ``bwrap`` command line that runs ``argv`` with ``workdir`` as the only writable directory, as host
    ``uid`` when it is given and is not the grader's own (a root grader: :func:`host_uid`)."""
    executable = bwrap()
    if executable is None:
        raise SandboxUnavailable("grading runs submissions in bubblewrap, which is not installed: "
                                 "`apt-get install bubblewrap` (Debian/Ubuntu)")
    if shutil.which("setpriv") is None and os.geteuid() == 0:
        raise SandboxUnavailable("a root grader drops to an unprivileged uid with setpriv, which is not installed: "
                                 "`apt-get install util-linux`")
    python = _python_paths()
    args = [executable, "--unshare-all", "--unshare-user", "--uid", str(UNPRIVILEGED), "--gid", str(UNPRIVILEGED),
            "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--clearenv", "--proc", "/proc",
            "--ro-bind", "/proc/sys", "/proc/sys", "--dev", "/dev",
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
    args += ["--"] + [str(a) for a in argv]
    if uid is None or uid == os.geteuid():
        return args
    return _drop_to(uid, python + [pathlib.Path(workdir).resolve()], args)


def own_processes():
    """How many tasks (threads included) this user runs now (``/proc``); ``RLIMIT_NPROC`` counts them all, so an
    unprivileged grader gives a sandbox :data:`LIMITS` ``["processes"]`` more than that (one program of the user
    with many threads then cannot keep every sandbox from starting)."""
    return processes.tasks_of(os.getuid())


def _limits(nproc=None):
    """Per-process limits set in the sandbox's first process; ``nproc``: the ``RLIMIT_NPROC`` to set
    (never enforced for root, whose runs are counted by the control group instead)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (LIMITS["address space"], LIMITS["address space"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMITS["open files"], LIMITS["open files"]))
    if nproc is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


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


def _beats(fd):
    """True when the supervisor wrote to the heartbeat pipe ``fd`` since the last call (never blocks)."""
    beat = False
    while select.select([fd], [], [], 0)[0]:
        data = os.read(fd, 4096)
        if not data:  # every writer is gone: no more beats will come
            return beat
        beat = True
    return beat


def _wait(process, workdir, timeout, heartbeat=None, silence=None):
    """``(exit code, why)``: the code, or None with ``why`` = ``"time"`` when the time ran out, ``"disk"`` when
    the directory and the files its processes keep open after deleting them grew past ``LIMITS["disk"]``
    / ``LIMITS["files"]`` (measured every :data:`DISK_POLL` s), ``"stall"`` when nothing came through the
    ``heartbeat`` pipe for ``silence`` seconds."""
    started = time.monotonic()
    deadline, last_beat = started + timeout, started
    while True:
        try:
            return process.wait(timeout=max(0.0, min(DISK_POLL, deadline - time.monotonic()))), ""
        except subprocess.TimeoutExpired:
            pass
        used = disk_usage(workdir)
        if used is not None:
            used += processes.unlinked_bytes(processes.descendants(process.pid))
        if used is None or used > LIMITS["disk"]:
            return None, "disk"
        now = time.monotonic()
        if heartbeat is not None:
            last_beat = now if _beats(heartbeat) else last_beat
            if now - last_beat > silence:
                return None, "stall"
        if now >= deadline:
            return None, "time"


def run(workdir, script, args=(), timeout=300, isolate=True, supervised=None):
    """Run ``python script args`` in ``workdir``, isolated unless ``isolate=False``.

    Args:
        workdir: the sandbox directory; the script's relative paths point into it.
        script: file name of the script, inside ``workdir``.
        args: further command-line arguments.
        timeout: seconds before the whole process tree is killed.
        isolate: False runs without bubblewrap (no file-system isolation).
        supervised: seconds of silence after which the run is killed: the script gets
            ``--heartbeat-fd N``, a pipe to write to while it is well (the grader's runner writes from a
            supervising process that the student's code cannot stop without falling silent).

    Returns:
        ``(returncode or None when killed at the time limit, for writing more than ``LIMITS["disk"]`` bytes or
        ``LIMITS["files"]`` files in ``workdir``, or for a silent supervisor; last 2,000 characters of its
        output)``; the output is also in ``workdir/output.log``; a run stopped for the disk has
        :data:`DISK_STOP`, one stopped for silence :data:`STALL_STOP` as the first line of that tail. The
        directory is measured every :data:`DISK_POLL` s, so a run can pass the limit by what it writes in
        that time (each file is at most ``LIMITS["file size"]``).
    """
    workdir = pathlib.Path(workdir)
    python = pathlib.Path(sys.executable)
    beat_read, beat_write = os.pipe() if supervised else (None, None)
    args = [*args, "--heartbeat-fd", str(beat_write)] if supervised else list(args)
    uid = host_uid() if isolate else None
    if isolate:
        argv = command(workdir, [python, "-I", script, *args], uid)
        env = {"PATH": "/usr/bin:/bin"}  # bubblewrap's own environment is readable inside as /proc/1/environ
        if uid != os.geteuid():
            os.chown(workdir, uid, uid)
    else:
        argv = [str(python), "-I", script, *map(str, args)]
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir)}
    log = workdir / "output.log"
    group = ControlGroup(LIMITS["memory"], LIMITS["processes"], cpus=LIMITS["cpus"])
    with group, open(log, "w+b") as out:  # read back through this handle: the code may replace the file by a pipe
        if uid is not None and uid != os.geteuid():
            nproc = LIMITS["processes"]  # a fresh uid: the count is this run's alone
        elif os.geteuid() == 0 or "pids.max" in group.enforced:
            nproc = None
        else:
            nproc = own_processes() + LIMITS["processes"]

        def prepare():
            group.join()
            _limits(nproc)

        try:
            process = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=prepare, env=env,
                                       pass_fds=(beat_write,) if supervised else ())
        finally:
            if supervised:
                os.close(beat_write)
        why = ""
        try:
            code, why = _wait(process, workdir, timeout, beat_read, supervised)
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # whatever the code left behind in its session
            except ProcessLookupError:
                pass
            process.wait()
            if uid is not None and uid != os.geteuid() and not processes.end_all_of(uid):
                print(f"warning: processes of sandbox uid {uid} were still listed {processes.END_WAIT:.0f} s after "
                      "the run was killed (zombies whose parent does not reap them?)", file=sys.stderr)
            if supervised:
                os.close(beat_read)
        out.seek(max(0, os.fstat(out.fileno()).st_size - 2000))
        tail = out.read(2000).decode("utf-8", "replace")
    stop = {"disk": DISK_STOP, "stall": STALL_STOP}.get(why)
    return code, (stop + "\n" + tail) if stop else tail


@contextlib.contextmanager
def own_disk(directory):
    """Mount a tmpfs of ``LIMITS["disk"]`` bytes and ``LIMITS["files"]`` inodes on the empty ``directory`` for the
    ``with`` block (a root grader; unmounted afterwards): the kernel then refuses every byte and every file past
    the limits however they are hidden (paths too long to list, deleted files passed over a socket, folder
    blocks), and nothing reaches the host's disk. Yields True when mounted, False where mounting is not allowed
    (not root, or a container without ``CAP_SYS_ADMIN``): then only the poll of :func:`run` limits the disk."""
    directory = pathlib.Path(directory)
    mounted = False
    if os.geteuid() == 0 and shutil.which("mount"):
        options = (f"size={LIMITS['disk']},nr_inodes={LIMITS['files'] + 100},mode=0700,nosuid,nodev,noexec")
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "course-grade", str(directory)],
                                 capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "--lazy", str(directory)], capture_output=True, check=False)


def exit_cleanly_on_sigterm():
    """Make SIGTERM end the grader as Ctrl-C does: with ``SystemExit``, so that every sandbox directory is removed,
    every sandbox killed and every control group deleted on the way out (a plain SIGTERM skips all that)."""
    def stop(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, stop)


_WORKS = {}
#: Set to ``1`` to grade where no control group can bound a run's total memory (rlimits per process only).
UNBOUNDED_MEMORY = "COURSE_GRADER_UNBOUNDED_MEMORY"


def ensure_works():
    """Raise :class:`SandboxUnavailable` unless bubblewrap runs Python here (checked once per process)."""
    if "ok" not in _WORKS:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as tmp:
            uid = host_uid()
            os.chown(tmp, uid, uid)
            argv = command(tmp, [pathlib.Path(sys.executable), "-I", "-c", "import numpy"], uid)
            done = subprocess.run(argv, capture_output=True, text=True, timeout=120, preexec_fn=_limits,
                                  env={"PATH": "/usr/bin:/bin"})
        _WORKS["ok"] = done.returncode == 0
        _WORKS["why"] = (done.stderr or done.stdout).strip()[-300:]
    if not _WORKS["ok"]:
        raise SandboxUnavailable(f"bubblewrap cannot start a sandbox on this machine ({_WORKS['why']}); it needs "
                                 "user namespaces (or root)")
    if "memory" not in _WORKS:
        _WORKS["memory"] = memory_bounded()
    if not _WORKS["memory"] and os.environ.get(UNBOUNDED_MEMORY) != "1":
        raise SandboxUnavailable(
            "no control group can be made here to bound a submission's total memory (without one, several "
            "processes or memfds pass the per-process limits); grade as root on a machine whose /sys/fs/cgroup is "
            "writable (a container started with its cgroup writable), or in a delegated cgroup v2 subtree "
            "(`systemd-run --user --scope -p Delegate=yes python -m helpers.grading.grade ...`), or set "
            f"{UNBOUNDED_MEMORY}=1 to grade with per-process limits only (a class you trust)")
