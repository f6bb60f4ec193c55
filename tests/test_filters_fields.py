"""Receptive fields by hand, the closed-form optimum, plain ascent reaching it, kernels."""

import keras
import numpy as np
import pytest

from helpers import filters, models, receptive_field as rf


pytestmark = pytest.mark.usefixtures("seeded_session")


def chain(padding="valid"):
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Conv2D(2, 3, padding=padding, name="c1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="p1")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Conv2D(2, 3, padding=padding, name="c2")(x)
    x = keras.layers.Flatten(name="flat")(x)
    return keras.Model(inputs, x)


def test_receptive_field_by_hand():
    model = chain()
    assert rf.receptive_field(model, "c1") == rf.ReceptiveField(size=3, jump=1, offset=0)
    assert rf.receptive_field(model, "p1") == rf.ReceptiveField(size=4, jump=2, offset=0)
    assert rf.receptive_field(model, "bn") == rf.ReceptiveField(size=4, jump=2, offset=0)
    # c2: 3 taps on a grid of step 2 over fields of 4 -> 4 + 2 * 2 = 8
    assert rf.receptive_field(model, "c2") == rf.ReceptiveField(size=8, jump=2, offset=0)
    assert rf.receptive_field(model, "c2").span(1) == (2, 9)
    same = chain("same")
    assert rf.receptive_field(same, "c1") == rf.ReceptiveField(size=3, jump=1, offset=-1)
    assert rf.receptive_field(same, "c2") == rf.ReceptiveField(size=8, jump=2, offset=-3)
    with pytest.raises(ValueError, match="not a convolution, pooling"):
        rf.receptive_field(model, "flat")
    with pytest.raises(ValueError, match="layers: .*c1"):
        rf.receptive_field(model, "c3")


def test_seed000_fields():
    model = models.build("seed000_mnist", compile=False)
    sizes = {name: rf.receptive_field(model, name).size for name in ("conv1", "pool1", "conv2", "pool2", "conv3")}
    assert sizes == {"conv1": 3, "pool1": 4, "conv2": 8, "pool2": 10, "conv3": 18}


def test_crop_pads_outside_the_image():
    image = np.arange(16).reshape(4, 4)
    field = rf.ReceptiveField(size=3, jump=1, offset=-1)
    np.testing.assert_array_equal(rf.crop(image, field, 0, 0), [[0, 0, 0], [0, 0, 1], [0, 4, 5]])
    np.testing.assert_array_equal(rf.crop(image, field, 2, 2), image[1:4, 1:4])


def test_top_patches_find_the_bright_spot():
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(1, 3, name="c", use_bias=False)(inputs))
    model.get_layer("c").set_weights([np.ones((3, 3, 1, 1), np.float32)])
    images = np.zeros((5, 8, 8, 1), np.float32)
    for i, (r, c) in enumerate([(1, 1), (4, 2), (6, 6), (2, 5), (3, 3)]):
        images[i, r, c] = i + 1.0
        images[i, r + 1, c] = i + 1.0
    result = rf.top_patches(model, images, "c", 0, n=2)
    assert result["indices"].tolist() == [4, 3]
    np.testing.assert_allclose(result["values"], [10.0, 8.0])
    assert result["patches"].shape == (2, 3, 3, 1)
    assert result["patches"][0].sum() == 10.0  # the whole bright pair lies inside the field


def test_closed_form_optimum():
    w = np.array([[1.0, -2.0], [2.0, 0.0]])[..., None]
    x = filters.closed_form_optimum(w, rho=1.5)
    np.testing.assert_allclose(x, 1.5 * w / 3.0)
    assert np.isclose(np.linalg.norm(x), 1.5)
    # no other patch of norm 1.5 does better: compare with random ones
    rng = np.random.default_rng(0)
    others = rng.normal(size=(1000, 2, 2, 1))
    others *= 1.5 / np.linalg.norm(others.reshape(1000, -1), axis=1)[:, None, None, None]
    assert (others * w).sum(axis=(1, 2, 3)).max() <= (x * w).sum() + 1e-12
    np.testing.assert_array_equal(filters.closed_form_optimum(w, box=True)[..., 0], [[1, 0], [1, 0]])
    with pytest.raises(ValueError, match="rho"):
        filters.closed_form_optimum(w)


def test_plain_ascent_reaches_the_l2_optimum_and_objective_rises():
    model = models.build("seed000_mnist", compile=False)
    weights, _ = filters.kernels(model, "conv1")
    images, trajectory = filters.gradient_ascent(model, "conv1", channels=[0, 5, 9], steps=60, position=(12, 12),
                                                 linear=True, progress=False)
    assert (trajectory[-1] > trajectory[0] + 1.0).all()
    for k, channel in enumerate([0, 5, 9]):
        patch = images[k, 12:15, 12:15, :]  # the field of unit (12, 12) of a 3x3 valid conv
        optimum = filters.closed_form_optimum(weights[channel], rho=np.linalg.norm(patch))
        cosine = (patch * optimum).sum() / (np.linalg.norm(patch) * np.linalg.norm(optimum))
        assert cosine >= 0.99


def test_ascent_does_not_touch_the_model_and_validates_channels():
    model = models.build("seed000_mnist", compile=False)
    before = model.get_layer("conv1").activation
    filters.gradient_ascent(model, "conv1", channels=[1], steps=2, linear=True, progress=False)
    assert model.get_layer("conv1").activation is before
    with pytest.raises(ValueError, match="filters 0..31"):
        filters.gradient_ascent(model, "conv1", channels=[40], steps=1, progress=False)
    with pytest.raises(ValueError, match="conv layers: conv1, conv2, conv3"):
        filters.kernels(model, "dense1")


def test_high_frequency_energy_and_stretch():
    flat = np.ones((1, 16, 16))
    checker = np.indices((16, 16)).sum(axis=0)[None] % 2 * 1.0
    smooth = np.sin(np.linspace(0, np.pi, 16))[None, :, None] * np.ones((1, 16, 16))
    energy = filters.high_frequency_energy(np.concatenate([flat, checker, smooth]))
    assert energy[0] == 0.0 and energy[1] == pytest.approx(1.0) and energy[2] < 0.01
    noise = np.random.default_rng(0).random((20, 32, 32))
    assert filters.high_frequency_energy(noise).mean() == pytest.approx(1 - np.pi / 16, abs=0.03)
    stretched = filters.stretch(np.array([[[2.0, 4.0]], [[1.0, 1.0]]]))
    assert stretched.tolist() == [[[0.0, 1.0]], [[0.0, 0.0]]]


def test_plot_kernels_grey_and_rgb():
    grey = models.build("seed000_mnist", compile=False)
    fig = filters.plot_kernels(grey, "conv1", ncols=8)
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 32 and images[0].get_array().shape == (3, 3)
    limit = float(np.abs(filters.kernels(grey, "conv1")[0]).max())
    assert {im.get_clim() for im in images} == {(-limit, limit)}  # one symmetric scale
    rgb = models.build("seed001_deep_lines", compile=False)
    fig = filters.plot_kernels(rgb, "conv1")
    arrays = [im.get_array() for ax in fig.axes for im in ax.get_images()]
    assert len(arrays) == 32 and arrays[0].shape == (3, 3, 3)
    assert min(a.min() for a in arrays) == 0.0 and max(a.max() for a in arrays) == 1.0


def test_piecewise_optimum_is_the_formula_on_a_first_layer():
    model = models.build("seed000_mnist", compile=False)
    weights, bias = filters.kernels(model, "conv1")
    images, alignment, values = filters.piecewise_optimum(model, "conv1", [0, 5], (12, 12), rho=3.0)
    for k, channel in enumerate([0, 5]):
        exact = filters.closed_form_optimum(weights[channel], rho=3.0)
        np.testing.assert_allclose(images[k, 12:15, 12:15, :], exact, atol=1e-5)
        assert np.abs(images[k]).sum() - np.abs(images[k, 12:15, 12:15, :]).sum() < 1e-4  # nothing outside the field
        assert values[-1, k] == pytest.approx(float((weights[channel] * exact).sum() + bias[channel]), abs=1e-4)
    assert (alignment > 1 - 1e-6).all() and (values[-1] >= values[0]).all()


def two_pixel_unit(kernel_1, kernel_2):
    """A conv2 unit over a 1x2 image: ReLU(conv1) then a 1x1 conv2, weights set by hand."""
    inputs = keras.Input((1, 2, 1))
    hidden = keras.layers.Conv2D(len(kernel_1), (1, 2), activation="relu", use_bias=False, name="conv1")(inputs)
    unit = keras.layers.Conv2D(1, 1, use_bias=False, name="conv2")(hidden)
    model = keras.Model(inputs, unit)
    model.get_layer("conv1").set_weights([np.array(kernel_1, np.float32).T.reshape(1, 2, 1, -1)])
    model.get_layer("conv2").set_weights([np.array(kernel_2, np.float32).reshape(1, 1, -1, 1)])
    return model


def test_piecewise_optimum_inside_a_piece_and_on_a_kink():
    # |a| + |b|: on the sphere the best points are (+-rho, +-rho)/sqrt(2), inside a piece: a closed form
    absolute = two_pixel_unit([[1, 0], [-1, 0], [0, 1], [0, -1]], [1, 1, 1, 1])
    images, alignment, values = filters.piecewise_optimum(absolute, "conv2", [0], (0, 0), rho=2.0)
    np.testing.assert_allclose(np.abs(images[0].ravel()), [np.sqrt(2)] * 2, atol=1e-4)
    assert alignment[0] > 1 - 1e-6 and values[-1, 0] == pytest.approx(2 * np.sqrt(2), abs=1e-4)
    # min(a, b) = relu(a) - relu(-a) - relu(a - b): its best point a = b = rho/sqrt(2) sits on the kink a = b,
    # where the gradient is (1, 0) or (0, 1): no piece has it as its formula (alignment 1/sqrt(2))
    minimum = two_pixel_unit([[1, 0], [-1, 0], [1, -1]], [1, -1, -1])
    images, alignment, values = filters.piecewise_optimum(minimum, "conv2", [0], (0, 0), rho=2.0)
    assert values[-1, 0] == pytest.approx(np.sqrt(2), abs=0.05) and values[-1, 0] > values[0, 0]
    assert alignment[0] == pytest.approx(1 / np.sqrt(2), abs=0.05)
    with pytest.raises(ValueError, match="positions"):
        filters.piecewise_optimum(minimum, "conv2", [0], (0, 1), rho=2.0)
    with pytest.raises(ValueError, match="damping"):
        filters.piecewise_optimum(minimum, "conv2", [0], (0, 0), rho=2.0, damping=0)


def test_field_means_average_each_units_field():
    import keras
    from helpers.receptive_field import field_means
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(1, 3, name="c3")(inputs)           # fields of 3x3, jump 1
    x = keras.layers.MaxPooling2D(2, name="pool")(x)           # fields of 4x4, jump 2
    model = keras.Model(inputs, x)
    image = np.arange(36, dtype=np.float64).reshape(6, 6, 1)
    expected = [[image[2 * r:2 * r + 4, 2 * c:2 * c + 4].mean() for c in range(2)] for r in range(2)]
    np.testing.assert_allclose(field_means(model, "pool", image, (2, 2)), expected)
    np.testing.assert_allclose(field_means(model, "c3", image, (4, 4))[1, 2], image[1:4, 2:5].mean())


def test_brightness_share_of_grey_colour_and_random_kernels():
    import keras
    from helpers.filters import brightness_share
    model = keras.Sequential([keras.Input((5, 5, 3)), keras.layers.Conv2D(3, 2, name="c")])
    w = np.zeros((2, 2, 3, 3), np.float32)
    w[..., 0] = 1.0                        # filter 0: the same weight on every plane: brightness only
    w[..., 0, 1], w[..., 1, 1] = 1.0, -1.0  # filter 1: red minus green: colour contrast only
    w[..., 0, 2] = 1.0                      # filter 2: red only: 1/3 brightness, 2/3 contrast
    model.get_layer("c").set_weights([w, np.zeros(3, np.float32)])
    np.testing.assert_allclose(brightness_share(model, "c"), [1.0, 0.0, 1 / 3], atol=1e-7)
    rng = np.random.default_rng(0)
    wide = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(400, 5, name="c")])
    wide.get_layer("c").set_weights([rng.normal(size=(5, 5, 3, 400)).astype(np.float32), np.zeros(400, np.float32)])
    assert abs(brightness_share(wide, "c").mean() - 1 / 3) < 0.01
