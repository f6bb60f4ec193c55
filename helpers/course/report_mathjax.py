"""MathJax for the report, offline: a copy beside the pages and the HTML that loads it.

The chapter pages typeset their formulas with MathJax 2 from the PyPI package
``jupyter-server-mathjax`` (the MathJax that Jupyter itself serves). Only the part the
pages use is copied into the build folder (:func:`copy_mathjax`, about 2 MB: the TeX
input, the HTML-CSS output and its STIX-Web fonts), and the pages load it by a relative
URL (:data:`MATHJAX_HEAD`), so the report works from ``file://`` without the internet.
"""

import importlib.util
import pathlib
import re
import shutil

#: Folder, beside the chapter pages, that holds the copy of MathJax.
MATHJAX_FOLDER = "mathjax"
#: What the pages load: the entry script and the combined TeX + HTML-CSS configuration.
MATHJAX_SCRIPT = f"{MATHJAX_FOLDER}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
#: The parts of the package's ``static`` folder that the pages load (and those MathJax loads on demand
#: for rarer TeX commands and glyphs); localizations, the SVG output and accessibility tools are left out.
MATHJAX_PARTS = ("MathJax.js", "LICENSE", "config", "extensions/*.js", "extensions/TeX", "extensions/HTML-CSS",
                 "jax/element", "jax/input/TeX", "jax/output/HTML-CSS", "fonts/HTML-CSS/STIX-Web/woff")
#: Attribute set on ``<html>`` once the first typesetting is done (a browser test waits for it).
TYPESET_FLAG = "data-mathjax"

#: The ``<head>`` part that configures and loads MathJax (the settings of nbconvert's own template, with
#: the only font the package ships, and no renderer switch in the menu: the other renderers are not copied).
MATHJAX_HEAD = r"""<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  TeX: {equationNumbers: {autoNumber: "AMS", useLabelIds: true}},
  tex2jax: {inlineMath: [["$", "$"], ["\\(", "\\)"]], displayMath: [["$$", "$$"], ["\\[", "\\]"]],
            processEscapes: true, processEnvironments: true},
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
               linebreaks: {automatic: true}},
  MathMenu: {showRenderer: false, showFontMenu: false, showLocale: false},
  displayAlign: "center", messageStyle: "none"
});
MathJax.Hub.Register.StartupHook("End", function () {
  document.documentElement.setAttribute("%(flag)s", "typeset");
});
</script>
<script src="%(script)s"></script>""" % {"flag": TYPESET_FLAG, "script": MATHJAX_SCRIPT}

#: A ``<script src=...>`` of MathJax from anywhere else (nbconvert's default is a CDN); pages rendered
#: before the report loaded MathJax locally carry one, with nbconvert's configuration block after it.
_FOREIGN_MATHJAX_RE = re.compile(
    r'<!-- Load mathjax -->\s*<script src="https?://[^"]*mathjax[^"]*">\s*</script>'
    r'.*?<!-- End of mathjax configuration -->'
    r'|<script src="https?://[^"]*mathjax[^"]*">\s*</script>', re.DOTALL | re.IGNORECASE)
#: Other scripts nbconvert loads from a CDN that the chapter pages do not need: require.js, and mermaid.js
#: (imported only for diagrams, which no chapter has).
_FOREIGN_SCRIPT_RE = re.compile(
    r'<script src="https?://[^"]*"[^>]*>\s*</script>\s*'
    r'|<script type="module">(?:(?!</script>).)*?https?://[^"]*mermaid(?:(?!</script>).)*</script>\s*',
    re.IGNORECASE | re.DOTALL)


def mathjax_source():
    """The ``static`` folder of the installed ``jupyter-server-mathjax`` package.

    Returns:
        Path of the folder holding ``MathJax.js``.

    Raises:
        FileNotFoundError: the package is not installed (it is in pyproject.toml and requirements.lock).
    """
    spec = importlib.util.find_spec("jupyter_server_mathjax")
    if spec is None or not spec.origin:
        raise FileNotFoundError("the report bundles MathJax from the package jupyter-server-mathjax, which is not "
                                "installed: run `.venv/bin/pip install -r requirements.lock` (or `make setup`)")
    static = pathlib.Path(spec.origin).parent / "static"
    if not (static / "MathJax.js").exists():
        raise FileNotFoundError(f"{static / 'MathJax.js'} is missing: reinstall jupyter-server-mathjax")
    return static


def copy_mathjax(build_dir):
    """Copy the needed part of MathJax into ``build_dir/mathjax`` (files already there and alike are kept).

    Args:
        build_dir: the report's folder (the chapter pages load ``mathjax/MathJax.js`` relative to it).

    Returns:
        Path of the copied ``MathJax.js``.
    """
    source = mathjax_source()
    target = pathlib.Path(build_dir) / MATHJAX_FOLDER
    for part in MATHJAX_PARTS:
        for path in sorted(source.glob(part)):
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            for file in files:
                copy = target / file.relative_to(source)
                if copy.exists() and copy.stat().st_size == file.stat().st_size:
                    continue
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, copy)
    return target / "MathJax.js"


def use_local_mathjax(page):
    """``page`` with any MathJax or other script from the internet replaced by the local copy (idempotent).

    Args:
        page: HTML of a chapter page, e.g. one converted before the report bundled MathJax.

    Returns:
        The HTML, loading ``mathjax/MathJax.js`` once and no script from a URL.
    """
    if MATHJAX_SCRIPT in page:
        return _FOREIGN_SCRIPT_RE.sub("", page)
    page = _FOREIGN_MATHJAX_RE.sub(lambda m: MATHJAX_HEAD, page, count=1)
    return _FOREIGN_SCRIPT_RE.sub("", page)
