"""The attribution explorer: one image, one method, one target class, one layer for the CAMs.

Shows the image, the map alone and the map over a faint grey copy of the image
(:func:`helpers.overlays.overlay`: the map's colour at a constant weight, so a value has the colour
of the colour bar whatever lies under it and the image's brightness never reads as attribution).
With the true masks (the Line data of chapter 05) the mask is outlined one pixel outside its edge
and the pointing game and the energy in the mask are given (:mod:`helpers.groundtruth`).
"""

import numpy as np

from helpers.explore.activations import show_gray_or_rgb, spatial_layers
from helpers.explore.common import FIGURE_WIDTH, LRU, Explorer, index_in, one_of

#: Label shown in the menu -> method in :data:`helpers.attribution.METHODS`.
METHOD_LABELS = {"Grad-CAM": "grad_cam", "Grad-CAM++": "grad_cam_plus_plus", "saliency": "saliency",
                 "SmoothGrad": "smoothgrad", "Integrated Gradients": "integrated_gradients",
                 "occlusion": "occlusion", "guided backprop": "guided_backprop"}
#: Methods that take a layer (the class activation maps).
LAYERED = ("grad_cam", "grad_cam_plus_plus", "score_cam")
#: Pixels the true mask is grown by for the pointing game (:func:`helpers.groundtruth.pointing_game`).
POINTING_TOLERANCE = 1


class AttributionExplorer(Explorer):
    """Controls: ``index``, ``method``, ``target`` (a class, -1 for the predicted one), ``layer``."""

    def __init__(self, model, images, labels, masks, class_names, methods, layers, index, method, target, layer):
        import ipywidgets as widgets

        from helpers.cams import default_cam_layer
        from helpers.modelparts import check_images
        from helpers.scoring import n_classes, score_model

        self.model, self.images = model, check_images(model, images)
        self.labels = None if labels is None else np.asarray(labels)
        if self.labels is not None and self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must give one label per image ({len(self.images)}); got shape "
                             f"{self.labels.shape}")
        self.masks = None if masks is None else np.asarray(masks, bool)
        if self.masks is not None and self.masks.shape != self.images.shape[:3]:
            raise ValueError(f"masks must be one (H, W) mask per image {self.images.shape[:3]}; got {self.masks.shape}")
        self.scorer = score_model(model)
        self.n_classes, self.class_names = n_classes(self.scorer), class_names
        if class_names is not None and len(class_names) < self.n_classes:
            raise ValueError(f"class_names must name every one of the model's {self.n_classes} classes; got "
                             f"{len(class_names)} names: pass one name per class, or class_names=None")
        methods = list(METHOD_LABELS.values()) if methods is None else list(methods)
        for name in methods:
            one_of(name, list(METHOD_LABELS.values()) + ["score_cam", "deconvnet"], "methods")
        self.methods = methods
        from helpers.modelparts import find_layer

        self.layers = spatial_layers(model) if layers is None else [find_layer(model, name) for name in layers]
        if not self.layers:
            raise ValueError("layers is empty: pass the layers whose maps Grad-CAM may weight, or layers=None")
        default = default_cam_layer(model)
        if layer is None:  # the default CAM layer when offered, else the last layer of the list
            layer = default if default in self.layers else self.layers[-1]
        else:
            layer = find_layer(model, layer)
        self.cache = {"logits": LRU(256), "maps": LRU(256)}
        labels_of = {value: key for key, value in METHOD_LABELS.items()}
        controls = {
            "index": widgets.IntSlider(value=index_in(index, len(self.images), "index"), min=0,
                                       max=len(self.images) - 1, description="image", continuous_update=False),
            "method": widgets.Dropdown(options=[(labels_of.get(m, m), m) for m in methods],
                                       value=one_of(method, methods, "method"), description="method"),
            "target": widgets.Dropdown(options=self.target_options(index), description="target",
                                       value=self.check_target(-1 if target is None else target)),
            "layer": widgets.Dropdown(options=self.layers, value=one_of(layer, self.layers, "layer"),
                                      description="layer"),
        }
        self._target_index = index
        super().__init__(controls, f"Attribution explorer of {model.name}")

    # ------------------------------------------------------------------ choices
    def check(self, choice):
        index = index_in(choice["index"], len(self.images), "index")
        method = one_of(choice["method"], self.methods, "method")
        layer = one_of(choice["layer"], self.layers, "layer")
        return {"index": index, "method": method, "target": self.check_target(choice["target"]), "layer": layer}

    def check_target(self, target):
        """``target`` as a class index, -1 (or None) for the predicted class."""
        if target is None or (not isinstance(target, bool) and isinstance(target, (int, np.integer)) and target == -1):
            return -1
        return index_in(target, self.n_classes, "target (a class; -1 or None for the predicted one)")

    def target_options(self, index):
        """The target menu for image ``index``: the predicted class, then every class, with its logit."""
        logits = self.logits(index)
        options = [(f"predicted: {self.name_of(logits.argmax())} (logit {logits.max():+.2f})", -1)]
        return options + [(f"{self.name_of(k)} (logit {logits[k]:+.2f})", k) for k in range(self.n_classes)]

    def key(self, choice):
        layer = choice["layer"] if choice["method"] in LAYERED else None  # the other methods take no layer
        return choice["index"], choice["method"], self.resolved(choice), layer

    def resolved(self, choice):
        """The class a choice explains: its target, or the class image ``index`` is predicted as."""
        return int(self.logits(choice["index"]).argmax()) if choice["target"] == -1 else choice["target"]

    def sync_controls(self, choice):
        index = choice["index"]
        self.controls["layer"].disabled = choice["method"] not in LAYERED
        if self._target_index == index:
            return
        target = self.controls["target"]
        value = target.value
        target.options = self.target_options(index)
        target.value = value
        self._target_index = index

    def needs_long_work(self, choice):
        return choice["method"] in ("integrated_gradients", "smoothgrad", "occlusion", "score_cam")

    def describe(self, choice):
        empty = "" if self.attribution(choice).max() > 0 else " (an all-zero map: no positive evidence)"
        return f"image {choice['index']}, {choice['method']} for class {self.name_of(self.resolved(choice))}{empty}"

    def name_of(self, label):
        label = int(label)
        return str(self.class_names[label]) if self.class_names is not None else str(label)

    def forget(self):
        from helpers.scoring import score_model

        super().forget()
        self.scorer = score_model(self.model)  # the score model's weights follow the edited model
        self._target_index = None  # the target menu's logits are rebuilt

    # ------------------------------------------------------------------ the helpers' results, cached
    def logits(self, index):
        """Pre-softmax scores of image ``index`` (:func:`helpers.scoring.score_model`)."""
        self.follow_model()
        return self.cache["logits"].get(index, lambda: np.asarray(
            self.scorer(self.images[index][None], training=False))[0])

    def attribution(self, choice):
        """The map ``(H, W)`` in [0, 1] of a canonical choice (:data:`helpers.attribution.METHODS`)."""
        from helpers.attribution import METHODS

        def run():
            options = {"layer": choice["layer"]} if choice["method"] in LAYERED else {}
            return METHODS[choice["method"]](self.model, self.images[choice["index"]][None],
                                             target=self.resolved(choice), **options)[0]
        return self.cache["maps"].get(self.key(choice), run)

    def scores(self, choice):
        """``(pointing game hit, energy in the mask)`` of the choice's map, or None without masks."""
        from helpers import groundtruth

        if self.masks is None:
            return None
        heat, mask = self.attribution(choice)[None], self.masks[choice["index"]][None]
        return (bool(groundtruth.pointing_game(heat, mask, tolerance=POINTING_TOLERANCE)[0]),
                float(groundtruth.energy_in_mask(heat, mask)[0]))

    # ------------------------------------------------------------------ the figure
    def compute(self, choice):
        import matplotlib.pyplot as plt
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        from helpers.overlays import image_share, outline, overlay, overlay_colormap
        from helpers.runtime import legible_fontsize

        index, heat = choice["index"], self.attribution(choice)
        logits, explained = self.logits(index), self.resolved(choice)
        image = self.images[index]
        fig, axes = plt.subplots(1, 3, figsize=(FIGURE_WIDTH, 3.3))
        fig.subplots_adjust(left=0.01, right=0.87, top=0.7, bottom=0.02, wspace=0.06)  # no layout engine: faster
        font = legible_fontsize(fig, px=15, largest=10)
        self.boxes = {"image": axes[0], "map": axes[1],
                      "overlay": axes[2]}
        show_gray_or_rgb(axes[0], image)
        label = "" if self.labels is None else f"label {self.name_of(self.labels[index])}\n"
        axes[0].set_title(f"image {index}\n{label}predicted {self.name_of(logits.argmax())}", fontsize=font,
                          loc="left")  # long class names run into the gap, not off the figure
        colours = overlay_colormap()  # the overlay's colours, for the map alone and the bar
        axes[1].imshow(heat, cmap=colours, vmin=0, vmax=1)
        axes[1].set_title("the map alone" if heat.max() > 0 else "all zero: no positive\nevidence for this class",
                          fontsize=font)
        axes[2].imshow(overlay(image, heat))
        axes[2].set_title(f"over the image (at {image_share():.1%} brightness)", fontsize=font)
        if self.masks is not None:
            for ax in axes[1:]:
                outline(ax, self.masks[index], "#00e5ff")
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
        fig.colorbar(ScalarMappable(Normalize(0, 1), colours), cax=fig.add_axes((0.89, 0.06, 0.022, 0.6)),
                     label="attribution (max 1)")
        name = {v: k for k, v in METHOD_LABELS.items()}.get(choice["method"], choice["method"])
        where = f" at {choice['layer']}" if choice["method"] in LAYERED else ""
        title = f"{name}{where} for class {self.name_of(explained)} (logit {logits[explained]:+.2f})"
        scores = self.scores(choice)
        if scores is not None:
            title += (f"\ncyan: 1 px outside the mask · pointing game (peak ≤ {POINTING_TOLERANCE} px away): "
                      f"{'hit' if scores[0] else 'miss'} · energy in mask {scores[1]:.2f}")
        fig.suptitle(title, fontsize=legible_fontsize(fig, px=17, largest=11))
        return fig


def explore_attribution(model, images, labels=None, masks=None, class_names=None, methods=None, layers=None,
                        index=0, method="grad_cam", target=None, layer=None):
    """An explorer of attribution maps: image, method, target class and CAM layer chosen with controls.

    Args:
        model: a Keras classifier with one image input.
        images: images ``(n, H, W, C)`` as the model takes them.
        labels: their labels ``(n,)``, shown in the title (optional).
        masks: true masks ``(n, H, W)`` (the Line data's ``masks``): outlined, with the pointing game
            and the energy in the mask.
        class_names: class index -> name (e.g. the Line factors); default the index.
        methods: names in :data:`helpers.attribution.METHODS` offered; default the seven of
            :data:`METHOD_LABELS`.
        layers: layers offered to the class activation maps; default every layer with feature maps.
        index, method, target, layer: the default choice; ``target`` None (or -1) explains the
            predicted class; ``layer`` None: :func:`helpers.cams.default_cam_layer`.

    Returns:
        :class:`AttributionExplorer`: display it for the live explorer; ``update(...)`` and
        ``render_state(...)`` work without a browser.
    """
    return AttributionExplorer(model, images, labels, masks, class_names, methods, layers, index, method,
                               -1 if target is None else target, layer)
