"""Intermediate activations equal a forward pass computed by hand, for every kind of model."""

import keras
import numpy as np
import pytest

from helpers.activations import layer_activations, layer_names


pytestmark = pytest.mark.usefixtures("seeded_session")


def hand_conv_model(sequential=False, with_input=True, channels=1):
    """conv (2 filters 2x2, known weights) -> relu -> maxpool 2 -> flatten -> dense 1."""
    layers = [
        keras.layers.Conv2D(2, 2, activation="relu", name="conv"),
        keras.layers.MaxPooling2D(2, name="pool"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(1, name="out"),
    ]
    if sequential:
        model = keras.Sequential(([keras.Input((4, 4, channels))] if with_input else []) + layers)
        if not with_input:
            model.build((None, 4, 4, channels))
    else:
        inputs = keras.Input((4, 4, channels))
        x = inputs
        for layer in layers:
            x = layer(x)
        model = keras.Model(inputs, x)
    kernel = np.zeros((2, 2, channels, 2), np.float32)
    kernel[..., 0] = 1.0  # filter 0 sums the 2x2 window (all channels)
    kernel[0, 0, :, 1], kernel[1, 1, :, 1] = 1.0, -1.0  # filter 1: top-left minus bottom-right
    model.get_layer("conv").set_weights([kernel, np.array([0.0, -0.5], np.float32)])
    model.get_layer("out").set_weights([np.ones((2, 1), np.float32), np.zeros(1, np.float32)])
    return model


def manual_forward(image):
    """The same network in NumPy, for one (4, 4, C) image."""
    x = image.sum(axis=-1)
    conv = np.zeros((3, 3, 2), np.float32)
    for i in range(3):
        for j in range(3):
            conv[i, j, 0] = x[i:i + 2, j:j + 2].sum()
            conv[i, j, 1] = x[i, j] - x[i + 1, j + 1] - 0.5
    conv = np.maximum(conv, 0)
    pool = conv[0:2, 0:2].max(axis=(0, 1))[None, None]  # 2x2 pooling keeps the top-left 2x2 block
    return conv, pool


IMAGE = np.arange(16, dtype=np.float32).reshape(4, 4, 1) % 5


@pytest.mark.parametrize("kind", ["functional", "sequential_input", "sequential_built"])
def test_activations_equal_manual_forward_pass(kind):
    model = hand_conv_model(sequential=kind != "functional", with_input=kind != "sequential_built")
    acts = layer_activations(model, IMAGE[None])
    conv, pool = manual_forward(IMAGE)
    assert list(acts) == ["conv", "pool", "flat", "out"]
    np.testing.assert_allclose(acts["conv"][0], conv, atol=1e-6)
    np.testing.assert_allclose(acts["pool"][0], pool, atol=1e-6)
    np.testing.assert_allclose(acts["out"][0], [pool.sum()], atol=1e-5)


def test_three_channel_input_and_single_image():
    model = hand_conv_model(channels=3)
    image = np.stack([IMAGE[..., 0], 2 * IMAGE[..., 0], np.zeros((4, 4))], axis=-1)
    acts = layer_activations(model, image, layers="conv")  # one image, no batch axis
    conv, _ = manual_forward(image)
    np.testing.assert_allclose(acts["conv"][0], conv, atol=1e-5)


def test_grey_batch_without_channel_axis():
    acts = layer_activations(hand_conv_model(), IMAGE[None, ..., 0], layers=["pool"])
    np.testing.assert_allclose(acts["pool"][0], manual_forward(IMAGE)[1], atol=1e-6)


def test_nested_sub_model_and_multi_output():
    inner = hand_conv_model()
    inner.name = "features"
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Rescaling(2.0, name="double")(inputs)
    y = inner(x)
    model = keras.Model(inputs, {"score": y, "negated": keras.layers.Rescaling(-1.0, name="neg")(y)})
    assert "features/conv" in layer_names(model)
    acts = layer_activations(model, IMAGE[None], ["features/conv", "neg", "double"])
    np.testing.assert_allclose(acts["features/conv"][0], manual_forward(2 * IMAGE)[0], atol=1e-5)
    np.testing.assert_allclose(acts["neg"][0], -acts["features/conv"][0, :2, :2].max(axis=(0, 1)).sum(), atol=1e-4)
    assert list(acts) == ["features/conv", "neg", "double"]


def test_errors_name_the_fix():
    model = hand_conv_model()
    with pytest.raises(ValueError, match="no layer 'conv9'.*its layers: conv, pool, flat, out"):
        layer_activations(model, IMAGE[None], ["conv9"])
    with pytest.raises(ValueError, match=r"expects images of shape \(n, 4, 4, 1\); got \(2, 5, 5, 1\)"):
        layer_activations(model, np.zeros((2, 5, 5, 1)))
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="has not been built"):
        layer_activations(unbuilt, np.zeros((1, 3)))


def test_model_is_not_modified():
    model = hand_conv_model()
    before = [w.copy() for w in model.get_weights()]
    n_layers, name = len(model.layers), model.name
    layer_activations(model, IMAGE[None])
    assert len(model.layers) == n_layers and model.name == name
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
