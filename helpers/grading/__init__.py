"""Tooling that turns the chapters into graded assignments (not taught in the chapters).

What students get (:mod:`helpers.grading.student_kit` keeps only these):

- :mod:`helpers.grading.exercises` -- the exercises, their points and the names of their checks, and the
  practice check on the public examples in ``examples/``; :mod:`~helpers.grading.compare` -- the comparisons.

Instructor only:

- :mod:`helpers.grading.references` -- the checks: inputs drawn from a seed and the grader's reference
  values (``normalize_checks``, ``prediction_checks`` (01), ``model_checks`` (02, 05), ``field_checks`` (03),
  ``ascent_checks`` (04), ``perturbation_checks`` (05)); ``references.examples`` writes the public examples.
- :mod:`helpers.grading.questions` -- the interpretation questions graded by hand.
- :mod:`helpers.grading.assignments` -- ``python -m helpers.grading.assignments``: the student versions;
  :mod:`helpers.grading.student_kit` -- ``make student-kit``: what students get.
- :mod:`helpers.grading.grade` -- ``python -m helpers.grading.grade SUB.ipynb --chapter NN``: grade one
  submission; :mod:`~helpers.grading.submission` reads it (before anything runs),
  :mod:`~helpers.grading.preamble` takes the earlier cells' imports and constants,
  :mod:`~helpers.grading.seeds` keys the check-input seeds with the instructor's secret,
  :mod:`~helpers.grading.report` writes the score file and the table (student text escaped).
- :mod:`helpers.grading.sandbox` (+ ``sandbox_runner``, ``limits``) -- the bubblewrap sandbox the exercise cells
  run in (as an unprivileged host uid, its steps supervised from outside the student's process), and the
  control group that limits its memory, tasks and CPU.
- :mod:`helpers.grading.nbgrader_course` -- an nbgrader course directory with a sandboxed autograde step;
  :mod:`~helpers.grading.nbgrader_class` autogrades a class one student at a time (a broken notebook is its
  student's 0, not the end of the run).
- :mod:`helpers.grading.grade_class` -- ``python -m helpers.grading.grade_class``: a whole class on Dask.
"""
