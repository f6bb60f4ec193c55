"""The explorers of :mod:`helpers.explore` without a browser: what each choice shows, the cache, refusals.

The picture an explorer shows for a choice is compared with the helpers' own output for that choice,
computed here independently: inside each panel, the colour at every cell centre of a map must be the
colour map of the value the helper returns (the panel places come from :attr:`Explorer.boxes`).
"""

import base64
import time

import numpy as np
import pytest
from matplotlib import colormaps

from helpers.explore.common import WIDGET_VIEW, decode_png, panel_pixels

STEPS = 20  # patterns optimized briefly: the comparison, not their quality, is tested


@pytest.fixture(scope="module")
def mnist(seeded_session):
    from helpers import data, models

    model = models.trained("seed000_mnist", batch_size=64, seed=0, verbose=0, epochs=3)
    (_, _), (raw, labels) = data.load_mnist()
    return model, raw[:300, ..., None].astype("float32") / 255.0, labels[:300]


@pytest.fixture(scope="module")
def activations_explorer(mnist):
    from helpers.explore import explore_activations

    model, images, labels = mnist
    return explore_activations(model, images, labels, layers=["conv1", "conv2"], pool=images[:200], steps=STEPS,
                               index=3, layer="conv1", channel=2)


def cell_colours(pixels, box, shape):
    """The colour at the centre of every cell of a ``shape`` map drawn over the panel ``box``."""
    panel = panel_pixels(pixels, box).astype(np.float64)
    h, w = shape
    rows = ((np.arange(h) + 0.5) / h * panel.shape[0]).astype(int)
    cols = ((np.arange(w) + 0.5) / w * panel.shape[1]).astype(int)
    return panel[rows][:, cols]


def assert_shows(pixels, box, values, cmap, vmin, vmax, what):
    """The panel shows ``values`` in ``cmap`` scaled to [vmin, vmax], within rounding and edge blending."""
    cmap = colormaps[cmap] if isinstance(cmap, str) else cmap
    expected = cmap(np.clip((np.asarray(values) - vmin) / (vmax - vmin), 0, 1))[..., :3] * 255
    shown = cell_colours(pixels, box, np.shape(values))
    assert np.median(np.abs(shown - expected)) <= 2.0 and np.mean(np.abs(shown - expected) <= 6) > 0.97, \
        f"{what}: the panel does not show the helper's values (largest colour difference " \
        f"{np.abs(shown - expected).max():.0f})"


def test_activations_show_the_helpers_outputs(mnist, activations_explorer):
    from helpers import maximize
    from helpers.activations import layer_activations
    from helpers.receptive_field import top_patches

    model, images, _ = mnist
    explorer = activations_explorer
    shown = explorer.update(index=7, layer="conv2", channel=5)
    assert np.array_equal(decode_png(explorer.image.value), shown), "the widget shows another picture"
    assert np.array_equal(shown, explorer.render_state(index=7, layer="conv2", channel=5))
    act = layer_activations(model, images[7], "conv2")["conv2"][0][..., 5]
    assert_shows(shown, explorer.boxes["map"], act, "viridis", 0, act.max() or 1.0, "the feature map")
    wrong = layer_activations(model, images[7], "conv2")["conv2"][0][..., 6]
    with pytest.raises(AssertionError, match="does not show"):  # the comparison tells channels apart
        assert_shows(shown, explorer.boxes["map"], wrong, "viridis", 0, wrong.max() or 1.0, "channel 6")
    patterns, _ = maximize.maximize_channels(model, "conv2", steps=STEPS, seed=0, progress=False)
    assert_shows(shown, explorer.boxes["pattern"], patterns[5][..., 0], "gray", 0, 1, "the pattern")
    top = top_patches(model, images[:200], "conv2", 5, n=6)
    for key in ("indices", "values", "patches", "positions"):
        np.testing.assert_array_equal(explorer.top("conv2", 5)[key], top[key], err_msg=key)
    misses = explorer.cache["pool"].misses
    other_top = explorer.top("conv2", 9)  # a new channel reuses the pool's conv2 maps
    assert explorer.cache["pool"].misses == misses
    np.testing.assert_array_equal(other_top["values"], top_patches(model, images[:200], "conv2", 9, n=6)["values"])
    assert_shows(shown, explorer.boxes["image"], images[7][..., 0], "gray", 0, 1, "the input")
    other = explorer.update(channel=6)
    assert not np.array_equal(other, shown), "another channel shows the same picture"


def test_activations_controls_drive_the_picture(activations_explorer):
    """A UI change (a control's value set, as the browser does) renders that choice."""
    explorer = activations_explorer
    explorer.update(layer="conv1", channel=2)
    explorer.controls["channel"].value = 4
    assert explorer.choice()["channel"] == 4 and explorer.last_error is None
    assert np.array_equal(decode_png(explorer.image.value), explorer.render_state(layer="conv1", channel=4))
    explorer.controls["layer"].value = "conv2"  # 64 channels: the slider's range follows the layer
    assert explorer.controls["channel"].max == 63
    explorer.controls["channel"].value = 60
    explorer.controls["layer"].value = "conv1"  # 32 channels: channel 60 is clamped to 31
    assert explorer.choice() == {"index": 7, "layer": "conv1", "channel": 31}
    assert np.array_equal(decode_png(explorer.image.value), explorer.render_state())


def test_cache_hits_are_fast(activations_explorer):
    explorer = activations_explorer
    explorer.update(index=11, layer="conv1", channel=9)
    hits = explorer.renders.hits
    began = time.perf_counter()
    again = explorer.update(index=11, layer="conv1", channel=9)
    assert time.perf_counter() - began < 0.25 and explorer.last_cached
    assert explorer.renders.hits == hits + 1
    assert again is explorer.render_state(index=11, layer="conv1", channel=9)


def test_bad_choices_are_refused_and_change_nothing(activations_explorer):
    explorer = activations_explorer
    explorer.update(layer="conv1", channel=0)
    before = explorer.choice()
    for changes, error, words in [({"index": 300}, ValueError, "index must be a whole number 0..299"),
                                  ({"index": 2.5}, ValueError, "index"),
                                  ({"layer": "dense1"}, ValueError, "layer must be one of 'conv1', 'conv2'"),
                                  ({"channel": 40}, ValueError, r"channel \(layer conv1\) must be a whole number 0..31"),
                                  ({"colour": 1}, TypeError, "unknown controls")]:
        with pytest.raises(error, match=words):
            explorer.update(**changes)
        assert explorer.choice() == before


def test_a_failed_ui_change_is_shown_in_the_status_line(activations_explorer, monkeypatch):
    explorer = activations_explorer
    explorer.controls["index"].value = 5
    assert "test[5]" in explorer.status.value and "computed" in explorer.status.value

    def refuse(choice):
        raise ValueError("a refusal the reader must see")
    monkeypatch.setattr(explorer, "compute", refuse)
    explorer.controls["index"].value = 6  # not cached: compute runs and refuses
    assert explorer.last_error == "a refusal the reader must see"
    assert "a refusal the reader must see" in explorer.status.value


def test_static_view_is_the_default_state(activations_explorer):
    explorer = activations_explorer
    explorer.update(channel=7)
    bundle = explorer._repr_mimebundle_()
    assert WIDGET_VIEW in bundle and bundle[WIDGET_VIEW]["model_id"] == explorer.widget.model_id
    static = decode_png(base64.b64decode(bundle["image/png"]))
    assert np.array_equal(static, explorer.render_state(explorer.default))
    assert explorer.default == {"index": 3, "layer": "conv1", "channel": 2}
    assert "static view" in bundle["text/plain"]


def test_attribution_shows_each_methods_map(mnist):
    from helpers import attribution
    from helpers.explore import explore_attribution
    from helpers.overlays import overlay_colormap

    model, images, labels = mnist
    explorer = explore_attribution(model, images[:20], labels[:20], index=2)
    cases = [({"method": "grad_cam", "layer": "conv2"}, "grad_cam", {"layer": "conv2"}),
             ({"method": "saliency", "target": 3}, "saliency", {"target": 3}),
             ({"method": "occlusion", "target": -1}, "occlusion", {})]
    cases += [({"method": m, "target": 5, "layer": "conv1"}, m, {"target": 5, **({"layer": "conv1"} if "cam" in m else {})})
              for m in ("grad_cam_plus_plus", "smoothgrad", "integrated_gradients", "guided_backprop")]
    assert {c[1] for c in cases} == set(explorer.methods), "every offered method is compared"
    for changes, method, options in cases:
        shown = explorer.update(**changes)
        expected = attribution.METHODS[method](model, images[2:3], **options)[0]
        assert_shows(shown, explorer.boxes["map"], expected, overlay_colormap(), 0, 1, f"{method} map")
        assert np.array_equal(decode_png(explorer.image.value), shown)
    logits = np.asarray(explorer.scorer(images[2:3], training=False))[0]
    labels_shown = dict((v, k) for k, v in explorer.controls["target"].options)
    assert labels_shown[3] == f"3 (logit {logits[3]:+.2f})"
    assert labels_shown[-1].startswith(f"predicted: {int(logits.argmax())} ")
    explorer.update(method="saliency")
    assert explorer.controls["layer"].disabled, "the layer applies to the class activation maps only"
    with pytest.raises(ValueError, match="target .* must be a whole number 0..9"):
        explorer.update(target=10)
    with pytest.raises(ValueError, match="method must be one of"):
        explorer.update(method="lime")
    assert explorer.key(explorer.check(explorer.complete({"target": -1}))) == \
        explorer.key(explorer.check(explorer.complete({"target": int(logits.argmax())}))), \
        "the predicted class and its index are one cached map"


def test_attribution_scores_line_masks(seeded_session):
    from helpers import data, groundtruth, models
    from helpers.explore import explore_attribution

    model = models.trained("seed001_base_lines", epochs=5, batch_size=64, seed=0, verbose=0)
    lines = data.make_lines(8, seed=102)
    explorer = explore_attribution(model, lines.images, lines.labels, masks=lines.masks, index=1,
                                   method="integrated_gradients")
    choice = explorer.check(explorer.choice())
    heat = explorer.attribution(choice)[None]
    hit, energy = explorer.scores(choice)
    assert hit == bool(groundtruth.pointing_game(heat, lines.masks[1:2])[0])
    assert energy == pytest.approx(float(groundtruth.energy_in_mask(heat, lines.masks[1:2])[0]))
    with pytest.raises(ValueError, match="masks must be one"):
        explore_attribution(model, lines.images, masks=lines.masks[:3])


def test_maximization_shows_the_pattern_it_reaches(mnist):
    from helpers import maximize
    from helpers.explore import explore_maximization
    from helpers.regularizers import Regularization

    model, _, _ = mnist
    explorer = explore_maximization(model, layer="conv2", channel=1, steps=20)
    shown = explorer.update(tv=0.1, blur=0.0, jitter=2, l2=0.01, steps=30)
    reg = Regularization(jitter=2, blur_every=0, tv_weight=0.1, l2_decay=0.01)
    pattern, trajectory = maximize.maximize_channels(model, "conv2", [1], steps=30, regularization=reg, seed=0,
                                                     progress=False)
    assert_shows(shown, explorer.boxes["pattern"], pattern[0][..., 0], "gray", 0, 1, "the pattern")
    _, curve, reached = explorer.run(explorer.check(explorer.choice()))
    assert np.allclose(curve, trajectory[:, 0])
    assert reached == pytest.approx(float(maximize.reached_activation(model, pattern, "conv2", [1])[0]))
    assert explorer.regularization(explorer.check(explorer.choice())) == reg
    assert "computed" in explorer.status.value
    with pytest.raises(ValueError, match=r"tv must be a number 0.0..0.3"):
        explorer.update(tv=0.5)
    with pytest.raises(ValueError, match="steps must be a whole number 10..400 in steps of 10"):
        explorer.update(steps=15)


def test_report_shows_the_static_png(activations_explorer):
    """nbconvert prefers a widget view when the widget state is stored (papermill stores it): the report's
    hook drops the view, so the page shows the explorer's PNG and no script needing a CDN."""
    import nbformat

    from helpers.course.report import to_html
    from helpers.course.report_widgets import NO_STATIC_VIEW, static_widget_views

    bundle = activations_explorer._repr_mimebundle_()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("explore_activations(...)", outputs=[
        nbformat.v4.new_output("display_data", data=bundle)]), nbformat.v4.new_code_cell("w", outputs=[
            nbformat.v4.new_output("display_data", data={WIDGET_VIEW: bundle[WIDGET_VIEW], "text/plain": "VBox()"})])]
    model_id = bundle[WIDGET_VIEW]["model_id"]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {model_id: {"model_name": "VBoxModel", "state": {}}}, "version_major": 2, "version_minor": 0}}
    page = to_html(nb, instructor=True)
    assert bundle["image/png"][:200] in page and "widget-view+json" not in page
    assert NO_STATIC_VIEW in page
    assert WIDGET_VIEW in nb.cells[0].outputs[0].data, "the notebook itself is not changed"
    assert "widgets" not in static_widget_views(nb).metadata


def test_importing_helpers_explore_is_cheap():
    import subprocess
    import sys

    code = ("import sys, time; t = time.perf_counter(); import helpers.explore; "
            "print(time.perf_counter() - t, 'tensorflow' in sys.modules, 'ipywidgets' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    seconds, tf_loaded, widgets_loaded = done.stdout.split()
    assert tf_loaded == "False" and widgets_loaded == "False", done.stdout
    assert float(seconds) < 1.0


def test_sigmoid_heads_short_class_names_and_offered_layers():
    """A one-unit sigmoid is read as its class by threshold; a short class_names list is refused
    naming the argument; a layers= list without the default CAM layer starts at one it offers."""
    import keras
    from keras import layers as L

    from helpers.explore import explore_activations, explore_attribution

    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
    inputs = keras.Input((8, 8, 1))
    h = L.Conv2D(2, 3, activation="relu", name="c1")(inputs)
    h = L.Flatten()(L.Conv2D(2, 3, activation="relu", name="c2")(h))
    out = L.Dense(1, activation="sigmoid", bias_initializer=keras.initializers.Constant(5.0))(h)
    model = keras.Model(inputs, out)
    activations_view = explore_activations(model, images, [1, 1], steps=5)
    p = float(model(images[:1])[0, 0])
    assert p > 0.5 and activations_view.predicted(activations_view.probabilities(0)) == f"1 (p={p:.3f})"
    assert explore_attribution(model, images, [1, 1], layers=["c1"]).controls["layer"].value == "c1"
    with pytest.raises(ValueError, match="class_names must name every one"):
        explore_attribution(model, images, [1, 1], class_names=["only one"])


def _edited_copy(model):
    """A copy of ``model`` (the shared fixture stays as it is) that a test may edit."""
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def test_an_edited_model_is_followed_by_every_explorer(mnist):
    """New weights after a first look: the explorers show the edited model's outputs, not cached old ones."""
    import keras

    from helpers.activations import layer_activations
    from helpers.explore import explore_activations, explore_attribution, explore_maximization
    from helpers.scoring import score_model

    model, images, labels = mnist
    model = _edited_copy(model)
    act_view = explore_activations(model, images[:10], labels[:10], layers=["conv1"], pool=images[:20], steps=10,
                                   index=1, layer="conv1", channel=3)
    att_view = explore_attribution(model, images[:10], labels[:10], index=1, method="saliency")
    max_view = explore_maximization(model, layer="conv1", channel=3, steps=10)
    before = act_view.render_state(), att_view.render_state(), max_view.render_state()
    kernel, bias = model.get_layer("conv1").get_weights()
    model.get_layer("conv1").set_weights([np.zeros_like(kernel), np.full_like(bias, 0.5)])  # every map: 0.5
    head = model.layers[-1]
    head.set_weights([w[..., ::-1] for w in head.get_weights()])  # the classes' scores swapped end for end
    shown = act_view.update(channel=3)
    np.testing.assert_allclose(layer_activations(model, images[1], "conv1")["conv1"][0][..., 3], 0.5)
    assert not np.array_equal(shown, before[0])
    expected = np.asarray(model(images[1:2], training=False))[0]
    np.testing.assert_allclose(act_view.probabilities(1), expected, rtol=1e-5, atol=1e-6)
    logits = np.asarray(score_model(model)(images[4:5], training=False))[0]
    np.testing.assert_allclose(att_view.logits(4), logits, rtol=1e-5, atol=1e-5)  # an image never shown before
    assert att_view.update(index=1) is not None and not np.array_equal(att_view.render_state(), before[1])
    labels_shown = dict((v, k) for k, v in att_view.controls["target"].options)
    new_logits = np.asarray(score_model(model)(images[1:2], training=False))[0]
    assert labels_shown[-1].startswith(f"predicted: {int(new_logits.argmax())} ")
    assert not np.array_equal(max_view.update(channel=3), before[2])
    model.get_layer("conv1").activation = keras.activations.linear  # a swapped activation is followed too
    assert act_view.render_state() is not shown


def test_every_text_of_the_attribution_figure_lies_within_it(seeded_session):
    """Long class names (the Line data's four factors) and the mask line of the title stay on the
    figure: no title runs off its left or right edge."""
    import keras
    import matplotlib.pyplot as plt
    from keras import layers as L

    from helpers.explore import explore_attribution

    inputs = keras.Input((28, 28, 3))
    h = L.Conv2D(4, 3, activation="relu", name="c1")(inputs)
    model = keras.Model(inputs, L.Dense(3)(L.GlobalAveragePooling2D()(h)))
    rng = np.random.default_rng(0)
    names = ["short, thick, blue, 45", "long, thin, red, 135", "short, thin, blue, 165"]
    view = explore_attribution(model, rng.uniform(size=(3, 28, 28, 3)).astype("float32"), np.array([0, 1, 2]),
                               masks=rng.uniform(size=(3, 28, 28)) > 0.8, class_names=names)
    fig = view.compute(view.check(view.choice()))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [fig._suptitle] + [ax.title for ax in fig.axes] + [ax._left_title for ax in fig.axes]
    for text in texts:
        if text is not None and text.get_text():
            box = text.get_window_extent(renderer)
            assert box.x0 >= 0 and box.x1 <= fig.bbox.width, (text.get_text(), box.x0, box.x1, fig.bbox.width)
    assert "1 px outside the mask" in fig._suptitle.get_text()
    plt.close(fig)


def test_an_all_zero_map_says_so_and_the_overlay_dims_to_its_stated_share(seeded_session):
    """A map with no positive evidence is titled as such (not a silent black panel); the overlay keeps
    the share of a white image's brightness that its title states."""
    import keras
    import matplotlib.pyplot as plt
    from keras import layers as L

    from helpers.explore import explore_attribution
    from helpers.overlays import ALPHA, image_share

    inputs = keras.Input((6, 6, 1))
    h = L.Conv2D(2, 3, activation="relu", name="c1", kernel_initializer="ones", bias_initializer="zeros")(inputs)
    out = L.Dense(2, kernel_initializer=keras.initializers.Constant([[-1.0, 1.0]] * 2))(L.GlobalAveragePooling2D()(h))
    model = keras.Model(inputs, out)
    white = np.ones((1, 6, 6, 1), "float32")
    view = explore_attribution(model, white, method="grad_cam", layer="c1", target=0)  # class 0: only negative
    assert "all-zero map" in view.status.value
    overlay_panel = panel_pixels(view.render_state(), view.boxes["overlay"])
    centre = overlay_panel[overlay_panel.shape[0] // 2, overlay_panel.shape[1] // 2].astype(float) / 255
    zero_colour = ALPHA * np.array(colormaps["magma"](0.0)[:3])  # magma's near-black, at the map's weight
    np.testing.assert_allclose(centre, zero_colour + image_share(), atol=2 / 255)  # white: the stated share
    fig = view.compute(view.check(view.choice()))
    assert fig.axes[2].get_title() == f"over the image (at {image_share():.1%} brightness)"
    plt.close(fig)
    view.update(target=1)
    assert "all-zero" not in view.status.value and "computed" in view.status.value


def test_any_error_of_a_ui_change_is_shown_and_a_layer_change_clamps_the_channel(mnist):
    from helpers.explore import explore_maximization

    model, _, _ = mnist
    view = explore_maximization(model, layer="conv2", channel=63, steps=10)

    def broken(choice):
        raise RuntimeError("out of memory, say")
    original = view.compute
    view.compute = broken
    view.controls["steps"].value = 20
    assert view.last_error == "RuntimeError: out of memory, say" and "computing" not in view.status.value
    assert "RuntimeError" in view.last_traceback
    view.compute = original
    view.update(layer="conv1")  # 32 channels: channel 63 is clamped as the slider clamps it
    assert view.choice()["layer"] == "conv1" and view.choice()["channel"] == 31 and view.last_error is None
