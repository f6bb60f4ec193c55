"""The grader's attack tests again, as an unprivileged user.

The rest of the suite runs as whoever runs it: in CI and in containers that is root, where the
control group limits memory and processes. An instructor without root gets no control group;
then the sandbox relies on its rlimits (``RLIMIT_NPROC`` counted from the user's own processes,
the address space per process) and on the disk poll. This test runs the attack tests of
``test_sandbox_hardening.py``, ``test_grading_isolation.py`` and ``test_grading_host.py`` as ``nobody`` so that both
paths are exercised on every run (all but ``HOST_SIDE``: tests of the grader's own reading and writing on
the host, the same code whoever grades). Run as root, it drops to ``nobody`` with ``setpriv``; a Python
installation under a directory ``nobody`` cannot enter (``/root/.pyenv`` in a container) is made
reachable by a private mount namespace (bubblewrap, as root) that shows only that installation.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

from helpers.grading import sandbox

REPO = pathlib.Path(__file__).resolve().parents[1]
NOBODY = 65534
THREAD_HOLDER = """
import threading, time
for _ in range(300):
    threading.Thread(target=time.sleep, args=(1200,), daemon=True).start()
print("holding 300 threads", flush=True)
time.sleep(1200)
"""
ATTACK_TESTS = [
    "tests/test_sandbox_hardening.py", "tests/test_grading_isolation.py", "tests/test_grading_host.py"]
#: Why an attack test may skip as nobody: what only a root grader does (its own uid, its tmpfs, CPU quotas).
ROOT_ONLY = ("only a root grader", "no cpu controller can be written here")
#: Tests of what the grader reads and writes on the host before and after the sandbox (paths, cells, seeds,
#: keys, scores, result files): the same code runs whoever grades, so they run once, as root.
HOST_SIDE = (
    "test_a_symlinked_submission_is_refused", "test_instructor_paths_a_student_module",
    "test_the_assignment_not_the_submission_decides", "test_honest_notebook_habits_are_graded_fairly",
    "test_check_inputs_change_with_the_seed", "test_scores_are_capped_at_the_points",
    "test_without_bubblewrap_grading_refuses", "test_nbgrader_without_bubblewrap",
    "test_knowing_the_recorded_seed", "test_a_key_file_others_can_read", "test_the_answer_below_a_stub",
    "test_a_crafted_output_header", "test_magics_and_continuation_lines", "test_crafted_cells_cost_the_grader")


def test_each_host_side_name_selects_a_test_of_the_attack_files():
    names = [line.split("(")[0][4:] for path in ATTACK_TESTS for line in (REPO / path).read_text().splitlines()
             if line.startswith("def test_")]
    for prefix in HOST_SIDE:
        assert sum(name.startswith(prefix) for name in names) == 1, prefix


def _closed_ancestor(path):
    """The outermost directory above ``path`` that other users cannot enter, or None."""
    for parent in reversed(pathlib.Path(path).resolve().parents):
        if not parent.stat().st_mode & 0o001:
            return parent
    return None


def _as_nobody(argv, home, *settings):
    """``argv`` as ``nobody`` (with the ``NAME=value`` ``settings`` in its environment); wrapped in a mount
    namespace when the interpreter lies behind a closed directory."""
    drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "env", f"HOME={home}",
            f"COURSE_GRADER_KEY={home}/grader.key", *settings, *argv]
    shown = {}  # closed directory -> its entries that lead to the interpreter or the repository
    for path in {pathlib.Path(sys.base_prefix).resolve(), REPO}:
        closed = _closed_ancestor(path)
        if closed is not None:  # bwrap would create the parents of a deeper bind closed too
            shown.setdefault(closed, set()).add(closed / path.relative_to(closed).parts[0])
    wrap = []
    for closed, entries in sorted(shown.items()):
        wrap += ["--tmpfs", str(closed)]
        for entry in sorted(entries):
            wrap += ["--ro-bind", str(entry), str(entry)]
    return ["bwrap", "--dev-bind", "/", "/", *wrap, "--die-with-parent", "--", *drop] if wrap else drop


@pytest.mark.usefixtures("bubblewrap")
def test_the_attacks_earn_nothing_when_an_unprivileged_user_grades():
    if os.geteuid() != 0:
        pytest.skip(f"the suite already runs unprivileged (uid {os.geteuid()}): the attack tests ran as this user")
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to run the attack tests as nobody: apt-get install util-linux")
    home = pathlib.Path(tempfile.mkdtemp(prefix="grade-as-nobody-"))
    try:
        home.chmod(0o777)
        argv = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-o", "addopts=",
                f"--basetemp={home / 'tmp'}", "-W", "ignore::pytest.PytestUnraisableExceptionWarning",
                "-k", "not (" + " or ".join(HOST_SIDE) + ")", *ATTACK_TESTS]
        probe = [sys.executable, "-c", "from helpers.grading import limits, sandbox\n"
                 "print('bounded', limits.memory_bounded())\ntry:\n    sandbox.ensure_works()\n"
                 "except sandbox.SandboxUnavailable as err:\n    print('refused', err)"]
        refused = subprocess.run(_as_nobody(probe, home), cwd=REPO, capture_output=True, text=True, timeout=300)
        # another program of the same user holding 300 threads: RLIMIT_NPROC counts them, the sandboxes still start
        holder = subprocess.Popen(_as_nobody([sys.executable, "-c", THREAD_HOLDER], home), cwd=REPO,
                                  stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "holding 300 threads"
        try:
            done = subprocess.run(_as_nobody(argv, home, f"{sandbox.UNBOUNDED_MEMORY}=1"), cwd=REPO,
                                  capture_output=True, text=True, timeout=1200)
        finally:
            holder.kill()
            holder.wait()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert refused.returncode == 0, refused.stderr[-2000:]
    if "bounded False" in refused.stdout:  # no control group for nobody: grading refuses unless told otherwise
        assert "refused" in refused.stdout and "bound a submission's total memory" in refused.stdout
        assert f"{sandbox.UNBOUNDED_MEMORY}=1" in refused.stdout
    else:
        assert "bounded True" in refused.stdout and "refused" not in refused.stdout, refused.stdout
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
    assert " deselected" in summary, summary  # the host-side tests, and only those (checked below)
    skips = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert all(any(reason in line for reason in ROOT_ONLY) for line in skips), skips
