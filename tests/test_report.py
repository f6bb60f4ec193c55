"""The report: index, chapter pages with navigation, and a check in headless Chromium."""

import pathlib
import shutil
import subprocess

import pytest

from helpers.course import report

REPO = pathlib.Path(__file__).parents[1]
NOTEBOOKS = REPO / "notebooks"
PAGE = "<html><head></head><body>\n<p>chapter</p>\n</body></html>"


def test_navigation_links_and_is_idempotent():
    once = report.add_navigation(PAGE, "01_a", "03_c")
    twice = report.add_navigation(once, "01_a", "03_c")
    assert once == twice
    assert once.count('<nav class="course-nav"') == 2
    assert once.count('href="01_a.html"') == 2 and once.count('href="03_c.html"') == 2
    assert once.count('href="index.html"') == 2
    first = report.add_navigation(PAGE, None, "01_a")
    assert "href=\"None" not in first and first.count("href=") == 4


def test_chapter_info_reads_title_and_first_sentence():
    info = report.chapter_info(NOTEBOOKS / "06_svhn.ipynb")
    assert info["title"] == "06 · SVHN: the same tools on colour photographs"
    assert info["summary"].startswith("Street View House Numbers are digits cropped from photographs")
    assert info["summary"].endswith(".") and info["requires_data"] == ["svhn"] and info["has_outputs"]


def test_index_links_only_rendered_chapters(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in ("00_datasets", "01_train_mnist", "06_svhn"):
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", notebooks)
    build = tmp_path / "build"
    build.mkdir()
    for name in ("00_datasets", "01_train_mnist"):
        (build / f"{name}.html").write_text(PAGE)
    results = [{"chapter": "00_datasets", "status": "ok", "seconds": 11.2, "rendered": "2026-11-22 08:00"},
               {"chapter": "01_train_mnist", "status": "ok", "seconds": 368.0},
               {"chapter": "06_svhn", "status": "NO DATA", "seconds": 0.0, "error": "run python -m helpers.data.fetch svhn"}]
    index = report.build_report(build, notebooks, results).read_text()
    assert 'href="00_datasets.html"' in index and 'href="01_train_mnist.html"' in index
    assert "06_svhn.html" not in index and "NO DATA" in index and "helpers.data.fetch svhn" in index
    assert "11 s" in index and "368 s" in index and "2026-11-22 08:00" in index and "tensorflow" in index
    page = (build / "00_datasets.html").read_text()
    assert 'href="01_train_mnist.html"' in page and 'href="index.html"' in page
    assert 'href="00_datasets.html"' in (build / "01_train_mnist.html").read_text()


def ensure_chromium():
    """Install Debian's chromium and chromium-driver when they are missing (root needed)."""
    if shutil.which("chromedriver") and shutil.which("chromium"):
        return
    command = ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True)
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 or not shutil.which("chromedriver"):
        pytest.fail(f"could not install chromium + chromium-driver ({' '.join(command)}): {done.stderr[-500:]}")


LOADED = "return document.readyState === 'complete' && Array.from(document.images).every(i => i.complete);"
CHECK_PAGE = """
const broken = Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 60));
const links = Array.from(document.links).map(a => a.getAttribute('href'));
const missingAnchors = links.filter(h => h.startsWith('#') && h.length > 1
    && !document.getElementById(h.slice(1)) && !document.getElementById(decodeURIComponent(h.slice(1))));
const errors = document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"], .output_error').length;
return {broken: broken, links: links, missingAnchors: missingAnchors, errors: errors,
        images: document.images.length, text: document.body.innerText.includes('Traceback')};
"""


@pytest.fixture(scope="module")
def browser():
    ensure_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    yield driver
    driver.quit()


def test_report_pages_in_headless_chromium(browser):
    from selenium.webdriver.support.ui import WebDriverWait

    build = REPO / "build" / "report-test"
    shots = REPO / "build" / "screenshots"
    shutil.rmtree(build, ignore_errors=True)
    shots.mkdir(parents=True, exist_ok=True)
    index, records = report.from_notebooks(NOTEBOOKS, build)
    pages = [index] + [build / f"{r['chapter']}.html" for r in records if r["status"] == "stored outputs"]
    assert len(pages) >= 7  # the index and chapters 00-05
    for page in pages:
        browser.get(page.as_uri())
        WebDriverWait(browser, 30).until(lambda d: d.execute_script(LOADED))
        found = browser.execute_script(CHECK_PAGE)
        assert not found["broken"], (page.name, found["broken"])
        assert not found["missingAnchors"], (page.name, found["missingAnchors"])
        assert found["errors"] == 0 and not found["text"], page.name
        for href in found["links"]:
            target = href.split("#")[0]
            if target and not target.startswith(("http://", "https://", "mailto:")):
                assert (page.parent / target).exists(), (page.name, href)
        if page != index:
            assert found["images"] > 0, page.name
        assert browser.save_screenshot(str(shots / f"{page.stem}.png"))
    assert (shots / "index.png").stat().st_size > 10_000
