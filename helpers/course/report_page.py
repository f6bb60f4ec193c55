"""What the report adds to a chapter page: navigation, the chapter's facts, a table of contents, its style.

:func:`decorate` is idempotent: a page decorated again (the report is rebuilt after every
render) has each addition once, the latest version of it.
"""

import html
import re

from helpers.course.report_mathjax import use_local_mathjax

NAV_CLASS = "course-nav"
_NAV_RE = re.compile(rf'<nav class="{NAV_CLASS}".*?</nav>\n?', re.DOTALL)
_STYLE_ID = "course-style"
_STYLE_RE = re.compile(rf'<style id="{_STYLE_ID}">.*?</style>\n?', re.DOTALL)
_HEADER_RE = re.compile(r"<!-- course-header -->.*?<!-- /course-header -->", re.DOTALL)
_HEADING_RE = re.compile(r'<h([23])\s+id="([^"]+)"[^>]*>(.*?)</h\1>', re.DOTALL)
_ANCHOR_LINK_RE = re.compile(r'<a class="anchor-link"[^>]*>.*?</a>', re.DOTALL)
_TAG_RE = re.compile(r"<[^>]+>")

#: Shared by the index and the chapter pages.
COMMON_CSS = """
.course-nav{display:grid;grid-template-columns:1fr auto 1fr;gap:1rem;align-items:center;padding:.55rem 1rem;
  background:#f3f4f6;border-bottom:1px solid #d8dbe0;font:15px/1.4 system-ui,sans-serif}
.course-nav[data-at=top]{position:sticky;top:0;z-index:20}
.course-nav[data-at=bottom]{border-top:1px solid #d8dbe0;margin-top:2rem}
.course-nav a{color:#1f4fa8;text-decoration:none}.course-nav a:hover{text-decoration:underline}
.course-nav .prev,.course-nav .next{overflow:hidden;white-space:nowrap;text-overflow:ellipsis}
.course-nav .next{text-align:right}.course-nav .middle{text-align:center;white-space:nowrap}
.ok{color:#1a7f37}.bad{color:#b42318}.warn{color:#9a6700}.muted{color:#667085}
"""

#: Chapter pages: prose at a readable measure, code and figures as wide as the page.
CHAPTER_CSS = COMMON_CSS + """
body.jp-Notebook{padding:0;margin:0}
main{max-width:1240px;margin:0 auto;padding:1rem 1rem 0;box-sizing:border-box}
.jp-MarkdownCell .jp-InputArea{display:flex}
.jp-MarkdownCell .jp-RenderedMarkdown{display:block;flex:0 1 auto;width:auto;min-width:0;max-width:66ch;
  font-size:16px;line-height:1.6}
.jp-RenderedMarkdown table{font-size:15px}
.jp-RenderedHTMLCommon :is(h1,h2,h3,h4){scroll-margin-top:3.5rem}
.jp-RenderedImage img{max-width:100%;height:auto}
.course-meta{font:14px/1.5 system-ui,sans-serif;background:#f8f9fb;border:1px solid #e1e4e8;border-radius:6px;
  padding:.5rem .9rem;margin:.6rem 0 1rem;display:grid;grid-template-columns:max-content 1fr;gap:.1rem .9rem}
.course-meta dt{font-weight:600;color:#444}.course-meta dd{margin:0}
.course-toc{scroll-margin-top:3.5rem;font:15px/1.45 system-ui,sans-serif;border-left:3px solid #c9d4e8;padding:.2rem 0 .2rem .9rem;margin:0 0 1.2rem}
.course-toc p{margin:0 0 .3rem;font-weight:600}
.jp-RenderedHTMLCommon .course-toc ol{margin:0;padding-left:1.4rem}
.jp-RenderedHTMLCommon .course-toc ol ol{list-style:lower-alpha;font-size:14px}
.jp-RenderedHTMLCommon .course-toc li{margin:.05rem 0}
.course-toc a{color:#1f4fa8;text-decoration:none}.course-toc a:hover{text-decoration:underline}
@media (min-width:1720px){.course-toc{position:fixed;top:4rem;left:1rem;width:calc((100vw - 1240px) / 2 - 2.5rem);
  max-height:calc(100vh - 5rem);overflow:auto;margin:0}}
"""


def _link(target, text, css):
    if not target:
        return f'<span class="{css}"></span>'
    return f'<a class="{css}" href="{html.escape(target)}">{text}</a>'


def add_navigation(page, previous=None, following=None, index="index.html", titles=None):
    """Insert previous / index / next links at the top (sticky) and bottom of a chapter page (idempotent).

    Args:
        page: HTML of the page.
        previous, following: chapter names (``NN_name``) of the neighbouring pages, or None at either end.
        index: the index page's URL.
        titles: chapter name -> title shown on the links (the name itself where missing).

    Returns:
        The page with exactly two ``<nav class="course-nav">``.
    """
    titles = titles or {}

    def label(stem):
        return html.escape(titles.get(stem, stem)) if stem else ""

    middle = (f'<span class="middle"><a href="{html.escape(index)}">course index</a>'
              f'{{contents}}</span>')
    body = (_link(previous and previous + ".html", "&larr; " + label(previous), "prev") + middle
            + _link(following and following + ".html", label(following) + " &rarr;", "next"))
    has_toc = 'id="course-toc"' in page
    top = body.replace("{contents}", ' &middot; <a href="#course-toc">contents</a>' if has_toc else "")
    bottom = body.replace("{contents}", "")
    page = _NAV_RE.sub("", page)
    page = re.sub(r"(<body[^>]*>)", lambda m: f'{m.group(1)}<nav class="{NAV_CLASS}" data-at="top">{top}</nav>\n',
                  page, count=1)
    return page.replace("</body>", f'<nav class="{NAV_CLASS}" data-at="bottom">{bottom}</nav>\n</body>', 1)


def headings(page):
    """The ``h2`` / ``h3`` headings of a page, for its table of contents.

    Args:
        page: HTML as nbconvert writes it (every Markdown heading has an ``id``).

    Returns:
        List of ``(level, id, text)``, text without tags or the ``¶`` anchor link.
    """
    found = []
    for level, anchor, inner in _HEADING_RE.findall(page):
        text = html.unescape(_TAG_RE.sub("", _ANCHOR_LINK_RE.sub("", inner))).strip()
        if text:
            found.append((int(level), html.unescape(anchor), text))
    return found


def table_of_contents(page):
    """A nested ``<nav class="course-toc">`` list linking to the page's ``h2`` / ``h3`` headings ("" if none)."""
    items, open_sub = [], False
    for level, anchor, text in headings(page):
        link = f'<a href="#{html.escape(anchor)}">{html.escape(text)}</a>'
        if level == 3 and items:
            items.append(("" if open_sub else "<ol>") + f"<li>{link}</li>")
            open_sub = True
            continue
        if items:
            items.append(("</ol>" if open_sub else "") + "</li>")
        items.append(f"<li>{link}")
        open_sub = False
    if not items:
        return ""
    items.append(("</ol>" if open_sub else "") + "</li>")
    return f'<nav class="course-toc" id="course-toc" aria-label="Contents"><p>Contents</p><ol>{"".join(items)}</ol></nav>'


def describe_parameters(parameters, findings=None):
    """One line for the parameters a chapter was rendered with, e.g. ``image_index=321 — 2 findings``.

    Args:
        parameters: dict of the non-default parameters (empty or None: the defaults).
        findings: number of claims that did not hold under them, or None when not recorded.

    Returns:
        HTML text (escaped).
    """
    text = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in (parameters or {}).items())
    line = html.escape(text or "defaults")
    if findings:
        noun = "finding" if findings == 1 else "findings"
        line += (f' <span class="warn">&mdash; {findings} {noun}: claims that did not hold under these '
                 f"parameters</span>")
    elif findings == 0 and parameters:
        line += ' <span class="muted">&mdash; every checked claim held</span>'
    return line


def meta_box(facts):
    """The chapter's facts box.

    Args:
        facts: ordered ``(label, html)`` pairs, e.g. ``("parameters", "defaults")``; values are HTML already.

    Returns:
        A ``<dl class="course-meta">``.
    """
    rows = "".join(f"<dt>{html.escape(label)}</dt><dd>{value}</dd>" for label, value in facts)
    return f'<dl class="course-meta" id="course-meta">{rows}</dl>'


def decorate(page, previous=None, following=None, titles=None, facts=()):
    """A chapter page as the report shows it (idempotent).

    Adds the style, the previous / index / next navigation, and under the chapter's ``# `` title
    the facts box and the table of contents; MathJax or other scripts from the internet are
    replaced by the local copy (:func:`helpers.course.report_mathjax.use_local_mathjax`).

    Args:
        page: HTML of the chapter (nbconvert's, or an earlier decorated version).
        previous, following, titles: as :func:`add_navigation`.
        facts: as :func:`meta_box`; none: no box.

    Returns:
        The decorated HTML.
    """
    page = _HEADER_RE.sub("", _STYLE_RE.sub("", use_local_mathjax(page)))
    page = page.replace("</head>", f'<style id="{_STYLE_ID}">{CHAPTER_CSS}</style>\n</head>', 1)
    header = (meta_box(facts) if facts else "") + table_of_contents(page)
    if header:
        header = f"<!-- course-header -->{header}<!-- /course-header -->"
        if "</h1>" in page:
            page = page.replace("</h1>", "</h1>" + header, 1)
        else:
            where = "<main" if "<main" in page else "<body"
            page = re.sub(rf"({where}[^>]*>)", lambda m: m.group(1) + header, page, count=1)
    return add_navigation(page, previous, following, titles=titles)
