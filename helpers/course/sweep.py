"""Render parameter sweeps: the course rendered once per parameter set, on Dask.

``python -m helpers.course.sweep SWEEP.yaml [--only 01 05]`` renders the chapters once
per parameter set, each set into its own build folder ``build/sweeps/<name>/``, on a
Dask ``LocalCluster`` (``--workers``, default 2) or an existing cluster
(``--scheduler tcp://host:8786``); ``--serial`` runs them one after the other here.
Render workers share the trained-model cache safely (:func:`helpers.models.trained`
locks an entry while one process trains it).
"""

import argparse
import pathlib
import subprocess
import sys

import yaml

from helpers.course.cluster import close, gather, make_client
from helpers.data.registry import REPO_ROOT

SWEEP_DIR = REPO_ROOT / "build" / "sweeps"


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
    command = [sys.executable, "-m", "helpers.course.render", "--build-dir", str(build_dir),
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
        return gather(client, futures, "rendering")
    finally:
        close(client, scheduler)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_file", type=pathlib.Path, help="YAML: name -> parameters")
    parser.add_argument("--only", nargs="+", metavar="NN", help="chapter numbers")
    parser.add_argument("--build-root", type=pathlib.Path, default=SWEEP_DIR)
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (default: a LocalCluster)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    parser.add_argument("--serial", action="store_true", help="no Dask: one render after the other")
    args = parser.parse_args(argv)
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
