"""Attribution maps on hand-weighted models whose maps are known exactly."""

import warnings

import keras
import numpy as np
import pytest

from helpers import attribution


pytestmark = pytest.mark.usefixtures("seeded_session")


def gap_model(seed=0, activation="softmax"):
    """conv (3 filters, 3x3, same, relu) -> global average pool -> dense (2 classes, no bias)."""
    rng = np.random.default_rng(seed)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(2, use_bias=False, activation=activation, name="out")(x)
    model = keras.Model(inputs, outputs)
    model.get_layer("conv").set_weights([rng.normal(size=(3, 3, 1, 3)).astype(np.float32), np.full(3, 0.1, np.float32)])
    out = rng.normal(size=(3, 2)).astype(np.float32)
    out[:, 0] = np.abs(out[:, 0]) + 0.1  # class 0: every filter is evidence for it
    out[0, 1], out[1, 1] = 1.0, -0.5     # class 1: mixed evidence
    model.get_layer("out").set_weights([out])
    return model


def images(n=3, seed=1):
    return np.random.default_rng(seed).random((n, 8, 8, 1)).astype(np.float32)


def test_grad_cam_equals_cam_on_a_global_average_pool_model():
    model, x = gap_model(), images()
    conv = keras.Model(model.inputs[0], model.get_layer("conv").output).predict(x, verbose=0)
    w = model.get_layer("out").get_weights()[0]
    for target in (0, 1):
        cam = np.maximum(np.einsum("nhwk,k->nhw", conv, w[:, target]), 0)
        assert (cam.max(axis=(1, 2)) > 0).all()
        cam = cam / cam.max(axis=(1, 2), keepdims=True)
        np.testing.assert_allclose(attribution.grad_cam(model, x, layer="conv", target=target), cam, atol=1e-5)


def test_saliency_of_a_linear_model_is_its_weights():
    inputs = keras.Input((4, 4, 1))
    flat = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="out")(flat))
    w = np.zeros((16, 2), np.float32)
    w[:, 1] = np.arange(16) - 8.0
    model.get_layer("out").set_weights([w, np.zeros(2, np.float32)])
    maps = attribution.saliency(model, np.ones((1, 4, 4, 1)), target=1)
    np.testing.assert_allclose(maps[0].ravel(), np.abs(np.arange(16) - 8.0) / 8.0, atol=1e-6)


def test_integrated_gradients_completeness():
    model, x = gap_model(), images(2)
    _, details = attribution.integrated_gradients(model, x, target=[0, 1], steps=256, return_details=True)
    difference = details["scores"] - details["baseline_scores"]
    assert np.all(np.abs(details["completeness_gap"]) <= 0.01 * np.abs(difference) + 1e-4)


def test_occlusion_finds_the_pixels_the_model_reads():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Cropping2D(((2, 4), (2, 4)))(inputs)  # keeps rows/cols 2..3
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(2, use_bias=False, activation="softmax", name="out")(x)
    model = keras.Model(inputs, out)
    model.get_layer("out").set_weights([np.stack([np.ones(4), -np.ones(4)], axis=1).astype(np.float32)])
    maps = attribution.occlusion(model, np.ones((1, 8, 8, 1), np.float32), target=0, patch=2, stride=2)
    assert maps[0, 2:4, 2:4].min() == 1.0 and maps[0].sum() == 4.0


def test_targets_callable_list_and_predicted():
    model, x = gap_model(), images(2)
    by_list = attribution.grad_cam(model, x, target=[1, 0])
    one = attribution.grad_cam(model, x[:1], target=1)
    np.testing.assert_allclose(by_list[0], one[0], atol=1e-6)
    by_callable = attribution.saliency(model, x, target=lambda logits: logits[:, 1] - logits[:, 0])
    assert by_callable.shape == (2, 8, 8) and by_callable.max() == pytest.approx(1.0)
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    np.testing.assert_allclose(attribution.grad_cam(model, x), attribution.grad_cam(model, x, target=predicted))


def test_zero_gradients_warn_and_give_zeros():
    model = gap_model()
    conv = model.get_layer("conv")
    conv.set_weights([np.zeros((3, 3, 1, 3), np.float32), np.full(3, -1.0, np.float32)])  # ReLU always off
    with pytest.warns(UserWarning, match="all-zero map"):
        maps = attribution.grad_cam(model, images(2), target=0)
    assert np.array_equal(maps, np.zeros_like(maps))


def test_model_untouched_and_smoothgrad_reproducible():
    model, x = gap_model(), images(2)
    a = attribution.smoothgrad(model, x, target=0, samples=4, seed=3)
    b = attribution.smoothgrad(model, x, target=0, samples=4, seed=3)
    np.testing.assert_array_equal(a, b)
    assert model.get_layer("out").activation is keras.activations.softmax
    with pytest.raises(ValueError, match="expects images of shape"):
        attribution.saliency(model, np.zeros((1, 9, 9, 1)))


def relu_chain():
    """x (1x1x2) -> conv 1x1 (2 units, relu) -> flatten -> dense 2 (linear scores via softmax swap)."""
    inputs = keras.Input((1, 1, 2))
    h = keras.layers.Conv2D(2, 1, activation="relu", name="hidden")(inputs)
    out = keras.layers.Dense(2, use_bias=False, activation="softmax", name="out")(keras.layers.Flatten()(h))
    model = keras.Model(inputs, out)
    model.get_layer("hidden").set_weights([np.array([[[[1.0, 1.0], [0.0, -1.0]]]], np.float32),
                                           np.zeros(2, np.float32)])
    model.get_layer("out").set_weights([np.array([[-1.0, 0.0], [2.0, 0.0]], np.float32)])
    return model


def test_guided_backprop_and_deconvnet_rules_by_hand():
    # x = (1, 2): hidden pre-activations (1, -1) -> unit 0 active, unit 1 off.
    # score 0 = -1 * h0 + 2 * h1; upstream gradients into the ReLUs: (-1, 2).
    model, x = relu_chain(), np.array([[[[1.0, 2.0]]]], np.float32)
    grads = attribution.input_gradients(model, x, target=0)[0, 0, 0]
    np.testing.assert_allclose(grads, [-1.0, 0.0])  # plain: only the active unit 0 passes (-1)
    # guided: unit 0 active but its gradient is negative -> blocked; unit 1 inactive -> blocked
    with pytest.warns(UserWarning, match="all-zero map"):
        assert attribution.guided_backprop(model, x, target=0).max() == 0.0
    # deconvnet: rectify the backward signal only: (0, 2) -> input gradient W @ (0, 2) = (2, -2)
    np.testing.assert_allclose(attribution.deconvnet(model, x, target=0)[0, 0, 0], 1.0)
    assert model.get_layer("hidden").activation is keras.activations.relu


def test_every_method_has_the_same_call_shape():
    model, x = gap_model(), images(2)
    inputs = keras.Input((8, 8, 1))  # a 'valid' convolution: the CAMs must be resized from 6x6
    h = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inputs)
    valid = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(h)))
    for name, method in attribution.METHODS.items():
        maps = method(model, x, target=0)
        assert maps.shape == (2, 8, 8), name
        assert maps.min() >= 0.0 and maps.max() == pytest.approx(1.0), name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an untrained model may have no positive evidence at all
            maps = method(valid, x, target=0)
        assert maps.shape == (2, 8, 8) and 0.0 <= maps.min() and maps.max() <= 1.0, name


def test_grad_cam_plus_plus_and_score_cam_agree_with_cam_on_a_single_filter_model():
    """With one filter, every CAM is that filter's map: the weights only rescale it."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(1, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="out")(x))
    rng = np.random.default_rng(2)
    model.get_layer("conv").set_weights([rng.normal(size=(3, 3, 1, 1)).astype(np.float32), np.zeros(1, np.float32)])
    model.get_layer("out").set_weights([np.array([[1.0, -1.0]], np.float32), np.zeros(2, np.float32)])
    batch = images(2, seed=5)
    conv = keras.Model(model.inputs[0], model.get_layer("conv").output).predict(batch, verbose=0)[..., 0]
    expected = conv / conv.max(axis=(1, 2), keepdims=True)
    for method in (attribution.grad_cam, attribution.grad_cam_plus_plus, attribution.score_cam):
        np.testing.assert_allclose(method(model, batch, target=0), expected, atol=1e-5)


def test_layer_saliency_by_hand():
    inputs = keras.Input((1, 3, 1))
    hidden = keras.layers.Conv2D(2, 1, activation="relu", name="hidden")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(hidden)))
    model.get_layer("hidden").set_weights([np.array([[[[2.0, 1.0]]]], np.float32), np.zeros(2, np.float32)])
    x = np.array([1.0, -1.0, 0.5], np.float32).reshape(1, 1, 3, 1)
    # channel 0 = relu(2x), channel 1 = relu(x): pixels 0 and 2 are active in both, pixel 1 in none
    np.testing.assert_allclose(attribution.layer_saliency(model, x, "hidden")[0, 0], [1.0, 0.0, 1.0])
    np.testing.assert_allclose(attribution.layer_saliency(model, x, "hidden", channel=1)[0, 0], [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="channels 0..1"):
        attribution.layer_saliency(model, x, "hidden", channel=2)
    with pytest.raises(ValueError, match="layers: .*hidden"):
        attribution.layer_saliency(model, x, "nope")


def test_target_list_of_the_wrong_length_is_explained():
    with pytest.raises(ValueError, match="target has 3 entries for 2 images"):
        attribution.saliency(gap_model(), images(2), target=[0, 1, 0])
