"""The course as one browsable report: ``build/index.html`` plus every chapter as HTML.

``python -m helpers.course.render`` calls :func:`build_report` after each run. The
index lists every chapter with its one-line summary, status, render time and
date, and the library versions; each chapter page (figures embedded by
nbconvert) gets previous / index / next links. Chapters that did not render
(``NO DATA``, ``FAILED``, never rendered) are listed with their status and no
link, so the report never holds a broken link.

``python -m helpers.course.report --from-notebooks`` builds the same report from the
committed notebooks (their stored outputs) without executing anything.
"""

import argparse
import datetime
import html
import importlib.metadata
import json
import pathlib
import platform
import re
import sys

import nbformat

from helpers.data.registry import REPO_ROOT

NAV_CLASS = "course-nav"
LIBRARIES = ("tensorflow", "keras", "numpy", "matplotlib", "papermill", "nbconvert")
_NAV_RE = re.compile(rf'<nav class="{NAV_CLASS}".*?</nav>\n?', re.DOTALL)
_NAV_STYLE = ("display:flex;justify-content:space-between;padding:.6rem 1rem;background:#f3f4f6;"
              "font-family:system-ui,sans-serif;font-size:1rem")
_STYLE = """<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left}
.ok{color:#1a7f37}.bad{color:#b42318}.muted{color:#666}
</style>"""


def chapter_info(path):
    """Title and one-line summary of a chapter: its ``# `` heading and the first sentence after it."""
    nb = nbformat.read(path, as_version=4)
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    lines = first.strip().splitlines()
    title = lines[0].lstrip("# ").strip() if lines and lines[0].startswith("#") else path.stem
    body = " ".join(line.strip() for line in lines[1:] if line.strip() and not line.startswith(">"))
    summary = re.split(r"(?<=[.!?])\s", body, maxsplit=1)[0] if body else ""
    summary = re.sub(r"[*_`]", "", summary)  # markdown emphasis and code marks
    blank = not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    return {"chapter": path.stem, "title": title, "summary": summary, "has_outputs": not blank,
            "requires_data": list(nb.metadata.get("course", {}).get("requires_data", []))}


def library_versions():
    """Python and the main libraries' versions (read from package metadata, nothing imported)."""
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def add_navigation(page, previous=None, following=None, index="index.html"):
    """Insert previous / index / next links at the top and bottom of a chapter page (idempotent)."""
    def link(target, text):
        return f'<a href="{html.escape(target)}">{text}</a>' if target else '<span class="muted"></span>'

    nav = (f'<nav class="{NAV_CLASS}" style="{_NAV_STYLE}">{link(previous and previous + ".html", "&larr; " + (previous or ""))}'
           f'{link(index, "course index")}{link(following and following + ".html", (following or "") + " &rarr;")}</nav>\n')
    page = _NAV_RE.sub("", page)
    page = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav, page, count=1)
    return page.replace("</body>", nav + "</body>", 1)


def _row(info, record, linked):
    status = record.get("status", "not rendered")
    css = "ok" if status in ("ok", "stored outputs") else "bad"
    name = html.escape(info["title"])
    title = f'<a href="{info["chapter"]}.html">{name}</a>' if linked else name
    seconds = f'{record["seconds"]:.0f} s' if record.get("seconds") else "&mdash;"
    note = html.escape(record.get("error", "") or "")
    return (f"<tr><td>{title}<br><span class='muted'>{html.escape(info['summary'])}</span></td>"
            f"<td class='{css}'>{html.escape(status)}<br><span class='muted'>{note}</span></td>"
            f"<td>{seconds}</td><td>{html.escape(record.get('rendered') or '') or '&mdash;'}</td></tr>")


def build_report(build_dir, notebook_dir, results):
    """Write ``index.html`` and add navigation to every rendered chapter page.

    Args:
        build_dir: folder holding ``NN_*.html`` of rendered chapters; the index goes here.
        notebook_dir: the chapter notebooks (titles and summaries are read from them).
        results: render records (``chapter``, ``status``, ``seconds``, ``rendered``, ``error``),
            e.g. the content of ``render_summary.json``.

    Returns:
        Path of ``index.html``.
    """
    build_dir = pathlib.Path(build_dir)
    records = {r["chapter"]: r for r in results}
    infos = [chapter_info(p) for p in sorted(pathlib.Path(notebook_dir).glob("[0-9][0-9]_*.ipynb"))]
    linked = [i["chapter"] for i in infos if (build_dir / f"{i['chapter']}.html").exists()
              and records.get(i["chapter"], {}).get("status") in ("ok", "stored outputs")]
    for k, stem in enumerate(linked):
        page = build_dir / f"{stem}.html"
        before = linked[k - 1] if k else None
        after = linked[k + 1] if k + 1 < len(linked) else None
        page.write_text(add_navigation(page.read_text(encoding="utf-8"), before, after), encoding="utf-8")
    versions = ", ".join(f"{k} {v}" for k, v in library_versions().items())
    rows = "\n".join(_row(i, records.get(i["chapter"], {}), i["chapter"] in linked) for i in infos)
    built = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    index = (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Seeing inside convolutional networks"
             f"</title>{_STYLE}</head><body>\n<h1>Seeing inside convolutional networks</h1>\n"
             f"<p>A course in {len(infos)} chapters. Report built {built}.</p>\n"
             f"<table><tr><th>chapter</th><th>status</th><th>render time</th><th>rendered</th></tr>\n{rows}\n</table>\n"
             f"<p class='muted'>Library versions: {html.escape(versions)}.</p>\n</body></html>\n")
    path = build_dir / "index.html"
    path.write_text(index, encoding="utf-8")
    return path


def to_html(nb, instructor=False):
    """HTML of an executed notebook, figures embedded: as readers see it (no solution, no rubric, no test
    markers: :func:`helpers.grading.assignments.reader_version`), or, with ``instructor``, as it is."""
    from nbconvert import HTMLExporter

    from helpers.grading.assignments import reader_version

    body, _ = HTMLExporter().from_notebook_node(nb if instructor else reader_version(nb))
    return body


def from_notebooks(notebook_dir, build_dir, instructor=False):
    """Build the report from committed notebooks: HTML of those with stored outputs, no execution; with
    ``instructor``, the instructor's copy (solutions and rubrics shown).

    Returns:
        ``(index path, records)``; chapters without stored outputs are listed as not rendered.
    """
    build_dir = pathlib.Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for path in sorted(pathlib.Path(notebook_dir).glob("[0-9][0-9]_*.ipynb")):
        info = chapter_info(path)
        if info["has_outputs"]:
            nb = nbformat.read(path, as_version=4)
            (build_dir / f"{path.stem}.html").write_text(to_html(nb, instructor), encoding="utf-8")
            records.append({"chapter": path.stem, "status": "stored outputs"})
        else:
            needs = ", ".join(info["requires_data"]) or "a render"
            records.append({"chapter": path.stem, "status": "not rendered",
                            "error": f"committed without outputs; needs {needs} (make data, then make render)"})
    return build_report(build_dir, notebook_dir, records), records


def main(argv=None):
    parser = argparse.ArgumentParser(description="Build the course report (index + chapter pages) in build/.")
    parser.add_argument("--from-notebooks", action="store_true",
                        help="convert the committed notebooks instead of using a render's results")
    parser.add_argument("--notebook-dir", type=pathlib.Path, default=REPO_ROOT / "notebooks")
    parser.add_argument("--build-dir", type=pathlib.Path, default=REPO_ROOT / "build")
    parser.add_argument("--instructor", action="store_true",
                        help="the instructor's copy, solutions and rubrics shown (with --from-notebooks; default folder "
                             "build/instructor)")
    args = parser.parse_args(argv)
    if args.instructor and not args.from_notebooks:
        parser.error("--instructor builds from the notebooks: add --from-notebooks")
    if args.instructor:
        build_dir = args.build_dir if args.build_dir != REPO_ROOT / "build" else REPO_ROOT / "build" / "instructor"
        index, _ = from_notebooks(args.notebook_dir, build_dir, instructor=True)
    elif args.from_notebooks:
        index, _ = from_notebooks(args.notebook_dir, args.build_dir)
    else:
        summary = args.build_dir / "render_summary.json"
        if not summary.exists():
            parser.error(f"{summary} not found: run `make render` first, or pass --from-notebooks")
        index = build_report(args.build_dir, args.notebook_dir, json.loads(summary.read_text()))
    print(f"report: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
