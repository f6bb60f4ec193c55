"""Root pytest hooks: which committed notebooks nbval may compare on this machine."""

import pytest


def _nbval_skip_reason(path):
    """Why nbval must not compare notebook ``path`` here, or None.

    Chapters on data that cannot be shipped (SVHN, CIFAR-10) carry outputs only
    from the real data; they are compared only when that data is on this machine
    and the committed notebook has outputs. Elsewhere they are executed on
    format-faithful fixtures by ``tests/test_chapters_on_fixtures.py``.
    """
    import nbformat

    from helpers.data.registry import DatasetError, ensure_file, entry, is_fixture

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
            for record in entry(name)["files"]:
                ensure_file(name, record["name"], download=False)
        except DatasetError as err:
            return f"real {name} data not present: {err}"
    return None


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
