"""Issue 32's ten causes of wrong answers, each a value test against independent code.

The independent code is written here from the papers' definitions with a plain
``tf.GradientTape`` on tiny seeded models; the helpers must give the same numbers
(or refuse, naming the argument and the fix).
"""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import attribution, cams, evaluation, groundtruth, maximize, modelparts, receptive_field
from helpers.activations import layer_activations

L = keras.layers
RNG = np.random.default_rng(32)
X = RNG.random((3, 8, 8, 1)).astype(np.float32)


def _seeded(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([(rng.normal(0, 0.6, w.shape) + (0.4 if w.ndim == 1 else 0)).astype(w.dtype)
                       for w in model.get_weights()])  # positive biases: live ReLUs, maps that are not zero
    return model


def _net(head=lambda x: L.Dense(4, name="out")(x), conv_relu=True, first=None):
    inp = keras.Input((8, 8, 1))
    x = first(inp) if first is not None else inp
    x = L.Conv2D(3, 3, padding="same", activation="relu" if conv_relu else None, name="conv")(x)
    if not conv_relu:
        x = L.ReLU(name="relu")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inp, head(x))


def _logit_gradients(logits_fn, x, classes):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = tf.reduce_sum(tf.gather(logits_fn(x), classes, axis=1, batch_dims=1))
    return tape.gradient(score, x).numpy()


def _unit_max(maps):
    maps = np.maximum(maps, 0)
    peak = maps.reshape(len(maps), -1).max(axis=1)
    assert peak.max() > 0, "a test whose maps are all zero shows nothing"
    return maps / np.where(peak > 0, peak, 1.0)[:, None, None]


def test_1_smoothgrad_fixes_the_class_on_the_clean_image():
    model = _seeded(_net())
    clean = model(X).numpy().argmax(axis=1)
    got = attribution.smoothgrad(model, X, samples=6, noise=2.0, seed=1)
    rng = np.random.default_rng(1)  # Smilkov et al.: mean |gradient| over noisy copies, the clean class
    spread = 2.0 * (X.max(axis=(1, 2, 3), keepdims=True) - X.min(axis=(1, 2, 3), keepdims=True))
    total = sum(np.abs(_logit_gradients(model, X + spread * rng.standard_normal(X.shape).astype(np.float32), clean))
                for _ in range(6))
    np.testing.assert_allclose(got, _unit_max(total.max(axis=-1)), atol=1e-5)
    np.testing.assert_allclose(got, attribution.smoothgrad(model, X, target=clean, samples=6, noise=2.0, seed=1))


def test_2_an_adapted_or_loaded_normalization_is_copied_with_its_state(tmp_path):
    def make():
        return _net(first=lambda t: L.Normalization(name="norm")(t))

    model = _seeded(make())
    model.get_layer("norm").adapt(X * 4 + 3)
    want = (X - (X * 4 + 3).mean()) / (X * 4 + 3).std()
    np.testing.assert_allclose(layer_activations(model, X, "norm")["norm"], want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(attribution.input_gradients(model, X, target=1),
                               _logit_gradients(model, X, np.ones(3, np.int64)), rtol=1e-4, atol=1e-6)
    model.save_weights(tmp_path / "w.weights.h5")  # keras.applications: Normalization state from load_weights
    loaded = make()
    loaded.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(layer_activations(loaded, X, "norm")["norm"], want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("spelling", ["ops.softmax", "Dense tf.nn.softmax", "Activation tf.nn.softmax",
                                      "Softmax then Reshape", "ops.log_softmax"])
def test_3_a_softmax_is_found_however_it_is_written(spelling):
    heads = {
        "ops.softmax": lambda x: keras.ops.softmax(L.Dense(4, name="out")(x)),
        "Dense tf.nn.softmax": lambda x: L.Dense(4, activation=tf.nn.softmax, name="out")(x),
        "Activation tf.nn.softmax": lambda x: L.Activation(tf.nn.softmax)(L.Dense(4, name="out")(x)),
        "Softmax then Reshape": lambda x: L.Reshape((4,))(L.Softmax()(L.Dense(4, name="out")(x))),
        "ops.log_softmax": lambda x: keras.ops.log_softmax(L.Dense(4, name="out")(x)),
    }
    plain = _seeded(_net())
    model = _net(heads[spelling])
    model.set_weights(plain.get_weights())
    scores, _ = modelparts.logit_model(model)
    assert scores.head_kind == "softmax"
    np.testing.assert_allclose(scores(X).numpy(), plain(X).numpy(), atol=1e-5)
    want = attribution.input_gradients(plain, X, target=2)
    assert np.abs(want).max() > 0
    np.testing.assert_allclose(attribution.input_gradients(model, X, target=2), want, atol=1e-6)


def test_4_an_activation_removed_after_a_first_call_is_seen():
    model = _seeded(_net(lambda x: L.Dense(4, activation="softmax", name="out")(x)))
    before = layer_activations(model, X, "out")["out"]
    np.testing.assert_allclose(before.sum(axis=1), 1.0, atol=1e-5)
    model.layers[-1].activation = None  # the keras.io Grad-CAM recipe
    np.testing.assert_allclose(layer_activations(model, X, "out")["out"], model(X).numpy(), atol=1e-5)
    np.testing.assert_allclose(attribution.input_gradients(model, X, target=0),
                               _logit_gradients(model, X, np.zeros(3, np.int64)), rtol=1e-4, atol=1e-6)
    assert model.layers[-1].activation is None  # the user's change is theirs: never undone or touched


def test_5_conv_then_relu_layer_gives_the_maps_of_activation_relu():
    fused = _seeded(_net())
    split = _net(conv_relu=False)
    split.set_weights(fused.get_weights())
    assert cams.default_cam_layer(split) == "relu"
    for method in (attribution.grad_cam, attribution.grad_cam_plus_plus, attribution.score_cam):
        want = method(fused, X)
        assert want.max() > 0
        np.testing.assert_allclose(method(split, X), want, atol=1e-5)


def test_6_keras_ops_relu_gets_the_guided_rule_and_other_rectifiers_are_refused():
    fused = _seeded(_net())
    inp = keras.Input((8, 8, 1))
    x = keras.ops.relu(L.Conv2D(3, 3, padding="same", name="conv")(inp))
    model = keras.Model(inp, L.Dense(4, name="out")(L.GlobalAveragePooling2D()(x)))
    model.set_weights(fused.get_weights())
    for method in (attribution.guided_backprop, attribution.deconvnet):
        want = method(fused, X, target=3)
        assert want.max() > 0
        np.testing.assert_allclose(method(model, X, target=3), want, atol=1e-6)
    inp = keras.Input((8, 8, 1))
    x = keras.ops.relu6(L.Conv2D(3, 3, padding="same")(inp))
    other = keras.Model(inp, L.Dense(4)(L.GlobalAveragePooling2D()(x)))
    with pytest.raises(ValueError, match="relu6.*saliency"):
        attribution.guided_backprop(other, X, target=0)


def test_7_predict_labels_thresholds_a_one_unit_sigmoid():
    model = _seeded(_net(lambda x: L.Dense(1, activation="sigmoid")(x)), seed=4)
    labels, probs = evaluation.predict_labels(model, np.concatenate([X, -X]))
    p = model(np.concatenate([X, -X])).numpy()[:, 0]
    np.testing.assert_array_equal(labels, (p > 0.5).astype(int))
    np.testing.assert_allclose(probs, np.stack([1 - p, p], axis=1), atol=1e-6)


def test_8_channels_first_is_refused_naming_the_argument():
    inp = keras.Input((1, 8, 8))
    x = L.Conv2D(3, 3, data_format="channels_first", name="conv")(inp)
    model = keras.Model(inp, L.Dense(2)(L.GlobalAveragePooling2D(data_format="channels_first")(x)))
    for call in (lambda: attribution.saliency(model, np.moveaxis(X, -1, 1)),
                 lambda: attribution.grad_cam(model, np.moveaxis(X, -1, 1))):
        with pytest.raises(ValueError, match="data_format='channels_first'.*channels_last"):
            call()


def test_9_score_cam_is_the_definition_batched_and_zero_where_every_mask_is_empty():
    model = _seeded(_net(lambda x: L.Dense(4, activation="softmax", name="out")(x)))
    features = keras.Model(model.input, model.get_layer("conv").output)(X).numpy()
    clean = model(X).numpy().argmax(axis=1)
    black = model(np.zeros((1, 8, 8, 1), np.float32)).numpy()[0, clean]
    want = []
    for i in range(len(X)):  # Wang et al.: weight_k = p(image * mask_k) - p(black); relu(sum_k weight_k A_k)
        masks = tf.image.resize(features[i:i + 1], (8, 8)).numpy()[0]
        masks = (masks - masks.min(axis=(0, 1))) / np.ptp(masks, axis=(0, 1))
        weights = model(X[i][None] * np.moveaxis(masks, -1, 0)[..., None]).numpy()[:, clean[i]] - black[i]
        want.append(np.maximum(np.tensordot(features[i], weights, axes=([-1], [0])), 0))
    got = attribution.score_cam(model, X, batch_size=4)  # chunks of one image's 3 channels; the clean class
    np.testing.assert_allclose(got, _unit_max(np.array(want)), atol=1e-5)
    inp = keras.Input((8, 8, 1))
    x = L.MaxPooling2D(8, name="pool")(L.Conv2D(3, 3, padding="same", activation="relu")(inp))
    pooled = _seeded(keras.Model(inp, L.Dense(4, activation="softmax")(L.Flatten()(x))))
    with pytest.warns(UserWarning, match="all-zero map"):
        empty = attribution.score_cam(pooled, X, layer="pool", target=1)
    np.testing.assert_array_equal(empty, 0.0)


@pytest.fixture(scope="module")
def model():
    return _seeded(_net(lambda x: L.Dense(4, activation="softmax", name="out")(x)))


BAD = {
    "reached_activation channel -1": (lambda m: maximize.reached_activation(m, X, "conv", [-1, 0, 1]), "channels"),
    "reached_activation channel 9": (lambda m: maximize.reached_activation(m, X, "conv", [9, 0, 1]), "channels"),
    "reached_activation float": (lambda m: maximize.reached_activation(m, X, "conv", [0.5, 0, 1]), "whole numbers"),
    "reached_activation one for three": (lambda m: maximize.reached_activation(m, X, "conv", [0]), "per image"),
    "position (1.5, 2)": (lambda m: maximize.maximize_neuron(m, "conv", 0, (1.5, 2), steps=1, progress=False), "position"),
    "position (1,)": (lambda m: maximize.maximize_neuron(m, "conv", 0, (1,), steps=1, progress=False), "position"),
    "NaN in pointing-game masks": (lambda m: groundtruth.pointing_game(np.ones((1, 4, 4)), np.full((1, 4, 4), np.nan)),
                                   "masks"),
    "NaN in energy masks": (lambda m: groundtruth.energy_in_mask(np.ones((1, 4, 4)), np.full((1, 4, 4), np.nan)),
                            "masks"),
    "layers []": (lambda m: layer_activations(m, X, []), "layers"),
    "baseline 'black'": (lambda m: attribution.integrated_gradients(m, X, baseline="black"), "baseline"),
    "steps nan": (lambda m: attribution.integrated_gradients(m, X, steps=float("nan")), "steps"),
    "seed -1": (lambda m: attribution.smoothgrad(m, X, seed=-1, samples=1), "seed"),
    "method by name": (lambda m: groundtruth.cascading_randomization(m, X, "saliency"), "method"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_10_bad_inputs_are_refused_naming_the_argument(model, case):
    call, argument = BAD[case]
    with pytest.raises((ValueError, TypeError), match=argument) as info:
        call(model)
    assert type(info.value).__module__ in ("builtins", "helpers.graph"), case


def test_10_top_patches_of_one_unbatched_image_is_that_image(model):
    one = receptive_field.top_patches(model, X[0], "conv", 0, n=1)
    batch = receptive_field.top_patches(model, X[:1], "conv", 0, n=1)
    np.testing.assert_array_equal(one["patches"], batch["patches"])
    assert one["positions"] == batch["positions"]


def test_10_top_patches_reuse_precomputed_maps_and_refuse_maps_of_other_images(model):
    maps = layer_activations(model, X, "conv")["conv"]
    for channel in (0, 1):
        fresh = receptive_field.top_patches(model, X, "conv", channel, n=2)
        reused = receptive_field.top_patches(model, X, "conv", channel, n=2, activation=maps)
        for key in ("patches", "values", "indices", "positions"):
            np.testing.assert_array_equal(reused[key], fresh[key], err_msg=key)
    with pytest.raises(ValueError, match="activation= holds 1 images' maps but images= has"):
        receptive_field.top_patches(model, X, "conv", 0, activation=maps[:1])
