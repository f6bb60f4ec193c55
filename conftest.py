"""Root pytest hooks: which committed notebooks nbval may compare on this machine.

The verified array copies of SVHN and CIFAR-10 (:mod:`helpers.data.arrays`) are used when
``../shared/data`` exists beside the repository (found relative to this file, so no machine
path is written anywhere) and ``$COURSE_DATA_ARRAYS`` is not already set; the notebooks
executed by nbval inherit the variable.
"""

import os
import pathlib

import pytest

SHARED_ARRAYS = pathlib.Path(__file__).resolve().parent.parent / "shared" / "data"
if "COURSE_DATA_ARRAYS" not in os.environ and (SHARED_ARRAYS / "PROVENANCE.md").is_file():
    os.environ["COURSE_DATA_ARRAYS"] = str(SHARED_ARRAYS)


def pytest_report_header(config):
    where = os.environ.get("COURSE_DATA_ARRAYS")
    return (f"SVHN/CIFAR-10 array copies: {where}" if where else
            "SVHN/CIFAR-10 array copies: none (../shared/data is missing and COURSE_DATA_ARRAYS unset): "
            "chapters 06 and 07 are compared by nbval only where their official files are present")


def _nbval_skip_reason(path):
    """Why nbval must not compare notebook ``path`` here, or None.

    Chapters on data that cannot be shipped (SVHN, CIFAR-10) carry outputs only
    from the real data; they are compared only when that data is on this machine
    and the committed notebook has outputs. Elsewhere they are executed on
    format-faithful fixtures by ``tests/test_chapters_on_fixtures.py``.
    """
    import nbformat

    from helpers.data.arrays import ensure_available
    from helpers.data.registry import DatasetError, is_fixture

    nb = nbformat.read(path, as_version=4)
    needs = nb.metadata.get("course", {}).get("requires_data", [])
    if not needs:
        return None
    if not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"):
        return f"{path.name} is committed without outputs (its data, {', '.join(needs)}, was not available to render it)"
    for name in needs:
        if is_fixture(name):
            return f"{name} points at test fixtures, not the real data"
        try:
            ensure_available(name, download=False)
        except DatasetError as err:
            return f"real {name} data not present: {err}"
    return None


#: Test files that must not run beside each other under ``make test``'s two pytest-xdist workers:
#: the grader's tests watch the host's processes, control groups and sandboxes (one grading run
#: must not see another's), and the browser and render tests start JupyterLab, Chromium and
#: full-core renders. Each set runs in one worker, in order; every other file is one group of its
#: own, so a notebook's cells (nbval) and a module's fixtures stay on one worker.
SERIAL_GROUPS = {
    "host": ("test_grading", "test_sandbox", "test_nbgrader", "test_parallel", "test_student_kit",
             "test_check_references"),
    "browsers-and-renders": ("test_lab_browser", "test_explore_browser", "test_report", "test_render",
                             "test_parameter_renders"),
}


def serial_group(nodeid):
    """The scope a test is scheduled with: its file, or the serial group its file belongs to."""
    path = nodeid.split("::", 1)[0]
    name = path.rsplit("/", 1)[-1]
    for group, prefixes in SERIAL_GROUPS.items():
        if name.startswith(prefixes):
            return group
    return path


@pytest.hookimpl(optionalhook=True)  # without pytest-xdist (-p no:xdist, another environment) unused
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's scope scheduling, with :data:`SERIAL_GROUPS` as scopes (``make test``)."""
    from xdist.scheduler import LoadScopeScheduling

    class SerialGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return serial_group(nodeid)

    return SerialGroupScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    reasons = {}
    for item in items:
        path = item.path
        if path.suffix != ".ipynb":
            continue
        if path not in reasons:
            reasons[path] = _nbval_skip_reason(path)
        if reasons[path]:
            item.add_marker(pytest.mark.skip(reason=reasons[path]))
