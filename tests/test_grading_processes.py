"""The grader's reading of ``/proc`` (:mod:`helpers.grading.processes`), checked against processes these tests
start and count themselves; and, as root, that a run returns only when no process of its fresh uid is left."""

import os
import subprocess
import sys
import threading
import time

import pytest

from helpers.grading import processes, sandbox

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="starting processes as another uid needs root")


def _as(uid, script):
    """``sh -c script`` as host ``uid``, reaped by a thread of this test (so that it never lingers as a zombie)."""
    child = subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "sh", "-c", script],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    threading.Thread(target=child.wait, daemon=True).start()
    return child


def _wait_for(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_thread_count_and_a_descendant_tree_match_processes_started_here():
    script = "import threading, time\nfor _ in range(3): threading.Thread(target=time.sleep, args=(30,)).start()\n"
    child = subprocess.Popen([sys.executable, "-c", script + "time.sleep(30)"])
    try:
        _wait_for(lambda: len(os.listdir(f"/proc/{child.pid}/task")) == 4)
        assert child.pid in processes.descendants(os.getpid())
        assert processes.descendants(child.pid) == {child.pid}
        assert os.getuid() in processes.uids_in_use()
        assert child.pid in processes.pids_of(os.getuid())
        assert processes.tasks_of(os.getuid()) >= 4 + threading.active_count()
    finally:
        child.kill()
        child.wait()


@ROOT_ONLY
def test_end_all_of_kills_a_uid_s_processes_in_other_sessions_and_waits_until_none_is_listed():
    uid = sandbox.host_uid()
    _as(uid, "setsid sleep 300 & nohup sleep 300 & sleep 300")
    _wait_for(lambda: len(processes.pids_of(uid)) == 4)
    assert processes.end_all_of(uid) is True
    assert processes.pids_of(uid) == [] and uid not in processes.uids_in_use()


@ROOT_ONLY
def test_end_all_of_says_false_when_a_process_is_still_listed_after_the_wait():
    uid = sandbox.host_uid()
    child = subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "sleep", "300"])
    _wait_for(lambda: processes.pids_of(uid) == [child.pid])
    assert processes.end_all_of(uid, wait=0.5) is False  # killed, but a zombie until this test reaps it
    child.wait()
    assert processes.pids_of(uid) == []


@ROOT_ONLY
@pytest.mark.usefixtures("bubblewrap")
def test_a_run_returns_only_when_no_process_of_its_uid_is_left(tmp_path, monkeypatch):
    used = []
    fresh = sandbox.host_uid
    monkeypatch.setattr(sandbox, "host_uid", lambda: used.append(fresh()) or used[-1])
    (tmp_path / "leave.py").write_text("import subprocess, time\n"
                                       "subprocess.Popen(['setsid', 'sh', '-c', 'sleep 300'])\n"
                                       "subprocess.Popen(['sh', '-c', 'nohup sleep 300 &'])\n"
                                       "time.sleep(1)\n")
    code, _ = sandbox.run(tmp_path, "leave.py", timeout=60)
    assert code == 0 and len(used) == 1
    assert processes.pids_of(used[0]) == []  # at once, no grace period
