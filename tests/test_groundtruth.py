"""Ground-truth scores, deletion/insertion and the randomization sanity check, with exact values."""

import keras
import numpy as np
import pytest

from helpers import attribution, groundtruth


pytestmark = pytest.mark.usefixtures("seeded_session")


def test_pointing_game_and_energy():
    masks = np.zeros((3, 5, 5), bool)
    masks[:, 2, :] = True  # a horizontal line in row 2
    maps = np.zeros((3, 5, 5))
    maps[0, 2, 3] = 1.0                    # peak on the line
    maps[1, 3, 3] = 1.0                    # one pixel off
    maps[1, 2, 1] = 0.5
    assert groundtruth.pointing_game(maps, masks, tolerance=0).tolist() == [True, False, False]
    assert groundtruth.pointing_game(maps, masks, tolerance=1).tolist() == [True, True, False]  # zero map: miss
    np.testing.assert_allclose(groundtruth.energy_in_mask(maps, masks), [1.0, 0.5 / 1.5, 0.0])
    with pytest.raises(ValueError, match="same shape"):
        groundtruth.energy_in_mask(maps, masks[:, :4])


def linear_reader():
    """Class 0's logit is the sum of four pixels (the top-left 2x2 block); class 1's is 0."""
    inputs = keras.Input((4, 4, 1))
    out = keras.layers.Dense(2, use_bias=False, activation="softmax", name="out")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, out)
    w = np.zeros((16, 2), np.float32)
    w[[0, 1, 4, 5], 0] = 1.0
    model.get_layer("out").set_weights([w])
    return model


def test_deletion_and_insertion_exact_curves():
    model, image = linear_reader(), np.ones((1, 4, 4, 1), np.float32)
    good = np.zeros((1, 4, 4))
    good[0, :2, :2] = 1.0  # ranks exactly the four pixels the model reads first
    result = groundtruth.deletion_insertion(model, image, good, target=0, fractions=4)
    s4 = 1 / (1 + np.exp(-4.0))
    np.testing.assert_allclose(result["deletion"][0], [s4, 0.5, 0.5, 0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(result["insertion"][0], [0.5, s4, s4, s4, s4], atol=1e-6)
    np.testing.assert_allclose(result["deletion_auc"], 0.25 * ((s4 + 0.5) / 2 + 1.5), atol=1e-6)
    bad = groundtruth.deletion_insertion(model, image, 1.0 - good, target=0, fractions=4)
    assert bad["deletion_auc"][0] > result["deletion_auc"][0]
    assert bad["insertion_auc"][0] < result["insertion_auc"][0]


def gap_model():
    rng = np.random.default_rng(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="out")(x))
    model.get_layer("conv").set_weights([rng.normal(size=(3, 3, 1, 4)).astype(np.float32), np.zeros(4, np.float32)])
    model.get_layer("out").set_weights([rng.normal(size=(4, 2)).astype(np.float32), np.zeros(2, np.float32)])
    return model


def test_cascading_randomization_separates_model_dependent_methods():
    model = gap_model()
    images = np.random.default_rng(1).random((4, 8, 8, 1)).astype(np.float32)
    before = [w.copy() for w in model.get_weights()]

    def edge_detector(model, images, target=None):  # ignores the model entirely
        return np.abs(np.diff(images[..., 0], axis=1, prepend=0))

    ignoring = groundtruth.cascading_randomization(model, images, edge_detector)
    assert [name for name, _, _ in ignoring] == ["original", "out", "conv"]
    assert all(rho == pytest.approx(1.0) and undefined == 0 for _, rho, undefined in ignoring)
    dependent = groundtruth.cascading_randomization(model, images, attribution.saliency)
    assert dependent[-1][1] < 0.8
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # the trained model is untouched


def _deeper_model():
    """conv -> batch norm -> conv -> GAP -> dense (softmax), seeded: four layers with weights to randomize."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="out")(x))


@pytest.mark.parametrize("method", ["saliency", "guided_backprop", "grad_cam"])
def test_every_randomized_step_s_maps_equal_those_of_a_fresh_uncached_model_with_its_weights(method):
    """The steps refresh only the layer just randomized (graph.tracked_weights): each step's maps must equal
    the method on a brand-new model (no cached copy) holding the same cumulative random weights."""
    model = _deeper_model()
    images = np.random.default_rng(2).random((3, 8, 8, 1)).astype(np.float32)
    function = attribution.METHODS[method] if method != "grad_cam" else __import__("helpers.cams").cams.grad_cam
    options = {"layer": "c2"} if method == "grad_cam" else {}
    steps = groundtruth.randomized_maps(model, images, function, target=[0, 1, 0], seed=4, **options)
    assert [name for name, _ in steps] == ["original", "out", "c2", "bn", "c1"]
    rng = np.random.default_rng(4)
    fresh_weights = [w.copy() for w in model.get_weights()]
    layers = [layer for layer in model.layers if layer.weights]
    for (name, maps), layer in zip(steps[1:], reversed(layers)):
        index = sum(len(l.weights) for l in model.layers[:model.layers.index(layer)])
        for k, (var, w) in enumerate(zip(layer.weights, layer.get_weights())):
            if "moving" not in var.name:
                fresh_weights[index + k] = rng.normal(0.0, np.std(w) or 0.05, w.shape).astype(w.dtype)
        fresh = keras.models.clone_model(model)
        fresh.set_weights(fresh_weights)
        np.testing.assert_allclose(maps, function(fresh, images, target=[0, 1, 0], **options), atol=1e-6,
                                   err_msg=f"step {name}")


def test_within_tracked_weights_only_the_reported_layers_are_copied_and_after_it_all_again():
    from helpers import graph

    model = _deeper_model()
    image = np.random.default_rng(5).random((1, 8, 8, 1)).astype(np.float32)

    def copied(path):
        flat = graph.flatten(model)
        return flat.clone(path).get_weights()[0]

    with graph.tracked_weights(model) as changed:
        copied("c1")
        model.get_layer("c1").set_weights([w + 1 for w in model.get_layer("c1").get_weights()])
        changed.append(model.get_layer("c1"))
        np.testing.assert_array_equal(copied("c1"), model.get_layer("c1").get_weights()[0])
        before = copied("c2")
        model.get_layer("c2").set_weights([w + 1 for w in model.get_layer("c2").get_weights()])  # not reported
        np.testing.assert_array_equal(copied("c2"), before)
    np.testing.assert_array_equal(copied("c2"), model.get_layer("c2").get_weights()[0])
    with graph.tracked_weights(model):
        copied("c1")
    model.get_layer("c1").set_weights([w - 2 for w in model.get_layer("c1").get_weights()])  # between blocks
    with graph.tracked_weights(model):  # a new block: its first look copies every layer
        np.testing.assert_array_equal(copied("c1"), model.get_layer("c1").get_weights()[0])
    np.testing.assert_allclose(graph.flatten(model).submodel(graph.flatten(model).outputs)(image), model(image),
                               atol=1e-6)


def test_cascading_randomization_leaves_all_zero_maps_out():
    model = gap_model()
    images = np.random.default_rng(1).random((3, 8, 8, 1)).astype(np.float32)

    def half_blank(model, images, target=None):  # image 0's map is all zero, the others are the image
        maps = images[..., 0].copy()
        maps[0] = 0
        return maps

    rows = groundtruth.cascading_randomization(model, images, half_blank)
    assert all(rho == pytest.approx(1.0) and undefined == 1 for _, rho, undefined in rows)

    def blank(model, images, target=None):
        return np.zeros(images.shape[:3])

    assert all(np.isnan(rho) and undefined == 3 for _, rho, undefined in groundtruth.cascading_randomization(
        model, images, blank))


def test_a_white_image_with_a_zero_map_shows_no_colour_near_the_top_of_the_scale():
    """Bright pixels (white ink, sky) must not read as attribution: under a zero map a white image
    stays far from every colour of the upper half of the colour map."""
    from matplotlib import colormaps

    from helpers import overlays

    shown = overlays.overlay(np.ones((8, 8, 3)), np.zeros((8, 8)))
    upper = colormaps["magma"](np.linspace(0.5, 1.0, 101))[:, :3]
    distance = np.linalg.norm(shown.reshape(-1, 1, 3) - upper[None], axis=-1).min()
    assert shown.max() <= overlays.image_share() + overlays.ALPHA * max(colormaps["magma"](0.0)[:3]) + 1e-12
    assert distance > 0.5, distance
    # the same map at 1 does reach the top colour: the scale itself is intact
    top = overlays.overlay(np.ones((1, 1)), np.ones((1, 1)), alpha=1.0)
    np.testing.assert_allclose(top[0, 0], colormaps["magma"](1.0)[:3])


def test_every_overlay_pixel_is_within_the_image_share_of_its_colour_bar_colour():
    """A value is drawn in its colour-bar colour (overlay_colormap) whatever image lies under it,
    lightened by at most (1 - alpha) * dim: exactly that on white, not at all on black."""
    from matplotlib import colormaps

    from helpers import overlays

    rng = np.random.default_rng(0)
    image, heat = rng.uniform(size=(32, 32, 3)), rng.uniform(size=(32, 32))
    magma = colormaps["magma"](heat)[..., :3]
    for alpha, dim in ((0.75, 0.5), (0.9, 0.3), (0.5, 1.0)):
        bar = overlays.overlay_colormap(alpha)(heat)[..., :3]
        np.testing.assert_allclose(bar, alpha * magma, atol=0.5 / 255 + 1e-3)  # 256 bins of the same colours
        shown = overlays.overlay(image, heat, alpha=alpha, dim=dim)
        share = overlays.image_share(alpha, dim)
        assert share == pytest.approx((1 - alpha) * dim)
        assert (shown - alpha * magma).min() >= -1e-12 and (shown - alpha * magma).max() <= share + 1e-12
        np.testing.assert_allclose(overlays.overlay(np.zeros((32, 32)), heat, alpha, dim=dim), alpha * magma)
        np.testing.assert_allclose(overlays.overlay(np.ones((32, 32)), heat, alpha, dim=dim), alpha * magma + share)
    np.testing.assert_allclose(overlays.overlay(image, heat, alpha=1.0), magma)  # alpha 1: the map alone


def test_overlay_blends_and_checks_sizes():
    from helpers import overlays

    image = np.zeros((2, 2))
    heat = np.array([[0.0, 1.0], [1.0, 0.0]])
    blended = overlays.overlay(image, heat, alpha=1.0)
    np.testing.assert_allclose(blended[0, 1], (0.987, 0.991, 0.749), atol=0.01)  # magma at 1.0 is pale yellow
    np.testing.assert_allclose(blended[0, 0], colormaps_magma0())  # zero attribution: magma at 0, near black
    np.testing.assert_allclose(overlays.overlay(np.ones((2, 2, 1)), heat, alpha=0.0), np.full((2, 2, 3), 0.5))
    np.testing.assert_allclose(overlays.overlay(np.ones((2, 2, 1)), heat, alpha=0.0, dim=1.0), np.ones((2, 2, 3)))
    red = np.zeros((2, 2, 3))
    red[..., 0] = 1.0  # a red image is drawn in grey: its colour cannot pass for attribution
    zero = overlays.ALPHA * np.array(colormaps_magma0())
    grey = np.broadcast_to(zero + overlays.image_share(), (2, 2, 3))  # as bright as a white image
    np.testing.assert_allclose(overlays.overlay(red, np.zeros((2, 2))), grey)
    with pytest.raises(ValueError, match="dim"):
        overlays.overlay(red, np.zeros((2, 2)), dim=0)
    with pytest.raises(ValueError, match="must match"):
        overlays.overlay(np.zeros((3, 3)), heat)
    fig = overlays.show_maps(np.zeros((2, 2, 2, 1)), {"a": np.stack([heat, heat]), "b": np.stack([heat, heat])},
                             masks=np.ones((2, 2, 2), bool))
    assert sum(len(ax.get_images()) for ax in fig.axes) == 6


def colormaps_magma0():
    from matplotlib import colormaps

    return colormaps["magma"](0.0)[:3]


def test_a_mask_outline_runs_one_pixel_outside_a_thin_line():
    """The outline must not cover the line it marks: a one-pixel line keeps a dark pixel between
    itself and its outline on each side."""
    import matplotlib.pyplot as plt

    from helpers import overlays

    def outline_vertices(mask):
        fig, ax = plt.subplots()
        overlays.outline(ax, mask)
        vertices = np.concatenate([p.vertices for c in ax.collections for p in c.get_paths()])
        plt.close(fig)
        return vertices

    mask = np.zeros((9, 9), bool)
    mask[4, 2:7] = True
    vertices = outline_vertices(mask)
    rows, cols = vertices[:, 1], vertices[:, 0]
    assert rows.min() == pytest.approx(2.5) and rows.max() == pytest.approx(5.5)  # line at row 4: gap rows 3, 5 edges
    assert cols.min() >= 0.5 and cols.max() <= 7.5
    assert not ((np.abs(rows - 4) < 1.0) & (cols > 1.5) & (cols < 6.5)).any()  # nothing within the line's row
    diagonal = np.eye(9, dtype=bool)  # beside a diagonal line too, the outline keeps a pixel's distance
    vertices = outline_vertices(diagonal)
    centres = np.argwhere(diagonal)[:, ::-1]  # (x, y) of each line pixel
    # a full pixel beyond each line pixel (half a pixel to its edge): 1.5 from its centre
    assert np.linalg.norm(vertices[:, None] - centres[None], axis=-1).min() >= 1.5


def test_rank_correlation_of_constant_maps_is_undefined():
    assert np.isnan(groundtruth.rank_correlation(np.zeros((3, 3)), np.arange(9.0)))
    assert groundtruth.rank_correlation(np.arange(9.0), np.arange(9.0) ** 2) == pytest.approx(1.0)
    assert groundtruth.rank_correlation(np.arange(9.0), -np.arange(9.0)) == pytest.approx(-1.0)


def test_rank_correlation_over_the_pixels_either_map_lights():
    a = np.array([0, 0, 0, 0, 0, 1.0, 2.0, 3.0])
    b = np.array([0, 0, 0, 0, 0, 3.0, 2.0, 1.0])  # the same support, the opposite order
    # over all pixels the five tied zeros agree: (ranks 3 x5, 6, 7, 8 against 3 x5, 8, 7, 6)
    ra, rb = scipy_ranks(a), scipy_ranks(b)
    expected = np.corrcoef(ra, rb)[0, 1]
    assert groundtruth.rank_correlation(a, b) == pytest.approx(expected)
    assert expected > 0.5
    assert groundtruth.rank_correlation(a, b, support="either") == pytest.approx(-1.0)
    # a pixel lit in one map only is kept (its zero in the other map is compared)
    c = np.array([0, 0, 0, 0, 4.0, 1.0, 2.0, 3.0])
    assert groundtruth.rank_correlation(a, c, support="either") == pytest.approx(np.corrcoef([1, 2, 3, 4], [4, 1, 2, 3])[0, 1])
    assert np.isnan(groundtruth.rank_correlation(np.zeros(8), a, support="either"))
    with pytest.raises(ValueError, match="'all' or 'either'"):
        groundtruth.rank_correlation(a, b, support="nonzero")


def scipy_ranks(values):
    import scipy.stats
    return scipy.stats.rankdata(values)


def test_similarity_to_original_uses_the_support():
    original = np.array([[[0, 0, 0], [0, 1.0, 2.0], [0, 0, 3.0]]])
    reversed_ = np.array([[[0, 0, 0], [0, 3.0, 2.0], [0, 0, 1.0]]])
    steps = [("original", original), ("top", reversed_)]
    assert groundtruth.similarity_to_original(steps, "either") == [("original", 1.0, 0), ("top", -1.0, 0)]
    assert groundtruth.similarity_to_original(steps)[1][1] > 0.3  # the tied zeros pull it up


def test_bootstrap_interval_matches_the_normal_approximation():
    values = np.r_[np.ones(300), np.zeros(200)]  # a pointing game of 0.6 over 500 images
    mean, low, high = groundtruth.bootstrap_interval(values, resamples=4000)
    half = 1.96 * np.sqrt(0.6 * 0.4 / 500)  # 0.043
    assert mean == pytest.approx(0.6)
    assert low == pytest.approx(0.6 - half, abs=0.01) and high == pytest.approx(0.6 + half, abs=0.01)
    assert groundtruth.bootstrap_interval(np.ones(7)) == (1.0, 1.0, 1.0)
    assert groundtruth.bootstrap_interval(values, seed=3) == groundtruth.bootstrap_interval(values, seed=3)
    with pytest.raises(ValueError, match="2 finite scores"):
        groundtruth.bootstrap_interval([0.5, np.nan])
