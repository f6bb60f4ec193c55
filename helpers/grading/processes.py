"""What the grader reads about running processes from ``/proc``: which uids are in use, how many tasks a
user runs, a process's descendants, the space its deleted-but-open files hold, and the end of every
process of a sandbox's host uid.
"""

import os
import pathlib
import signal
import stat
import time

#: Longest time (s) one scan for deleted-but-open files may take; the rest is scanned at the next poll.
UNLINKED_SCAN = 0.5
#: Longest time (s) :func:`end_all_of` waits for a uid's last processes to be gone.
END_WAIT = 10.0


def _entries():
    """``(pid, owner uid)`` of every process ``/proc`` lists now."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            yield int(entry.name), entry.stat().st_uid
        except OSError:  # ended meanwhile
            continue


def uids_in_use():
    """Host uids that own at least one process (zombies included)."""
    return {uid for _, uid in _entries()}


def pids_of(uid):
    """Process ids of ``uid`` (zombies included: they keep the uid until their parent reaps them)."""
    return [pid for pid, owner in _entries() if owner == uid]


def tasks_of(uid):
    """How many tasks (threads included) ``uid`` runs now: what ``RLIMIT_NPROC`` counts."""
    count = 0
    for pid in pids_of(uid):
        try:
            count += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:  # ended meanwhile
            continue
    return count


def end_all_of(uid, wait=END_WAIT):
    """Kill every process of host ``uid`` and wait until ``/proc`` lists none.

    Only for a sandbox's own fresh uid (:func:`helpers.grading.sandbox.host_uid`): nothing else runs as it.
    Killing the sandbox's process group does not reach processes in the session the inner bubblewrap made;
    they die when its PID namespace ends, a moment later, and are then reaped by their new parent. This waits
    for that, so that the run's uid is free when the grader goes on (or exits).

    Returns:
        True when no process of ``uid`` is left, False when some still were after ``wait`` seconds.
    """
    deadline = time.monotonic() + wait
    while True:
        pids = pids_of(uid)
        if not pids:
            return True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def descendants(root_pid):
    """Process ids of ``root_pid`` and everything below it (from the parent links in ``/proc``)."""
    children = {}
    for pid in (int(e.name) for e in os.scandir("/proc") if e.name.isdigit()):  # no stat: polled 20 times a second
        try:
            stat_line = pathlib.Path(f"/proc/{pid}/stat").read_text()
        except OSError:  # ended meanwhile
            continue
        parent = int(stat_line[stat_line.rindex(")") + 2:].split()[1])
        children.setdefault(parent, []).append(pid)
    found, stack = set(), [root_pid]
    while stack:
        pid = stack.pop()
        if pid not in found:
            found.add(pid)
            stack += children.get(pid, [])
    return found


def unlinked_bytes(pids):
    """Bytes held by files that the processes ``pids`` keep open after deleting them (and by their memfds):
    space no directory listing shows."""
    seen, total = set(), 0
    deadline = time.monotonic() + UNLINKED_SCAN
    for pid in pids:
        if time.monotonic() > deadline:  # each process holds at most LIMITS["open files"]; the rest waits a poll
            break
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # ended meanwhile
            continue
        for fd in fds:
            try:
                info = os.stat(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if info.st_nlink == 0 and stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total
