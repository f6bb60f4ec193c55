"""Benchmark: grading a class of 100 submissions, serially and on Dask with 2 workers.

The class: 100 copies of the five exercise chapters (01-05, 20 each), a fifth of them
honest, the rest partly right, untouched student versions, syntax errors or cheats
that exit early with a forged results file (no infinite loops: their time limit would
dominate). Each is graded in its own bubblewrap sandbox with the same class seed:

1. serially in this process (``helpers.grading.grade_class.grade_class(serial=True)``): the baseline;
2. on a Dask ``LocalCluster`` of 2 single-threaded worker processes, timed once with the
   cluster start and once on a cluster already running (workers warmed up on 10 submissions);
3. with nbgrader's ``autograde`` on the same submissions (its sandboxed step, one process),
   for instructors who use the nbgrader workflow.

Prints seconds, seconds per submission and the ratios to the serial baseline, and checks
that the three give the same scores. Run: ``.venv/bin/python benchmarks/grading_class.py``.
"""

import os
import pathlib
import subprocess
import sys
import tempfile
import time

import nbformat

from helpers.course import cluster
from helpers.grading import assignments, grade_class, nbgrader_course

REPO = pathlib.Path(__file__).parents[1]
N = 100
CHEAT = "\nimport os, json\njson.dump({'x': {'score': 100}}, open('results.json', 'w'))\nos._exit(0)"


def make_class(root):
    """``N`` submissions as ``root/studentNN/<chapter>.ipynb``; returns [(student, chapter, path)]."""
    chapters = sorted(REPO.glob("notebooks/0[1-5]_*.ipynb"))
    kinds = ["honest", "partial", "untouched", "syntax", "cheat"]
    made = []
    for i in range(N):
        reference = chapters[i % 5]
        kind = kinds[(i // 5) % 5]
        nb = nbformat.read(REPO / "assignments" / reference.name if kind == "untouched" else reference, as_version=4)
        for cell in nb.cells:
            if assignments.exercise_name(cell) and kind != "untouched":
                lines = cell.source.splitlines()
                if kind == "partial":  # the last line of the solution dropped: wrong or no return value
                    end = max(j for j, line in enumerate(lines) if "### END SOLUTION" in line)
                    lines = lines[:end - 1] + lines[end:]
                elif kind == "syntax":
                    lines.append("def (")
                elif kind == "cheat":
                    lines.append(CHEAT)
                cell.source = "\n".join(lines)
        path = root / f"student{i:03d}" / reference.name
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
        made.append((f"student{i:03d}", reference.name[:2], path))
    return made


def timed(function):
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def nbgrader_autograde(root, made):
    """Autograde every submission with nbgrader (sandboxed step); return {(student, chapter): score} and seconds."""
    course = root / "course"
    nbgrader_course.init(course)
    env = {**os.environ, "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def nbgrader(*args):
        done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                              text=True)
        if done.returncode:
            raise RuntimeError(f"nbgrader {' '.join(args)} failed: {done.stderr[-2000:]}")

    for chapter in sorted({c for _, c, _ in made}):
        nbgrader("generate_assignment", f"ch{chapter}", "--force")
    for student, chapter, path in made:
        target = course / "submitted" / student / f"ch{chapter}" / path.name
        target.parent.mkdir(parents=True)
        answers = {assignments.exercise_name(c): c.source for c in nbformat.read(path, as_version=4).cells
                   if assignments.exercise_name(c)}
        nb = nbformat.read(course / "release" / f"ch{chapter}" / path.name, as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution") and cell.cell_type == "code":  # the question cell is left as released
                cell.source = answers[meta["grade_id"]]  # the student's answers, as nbgrader collects them
        nbformat.write(nb, target)
    start = time.perf_counter()
    for chapter in sorted({c for _, c, _ in made}):
        nbgrader("autograde", f"ch{chapter}", "--create", "--force")
    seconds = time.perf_counter() - start
    nbgrader("export", "--to", "grades.csv")
    import csv

    with open(course / "grades.csv") as f:
        scores = {(row["student_id"], row["assignment"][2:]): float(row["score"]) for row in csv.DictReader(f)}
    return scores, seconds


def main():
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as tmp:
        root = pathlib.Path(tmp)
        made = make_class(root)
        paths = [p for _, _, p in made]
        grade_class.grade_class(paths[:2], seed=1, serial=True)  # imports and the sandbox probe, not timed
        (serial, _), t_serial = timed(lambda: grade_class.grade_class(paths, seed=1, serial=True))
        (dask, _), t_dask = timed(lambda: grade_class.grade_class(paths, seed=1, workers=2))
        client = cluster.make_client(workers=2)
        grade_class.grade_class(paths[:10], seed=1, client=client)  # workers import their modules, not timed
        (warm, _), t_warm = timed(lambda: grade_class.grade_class(paths, seed=1, client=client))
        client.close()
        client.cluster.close()
        nb_scores, t_nbgrader = nbgrader_autograde(root, made)
    same = [r["score"] for r in serial] == [r["score"] for r in dask] == [r["score"] for r in warm]
    same_nbgrader = all(nb_scores[(s, c)] == r["score"] for (s, c, _), r in zip(made, serial))  # questions: 0 until graded
    print(f"{N} submissions (chapters 01-05; honest, partial, untouched, syntax error, cheat)")
    print(f"{'how':<38} {'seconds':>8} {'s/submission':>13} {'vs serial':>10}")
    for label, seconds in (("serial (baseline)", t_serial), ("Dask, 2 workers, cluster start incl.", t_dask),
                           ("Dask, 2 workers, warm cluster", t_warm),
                           ("nbgrader autograde (sandboxed)", t_nbgrader)):
        print(f"{label:<38} {seconds:8.1f} {seconds / N:13.3f} {t_serial / seconds:9.2f}x")
    print(f"total score {sum(r['score'] for r in serial):.2f} of {sum(r['max_score'] for r in serial):.0f}; "
          f"Dask scores equal serial: {same}; nbgrader scores equal serial: {same_nbgrader}")
    return 0 if same and same_nbgrader else 1


if __name__ == "__main__":
    sys.exit(main())
