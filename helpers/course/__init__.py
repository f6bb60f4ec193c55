"""Tooling that renders and publishes the course (not taught in the chapters).

- :mod:`helpers.course.render` -- ``python -m helpers.course.render``: execute every chapter with papermill.
- :mod:`helpers.course.report` -- ``build/index.html`` and one HTML page per chapter (the only HTML conversion).
- :mod:`helpers.course.cluster` -- the Dask cluster the parallel tools run on.
- :mod:`helpers.course.sweep` -- ``python -m helpers.course.sweep``: one render per parameter set, on Dask.
"""
