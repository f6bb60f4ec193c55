"""Memory and process-count limits for a sandboxed run: a control group where the grader may make one.

Resource limits per process (``setrlimit``) cannot cap what a submission does in total:
``RLIMIT_NPROC`` is never enforced for root, and every process has its own address space.
A control group can: :class:`ControlGroup` creates one per run under the cgroup v2 tree
(``/sys/fs/cgroup`` with the ``memory`` and ``pids`` controllers) or the v1 ``memory`` and
``pids`` hierarchies, whichever this machine lets the grader write, sets ``memory.max`` /
``memory.limit_in_bytes`` and ``pids.max`` (and, when asked, a CPU quota: ``cpu.max`` /
``cpu.cfs_quota_us``, so that runs side by side on a Dask worker each get their share), and the sandbox's first process joins it before
it starts bubblewrap, so everything the submission starts is counted. Where no hierarchy is
writable (an ordinary user without delegation), :attr:`ControlGroup.enforced` is empty and
only the rlimits of :mod:`helpers.grading.sandbox` apply (the README states both).
"""

import os
import pathlib
import sys
import time

ROOT = pathlib.Path("/sys/fs/cgroup")
#: Tries, 0.05 s apart, to remove a group whose processes were killed (they may take seconds to close).
REMOVE_TRIES = 600


def _writable(path):
    return path.is_dir() and os.access(path, os.W_OK)


def _v2_base():
    """The cgroup v2 directory to make run groups in: the root, or (a delegated subtree, as ``systemd-run --user
    -p Delegate=yes`` gives an ordinary user) the grader's own group; it must offer ``memory`` and ``pids`` to
    its children. None when there is none."""
    if not (ROOT / "cgroup.controllers").is_file():
        return None
    own = ROOT
    try:
        line = next(x for x in pathlib.Path("/proc/self/cgroup").read_text().splitlines() if x.startswith("0::"))
        own = ROOT / line[3:].lstrip("/")
    except (OSError, StopIteration):
        own = ROOT
    for base in dict.fromkeys([ROOT, own]):
        try:
            offered = set((base / "cgroup.subtree_control").read_text().split())
        except OSError:
            continue
        if {"memory", "pids"} <= offered and _writable(base):
            return base
    return None


def memory_bounded():
    """True when a run's total memory can be limited here (a control group with a memory limit)."""
    with ControlGroup(2**30, 64) as probe:
        return any(key.startswith("memory.") for key in probe.enforced)


class ControlGroup:
    """A fresh control group limiting memory (bytes) and processes; a no-op where none can be made.

    Use it as a context manager around the run; :meth:`join` is the ``preexec_fn`` of the
    sandbox's first process. On exit every process left in it is killed and it is removed.
    """

    def __init__(self, memory, processes, name=None, cpus=None):
        self.name = name or f"course-grade-{os.getpid()}-{time.monotonic_ns()}"
        self.memory, self.processes = int(memory), int(processes)
        self.cpus = cpus
        self.paths = []
        self.enforced = []

    def __enter__(self):
        base = _v2_base()
        period = 100_000
        if base is not None:
            settings = {"memory.max": self.memory, "pids.max": self.processes}
            if self.cpus and "cpu" in (base / "cgroup.subtree_control").read_text().split():
                settings["cpu.max"] = f"{int(self.cpus * period)} {period}"
            self._make(base / self.name, settings)
        else:
            self._make(ROOT / "memory" / self.name, {"memory.limit_in_bytes": self.memory,
                                                     "memory.memsw.limit_in_bytes": self.memory})
            self._make(ROOT / "pids" / self.name, {"pids.max": self.processes})
            if self.cpus and self.paths:  # a share of the CPU, so that one run cannot slow its neighbours
                self._make(ROOT / "cpu" / self.name, {"cpu.cfs_period_us": period,
                                                      "cpu.cfs_quota_us": int(self.cpus * period)})
        return self

    def _make(self, path, settings):
        if not _writable(path.parent):
            return
        try:
            path.mkdir()
        except OSError:
            return
        done = []
        for key, value in settings.items():
            try:
                (path / key).write_text(str(value))
            except OSError:
                if key == "memory.memsw.limit_in_bytes":  # exists only with swap accounting
                    continue
                path.rmdir()  # a group without its limit is no use: the rlimits apply instead
                return
            done.append(key)
        self.paths.append(path)
        self.enforced += done

    def join(self):
        """Move the calling process into the group (called in the child, before it executes bubblewrap)."""
        for path in self.paths:
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def __exit__(self, *exc):
        for path in self.paths:
            for attempt in range(REMOVE_TRIES):
                pids = [int(p) for p in (path / "cgroup.procs").read_text().split()] if path.is_dir() else []
                for pid in pids:
                    try:
                        os.kill(pid, 9)
                    except ProcessLookupError:
                        continue
                try:
                    path.rmdir()
                    break
                except OSError:
                    if attempt == REMOVE_TRIES - 1:  # said once, not silently left behind
                        print(f"warning: control group {path} could not be removed (processes still in it after "
                              f"{REMOVE_TRIES * 0.05:.0f} s); remove it with `rmdir {path}`", file=sys.stderr)
                    time.sleep(0.05)
        return False
