"""A whole class graded, or a render parameter sweep run, in parallel on Dask.

``python -m helpers.parallel grade SUBMISSIONS... [--csv scores.csv]`` grades every
submission (:func:`helpers.grade.grade`, each in its own sandbox) and
``python -m helpers.parallel sweep SWEEP.yaml [--only 01 05]`` renders the chapters once
per parameter set, each set into its own build folder ``build/sweeps/<name>/``.
Both run on a Dask ``LocalCluster`` (``--workers``, default 2) or on an existing
cluster (``--scheduler tcp://host:8786``); ``--serial`` runs in this process, in order.

Scores do not depend on how the work is spread: each submission's check inputs are
drawn from a seed derived from one class seed (``--seed``; printed and stored) and
the submission's position, so serial and parallel grading give the same scores.
Render workers share the trained-model cache safely (:func:`helpers.models.trained`
locks an entry while one process trains it).
"""

import argparse
import csv
import os
import pathlib
import secrets
import subprocess
import sys

import yaml

from helpers.data.registry import REPO_ROOT
from helpers.progress import progress

SWEEP_DIR = REPO_ROOT / "build" / "sweeps"


def make_client(scheduler=None, workers=2):
    """A Dask client: connected to ``scheduler``, or to a new ``LocalCluster`` of ``workers`` processes."""
    from distributed import Client, LocalCluster

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # inherited by the workers, which import TensorFlow
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if scheduler:
        return Client(scheduler)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=50)
    return Client(cluster)


def submission_seeds(count, seed):
    """One check-input seed per submission, derived from the class ``seed``."""
    import numpy as np

    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(count)]


def _grade_one(path, seed, cell_timeout, total_timeout, isolate):
    from helpers import grade

    try:
        return grade.grade(path, cell_timeout, total_timeout, seed, isolate)
    except Exception as err:  # a failure of the grading machinery itself is reported, not a crash of the class
        return {"submission": str(path), "score": 0.0, "max_score": 0.0, "exercises": [], "seed": seed,
                "isolated": isolate, "problem": f"grading failed: {type(err).__name__}: {err}"}


def _gather(client, futures, label):
    """Results of ``futures`` in submission order, with a progress bar as they finish."""
    from distributed import as_completed

    with progress(None, label, total=len(futures)) as bar:
        for _ in as_completed(futures):
            bar.update(1)
    return client.gather(futures)


def grade_class(paths, seed=None, scheduler=None, workers=2, serial=False, cell_timeout=30, total_timeout=300,
                isolate=True, client=None):
    """Grade ``paths`` in parallel; return ``(reports in the order of paths, class seed)``.

    ``client``: an existing Dask client to use (left open); otherwise one is made from
    ``scheduler``/``workers`` and closed at the end."""
    from helpers import sandbox

    if isolate:
        sandbox.ensure_works()  # fail once, here, rather than once per submission on the workers
    paths = [str(p) for p in paths]
    seed = secrets.randbits(32) if seed is None else int(seed)
    seeds = submission_seeds(len(paths), seed)
    args = (cell_timeout, total_timeout, isolate)
    if serial:
        return [_grade_one(p, s, *args) for p, s in progress(list(zip(paths, seeds)), "grading")], seed
    own = client is None
    client = make_client(scheduler, workers) if own else client
    try:
        futures = client.map(_grade_one, paths, seeds, *[[a] * len(paths) for a in args], pure=False)
        return _gather(client, futures, "grading"), seed
    finally:
        if own:
            _close(client, scheduler)


def _close(client, scheduler):
    cluster = None if scheduler else client.cluster
    client.close()
    if cluster is not None:
        cluster.close()


def write_csv(reports, path):
    """One row per submission: submission, score, max_score, problem."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "score", "max_score", "seed", "problem"])
        for r in reports:
            writer.writerow([r["submission"], r["score"], r["max_score"], r["seed"], r["problem"]])


def read_sweep(path):
    """``{name: parameters}`` from a YAML mapping of parameter sets; names become folder names."""
    sweep = yaml.safe_load(pathlib.Path(path).read_text()) or {}
    if not isinstance(sweep, dict) or not all(isinstance(v, dict) for v in sweep.values()):
        raise ValueError(f"{path} must map a name to a mapping of parameters, e.g. 'seed1: {{seed: 1}}'")
    bad = [n for n in sweep if not str(n).replace("-", "").replace("_", "").isalnum()]
    if bad:
        raise ValueError(f"{path}: names {bad} must be letters, digits, '-' or '_' (they become folder names)")
    return {str(k): v for k, v in sweep.items()}


def _render_one(name, parameters, build_dir, only):
    """Render the chapters with ``parameters`` into ``build_dir`` in a child process; return its record."""
    build_dir = pathlib.Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    (build_dir / "parameters.yaml").write_text(yaml.safe_dump(parameters))
    command = [sys.executable, "-m", "helpers.render", "--build-dir", str(build_dir),
               "-f", str(build_dir / "parameters.yaml")] + (["--only", *only] if only else [])
    with open(build_dir / "render.log", "w") as log:
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT).returncode
    return {"name": name, "parameters": parameters, "build_dir": str(build_dir), "returncode": code}


def sweep(sets, only=None, build_root=SWEEP_DIR, scheduler=None, workers=2, serial=False):
    """Render once per parameter set of ``sets`` (``{name: parameters}``), each into ``build_root/name``."""
    jobs = [(name, params, str(pathlib.Path(build_root) / name), only) for name, params in sets.items()]
    if serial:
        return [_render_one(*job) for job in jobs]
    client = make_client(scheduler, workers)
    try:
        futures = [client.submit(_render_one, *job, pure=False) for job in jobs]
        return _gather(client, futures, "rendering")
    finally:
        _close(client, scheduler)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("grade", "sweep"):
        p = sub.add_parser(name)
        p.add_argument("--scheduler", help="address of a running Dask scheduler (default: a LocalCluster)")
        p.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
        p.add_argument("--serial", action="store_true", help="no Dask: one job after the other")
        if name == "grade":
            p.add_argument("submissions", nargs="+", type=pathlib.Path)
            p.add_argument("--csv", type=pathlib.Path, default=pathlib.Path("class_scores.csv"))
            p.add_argument("--seed", type=int, help="class seed of the check inputs (default: a fresh one)")
            p.add_argument("--no-sandbox", action="store_true", help="grade unisolated (trusted notebooks only)")
            p.add_argument("--cell-timeout", type=float, default=30, help="seconds per cell and per function call")
            p.add_argument("--total-timeout", type=float, default=300, help="seconds per submission")
        else:
            p.add_argument("sweep_file", type=pathlib.Path, help="YAML: name -> parameters")
            p.add_argument("--only", nargs="+", metavar="NN", help="chapter numbers")
            p.add_argument("--build-root", type=pathlib.Path, default=SWEEP_DIR)
    args = parser.parse_args(argv)
    if args.command == "grade":
        from helpers import grade, sandbox

        try:
            reports, seed = grade_class(args.submissions, args.seed, args.scheduler, args.workers, args.serial,
                                        args.cell_timeout, args.total_timeout, not args.no_sandbox)
        except sandbox.SandboxUnavailable as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        for report in reports:
            print(f"{report['submission']}: {report['score']:.2f} / {report['max_score']}")
            try:
                grade.write_report(report, pathlib.Path(report["submission"]).with_suffix(".grade.json"))
            except OSError as err:
                print(f"    could not write its .grade.json ({err}); the score is in {args.csv}")
        write_csv(reports, args.csv)
        print(f"class seed {seed}; scores in {args.csv}")
        return 0
    try:
        sets = read_sweep(args.sweep_file)
    except (OSError, ValueError, yaml.YAMLError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    records = sweep(sets, args.only, args.build_root, args.scheduler, args.workers, args.serial)
    for r in records:
        print(f"{r['name']:<16} {'ok' if r['returncode'] == 0 else 'FAILED':<7} {r['build_dir']}")
    return 1 if any(r["returncode"] for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
