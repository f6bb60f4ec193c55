"""The activations explorer: one test image, one layer, one channel.

Shows the image (with its label and the network's prediction), the channel's feature map, the
pool images whose strongest unit in that channel fires hardest with that unit's receptive field
outlined (:func:`helpers.receptive_field.top_patches`), and the channel's regularized pattern
(:func:`helpers.maximize.maximize_channels`, every channel of a layer in one batched run).
"""

import numpy as np

from helpers.explore.common import FIGURE_WIDTH, LRU, Explorer, index_in, one_of

#: Colour of the receptive-field outlines: visible on grey digits and on colour images alike.
FIELD_COLOUR = "#ff8c00"


def spatial_layers(model):
    """Paths of the layers of ``model`` whose output is a stack of maps ``(n, h, w, c)``."""
    from helpers.graph import flatten

    flat = flatten(model, refresh=False)
    return [path for path in flat.paths if len(flat.output(path).shape) == 4]


def show_gray_or_rgb(ax, image, **kwargs):
    """Draw an image in [0, 1]: one channel in grey, three in colour."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    ax.imshow(image, cmap="gray", vmin=0, vmax=1, **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])


def show_map(fig, ax, values, label):
    """A map with a colour bar: viridis from 0 for non-negative values, a diverging map centred at
    zero where the values are signed."""
    low, high = float(values.min()), float(values.max())
    if low < 0:
        top = max(abs(low), abs(high)) or 1.0
        shown = ax.imshow(values, cmap="RdBu_r", vmin=-top, vmax=top)
    else:
        shown = ax.imshow(values, cmap="viridis", vmin=0, vmax=high or 1.0)
    bar = fig.colorbar(shown, cax=ax.inset_axes((1.04, 0.0, 0.06, 1.0)), label=label)
    bar.ax.tick_params(labelsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


class ActivationsExplorer(Explorer):
    """Controls: ``index`` (test image), ``layer``, ``channel``. See :func:`explore_activations`."""

    def __init__(self, model, images, labels, layers, pool, n_patches, steps, class_names, index, layer, channel,
                 seed):
        import ipywidgets as widgets

        from helpers.modelparts import check_images

        self.model, self.images, self.labels = model, check_images(model, images), np.asarray(labels)
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must give one label per image ({len(self.images)}); got shape "
                             f"{self.labels.shape}")
        self.pool = self.images[:500] if pool is None else check_images(model, pool)
        self.layers = spatial_layers(model) if layers is None else [self._path(name) for name in layers]
        if not self.layers:
            raise ValueError("the model has no layer with feature maps (n, h, w, c): nothing to explore")
        self.n_patches, self.steps, self.seed, self.class_names = n_patches, steps, seed, class_names
        self.channels = {name: int(self._output(name).shape[-1]) for name in self.layers}
        self.cache = {"probs": LRU(256), "acts": LRU(64), "tops": LRU(256), "pool": LRU(2), "patterns": LRU(8)}
        layer = self.layers[0] if layer is None else one_of(self._path(layer), self.layers, "layer")
        controls = {
            "index": widgets.IntSlider(value=index_in(index, len(self.images), "index"), min=0,
                                       max=len(self.images) - 1, description="image", continuous_update=False),
            "layer": widgets.Dropdown(options=self.layers, value=layer, description="layer"),
            "channel": widgets.IntSlider(value=index_in(channel, self.channels[layer], "channel"), min=0,
                                         max=self.channels[layer] - 1, description="channel",
                                         continuous_update=False),
        }
        super().__init__(controls, f"Activations explorer of {model.name}")

    def _path(self, layer):
        from helpers.modelparts import find_layer

        return find_layer(self.model, layer)

    def _output(self, path):
        from helpers.graph import flatten

        return flatten(self.model, refresh=False).output(path)

    # ------------------------------------------------------------------ choices
    def check(self, choice):
        layer = one_of(choice["layer"], self.layers, "layer")
        return {"index": index_in(choice["index"], len(self.images), "index"), "layer": layer,
                "channel": index_in(choice["channel"], self.channels[layer], f"channel (layer {layer})")}

    def sync_controls(self, choice):
        slider = self.controls["channel"]
        slider.max = self.channels[choice["layer"]] - 1

    def needs_long_work(self, choice):
        return choice["layer"] not in self.cache["patterns"]

    def describe(self, choice):
        return f"test[{choice['index']}], {choice['layer']} channel {choice['channel']}"

    # ------------------------------------------------------------------ the helpers' results, cached
    def probabilities(self, index):
        """The network's output for image ``index``."""
        self.follow_model()
        return self.cache["probs"].get(index, lambda: np.asarray(
            self.model(self.images[index][None], training=False))[0])

    def predicted(self, output):
        """'class (confidence)' from the model's output for one image: a one-unit sigmoid is thresholded
        at 0.5, probabilities give their largest value, other outputs (logits) their score."""
        output = np.asarray(output, np.float64).ravel()
        if output.size == 1:
            p = float(output[0])
            return f"{self.name_of(int(p >= 0.5))} (p={max(p, 1 - p):.3f})"
        k = int(output.argmax())
        is_probability = (output >= 0).all() and abs(output.sum() - 1) < 1e-3
        return f"{self.name_of(k)} ({'p=' if is_probability else 'score '}{output[k]:.3f})"

    def activations(self, index):
        """Every explored layer's maps for image ``index`` (:func:`helpers.activations.layer_activations`)."""
        from helpers.activations import layer_activations

        return self.cache["acts"].get(index, lambda: {
            name: a[0] for name, a in layer_activations(self.model, self.images[index], self.layers).items()})

    def pool_activations(self, layer):
        """``layer``'s maps for every pool image, computed once per layer and shared by its channels."""
        from helpers.activations import layer_activations

        return self.cache["pool"].get(layer, lambda: layer_activations(self.model, self.pool, layer)[layer])

    def top(self, layer, channel):
        """:func:`helpers.receptive_field.top_patches` of the channel over the pool."""
        from helpers.receptive_field import top_patches

        return self.cache["tops"].get((layer, channel), lambda: top_patches(
            self.model, self.pool, layer, channel, n=self.n_patches, activation=self.pool_activations(layer)))

    def patterns(self, layer):
        """Regularized patterns of every channel of ``layer`` and the activation each reaches."""
        from helpers import maximize

        def run():
            images, _ = maximize.maximize_channels(self.model, layer, steps=self.steps, seed=self.seed, progress=False)
            return images, maximize.reached_activation(self.model, images, layer, np.arange(len(images)))
        return self.cache["patterns"].get(layer, run)

    def name_of(self, label):
        label = int(label)
        return str(self.class_names[label]) if self.class_names is not None else str(label)

    # ------------------------------------------------------------------ the figure
    def compute(self, choice):
        import matplotlib.pyplot as plt

        from helpers.runtime import legible_fontsize

        index, layer, channel = choice["index"], choice["layer"], choice["channel"]
        probs, act = self.probabilities(index), self.activations(index)[layer][..., channel]
        top, (patterns, reached) = self.top(layer, channel), self.patterns(layer)
        n = self.n_patches
        fig = plt.figure(figsize=(FIGURE_WIDTH, 4.7))  # placed by hand: a layout engine doubles the draw time
        ax_in, ax_map, ax_pattern = [fig.add_axes(box) for box in ((0.02, 0.42, 0.27, 0.44), (0.33, 0.42, 0.27, 0.44),
                                                                   (0.71, 0.42, 0.27, 0.44))]
        width = 0.96 / n
        patch_axes = [fig.add_axes((0.02 + k * width + 0.006, 0.03, width - 0.012, 0.22)) for k in range(n)]
        font = legible_fontsize(fig, px=15, largest=10)
        self.boxes = {"image": ax_in, "map": ax_map,
                      "pattern": ax_pattern}
        show_gray_or_rgb(ax_in, self.images[index])
        ax_in.set_title(f"test[{index}]: label {self.name_of(self.labels[index])}\npredicted "
                        f"{self.predicted(probs)}", fontsize=font)
        show_map(fig, ax_map, act, "activation")
        silent = " (silent)" if np.ptp(act) == 0 and act.max() == 0 else ""
        ax_map.set_title(f"{layer}, channel {channel}\n{act.shape[0]}x{act.shape[1]} map{silent}", fontsize=font)
        show_gray_or_rgb(ax_pattern, patterns[channel])
        ax_pattern.set_title(f"regularized pattern\nchannel mean {reached[channel]:.2f}", fontsize=font)
        field = top["field"]
        small = legible_fontsize(fig, px=13, largest=8)
        for k, ax in enumerate(patch_axes):
            if k >= len(top["indices"]):
                ax.axis("off")
                continue
            show_gray_or_rgb(ax, self.pool[top["indices"][k]])
            (r0, r1), (c0, c1) = field.span(top["positions"][k][0], 0), field.span(top["positions"][k][1], 1)
            ax.add_patch(plt.Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, fill=False,
                                       edgecolor=FIELD_COLOUR, linewidth=1.5))
            ax.set_xlim(-0.5, self.pool.shape[2] - 0.5)
            ax.set_ylim(self.pool.shape[1] - 0.5, -0.5)
            ax.set_title(f"#{int(top['indices'][k])}: {float(top['values'][k]):.2f}", fontsize=small)
        fig.text(0.5, 0.33, f"the {n} pool images that drive channel {channel} hardest; orange: the strongest "
                 f"unit's receptive field ({field.size}x{field.col_size} px)", ha="center", fontsize=small)
        return fig


def explore_activations(model, images, labels, layers=None, pool=None, n_patches=6, steps=200, class_names=None,
                        index=0, layer=None, channel=0, seed=0):
    """An explorer of a network's feature maps: image, layer and channel chosen with controls.

    Args:
        model: a built Keras model with one image input.
        images: test images ``(n, H, W, C)`` as the model takes them (one chosen by its index).
        labels: their labels ``(n,)``.
        layers: the layers offered (names or paths); default every layer with feature maps.
        pool: images searched for each channel's top patches; default the first 500 of ``images``.
        n_patches: top patches shown.
        steps: gradient steps of the regularized patterns (:data:`helpers.maximize.DEFAULT`).
        class_names: label -> name; default the label itself.
        index, layer, channel: the default choice (default layer: the first offered).
        seed: seed of the patterns' start images.

    Returns:
        :class:`ActivationsExplorer`: display it (last line of a cell) for the live explorer; its
        ``update(...)`` and ``render_state(...)`` work without a browser.
    """
    from helpers.modelparts import positive_int

    return ActivationsExplorer(model, images, labels, layers, pool, positive_int(n_patches, "n_patches"),
                               positive_int(steps, "steps"), class_names, index, layer, channel, seed)
