"""The maximization explorer: regularizer strengths and steps for one channel's pattern.

Every change runs :func:`helpers.maximize.maximize_channels` for the chosen channel with a
:class:`helpers.regularizers.Regularization` built from the sliders (jitter, a blur every four
steps, total variation, L2 decay) and shows the pattern, the objective along the steps and the
activation the pattern reaches on the original model (:func:`helpers.maximize.reached_activation`).
"""

import numpy as np

from helpers.explore.activations import show_gray_or_rgb, spatial_layers
from helpers.explore.common import FIGURE_WIDTH, LRU, Explorer, index_in, one_of

#: The sliders: name -> (minimum, maximum, step, description).
SLIDERS = {"jitter": (0, 4, 1, "jitter (px)"), "blur": (0.0, 1.5, 0.05, "blur σ"),
           "tv": (0.0, 0.3, 0.01, "total var."), "l2": (0.0, 0.1, 0.005, "L2 decay"),
           "steps": (10, 400, 10, "steps")}
#: A blur (when its sigma is above 0) is applied every this many steps, as in chapter 04.
BLUR_EVERY = 4


class MaximizationExplorer(Explorer):
    """Controls: ``layer``, ``channel``, ``jitter``, ``blur``, ``tv``, ``l2``, ``steps``."""

    def __init__(self, model, layers, layer, channel, values, seed):
        import ipywidgets as widgets

        from helpers.modelparts import find_layer

        self.model, self.seed = model, seed
        self.layers = spatial_layers(model) if layers is None else [find_layer(model, name) for name in layers]
        if not self.layers:
            raise ValueError("the model has no layer with feature maps (n, h, w, c): nothing to maximize")
        layer = self.layers[0] if layer is None else one_of(find_layer(model, layer), self.layers, "layer")
        from helpers.graph import flatten

        flat = flatten(model, refresh=False)
        self.channels = {name: int(flat.output(name).shape[-1]) for name in self.layers}
        self.runs = LRU(64)
        controls = {
            "layer": widgets.Dropdown(options=self.layers, value=layer, description="layer"),
            "channel": widgets.IntSlider(value=index_in(channel, self.channels[layer], "channel"), min=0,
                                         max=self.channels[layer] - 1, description="channel",
                                         continuous_update=False),
        }
        for name, (low, high, step, label) in SLIDERS.items():
            kind = widgets.IntSlider if isinstance(step, int) else widgets.FloatSlider
            controls[name] = kind(value=self._in_range(name, values[name]), min=low, max=high, step=step,
                                  description=label, continuous_update=False, style={"description_width": "initial"})
        super().__init__(controls, f"Maximization explorer of {model.name}")

    @staticmethod
    def _in_range(name, value):
        low, high, step, _ = SLIDERS[name]
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value) or not low <= value <= high:
            raise ValueError(f"{name} must be a number {low}..{high}; got {value!r}")
        if isinstance(step, int):
            if value != int(value) or (int(value) - low) % step:
                raise ValueError(f"{name} must be a whole number {low}..{high} in steps of {step}; got {value!r}")
            return int(value)
        return round(float(value), 4)

    # ------------------------------------------------------------------ choices
    def check(self, choice):
        layer = one_of(choice["layer"], self.layers, "layer")
        checked = {"layer": layer,
                   "channel": index_in(choice["channel"], self.channels[layer], f"channel (layer {layer})")}
        checked.update({name: self._in_range(name, choice[name]) for name in SLIDERS})
        return checked

    def sync_controls(self, choice):
        self.controls["channel"].max = self.channels[choice["layer"]] - 1

    def needs_long_work(self, choice):
        return True

    def describe(self, choice):
        return f"{choice['layer']} channel {choice['channel']}, {choice['steps']} steps"

    def caches(self):
        return [self.renders, self.runs]

    def regularization(self, choice):
        """The :class:`helpers.regularizers.Regularization` the sliders of ``choice`` set."""
        from helpers.regularizers import Regularization

        blur = choice["blur"]
        return Regularization(jitter=choice["jitter"], blur_every=BLUR_EVERY if blur > 0 else 0,
                              blur_sigma=blur if blur > 0 else 0.5, tv_weight=choice["tv"], l2_decay=choice["l2"])

    def run(self, choice):
        """``(pattern, trajectory, reached activation)`` of a canonical choice, cached."""
        from helpers import maximize

        def optimize():
            images, trajectory = maximize.maximize_channels(
                self.model, choice["layer"], [choice["channel"]], steps=choice["steps"],
                regularization=self.regularization(choice), seed=self.seed, progress=False)
            reached = maximize.reached_activation(self.model, images, choice["layer"], [choice["channel"]])[0]
            return images[0], trajectory[:, 0], float(reached)
        return self.runs.get(self.key(choice), optimize)

    # ------------------------------------------------------------------ the figure
    def compute(self, choice):
        import matplotlib.pyplot as plt

        from helpers.runtime import legible_fontsize

        pattern, trajectory, reached = self.run(choice)
        fig, (ax_image, ax_curve) = plt.subplots(1, 2, figsize=(FIGURE_WIDTH, 3.4), width_ratios=[1, 1.25])
        fig.subplots_adjust(left=0.02, right=0.98, top=0.76, bottom=0.15, wspace=0.55)  # no layout engine: faster
        font = legible_fontsize(fig, px=15, largest=10)
        self.boxes = {"pattern": ax_image, "curve": ax_curve}
        show_gray_or_rgb(ax_image, pattern)
        reg = self.regularization(choice)
        ax_image.set_title(f"jitter {reg.jitter}, blur {'σ %.2f' % reg.blur_sigma if reg.blur_every else 'off'},\n"
                           f"TV {reg.tv_weight:g}, L2 decay {reg.l2_decay:g}", fontsize=font)
        if pattern.shape[-1] == 1:
            fig.colorbar(ax_image.images[0], cax=ax_image.inset_axes((1.04, 0.0, 0.06, 1.0)), label="pixel value")
        ax_curve.plot(np.arange(len(trajectory)), trajectory, color="#1f77b4", linewidth=1.0, marker="")  # one series
        ax_curve.set_xlabel("step")
        ax_curve.set_ylabel("objective (mean before the ReLU)")
        ax_curve.set_title(f"reached activation {reached:.3f}\n(mean after the ReLU, original model)", fontsize=font)
        ax_curve.grid(alpha=0.3)
        fig.suptitle(f"{choice['layer']}, channel {choice['channel']}: {choice['steps']} steps",
                     fontsize=legible_fontsize(fig, px=17, largest=11))
        return fig


def explore_maximization(model, layers=None, layer=None, channel=0, jitter=1, blur=0.5, tv=0.05, l2=0.0, steps=100,
                         seed=0):
    """An explorer of regularized activation maximization: how each regularizer shapes a pattern.

    Args:
        model: a built Keras model with one image input.
        layers: layers offered (names or paths); default every layer with feature maps.
        layer, channel: the default unit (default layer: the first offered).
        jitter: largest random shift in pixels, 0..4.
        blur: sigma of the Gaussian blur applied every 4 steps, 0..1.5 (0: no blur).
        tv: total-variation weight, 0..0.3.
        l2: L2 decay per step, 0..0.1.
        steps: gradient steps, 10..400 in tens.
        seed: seed of the start image (the same for every choice, so only the sliders differ).

    Returns:
        :class:`MaximizationExplorer`: display it for the live explorer; ``update(...)`` and
        ``render_state(...)`` work without a browser.
    """
    values = {"jitter": jitter, "blur": blur, "tv": tv, "l2": l2, "steps": steps}
    return MaximizationExplorer(model, layers, layer, channel, values, seed)
