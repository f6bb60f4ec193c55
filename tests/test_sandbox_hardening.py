"""The sandbox holds against a class of determined students, also when the grader runs as root.

Each test is one attack from the grader's audit: capabilities and remounting, secrets in the
environment or in /etc, memory, processes, shared memory, named pipes in place of result
files, forged output headers, nested brackets, thousands of nested directories, symlinked
submissions. Each asserts what the attacker gets: nothing, and the grader finishes.
"""

import json
import os
import pathlib
import time

import nbformat
import numpy as np
import pytest

from helpers.grading import grade, sandbox
from helpers.grading.limits import ControlGroup

pytestmark = pytest.mark.usefixtures("bubblewrap")


def inside(tmp_path, code, timeout=60):
    """Run ``code`` in the sandbox; return (exit code, output tail)."""
    (tmp_path / "probe.py").write_text(code)
    return sandbox.run(tmp_path, "probe.py", timeout=timeout)


def test_no_capabilities_no_remount_no_secrets_whoever_runs_the_grader(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTRUCTOR_SECRET", "s3cr3t-token")
    code, out = inside(tmp_path, """
import os, subprocess
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print("CapEff", status["CapEff"].strip(), "uid", os.getuid())
for path in ("/usr", "/proc/1"):
    done = subprocess.run(["mount", "-o", "remount,bind,rw", path], capture_output=True)
    print("remount", path, done.returncode)
print("shadow", os.path.exists("/etc/shadow"))
print("environ", open("/proc/1/environ", "rb").read().replace(b"\\0", b" ").decode())
print("secret", "s3cr3t" in repr(os.environ))
""")
    assert code == 0, out
    assert f"CapEff 0000000000000000 uid {sandbox.UNPRIVILEGED}" in out
    assert "remount /usr 0" not in out and "remount /proc/1 0" not in out and out.count("remount") == 2
    assert "shadow False" in out and "secret False" in out and "s3cr3t" not in out


def test_memory_processes_and_shared_memory_are_limited(tmp_path):
    size = 3 if _cgroup_enforced() else 5  # 3 GiB against the group's 2 GiB; else beyond the 4 GiB address space
    code, out = inside(tmp_path, f"""
import numpy as np
a = np.ones({size} * 2**30 // 8)
print("allocated", a.sum())
""")
    assert code != 0 and "allocated" not in out  # killed by the group, or MemoryError under the address-space limit
    code, out = inside(tmp_path, """
import os, time
started = 0
for _ in range(400):
    try:
        if os.fork() == 0:
            time.sleep(5)
            os._exit(0)
        started += 1
    except OSError:
        break
print("started", started)
""", timeout=30)
    started = int(out.split("started")[-1])
    assert started <= sandbox.LIMITS["processes"]  # the group's count, or RLIMIT_NPROC (a root grader's own uid)
    code, out = inside(tmp_path, """
written = 0
try:
    with open("/dev/shm/fill", "wb") as f:
        for _ in range(960):
            f.write(b"x" * 2**20)
            written += 1
except OSError as err:
    print("stopped", type(err).__name__)
print("MiB", written)
""")
    assert "stopped OSError" in out and int(out.split("MiB")[-1]) <= sandbox.LIMITS["/dev/shm"] // 2**20


def _cgroup_enforced():
    with ControlGroup(2**30, 64) as group:
        return "pids.max" in group.enforced


def test_a_pipe_in_place_of_the_log_or_the_results_does_not_block_the_grader(tmp_path):
    start = time.monotonic()
    code, out = inside(tmp_path, """
import os
print("before")
os.unlink("output.log"); os.mkfifo("output.log")
os.mkfifo("results.json"); os.mkfifo("out_x_0.npy")
""")
    assert code == 0 and "before" in out
    assert grade.read_results(tmp_path) == {}
    assert grade._output(tmp_path, "x", 0, "ok") == "its output could not be read (OSError)"
    assert time.monotonic() - start < 30


def test_forged_results_and_outputs_are_read_as_nothing(tmp_path):
    (tmp_path / "results.json").write_text("[" * 100_000 + "]" * 100_000)
    assert grade.read_results(tmp_path) == {}
    header = np.lib.format.header_data_from_array_1_0(np.zeros(3))
    header["shape"] = (10**12,)
    with open(tmp_path / "out_x_0.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(np.zeros(3).tobytes())
    message = grade._output(tmp_path, "x", 0, "ok")
    assert isinstance(message, str) and message.startswith("its output could not be read")


def test_thousands_of_nested_directories_are_cleaned_up():
    with grade._workdir() as workdir:
        fd = os.open(workdir, os.O_RDONLY)
        for _ in range(3000):  # deeper than any path may be long: made relative to each parent
            os.mkdir("d", dir_fd=fd)
            fd, parent = os.open("d", os.O_RDONLY, dir_fd=fd), fd
            os.close(parent)
        os.close(fd)
        kept = workdir
    assert not kept.exists()


def test_a_symlinked_submission_is_refused(tmp_path):
    real = tmp_path / "someone_else.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), real)
    link = tmp_path / "02_activations.ipynb"
    link.symlink_to(real)
    report = grade.grade(link, isolate=False)
    assert report["score"] == 0 and "is a symbolic link" in report["problem"]
    json.dumps(report)  # the report stays serializable
    assert pathlib.Path(report["submission"]) == link


def test_instructor_paths_a_student_module_a_stray_file_an_empty_glob_a_duplicate(tmp_path):
    import subprocess
    import sys

    repo = pathlib.Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    (tmp_path / "secrets.py").write_text("open('PWNED', 'w').write('ran in the grader')\n")
    (tmp_path / "numpy.py").write_text("open('PWNED', 'w').write('ran in the grader')\n")
    (tmp_path / "02_activations.txt").write_text("not a notebook")
    (tmp_path / "02_activations.grade.json").write_text('{"score": 1.5}')
    run = lambda *a: subprocess.run([sys.executable, "-m", *a], cwd=tmp_path, env=env, capture_output=True, text=True,
                                    timeout=300)
    done = run("helpers.grading.grade", "02_activations.txt", "--chapter", "02", "--no-sandbox")
    assert done.returncode == 2 and "not a notebook (.ipynb)" in done.stderr
    assert (tmp_path / "02_activations.grade.json").read_text() == '{"score": 1.5}'  # untouched
    done = run("helpers.grading.grade_class", "subs/*.ipynb", "--chapter", "02", "--serial", "--no-sandbox")
    assert done.returncode == 2 and "a pattern that matched no file?" in done.stderr
    assert not (tmp_path / "PWNED").exists()  # neither module was imported by the grader
    student = repo / "assignments" / "02_activations.ipynb"
    (tmp_path / "a.ipynb").write_bytes(student.read_bytes())
    done = run("helpers.grading.grade_class", "a.ipynb", "./a.ipynb", "--chapter", "02", "--serial", "--no-sandbox")
    assert done.returncode == 0, done.stderr
    assert "listed twice" in done.stderr  # graded once, but each listing keeps its row (no student vanishes)
    rows = (tmp_path / "class_scores.csv").read_text().splitlines()
    assert len(rows) == 3 and "is the same file as a.ipynb, listed before it" in rows[2]
    assert not (tmp_path / "PWNED").exists()


def _exercise_cell(nb):
    from helpers.grading import assignments

    return next(c for c in nb.cells if assignments.exercise_name(c))


def test_the_assignment_not_the_submission_decides_what_is_graded(tmp_path):
    repo = pathlib.Path(__file__).resolve().parents[1]
    nb = nbformat.read(repo / "assignments" / "02_activations.ipynb", as_version=4)
    for chapter in ("01_train_mnist", "03_filters"):  # solved exercises of other chapters, pasted in
        nb.cells.append(_exercise_cell(nbformat.read(repo / "notebooks" / f"{chapter}.ipynb", as_version=4)))
    nbformat.write(nb, tmp_path / "02_activations.ipynb")
    report = grade.grade(tmp_path / "02_activations.ipynb", isolate=False)
    assert [r["exercise"] for r in report["exercises"]] == ["channel_means", "normalize_feature_map"]
    assert report["score"] == 0 and report["max_score"] == 4.0
    renamed = nbformat.read(repo / "notebooks" / "02_activations.ipynb", as_version=4)
    renamed.metadata.pop("course", None)
    nbformat.write(renamed, tmp_path / "my_homework.ipynb")
    report = grade.grade(tmp_path / "my_homework.ipynb", isolate=False)
    assert report["max_score"] == 0 and "name its chapter (--chapter 02)" in report["problem"]
    # a chapter 02 answer renamed to chapter 05's name, its metadata listing 02's exercises: the instructor's
    # --chapter decides, neither the name nor the metadata
    renamed.metadata["course"] = {"exercises": ["normalize_feature_map", "channel_means"]}
    nbformat.write(renamed, tmp_path / "05_attribution.ipynb")
    report = grade.grade(tmp_path / "05_attribution.ipynb", isolate=False, chapter="05")
    assert sorted(r["exercise"] for r in report["exercises"]) == ["grad_cam_plus_plus_map", "score_cam_map"]
    assert report["score"] == 0
    nbformat.write(renamed, tmp_path / "02_mine.ipynb")
    report = grade.grade(tmp_path / "02_mine.ipynb", isolate=False, chapter="02")
    assert report["score"] == report["max_score"] == 4.0


def test_honest_notebook_habits_are_graded_fairly(tmp_path):
    repo = pathlib.Path(__file__).resolve().parents[1]
    solved = nbformat.read(repo / "notebooks" / "02_activations.ipynb", as_version=4)
    cell = _exercise_cell(solved)
    cell.source = cell.source.replace("import numpy as np", "%matplotlib inline\nimport numpy as np", 1)
    nbformat.write(solved, tmp_path / "02_activations.ipynb")
    assert grade.grade(tmp_path / "02_activations.ipynb", isolate=False)["score"] == 4.0
    cell.source = cell.source.replace("%matplotlib inline\nimport numpy as np", "", 1)  # relies on an earlier import
    nbformat.write(solved, tmp_path / "02_activations.ipynb")
    assert grade.grade(tmp_path / "02_activations.ipynb", isolate=False)["score"] == 4.0
    cell.source = cell.source.replace("    channel = np.asarray", "    channel = 0 * x_test.sum() + np.asarray", 1)
    nbformat.write(solved, tmp_path / "02_activations.ipynb")  # relies on data loaded by an earlier cell
    report = grade.grade(tmp_path / "02_activations.ipynb", isolate=False)
    record = next(r for r in report["exercises"] if r["exercise"] == "normalize_feature_map")
    assert record["score"] == 0 and any("only the exercise cell runs" in m and "imports and constants" in m
                                        for m in record["messages"])
    cell.source = cell.source.replace("0 * x_test.sum() + ", "", 1)
    honest = {"a constant of an earlier cell": ("    channel = np.asarray", "    channel = 0 * image_index + np.asarray"),
              "IPython's display": ("    channel = np.asarray", "    display('normalizing')\n    channel = np.asarray"),
              "an unused course import": ("def normalize_feature_map", "from helpers import featuremaps\n"
                                                                        "def normalize_feature_map")}
    original = cell.source
    for habit, (old, new) in honest.items():  # in the sandbox, as the grader really runs them
        cell.source = original.replace(old, new, 1)
        assert cell.source != original, habit
        nbformat.write(solved, tmp_path / "02_activations.ipynb")
        report = grade.grade(tmp_path / "02_activations.ipynb", cell_timeout=10, total_timeout=120)
        record = next(r for r in report["exercises"] if r["exercise"] == "normalize_feature_map")
        assert record["score"] == record["points"], (habit, record["messages"])
    cell.source = original
    cell.source = cell.source.splitlines()[0] + "\nfrom helpers.featuremaps import normalize_channel as normalize_feature_map"
    nbformat.write(solved, tmp_path / "02_activations.ipynb")
    report = grade.grade(tmp_path / "02_activations.ipynb")  # in the sandbox, where the course is not
    record = next(r for r in report["exercises"] if r["exercise"] == "normalize_feature_map")
    assert record["score"] == 0 and any("helpers package is not there when grading" in m for m in record["messages"])


def test_writing_past_the_disk_limit_stops_the_run(tmp_path):
    started = time.monotonic()
    code, out = inside(tmp_path, """
import os
block = os.urandom(2**20)
for i in range(1000):  # 1,000 files of 60 MiB: 60 GB if nothing stopped it
    with open(f"fill{i}.bin", "wb") as f:
        for _ in range(60):
            f.write(block)
print("wrote everything")
""", timeout=120)
    assert code is None and out.startswith(sandbox.DISK_STOP) and "wrote everything" not in out
    assert time.monotonic() - started < 60
    used = sandbox.disk_usage(tmp_path)
    assert used < sandbox.LIMITS["disk"] + 8 * sandbox.FILE_SIZE_LIMIT  # the limit plus what one poll lets through
    (tmp_path / "many").mkdir()
    code, out = inside(tmp_path / "many", """
import os
for i in range(50_000):
    os.mkdir(f"d{i}")
print("made everything")
""", timeout=120)
    assert code is None and out.startswith(sandbox.DISK_STOP) and "made everything" not in out


def test_an_answer_that_starts_a_hundred_threads_keeps_its_marks(tmp_path):
    repo = pathlib.Path(__file__).resolve().parents[1]
    solved = nbformat.read(repo / "notebooks" / "02_activations.ipynb", as_version=4)
    cell = _exercise_cell(solved)
    cell.source += ("\nimport threading, time\n_threads = [threading.Thread(target=time.sleep, args=(2,)) "
                    "for _ in range(100)]\nfor t in _threads:\n    t.start()\nfor t in _threads:\n    t.join()")
    nbformat.write(solved, tmp_path / "02_activations.ipynb")
    report = grade.grade(tmp_path / "02_activations.ipynb", cell_timeout=20, total_timeout=120)
    record = next(r for r in report["exercises"] if r["exercise"] == "normalize_feature_map")
    assert record["score"] == record["points"], record["messages"]


@pytest.mark.parametrize("kind", ["deleted files kept open", "memfds"])
def test_space_no_listing_shows_counts_against_the_disk_limit(tmp_path, kind):
    make = ("open(f'f{i}', 'w+b'); os.unlink(f'f{i}')" if kind == "deleted files kept open"
            else "os.fdopen(os.memfd_create(f'm{i}'), 'w+b')")
    code, out = inside(tmp_path, f"""
import os, time
block, kept = os.urandom(2**20), []
for i in range(20):  # 20 x 40 MiB, each file under the 64 MiB file-size limit
    f = {make}
    for _ in range(40):
        f.write(block)
    f.flush()
    kept.append(f)
    print("held", (i + 1) * 40, "MiB", flush=True)
time.sleep(30)
print("kept it all")
""", timeout=120)
    assert code is None and out.startswith(sandbox.DISK_STOP), out[-500:]
    assert "kept it all" not in out
    held = max(int(line.split()[1]) for line in out.splitlines() if line.startswith("held"))
    # measured every 0.05 s: stopped within what it writes in a few polls (about 6 files), far below its 800 MiB
    assert held <= sandbox.LIMITS["disk"] // 2**20 + 240, held
