"""The course as one browsable report: ``build/index.html`` plus every chapter as HTML.

``python -m helpers.course.render`` calls :func:`build_report` after each run. The
index lists every chapter by its title with its one-line summary, status, parameters,
render time and date, and the library versions. Each chapter page (figures embedded by
nbconvert) gets previous / index / next links named by the chapters' titles, a box with
the parameters, data, render date and library versions, and a table of contents
(:mod:`helpers.course.report_page`). Formulas are typeset by a copy of MathJax in the
build folder (:mod:`helpers.course.report_mathjax`): the report needs no internet.
Chapters that did not render (``NO DATA``, ``FAILED``, not in this build) are listed
with their status and no link, so the report never holds a broken link.

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

from helpers.course.report_facts import chapter_facts, notebook_date
from helpers.course.report_mathjax import MATHJAX_HEAD, copy_mathjax, use_local_mathjax
from helpers.course.report_page import COMMON_CSS, NAV_CLASS, add_navigation, decorate, describe_parameters
from helpers.data.registry import REPO_ROOT

__all__ = ["NAV_CLASS", "add_navigation", "build_report", "chapter_info", "from_notebooks", "library_versions",
           "notebook_date", "to_html"]

LIBRARIES = ("tensorflow", "keras", "numpy", "matplotlib", "papermill", "nbconvert")
#: Data set loaders of :mod:`helpers.data` -> registry name: a chapter calling one uses that data.
_LOADERS = {"load_mnist": "mnist", "make_lines": "lines", "load_svhn": "svhn", "load_cifar10": "cifar10"}
_LOADER_RE = re.compile(rf"\b({'|'.join(_LOADERS)})\(")
_INDEX_STYLE = """<style>
body{font-family:system-ui,sans-serif;max-width:72rem;margin:0 auto 2rem;padding:0 1rem;color:#222;line-height:1.5}
h1{margin:1.5rem 0 .3rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.45rem .5rem;text-align:left;
vertical-align:top}th{font-weight:600;color:#444}td small{display:block}.nowrap{white-space:nowrap}
a{color:#1f4fa8}
""" + COMMON_CSS + "</style>"
#: nbconvert's lab template, with the local MathJax and without the scripts it loads from a CDN
#: (require.js, needed only for widgets, and mermaid.js, for diagrams; no chapter has either). Code
#: is not passed through bleach after pygments (which escapes all of it): a third of the conversion time.
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block input %}
<div class="jp-CodeMirrorEditor jp-Editor jp-InputArea-editor" data-type="inline">
     <div class="cm-editor cm-s-jupyter">
{{ cell.source | highlight_code(metadata=cell.metadata) }}
     </div>
</div>
{%- endblock input %}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
{% raw %}""" + MATHJAX_HEAD + """{% endraw %}
{%- endblock html_head_js_mathjax -%}
"""


def chapter_info(path):
    """Title, one-line summary and data of a chapter.

    Args:
        path: the chapter notebook.

    Returns:
        Dict: ``chapter`` (file stem), ``title`` (its ``# `` heading), ``summary`` (the first sentence after
        it), ``has_outputs``, ``requires_data`` (notebook metadata) and ``data`` (registry names of the data
        it requires or loads, in order).
    """
    nb = nbformat.read(path, as_version=4)
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    lines = first.strip().splitlines()
    title = lines[0].lstrip("# ").strip() if lines and lines[0].startswith("#") else path.stem
    body = " ".join(line.strip() for line in lines[1:] if line.strip() and not line.startswith(">"))
    summary = re.split(r"(?<=[.!?])\s", body, maxsplit=1)[0] if body else ""
    summary = re.sub(r"[*_`]", "", summary)  # markdown emphasis and code marks
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    blank = not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    requires = list(nb.metadata.get("course", {}).get("requires_data", []))
    loaded = [_LOADERS[name] for name in _LOADER_RE.findall("\n".join(code))]
    return {"chapter": path.stem, "title": title, "summary": summary, "has_outputs": not blank,
            "requires_data": requires, "data": list(dict.fromkeys(requires + loaded))}


def library_versions():
    """Python and the main libraries' versions (read from package metadata, nothing imported)."""
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


#: Status -> CSS class in the index: red only for a failure; a chapter this build did not render is muted.
_STATUS_CSS = {"ok": "ok", "stored outputs": "ok", "FAILED": "bad", "NO DATA": "warn"}


def _row(info, record, linked):
    status = record.get("status", "not rendered in this build")
    css = _STATUS_CSS.get(status, "muted")
    name = html.escape(info["title"])
    title = f'<a href="{info["chapter"]}.html">{name}</a>' if linked else name
    seconds = f'{record["seconds"]:.0f} s' if record.get("seconds") else "&mdash;"
    note = html.escape(record.get("error", "") or "")
    parameters = describe_parameters(record.get("parameters"), record.get("findings")) if record else "&mdash;"
    return (f"<tr><td>{title}<small class='muted'>{html.escape(info['summary'])}</small></td>"
            f"<td class='{css}'><span class='nowrap'>{html.escape(status)}</span><small class='muted'>{note}</small></td>"
            f"<td>{parameters}</td><td class='nowrap'>{seconds}</td>"
            f"<td class='nowrap'>{html.escape(record.get('rendered') or '') or '&mdash;'}</td></tr>")


def build_report(build_dir, notebook_dir, results):
    """Write ``index.html``, copy MathJax beside it, and decorate every rendered chapter page.

    Args:
        build_dir: folder holding ``NN_*.html`` of rendered chapters; the index goes here.
        notebook_dir: the chapter notebooks (titles, summaries and data are read from them).
        results: render records (``chapter``, ``status``, ``seconds``, ``rendered``, ``error``, and where the
            render recorded them ``parameters``, ``findings``, ``claims``), e.g. ``render_summary.json``.

    Returns:
        Path of ``index.html``.
    """
    build_dir = pathlib.Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    copy_mathjax(build_dir)
    records = {r["chapter"]: r for r in results}
    infos = [chapter_info(p) for p in sorted(pathlib.Path(notebook_dir).glob("[0-9][0-9]_*.ipynb"))]
    titles = {i["chapter"]: i["title"] for i in infos}
    linked = [i for i in infos if (build_dir / f"{i['chapter']}.html").exists()
              and records.get(i["chapter"], {}).get("status") in ("ok", "stored outputs")]
    versions = library_versions()
    for k, info in enumerate(linked):
        page = build_dir / f"{info['chapter']}.html"
        before = linked[k - 1]["chapter"] if k else None
        after = linked[k + 1]["chapter"] if k + 1 < len(linked) else None
        facts = chapter_facts(info, records[info["chapter"]], versions)
        page.write_text(decorate(page.read_text(encoding="utf-8"), before, after, titles, facts), encoding="utf-8")
    chapters = {i["chapter"] for i in linked}
    for page in build_dir.glob("[0-9][0-9]_*.html"):  # pages the index does not link: no CDN there either
        if page.stem not in chapters:
            text = page.read_text(encoding="utf-8")
            if use_local_mathjax(text) != text:
                page.write_text(use_local_mathjax(text), encoding="utf-8")
    shown = ", ".join(f"{k} {v}" for k, v in versions.items())
    rows = "\n".join(_row(i, records.get(i["chapter"], {}), i["chapter"] in chapters) for i in infos)
    built = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    index = (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>Seeing inside convolutional networks</title>{_INDEX_STYLE}</head><body>\n"
             f"<h1>Seeing inside convolutional networks</h1>\n"
             f"<p>A course in {len(infos)} chapters, {len(linked)} in this report. Report built {built}.</p>\n"
             f"<table><tr><th>chapter</th><th>status</th><th>parameters</th><th>render time</th><th>rendered</th></tr>"
             f"\n{rows}\n</table>\n<p class='muted'>Library versions: {html.escape(shown)}.</p>\n</body></html>\n")
    path = build_dir / "index.html"
    path.write_text(index, encoding="utf-8")
    return path


def to_html(nb, instructor=False):
    """HTML of an executed notebook, figures embedded, loading MathJax from ``mathjax/`` beside it (no CDN).

    Args:
        nb: the notebook node.
        instructor: False: as readers see it (no solution, no rubric, no test markers:
            :func:`helpers.grading.assignments.reader_version`); True: as it is.

    Returns:
        The page's HTML.
    """
    import jinja2
    from nbconvert import HTMLExporter

    from helpers.course.report_widgets import static_widget_views
    from helpers.grading.assignments import reader_version

    nb = static_widget_views(nb)  # an explorer's stored PNG, not a widget view that needs a CDN
    exporter = HTMLExporter(extra_loaders=[jinja2.DictLoader({"course.html.j2": _TEMPLATE})],
                            template_file="course.html.j2")
    body, _ = exporter.from_notebook_node(nb if instructor else reader_version(nb))
    return body


def from_notebooks(notebook_dir, build_dir, instructor=False):
    """Build the report from committed notebooks: HTML of those with stored outputs, no execution.

    Args:
        notebook_dir: the chapter notebooks.
        build_dir: where the report goes.
        instructor: the instructor's copy (solutions and rubrics shown).

    Returns:
        ``(index path, records)``; chapters without stored outputs are listed as not rendered. Their
        parameters are the defaults, their date the notebook's (:func:`notebook_date`).
    """
    build_dir = pathlib.Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for path in sorted(pathlib.Path(notebook_dir).glob("[0-9][0-9]_*.ipynb")):
        info = chapter_info(path)
        if info["has_outputs"]:
            nb = nbformat.read(path, as_version=4)
            (build_dir / f"{path.stem}.html").write_text(to_html(nb, instructor), encoding="utf-8")
            date, how = notebook_date(path)
            records.append({"chapter": path.stem, "status": "stored outputs", "parameters": {},
                            "rendered": date, "rendered_how": how})
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
