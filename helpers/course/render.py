"""Render the course: ``python -m helpers.course.render [--only 00 02] [--quick] [-p name value]``.

Every ``notebooks/NN_*.ipynb`` is executed with papermill (kernel ``python3``,
working directory ``notebooks/``). Executed notebooks and HTML copies go to
``build/``; a summary table (chapter, status, seconds, checked claims:
:mod:`helpers.claims`) ends the run and the
report ``build/index.html`` is rebuilt (:mod:`helpers.course.report`). A failing
chapter is reported with its error cell and does not stop the others; its
partial output is kept as ``build/NN_*.failed.ipynb`` and never replaces a good
result; a false claim fails its chapter like any error (the message names the chapter,
the cell and the sentence with its numbers) and the run exits 1. With ``--update-references`` the committed notebooks in ``notebooks/``
are refreshed from a successful default render (volatile metadata stripped).

A chapter that needs a data set that cannot be shipped (``metadata.course.requires_data``
of the notebook: SVHN, CIFAR-10) is fetched first; where that is impossible (no
internet) the chapter is reported as ``NO DATA`` with the command that fixes it,
its committed notebook is left alone, and the other chapters go on.
"""

import argparse
import json
import os
import pathlib
import sys
import time

import nbformat
import yaml

from helpers.claims import LOG_VARIABLE, count_checked, count_findings
from helpers.data.registry import REPO_ROOT
from helpers.course.report import build_report, to_html

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
BUILD_DIR = REPO_ROOT / "build"
QUICK_PARAMETER = "quick"


def discover(only=None, notebook_dir=NOTEBOOK_DIR):
    """Return the chapter notebooks ``NN_*.ipynb`` in order, optionally only chapters ``only``."""
    notebook_dir = pathlib.Path(notebook_dir)
    if not notebook_dir.is_dir():
        raise SystemExit(f"notebook folder {notebook_dir} does not exist; pass --notebook-dir a folder of "
                         "NN_slug.ipynb chapters")
    notebooks = sorted(notebook_dir.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise SystemExit(f"no chapter notebooks NN_slug.ipynb (e.g. 00_datasets.ipynb) in {notebook_dir}")
    if only:
        wanted = {str(x).zfill(2) for x in only}
        unknown = wanted - {nb.name[:2] for nb in notebooks}
        if unknown:
            have = ", ".join(nb.name for nb in notebooks)
            raise SystemExit(f"no chapter {', '.join(sorted(unknown))}; chapters here: {have}")
        notebooks = [nb for nb in notebooks if nb.name[:2] in wanted]
    return notebooks


def collect_parameters(pairs=(), yaml_file=None, quick=False):
    """Merge parameters: the YAML file first, then ``-p name value`` pairs (values parsed as YAML)."""
    params = {}
    if yaml_file:
        loaded = yaml.safe_load(pathlib.Path(yaml_file).read_text()) or {}
        if not isinstance(loaded, dict):
            raise SystemExit(f"{yaml_file} must hold a mapping name: value, got {type(loaded).__name__}")
        params.update(loaded)
    for name, value in pairs:
        params[name] = yaml.safe_load(value)
    if quick:
        params[QUICK_PARAMETER] = True
    return params


def declared_parameters(path):
    """Names assigned in the notebook's ``parameters`` cell."""
    import papermill

    return set(papermill.inspect_notebook(str(path)))


def strip_volatile(nb):
    """Remove run-specific metadata (papermill timings, execution timestamps); keep tags and counts."""
    nb.metadata.pop("papermill", None)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    return nb


def _write_atomically(path, text):
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def describe_failure(err):
    """One paragraph naming the failing cell and its error."""
    import papermill

    if isinstance(err, papermill.PapermillExecutionError):
        return f"cell {err.cell_index} (In [{err.exec_count}]): {err.ename}: {err.evalue}"
    return f"{type(err).__name__}: {err}"


def required_data(path):
    """Data sets a chapter declares in ``metadata.course.requires_data`` (empty for shipped data)."""
    nb = nbformat.read(path, as_version=4)
    return list(nb.metadata.get("course", {}).get("requires_data", []))


def missing_data(names):
    """Fetch and verify data sets ``names`` (or their array copies, :mod:`helpers.data.arrays`);
    return the first error message, or "" when all are here."""
    from helpers.data.arrays import ensure_available
    from helpers.data.registry import DatasetError

    for name in names:
        try:
            ensure_available(name)
        except DatasetError as err:
            return str(err)
    return ""


def read_claims_log(path):
    """The claim records (dicts) a render wrote to ``path`` (:data:`helpers.claims.LOG_VARIABLE`)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def render_one(path, params, build_dir, timeout, update_references):
    """Execute one chapter; return ``(status, seconds, message, claims)`` (claims: checked claims that held).

    The chapter's claims are also logged, one JSON line each, to ``build_dir/claims/<chapter>.jsonl``
    (:func:`read_claims_log`); a claim that did not hold under changed parameters is a finding there.
    """
    import papermill

    from helpers.data.registry import is_fixture

    build_dir.mkdir(parents=True, exist_ok=True)
    needs = required_data(path)
    problem = missing_data(needs)
    if problem:
        return "NO DATA", 0.0, problem, 0
    fixtures = [name for name in needs if is_fixture(name)]
    declared = declared_parameters(path)
    chosen = {k: v for k, v in params.items() if k in declared}
    partial = build_dir / f".{path.stem}.partial.ipynb"
    log = build_dir / "claims" / f"{path.stem}.jsonl"
    log.parent.mkdir(exist_ok=True)
    log.unlink(missing_ok=True)
    start = time.perf_counter()
    saved = {name: os.environ.get(name) for name in ("COURSE_PROGRESS", LOG_VARIABLE)}
    os.environ["COURSE_PROGRESS"] = "0"  # the kernel inherits it: no half-drawn bars in stored outputs
    os.environ[LOG_VARIABLE] = str(log)
    try:
        papermill.execute_notebook(
            str(path), str(partial), parameters=chosen, kernel_name="python3",
            cwd=str(path.parent), progress_bar=True, execution_timeout=timeout,
        )
    except Exception as err:  # every failure of a chapter is reported, none stops the others
        seconds = time.perf_counter() - start
        if partial.exists():
            os.replace(partial, build_dir / f"{path.stem}.failed.ipynb")
        return "FAILED", seconds, f"{path.name}, {describe_failure(err)}", 0
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    seconds = time.perf_counter() - start
    nb = nbformat.read(partial, as_version=4)
    claims = count_checked(nb)
    _write_atomically(build_dir / f"{path.stem}.html", to_html(nb))
    os.replace(partial, build_dir / path.name)
    (build_dir / f"{path.stem}.failed.ipynb").unlink(missing_ok=True)
    if update_references and fixtures:
        return "ok", seconds, f"committed notebook kept: {', '.join(fixtures)} points at test fixtures, not real data", claims
    if update_references:
        _write_atomically(path, nbformat.writes(strip_volatile(nb)) + "\n")
    return "ok", seconds, "", claims


def render(notebooks, params, build_dir=BUILD_DIR, timeout=None, update_references=False):
    """Render ``notebooks`` in order; return the list of result dicts."""
    unknown = set(params) - set().union(*(declared_parameters(nb) for nb in notebooks))
    if unknown:
        print(f"warning: no selected chapter declares {', '.join(sorted(unknown))}; ignored", file=sys.stderr)
    results = []
    for i, path in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] {path.name}", flush=True)
        status, seconds, message, claims = render_one(path, params, build_dir, timeout, update_references)
        if message:
            print(f"    {status}: {message}", file=sys.stderr, flush=True)
        chosen = {k: v for k, v in params.items() if k in declared_parameters(path)}
        findings = sum(r["status"] == "finding" for r in read_claims_log(build_dir / "claims" / f"{path.stem}.jsonl"))
        if findings:
            print(f"    {findings} finding(s): claims that do not hold for these parameters", flush=True)
        results.append({"chapter": path.stem, "status": status, "seconds": round(seconds, 1), "claims": claims,
                        "findings": findings if status == "ok" else 0, "parameters": chosen,
                        "error": message, "rendered": time.strftime("%Y-%m-%d %H:%M")})
    return results


def print_summary(results):
    """Print the chapter / status / seconds table."""
    width = max(len(r["chapter"]) for r in results)
    print(f"\n{'chapter':<{width}}  status   seconds  claims  findings")
    for r in results:
        print(f"{r['chapter']:<{width}}  {r['status']:<7}  {r['seconds']:>7.1f}  {r.get('claims', 0):>6}  "
              f"{r.get('findings', 0):>8}")
    print(f"{'total':<{width}}  {'':<7}  {sum(r['seconds'] for r in results):>7.1f}  "
          f"{sum(r.get('claims', 0) for r in results):>6}  {sum(r.get('findings', 0) for r in results):>8}")


def write_summary(path, results):
    """Merge this run's results into ``path`` (JSON list, one record per chapter); return the merged list.

    A chapter that failed or lacked its data keeps the record of its last good render
    (that is the page the report still shows), with this run's problem noted.
    """
    previous = json.loads(path.read_text()) if path.exists() else []
    merged = {r["chapter"]: r for r in previous}
    for r in results:
        old = merged.get(r["chapter"])
        if r["status"] != "ok" and old and old["status"] == "ok":
            merged[r["chapter"]] = {**old, "error": f"last run {r['status']}: {r['error']}"}
        else:
            merged[r["chapter"]] = r
    records = [merged[k] for k in sorted(merged)]
    path.write_text(json.dumps(records, indent=1) + "\n")
    return records


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NN", help="chapter numbers to render, e.g. --only 00 02")
    parser.add_argument("--quick", action="store_true", help="fast profile: sets quick=True in every chapter")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="set a parameter (value parsed as YAML); repeatable")
    parser.add_argument("-f", "--parameters-file", metavar="YAML", help="parameters from a YAML mapping")
    parser.add_argument("--notebook-dir", type=pathlib.Path, default=NOTEBOOK_DIR)
    parser.add_argument("--build-dir", type=pathlib.Path, default=BUILD_DIR)
    parser.add_argument("--timeout", type=int, default=None, help="seconds allowed per cell")
    parser.add_argument("--retrain", action="store_true",
                        help="train every model from scratch instead of loading the shipped weights "
                             "(sets COURSE_RETRAIN=1 for the chapters; refresh them with python -m helpers.models.shipped)")
    parser.add_argument("--update-references", action="store_true",
                        help="refresh the committed notebooks from this (default-parameter) render")
    args = parser.parse_args(argv)
    params = collect_parameters(args.parameter, args.parameters_file, args.quick)
    if args.retrain:
        os.environ["COURSE_RETRAIN"] = "1"  # inherited by every chapter's kernel
    if args.update_references and params:
        parser.error("--update-references renders with the default parameters only; drop -p/-f/--quick")
    results = render(discover(args.only, args.notebook_dir), params, args.build_dir, args.timeout, args.update_references)
    print_summary(results)
    records = write_summary(args.build_dir / "render_summary.json", results)
    print(f"report: {build_report(args.build_dir, args.notebook_dir, records)}")
    return 1 if any(r["status"] == "FAILED" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
