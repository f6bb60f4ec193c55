"""Interactive explorers (ipywidgets) of activations, attribution maps and activation maximization.

- :func:`explore_activations` -- image, layer, channel: the feature map, the top-activating
  patches with their receptive fields, the regularized pattern.
- :func:`explore_attribution` -- image, method, target class, layer: the map, and against true
  masks the pointing game and the energy in the mask.
- :func:`explore_maximization` -- regularizer strengths and steps: the pattern and what it reaches.

Each returns an :class:`helpers.explore.common.Explorer`: the last line of a cell shows the live
widget in JupyterLab and a PNG of its default state where no kernel runs. Its ``update(...)`` and
``render_state(...)`` are plain methods (no browser needed). The explorers are imported on first
use, so ``import helpers.explore`` costs nothing until then; :mod:`helpers` does not import it.
"""

import importlib

_WHERE = {"explore_activations": "activations", "explore_attribution": "attribution",
          "explore_maximization": "maximization"}

__all__ = list(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f"helpers.explore.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'helpers.explore' has no attribute {name!r}; it offers {', '.join(__all__)}")


def __dir__():
    return sorted(list(globals()) + __all__)
