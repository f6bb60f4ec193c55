"""The report: index, chapter pages (navigation, facts box, contents, local MathJax), and a check in headless Chromium."""

import json
import pathlib
import re
import shutil

import nbformat
import pytest

from helpers.course import report, report_mathjax, report_page
from test_lab_browser import headless_chromium

REPO = pathlib.Path(__file__).parents[1]
NOTEBOOKS = REPO / "notebooks"
PAGE = "<html><head></head><body>\n<p>chapter</p>\n</body></html>"
CHAPTER = ('<html><head><title>c</title></head><body class="jp-Notebook"><main>'
           '<h1 id="01-·-A">01 · A<a class="anchor-link" href="#01-·-A">¶</a></h1><p>text $a+b$</p>'
           '<h2 id="First-part">First part<a class="anchor-link" href="#First-part">¶</a></h2>'
           '<h3 id="A-detail">A <em>detail</em><a class="anchor-link" href="#A-detail">¶</a></h3>'
           "<h2 id=\"Seed-000's-study\">Seed 000's study<a class=\"anchor-link\" href=\"#x\">¶</a></h2>"
           "</main></body></html>")
#: What nbconvert's default template put in a page before the report bundled MathJax.
CDN_HEAD = ('<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"></script>\n'
            '<!-- Load mathjax -->\n<script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js?'
            'config=TeX-AMS_CHTML-full,Safe"> </script>\n<script type="text/x-mathjax-config">init_mathjax();</script>\n'
            '<!-- End of mathjax configuration -->\n<script type="module">\n  const m = await import('
            '"https://cdnjs.cloudflare.com/ajax/libs/mermaid/11.10.0/mermaid.esm.min.mjs");\n</script>\n')


def test_navigation_links_and_is_idempotent():
    once = report.add_navigation(PAGE, "01_a", "03_c")
    twice = report.add_navigation(once, "01_a", "03_c")
    assert once == twice
    assert once.count('<nav class="course-nav"') == 2
    assert once.count('href="01_a.html"') == 2 and once.count('href="03_c.html"') == 2
    assert once.count('href="index.html"') == 2
    first = report.add_navigation(PAGE, None, "01_a")
    assert "href=\"None" not in first and first.count("href=") == 4
    titled = report.add_navigation(PAGE, "01_a", None, titles={"01_a": "01 · Training <b>"})
    assert "&larr; 01 · Training &lt;b&gt;</a>" in titled and ">01_a<" not in titled


def test_chapter_info_reads_title_and_first_sentence():
    info = report.chapter_info(NOTEBOOKS / "06_svhn.ipynb")
    assert info["title"] == "06 · SVHN: the same tools on colour photographs"
    assert info["summary"].startswith("Street View House Numbers are digits cropped from photographs")
    assert info["summary"].endswith(".") and info["requires_data"] == ["svhn"] and info["has_outputs"]
    assert info["data"][0] == "svhn"
    assert report.chapter_info(NOTEBOOKS / "03_filters.ipynb")["data"] == ["mnist"]


def test_decorated_page_has_facts_contents_and_local_mathjax_once():
    facts = [("parameters", report_page.describe_parameters({"image_index": 321}, 2)), ("data", "MNIST")]
    page = report_page.decorate(CHAPTER.replace("<title>c</title>", "<title>c</title>" + CDN_HEAD), "00_a", None,
                                {"00_a": "00 · Data"}, facts)
    assert report_page.decorate(page, "00_a", None, {"00_a": "00 · Data"}, facts) == page
    assert "https://" not in page and page.count(report_mathjax.MATHJAX_SCRIPT) == 1
    assert page.count('id="course-meta"') == 1 and page.count('id="course-toc"') == 1
    assert "image_index=321" in page and "2 findings" in page
    assert page.index("</h1>") < page.index('id="course-meta"') < page.index('id="course-toc"')
    toc = re.search(r'<nav class="course-toc".*?</nav>', page).group(0)
    targets = re.findall(r'href="#([^"]+)"', toc)
    assert [t.replace("&#x27;", "'") for t in targets] == ["First-part", "A-detail", "Seed-000's-study"]
    assert "<li><a href=\"#A-detail\">A detail</a></li>" in toc and "<ol>" in toc.split("First part")[1]
    assert 'href="#course-toc">contents</a>' in page and "&larr; 00 · Data" in page


def test_describe_parameters():
    assert report_page.describe_parameters({}) == "defaults"
    assert report_page.describe_parameters(None, 0) == "defaults"
    line = report_page.describe_parameters({"image_index": 321, "layer": "conv2"}, 1)
    assert line.startswith("image_index=321, layer=&#x27;conv2&#x27;") and "1 finding:" in line
    assert "every checked claim held" in report_page.describe_parameters({"seed": 1}, 0)


def test_to_html_loads_no_script_from_the_internet():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 01 · A\n\nThe sum $\\sum_i x_i$.")])
    page = report.to_html(nb)
    assert not re.findall(r'<script[^>]+src="https?:', page) and "cdnjs" not in page and "mermaid" not in page
    assert report_mathjax.MATHJAX_SCRIPT in page and "$\\sum_i x_i$" in page


def test_copy_mathjax_copies_the_needed_part(tmp_path):
    script = report_mathjax.copy_mathjax(tmp_path)
    assert script == tmp_path / "mathjax" / "MathJax.js" and script.exists()
    for part in ("config/TeX-AMS-MML_HTMLorMML-full.js", "extensions/Safe.js", "jax/output/HTML-CSS/fonts/STIX-Web",
                 "fonts/HTML-CSS/STIX-Web/woff/STIXMathJax_Main-Regular.woff"):
        assert (tmp_path / "mathjax" / part).exists(), part
    assert not (tmp_path / "mathjax" / "localization").exists()
    size = sum(p.stat().st_size for p in (tmp_path / "mathjax").rglob("*") if p.is_file())
    assert size < 4_000_000
    assert report_mathjax.copy_mathjax(tmp_path) == script  # again: nothing to do


def test_index_links_only_rendered_chapters(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in ("00_datasets", "01_train_mnist", "02_activations", "06_svhn", "07_cifar10"):
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", notebooks)
    build = tmp_path / "build"
    build.mkdir()
    for name in ("00_datasets", "01_train_mnist", "02_activations"):
        (build / f"{name}.html").write_text(PAGE)
    results = [{"chapter": "00_datasets", "status": "ok", "seconds": 11.2, "rendered": "2026-11-22 08:00",
                "parameters": {}, "findings": 0, "claims": 4},
               {"chapter": "01_train_mnist", "status": "ok", "seconds": 368.0, "parameters": {"image_index": 321},
                "findings": 2},
               {"chapter": "06_svhn", "status": "NO DATA", "seconds": 0.0,
                "error": "run python -m helpers.data.fetch svhn"},
               {"chapter": "07_cifar10", "status": "FAILED", "seconds": 3.0, "error": "07_cifar10.ipynb, cell 4"}]
    index = report.build_report(build, notebooks, results).read_text()
    assert 'href="00_datasets.html"' in index and 'href="01_train_mnist.html"' in index
    assert "06_svhn.html" not in index and "NO DATA" in index and "helpers.data.fetch svhn" in index
    assert "11 s" in index and "368 s" in index and "2026-11-22 08:00" in index and "tensorflow" in index
    assert ">00 · The data sets of the course</a>" in index and "image_index=321" in index and "2 findings" in index
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr><td>(?:<a [^>]*>)?(\d\d) .*?</tr>", index)}
    assert "class='muted'><span class='nowrap'>not rendered in this build" in rows["02"]  # in no record: muted
    assert "class='bad'><span class='nowrap'>FAILED" in rows["07"]
    assert "class='warn'><span class='nowrap'>NO DATA" in rows["06"]
    assert "class='bad'" not in rows["02"] + rows["06"]
    page = (build / "00_datasets.html").read_text()
    assert 'href="01_train_mnist.html"' in page and 'href="index.html"' in page and "01 · Training the MNIST" in page
    assert "defaults" in page and "2026-11-22 08:00" in page and "4 checked claims" in page and "numpy" in page
    second = (build / "01_train_mnist.html").read_text()
    assert 'href="00_datasets.html"' in second and "image_index=321" in second and "2 findings" in second
    assert "02_activations.html" not in second  # not rendered: no link
    assert (build / "mathjax" / "MathJax.js").exists()


def test_notebook_date_is_the_last_commit_or_the_file_time(tmp_path):
    date, how = report.notebook_date(NOTEBOOKS / "00_datasets.ipynb")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", date) and how
    loose = tmp_path / "00_x.ipynb"
    loose.write_text("{}")
    assert report.notebook_date(loose)[1] == "the notebook file's time"


LOADED = "return document.readyState === 'complete' && Array.from(document.images).every(i => i.complete);"
TYPESET = f"return document.documentElement.getAttribute('{report_mathjax.TYPESET_FLAG}') === 'typeset';"
CHECK_PAGE = r"""
const broken = Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 60));
const links = Array.from(document.links).map(a => a.getAttribute('href'));
const resolves = h => document.getElementById(h.slice(1)) || document.getElementById(decodeURIComponent(h.slice(1)));
const missingAnchors = links.filter(h => h.startsWith('#') && h.length > 1 && !resolves(h));
const toc = Array.from(document.querySelectorAll('#course-toc a')).map(a => a.getAttribute('href'));
const errors = document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"], .output_error').length;
const loads = Array.from(document.querySelectorAll('script[src], link[href], img[src], iframe[src], source[src]'))
    .map(e => e.src || e.href).filter(u => !/^(file|data):/.test(u));
const prose = Array.from(document.querySelectorAll('.jp-MarkdownCell, #course-toc')).map(e => e.innerText).join('\n');
const tex = /\$[^$\n]{1,80}\$|\\(frac|sum|mathrm|cdot|le|ge|partial|alpha|sqrt|left|right|odot|nabla|max|min)\b/g;
const rawTex = prose.match(tex) || [];
const scripts = document.querySelectorAll('script[type^="math/tex"]').length;
const typeset = document.querySelectorAll('span.MathJax[id$="-Frame"]').length;
const nav = Array.from(document.querySelectorAll('nav.course-nav[data-at=top] a')).map(a => a.innerText);
const meta = document.getElementById('course-meta');
const width = e => e.getBoundingClientRect().width;  // no image wider than its place, none enlarged
const wide = Array.from(document.images).filter(i => width(i) > width(i.parentElement) + 1 || width(i) > i.naturalWidth + 1)
    .length;
return {broken, links, missingAnchors, toc, errors, loads, rawTex, scripts, typeset, nav, wide,
        mathErrors: document.querySelectorAll('.MathJax_Error, merror').length + prose.includes('Math Processing Error'),
        meta: meta ? meta.innerText : '', images: document.images.length,
        text: document.body.innerText.includes('Traceback')};
"""


@pytest.fixture(scope="module")
def browser():
    driver, _ = headless_chromium("1280,900", [("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})])
    yield driver
    driver.quit()


def requested_urls(browser):
    """Every URL the page asked for since the last call (Chrome's network log), ``data:`` ones left out."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if not url.startswith("data:"):
                urls.append(url)
    return urls


def test_report_pages_in_headless_chromium(browser):
    """The report from the committed notebooks, as a reader opens it from disk: formulas typeset by the local
    MathJax, no request off the machine, working contents and navigation, the facts box; screenshots at 1280 px."""
    from selenium.webdriver.support.ui import WebDriverWait

    build = REPO / "build" / "report-test"
    shots = REPO / "build" / "report-screens"
    shutil.rmtree(build, ignore_errors=True)
    shots.mkdir(parents=True, exist_ok=True)
    index, records = report.from_notebooks(NOTEBOOKS, build)
    infos = {r["chapter"]: report.chapter_info(NOTEBOOKS / f"{r['chapter']}.ipynb") for r in records}
    chapters = [r["chapter"] for r in records if r["status"] == "stored outputs"]
    assert len(chapters) >= 6  # chapters 00-05
    browser.get_log("performance")
    formulas = 0
    for page in [index] + [build / f"{c}.html" for c in chapters]:
        browser.get(page.as_uri())
        WebDriverWait(browser, 30).until(lambda d: d.execute_script(LOADED))
        if page != index:
            WebDriverWait(browser, 30).until(lambda d: d.execute_script(TYPESET))
        found = browser.execute_script(CHECK_PAGE)
        where = page.name
        assert not found["broken"], (where, found["broken"])
        assert not found["missingAnchors"], (where, found["missingAnchors"])
        assert found["errors"] == 0 and not found["text"], where
        assert not found["loads"], (where, found["loads"])
        offsite = [u for u in requested_urls(browser) if not u.startswith(("file:", "about:blank"))]
        assert not offsite, (where, offsite)
        severe = [e["message"] for e in browser.get_log("browser")
                  if e["level"] == "SEVERE" and "about:blank" not in e["message"]]  # MathJax's blank test font
        assert not severe, (where, severe)
        for href in found["links"]:
            target = href.split("#")[0]
            if target and not target.startswith(("http://", "https://", "mailto:")):
                assert (page.parent / target).exists(), (where, href)
        browser.save_screenshot(str(shots / f"{page.stem}.png"))
        if page == index:
            assert all(infos[c]["title"] in browser.page_source for c in chapters)
            continue
        k = chapters.index(page.stem)
        titles = [infos[c]["title"] for c in chapters[max(k - 1, 0):k] + chapters[k + 1:k + 2]]
        assert all(any(t in text for text in found["nav"]) for t in titles), (where, found["nav"], titles)
        assert len(found["toc"]) >= 3 and not found["rawTex"] and found["mathErrors"] == 0, (where, found)
        assert found["typeset"] == found["scripts"] and found["wide"] == 0, (where, found)
        for label in ("parameters", "defaults", "data", "rendered", "libraries", "tensorflow"):
            assert label in found["meta"], (where, found["meta"])
        assert found["images"] > 0, where
        formulas += found["scripts"]
        if found["scripts"]:
            browser.execute_script("document.querySelector('.MathJax').scrollIntoView({block: 'center'})")
            browser.save_screenshot(str(shots / f"{page.stem}-formula.png"))
    assert formulas >= 40  # chapters 03-05
    assert (shots / "index.png").stat().st_size > 10_000
