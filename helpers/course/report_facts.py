"""The facts a chapter page shows in its box: parameters, data, render date and time, library versions."""

import datetime
import html
import pathlib
import subprocess

from helpers.course.report_page import describe_parameters


def data_titles(names):
    """The data sets' names as the registry titles them (e.g. ``MNIST``), in HTML, with their description."""
    from helpers.data.registry import DatasetError, entry

    shown = []
    for name in names:
        try:
            record = entry(name)
        except (KeyError, DatasetError):
            shown.append(html.escape(name))
            continue
        shown.append(f'<span title="{html.escape(record.get("description", ""))}">'
                     f'{html.escape(record.get("title", name))}</span>')
    return ", ".join(shown) or '<span class="muted">none</span>'


def notebook_date(path):
    """When a committed notebook's outputs were made: its last commit's date, or its file's time if changed since.

    Args:
        path: a notebook, inside a git work tree or not.

    Returns:
        ``(date "YYYY-MM-DD HH:MM", how)``, ``how`` saying which date it is.
    """
    path = pathlib.Path(path)
    where = dict(cwd=path.parent, capture_output=True, text=True)
    try:
        last = subprocess.run(["git", "log", "-1", "--format=%ct", "--", path.name], **where)
        changed = subprocess.run(["git", "status", "--porcelain", "--", path.name], **where)
    except FileNotFoundError:  # no git on this machine
        last = changed = None
    if last and last.returncode == 0 and last.stdout.strip() and not changed.stdout.strip():
        stamp, how = int(last.stdout.strip()), "last commit of the notebook"
    else:
        stamp, how = path.stat().st_mtime, "the notebook file's time"
    return datetime.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M"), how


def chapter_facts(info, record, versions):
    """The facts box of a chapter page: parameters, data, render date and time, claims, library versions.

    Args:
        info: :func:`helpers.course.report.chapter_info` of the chapter.
        record: its render record (``parameters``, ``findings``, ``rendered``, ``seconds``, ``claims``, ...).
        versions: :func:`helpers.course.report.library_versions` (or the versions the render recorded).

    Returns:
        ``(label, html)`` pairs for :func:`helpers.course.report_page.meta_box`.
    """
    rendered = html.escape(record.get("rendered") or "date not recorded")
    details = [html.escape(record["rendered_how"])] if record.get("rendered_how") else []
    if record.get("seconds"):
        details.append(f'{record["seconds"]:.0f} s')
    if record.get("claims"):
        details.append(f'{record["claims"]} checked claims')
    if details:
        rendered += f' <span class="muted">({", ".join(details)})</span>'
    if record.get("error"):
        rendered += f' <span class="warn">&mdash; {html.escape(record["error"])}</span>'
    libraries = ", ".join(f"{k} {v}" for k, v in versions.items())
    return [("parameters", describe_parameters(record.get("parameters"), record.get("findings"))),
            ("data", data_titles(info["data"])), ("rendered", rendered), ("libraries", html.escape(libraries))]
