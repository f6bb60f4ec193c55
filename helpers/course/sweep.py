"""Render parameter sweeps: the course rendered once per parameter set, on Dask.

``python -m helpers.course.sweep SWEEP.yaml [--only 01 05]`` renders the chapters once
per parameter set, each set into its own build folder ``build/sweeps/<name>/``, on a
Dask ``LocalCluster`` (``--workers``, default 2) or an existing cluster
(``--scheduler tcp://host:8786``); ``--serial`` runs them one after the other here.
Render workers share the trained-model cache safely (:func:`helpers.models.trained`
locks an entry while one process trains it). ``--vary image_index 227 321 51`` sweeps one
parameter over a list of values without a YAML file.

A sweep ends with a *robustness table* of the course's own findings,
``build/sweeps/robustness.md`` (and ``.csv``): one row per checked claim, one column per
parameter set, ✔ where the claim held, ✘ where it did not (a finding of that run: the render
does not fail, :mod:`helpers.claims`), – where it was not checked (quick profile, fixtures).
"""

import argparse
import csv
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


def vary(name, values):
    """``{name-value: {name: value}}`` for a sweep of one parameter over ``values`` (YAML strings)."""
    sets = {}
    for text in values:
        value = yaml.safe_load(text)
        label = f"{name}-{text}".replace(" ", "")
        if not label.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ValueError(f"--vary {name} {text!r}: use values made of letters and digits (they name folders)")
        sets[label] = {name: value}
    return sets


def _marks(statuses):
    if not statuses:
        return ""
    if all(s == "held" for s in statuses):
        return "\u2714"
    if all(s == "unchecked" for s in statuses):
        return "\u2013"
    failed = sum(s == "finding" for s in statuses)
    return "\u2718" if failed == len(statuses) else f"\u2718 {failed}/{len(statuses)}"


def robustness_table(records, build_root=SWEEP_DIR):
    """Write ``robustness.md`` and ``robustness.csv`` in ``build_root`` from the sweep's claim logs.

    Args:
        records: the sweep's records (``name``, ``parameters``, ``build_dir``, ``returncode``).
        build_root: where the two files go.

    Returns:
        ``(path of the markdown table, number of claims, number of findings)``.
    """
    from helpers.course.render import read_claims_log

    rows, cells = [], {}
    for r in records:
        for log in sorted((pathlib.Path(r["build_dir"]) / "claims").glob("*.jsonl")):
            for claim in read_claims_log(log):
                key = (log.stem[:2], claim["template"])
                if key not in cells:
                    rows.append(key)
                    cells[key] = {}
                cells[key].setdefault(r["name"], []).append(claim["status"])
    names = [r["name"] for r in records]
    build_root = pathlib.Path(build_root)
    build_root.mkdir(parents=True, exist_ok=True)
    short = {key: " ".join(key[1].split())[:110].replace("|", "/") for key in rows}
    lines = ["# Which claims hold for which parameters", "",
             "Rows: the course's checked sentences (templates, numbers as fields). Columns: parameter sets "
             "(\u2714 held, \u2718 does not hold, \u2013 not checked, blank: chapter not rendered or failed).", ""]
    for r in records:
        status = "rendered" if r["returncode"] == 0 else f"render exit {r['returncode']}, see {r['build_dir']}/render.log"
        lines.append(f"- **{r['name']}**: {r['parameters']} ({status})")
    lines += ["", "| chapter | claim | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for key in rows:
        lines.append(f"| {key[0]} | {short[key]} | " + " | ".join(_marks(cells[key].get(n, [])) for n in names) + " |")
    table = build_root / "robustness.md"
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with open(build_root / "robustness.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, quoting=csv.QUOTE_ALL)
        writer.writerow(["chapter", "claim", *names])
        for key in rows:
            writer.writerow([key[0], key[1], *(_marks(cells[key].get(n, [])) for n in names)])
    findings = sum(s == "finding" for c in cells.values() for v in c.values() for s in v)
    return table, len(rows), findings


def _render_one(name, parameters, build_dir, only, notebook_dir=None):
    """Render the chapters with ``parameters`` into ``build_dir`` in a child process; return its record."""
    build_dir = pathlib.Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    (build_dir / "parameters.yaml").write_text(yaml.safe_dump(parameters))
    command = [sys.executable, "-m", "helpers.course.render", "--build-dir", str(build_dir),
               "-f", str(build_dir / "parameters.yaml")] + (["--only", *only] if only else []) \
        + (["--notebook-dir", str(notebook_dir)] if notebook_dir else [])
    with open(build_dir / "render.log", "w") as log:
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT).returncode
    return {"name": name, "parameters": parameters, "build_dir": str(build_dir), "returncode": code}


def sweep(sets, only=None, build_root=SWEEP_DIR, scheduler=None, workers=2, serial=False, notebook_dir=None):
    """Render once per parameter set of ``sets`` (``{name: parameters}``), each into ``build_root/name``."""
    jobs = [(name, params, str(pathlib.Path(build_root) / name), only, notebook_dir) for name, params in sets.items()]
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
    parser.add_argument("sweep_file", type=pathlib.Path, nargs="?", help="YAML: name -> parameters")
    parser.add_argument("--vary", nargs="+", metavar=("NAME", "VALUE"),
                        help="sweep one parameter over values instead of a YAML file: --vary image_index 227 321")
    parser.add_argument("--only", nargs="+", metavar="NN", help="chapter numbers")
    parser.add_argument("--build-root", type=pathlib.Path, default=SWEEP_DIR)
    parser.add_argument("--notebook-dir", type=pathlib.Path, help="chapters to render (default: notebooks/)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (default: a LocalCluster)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    parser.add_argument("--serial", action="store_true", help="no Dask: one render after the other")
    args = parser.parse_args(argv)
    if (args.sweep_file is None) == (args.vary is None):
        parser.error("give a sweep file or --vary NAME VALUE ..., one of the two")
    if args.vary is not None and len(args.vary) < 2:
        parser.error("--vary needs a parameter name and at least one value: --vary image_index 227 321")
    try:
        sets = read_sweep(args.sweep_file) if args.sweep_file else vary(args.vary[0], args.vary[1:])
    except (OSError, ValueError, yaml.YAMLError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    records = sweep(sets, args.only, args.build_root, args.scheduler, args.workers, args.serial,
                    args.notebook_dir)
    for r in records:
        print(f"{r['name']:<16} {'ok' if r['returncode'] == 0 else 'FAILED':<7} {r['build_dir']}")
    table, claims, findings = robustness_table(records, args.build_root)
    print(f"robustness table: {table} ({claims} claims, {findings} findings)")
    return 1 if any(r["returncode"] for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
