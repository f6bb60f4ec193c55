"""Helpers for the course *Seeing inside convolutional networks*.

Each concept of the course lives in one module:

- :mod:`helpers.runtime` -- ``setup(seed)``: logging, seeds, determinism, plot style.
- :mod:`helpers.data` -- MNIST (shipped), the synthetic Line data, SVHN and CIFAR-10 loaders.
- :mod:`helpers.gallery` -- image grids used to look at data sets.
- :mod:`helpers.models` -- every architecture of the sources; ``trained(...)`` with a cache.
- :mod:`helpers.evaluation` -- learning curves, confusion matrix, predictions, mistakes.
- :mod:`helpers.activations` -- intermediate activations of any Keras 3 model.
- :mod:`helpers.featuremaps` -- feature maps as grids and close-ups.
- :mod:`helpers.statistics` -- sparsity, strongest channels, class-mean patterns.
- :mod:`helpers.receptive_field` -- receptive fields and top-activating patches.
- :mod:`helpers.filters` -- kernels, the exact first-layer optimum, plain gradient ascent.
- :mod:`helpers.orientation` -- which way a first-layer kernel's edge runs (Sobel projections).
- :mod:`helpers.progress` -- progress bars that suit notebooks.
- :mod:`helpers.graph` -- the flat copy of a model's graph (nested models inlined) every visualization reads.
- :mod:`helpers.modelparts`, :mod:`helpers.arguments` -- layer lookup, model copies, argument checks.
- :mod:`helpers.regularizers`, :mod:`helpers.maximize`, :mod:`helpers.contrast`, :mod:`helpers.scoring` --
  activation maximization and contrast views of its images.
- :mod:`helpers.pattern_pieces` -- is an optimized pattern tied to its place, does it repeat a piece?
- :mod:`helpers.live_channels` -- which channels a maximization switched on: one decision for counts and titles.
- :mod:`helpers.cams`, :mod:`helpers.attribution`, :mod:`helpers.groundtruth`, :mod:`helpers.overlays` --
  Grad-CAM and attribution, scored against known masks (with bootstrap intervals), drawn over images.
- :mod:`helpers.comparison` -- "A is higher than B" only where the paired interval over images says so.
- :mod:`helpers.invariance` -- the input-invariance test: the same function on shifted inputs.
- :mod:`helpers.claims` -- ``claim(sentence, condition, **numbers)``: prose checked every time a chapter runs.

The tooling that renders and grades the course lives in two subpackages:
:mod:`helpers.course` (render, report, sweeps) and :mod:`helpers.grading`
(exercises and their checks, questions graded by hand, student versions, the sandboxed
grader, nbgrader, class grading).

Importing :mod:`helpers` does not import TensorFlow, so that :func:`setup` can
silence TensorFlow's logging before TensorFlow starts.
"""

import os as _os
import sys as _sys


def _grader_ignores_the_working_directory():
    """``python -m helpers.grading...`` puts the working directory first on ``sys.path``; in a class
    folder a student's ``secrets.py`` or ``numpy.py`` would then run in the grader, unsandboxed.
    For the grading commands it is dropped before anything else is imported."""
    argv = getattr(_sys, "orig_argv", [])
    if "-m" in argv[:-1] and argv[argv.index("-m") + 1].startswith("helpers.grading") and _sys.path \
            and _sys.path[0] in ("", _os.getcwd()):
        _sys.path.pop(0)


_grader_ignores_the_working_directory()

from helpers.runtime import setup  # noqa: E402

__all__ = ["setup"]
__version__ = "0.1.0"
