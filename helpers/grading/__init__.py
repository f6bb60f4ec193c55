"""Tooling that turns the chapters into graded assignments (not taught in the chapters).

- :mod:`helpers.grading.exercises` -- the exercises, their reference checks and partial scores.
- :mod:`helpers.grading.assignments` -- ``python -m helpers.grading.assignments``: the student versions.
- :mod:`helpers.grading.grade` -- ``python -m helpers.grading.grade SUB.ipynb``: grade one submission.
- :mod:`helpers.grading.sandbox` (+ ``sandbox_runner``, ``limits``) -- the bubblewrap sandbox the exercise cells
  run in, and the control group that limits its memory and processes.
- :mod:`helpers.grading.nbgrader_course` -- an nbgrader course directory with a sandboxed autograde step.
- :mod:`helpers.grading.grade_class` -- ``python -m helpers.grading.grade_class``: a whole class on Dask.
"""
