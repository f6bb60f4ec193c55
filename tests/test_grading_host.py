"""What the host sees of a sandboxed submission: never uid 0, no sysctl it can write, time limits that hold.

These attacks come from the audit of a root grader (the usual container or CI setup). Each test
checks the host's side, read from outside the sandbox: the uid of the sandboxed processes in
``/proc``, the sysctl values after the run, how long the grading took, the score. No test writes a
real change to a host sysctl: the submissions try a no-op write (the value they read, written back).
"""

import os
import pathlib
import threading
import time

import numpy as np
import pytest

from helpers.grading import grade, processes, sandbox

pytestmark = pytest.mark.usefixtures("bubblewrap")

NOOP_SYSCTL_WRITES = """
import os, time
for name in ("kernel/core_pattern", "kernel/pid_max", "kernel/hostname", "vm/overcommit_memory"):
    path = "/proc/sys/" + name
    value = open(path).read()
    try:
        with open(path, "w") as f:
            f.write(value)
        print("WROTE", name)
    except OSError as err:
        print("refused", name, err.errno)
print("ready", flush=True)
time.sleep(4)
"""


def _host_uids_of(marker, among=None):
    """Host uids (real, effective, saved, fs) of every Python process running script ``marker`` (not the
    bubblewrap and setpriv processes around it, whose command lines name it too); ``among``: only these pids."""
    uids = set()
    for entry in os.scandir("/proc"):
        if among is not None and (not entry.name.isdigit() or int(entry.name) not in among):
            continue
        try:
            argv = (pathlib.Path(entry.path) / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
            if argv and b"python" in pathlib.Path(argv[0].decode()).name.encode() and marker in argv:
                status = (pathlib.Path(entry.path) / "status").read_text()
                line = next(x for x in status.splitlines() if x.startswith("Uid:"))
                uids.update(int(v) for v in line.split()[1:])
        except (OSError, StopIteration):  # ended meanwhile
            continue
    return uids


def test_sandboxed_code_never_runs_as_host_root_and_cannot_write_a_sysctl(tmp_path):
    before = {n: pathlib.Path("/proc/sys", n).read_text() for n in ("kernel/core_pattern", "kernel/pid_max")}
    (tmp_path / "sysctl_probe.py").write_text(NOOP_SYSCTL_WRITES)
    seen, result = set(), {}
    worker = threading.Thread(target=lambda: result.update(out=sandbox.run(tmp_path, "sysctl_probe.py", timeout=60)))
    worker.start()
    deadline = time.monotonic() + 30
    while worker.is_alive() and time.monotonic() < deadline and not seen:
        seen = _host_uids_of(b"sysctl_probe.py")
        time.sleep(0.1)
    worker.join()
    code, out = result["out"]
    assert code == 0, out
    assert "ready" in out and "WROTE" not in out, out
    assert out.count("refused") == 4
    assert seen, "the sandboxed process was never seen from outside"
    assert 0 not in seen, f"host uids of the sandboxed process: {seen}"
    if os.geteuid() == 0:
        assert all(sandbox.HOST_UIDS[0] <= uid < sandbox.HOST_UIDS[1] for uid in seen), seen
    else:
        assert seen == {os.geteuid()}
    assert before == {n: pathlib.Path("/proc/sys", n).read_text() for n in before}


def test_core_dumps_are_off_and_sys_is_absent(tmp_path):
    (tmp_path / "probe.py").write_text("""
import os, resource
print("core", resource.getrlimit(resource.RLIMIT_CORE))
print("sys", os.path.exists("/sys/kernel"), os.path.exists("/sys/fs/cgroup"))
""")
    code, out = sandbox.run(tmp_path, "probe.py", timeout=60)
    assert code == 0, out
    assert "core (0, 0)" in out and "sys False False" in out


def test_each_root_sandbox_gets_its_own_host_uid():
    if os.geteuid() != 0:
        pytest.skip("only a root grader switches uids")
    uids = {sandbox.host_uid() for _ in range(20)}
    assert len(uids) == 20 and 0 not in uids


TIMER_ATTACKS = {
    "ignore SIGALRM": "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True: time.sleep(0.1)",
    "catch the timeout": "import time\nwhile True:\n    try:\n        time.sleep(100)\n    except BaseException:\n        pass",
    "cancel the timer": "import signal, time\nsignal.setitimer(signal.ITIMER_REAL, 0)\nwhile True: time.sleep(0.1)",
    "stop the supervisor": "import os, signal, time\nos.kill(os.getppid(), signal.SIGSTOP)\nwhile True: time.sleep(0.1)",
    "kill the supervisor": "import os, signal, time\nos.kill(os.getppid(), signal.SIGKILL)\nwhile True: time.sleep(0.1)",
    "trace the supervisor": """
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
print("ptrace attach", libc.ptrace(16, os.getppid(), 0, 0), ctypes.get_errno())
os.kill(os.getppid(), 19)
while True: time.sleep(0.1)""",
    "read the heartbeat through /proc": """
import os, signal, time
try:  # refused: the supervisor is not dumpable
    for fd in os.listdir(f"/proc/{os.getppid()}/fd"):
        os.write(os.open(f"/proc/{os.getppid()}/fd/{fd}", os.O_WRONLY), b"." * 100)
except OSError as err:
    print(err)
os.kill(os.getppid(), signal.SIGSTOP)
while True: time.sleep(0.1)""",
}


@pytest.mark.parametrize("attack", sorted(TIMER_ATTACKS))
def test_a_stuck_sandbox_is_killed_at_its_stated_limit_whatever_it_does_with_signals(tmp_path, attack):
    from test_grading_isolation import cheat

    path = cheat(tmp_path, TIMER_ATTACKS[attack])
    started = time.monotonic()
    report = grade.grade(path, cell_timeout=3, total_timeout=240)
    took = time.monotonic() - started
    assert report["score"] == 0
    # the cell step: 3 s and the supervisor's grace, or the grader's 10 s of silence; plus starting up
    assert took < 3 + grade.SILENCE + 20, f"{attack}: graded in {took:.0f} s"
    messages = " ".join(m for r in report["exercises"] for m in r["messages"])
    assert any(k in messages for k in ("grading stopped", "did not finish", "grading process ended")), messages


def test_knowing_the_recorded_seed_gives_no_lookup_table_and_the_key_stays_outside(tmp_path):
    from test_grading_isolation import cheat

    from helpers.grading import references, seeds

    recorded = 4242  # as a student reads it from their .grade.json
    known = references.check_inputs("normalize_feature_map", recorded)[0][0]
    answer = np.clip((known - known.mean()) / known.std() * 64 + 128, 0, 255).round()
    code = f"""
import numpy as np
try:
    print(open({str(seeds.key_path())!r}, "rb").read())
except OSError as err:
    print("no key:", type(err).__name__)
TABLE = {{bytes.fromhex({known.tobytes().hex()!r}): {answer.tolist()!r}}}
def normalize_feature_map(channel):
    return np.array(TABLE[np.asarray(channel, dtype=np.float64).tobytes()])"""
    report = grade.grade(cheat(tmp_path, code), cell_timeout=10, total_timeout=120, seed=recorded)
    assert report["seed"] == recorded and report["score"] == 0
    assert seeds.input_seed(recorded) == seeds.input_seed(recorded) != recorded  # repeatable with the key
    drawn = references.check_inputs("normalize_feature_map", seeds.input_seed(recorded))[0][0]
    assert drawn.shape == known.shape and not np.array_equal(drawn, known)


def test_a_key_file_others_can_read_or_a_linked_one_is_refused(tmp_path, monkeypatch):
    from helpers.grading import seeds

    key = tmp_path / "grader.key"
    monkeypatch.setenv(seeds.KEY_ENV, str(key))
    first = seeds.input_seed(1)
    assert key.stat().st_mode & 0o777 == 0o600 and seeds.input_seed(1) == first
    key.chmod(0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        seeds.input_seed(1)
    key.chmod(0o600)
    (tmp_path / "link.key").symlink_to(key)
    monkeypatch.setenv(seeds.KEY_ENV, str(tmp_path / "link.key"))
    with pytest.raises(PermissionError, match="not a link"):
        seeds.input_seed(1)


def test_the_answer_below_a_stub_left_in_place_is_the_one_graded(tmp_path):
    import nbformat

    from helpers.grading import assignments
    from test_grading_isolation import REFERENCE, STUDENT

    student = nbformat.read(STUDENT, as_version=4)
    solved = next(c for c in nbformat.read(REFERENCE, as_version=4).cells
                  if assignments.exercise_name(c) == "normalize_feature_map")
    stub = next(i for i, c in enumerate(student.cells) if assignments.exercise_name(c) == "normalize_feature_map")
    student.cells.insert(stub + 1, nbformat.v4.new_code_cell(solved.source))
    nbformat.write(student, tmp_path / STUDENT.name)
    report = grade.grade(tmp_path / STUDENT.name, cell_timeout=10, total_timeout=120)
    record = next(r for r in report["exercises"] if r["exercise"] == "normalize_feature_map")
    assert record["score"] == record["points"], record["messages"]


def _cpu_quota_of(pid):
    """``(quota, period)`` in microseconds of the control group process ``pid`` is in (v1 ``cpu`` or v2)."""
    for line in pathlib.Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            group = pathlib.Path("/sys/fs/cgroup/cpu") / path.lstrip("/")
            return int((group / "cpu.cfs_quota_us").read_text()), int((group / "cpu.cfs_period_us").read_text())
        if controllers == "" and (pathlib.Path("/sys/fs/cgroup") / path.lstrip("/") / "cpu.max").exists():
            quota, period = (pathlib.Path("/sys/fs/cgroup") / path.lstrip("/") / "cpu.max").read_text().split()
            return (-1 if quota == "max" else int(quota)), int(period)
    return None


def test_one_submission_gets_one_cpu_however_many_processes_it_spins(tmp_path):
    """Read from the host while the run spins four processes: the group they are in allows one CPU."""
    from helpers.grading.limits import ControlGroup

    with ControlGroup(2**30, 64, cpus=1) as probe:
        if not any(k.startswith("cpu.") for k in probe.enforced):
            pytest.skip("no cpu controller can be written here: the CPU share is not enforced (README)")
    (tmp_path / "spin_probe.py").write_text("""
import multiprocessing, time
def spin():
    end = time.monotonic() + 3
    while time.monotonic() < end:
        pass
workers = [multiprocessing.Process(target=spin) for _ in range(4)]
[w.start() for w in workers]
[w.join() for w in workers]
""")
    quotas, result = set(), {}
    worker = threading.Thread(target=lambda: result.update(out=sandbox.run(tmp_path, "spin_probe.py", timeout=60)))
    worker.start()
    while worker.is_alive():
        for entry in os.scandir("/proc"):
            try:
                argv = (pathlib.Path(entry.path) / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
                if b"spin_probe.py" in argv and b"python" in pathlib.Path(argv[0].decode()).name.encode():
                    quotas.add(_cpu_quota_of(entry.name))
            except OSError:  # ended meanwhile
                continue
        time.sleep(0.2)
    worker.join()
    assert result["out"][0] == 0, result["out"][1]
    assert quotas == {(100_000 * sandbox.LIMITS["cpus"], 100_000)}, quotas


def test_a_grader_stopped_with_sigterm_leaves_no_sandbox_files_processes_or_groups(tmp_path):
    import signal
    import subprocess
    import sys

    from test_grading_isolation import cheat

    path = cheat(tmp_path, "import time\ntime.sleep(60)")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    grader = subprocess.Popen([sys.executable, "-m", "helpers.grading.grade", str(path), "--chapter", "02", "--cell-timeout", "50"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _host_uids_of(b"runner.py", processes.descendants(grader.pid)):
        time.sleep(0.2)
    uids = _host_uids_of(b"runner.py", processes.descendants(grader.pid))  # this grader's sandbox, no other
    assert uids, "the sandbox never started"
    groups = {p.name for p in pathlib.Path("/sys/fs/cgroup").rglob("course-grade-*")}
    assert groups or os.environ.get(sandbox.UNBOUNDED_MEMORY) == "1", "no control group was made"
    grader.send_signal(signal.SIGTERM)
    assert grader.wait(timeout=30) == 128 + signal.SIGTERM
    time.sleep(0.5)
    assert list(scratch.iterdir()) == []
    if os.geteuid() == 0:  # the run's own uid: no process of it is left
        assert not uids & {e.stat().st_uid for e in os.scandir("/proc") if e.name.isdigit()}
    assert not {p.name for p in pathlib.Path("/sys/fs/cgroup").rglob("course-grade-*")} & groups


def test_a_crafted_output_header_is_that_output_s_zero_not_a_crash(tmp_path):
    import struct

    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (3, "  # unterminated: tokenize.TokenError
    header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    (tmp_path / "out_normalize_feature_map_0.npy").write_bytes(
        b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 24)
    assert grade._output(tmp_path, "normalize_feature_map", 0, "ok") == "its output could not be read (TokenError)"


DEEP_WRITER = """
import os
written, error = 0, None
try:
    for _ in range(20):  # a path too long to list (over 4,096 characters)
        os.mkdir("x" * 250)
        os.chdir("x" * 250)  # the runner keeps writing its results where it started
    block = bytes(2**20)
    for i in range(40):  # 40 files of 50 MiB: 2 GiB if nothing stops it
        with open(f"f{i}", "wb") as f:
            for _ in range(50):
                f.write(block)
                written += 1
except OSError as err:
    error = err.errno
os.chdir("/sandbox")
os.system("rm -rf xxxxx*")  # room again for the runner's results
raise RuntimeError(f"wrote {written} MiB, errno {error}")"""


def test_space_hidden_under_paths_too_long_to_list_is_refused_by_the_kernel(tmp_path):
    import errno

    from test_grading_isolation import cheat

    if os.geteuid() != 0:
        pytest.skip("only a root grader mounts the sandbox directory's own tmpfs (README)")
    (tmp_path / "probe").mkdir()
    with sandbox.own_disk(tmp_path / "probe") as mounted:
        if not mounted:
            pytest.skip("mounting a tmpfs is not allowed here: the poll alone limits the disk (README)")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    before = os.statvfs(scratch)
    path = cheat(tmp_path, DEEP_WRITER)
    os.environ["TMPDIR"], old = str(scratch), os.environ.get("TMPDIR")
    try:
        import tempfile

        tempfile.tempdir = None
        report = grade.grade(path, cell_timeout=30, total_timeout=120)
    finally:
        os.environ.pop("TMPDIR") if old is None else os.environ.__setitem__("TMPDIR", old)
        tempfile.tempdir = None
    after = os.statvfs(scratch)
    messages = " ".join(m for r in report["exercises"] for m in r["messages"])
    assert "wrote " in messages, messages
    written = int(messages.split("wrote ")[1].split(" MiB")[0])
    assert f"errno {errno.ENOSPC}" in messages and written <= sandbox.LIMITS["disk"] // 2**20, messages
    assert (before.f_bfree - after.f_bfree) * before.f_frsize < 64 * 2**20  # nothing of it reached the disk
    assert list(scratch.iterdir()) == []


def test_magics_and_continuation_lines_are_read_as_the_notebook_reads_them(tmp_path):
    import nbformat

    from helpers.grading import assignments
    from test_grading_isolation import REFERENCE

    solved = nbformat.read(REFERENCE, as_version=4)
    cell = next(c for c in solved.cells if assignments.exercise_name(c) == "normalize_feature_map")
    cell.source = cell.source.replace("    if np.ptp(channel) == 0:", "    flat = (np.ptp(channel)\n"
                                      "            == 0)\n    listing = %ls\n    !echo hi\n    if flat:", 1)
    nbformat.write(solved, tmp_path / "02_activations.ipynb")
    record = next(r for r in grade.grade(tmp_path / "02_activations.ipynb", cell_timeout=10)["exercises"]
                  if r["exercise"] == "normalize_feature_map")
    assert record["score"] == record["points"], record["messages"]


def test_crafted_cells_cost_the_grader_no_time_before_the_sandbox(tmp_path):
    import nbformat

    from helpers.grading import assignments
    from helpers.grading.preamble import notebook_preamble
    from test_grading_isolation import REFERENCE

    solved = nbformat.read(REFERENCE, as_version=4)
    first = next(i for i, c in enumerate(solved.cells) if assignments.exercise_name(c))
    crafted = ["x = %ls\n" * 12_000, "y = " + "-" * 400 + "1\nimport os"]  # IPython's passes; unparse's recursion
    for k, source in enumerate(crafted):
        solved.cells.insert(first + k, nbformat.v4.new_code_cell(source))
    started = time.monotonic()
    assert "import os" in notebook_preamble(solved, "normalize_feature_map")
    assert time.monotonic() - started < 5
