"""Tooling that turns the chapters into graded assignments (not taught in the chapters).

- :mod:`helpers.grading.exercises` -- the exercises, their reference checks and partial scores; the checks
  (:mod:`~helpers.grading.checks`) of the exercises that run a model live in ``prediction_checks`` (01),
  ``model_checks`` (02, 05), ``field_checks`` (03), ``ascent_checks`` (04) and ``perturbation_checks`` (05).
- :mod:`helpers.grading.questions` -- the interpretation questions graded by hand.
- :mod:`helpers.grading.assignments` -- ``python -m helpers.grading.assignments``: the student versions.
- :mod:`helpers.grading.grade` -- ``python -m helpers.grading.grade SUB.ipynb``: grade one submission;
  :mod:`~helpers.grading.submission` reads it (before anything runs), :mod:`~helpers.grading.report`
  writes the score file and the table (student text escaped).
- :mod:`helpers.grading.sandbox` (+ ``sandbox_runner``, ``limits``) -- the bubblewrap sandbox the exercise cells
  run in, and the control group that limits its memory and processes.
- :mod:`helpers.grading.nbgrader_course` -- an nbgrader course directory with a sandboxed autograde step;
  :mod:`~helpers.grading.nbgrader_class` autogrades a class one student at a time (a broken notebook is its
  student's 0, not the end of the run).
- :mod:`helpers.grading.grade_class` -- ``python -m helpers.grading.grade_class``: a whole class on Dask.
"""
