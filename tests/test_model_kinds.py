"""The models users bring beyond the probe table, each checked against an independent computation.

Nested softmax classifiers, sigmoid heads, ReLU layers and other rectifiers, separable
convolutions, shared layers and sub-models, subclassed and two-input models, uint8 inputs,
mixed precision, non-square geometry; plus the promises that no call adds a node to the
user's layers, that compiled functions are reused in a loop, that the cache never keeps
a deleted model alive, and that batched occlusion and chunked maximization give the
values of the plain computation.
"""

import gc
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import attribution, graph, groundtruth, maximize, modelparts, receptive_field, scoring
from helpers.activations import layer_activations

L = keras.layers
RNG = np.random.default_rng(3)
X = RNG.random((3, 8, 8, 1)).astype(np.float32)


def _set_random(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(w.dtype) + (0.1 if w.ndim == 1 else 0)
                       for w in model.get_weights()])
    return model


def _classifier(activation="softmax", name="classifier"):
    inp = keras.Input((8, 8, 1))
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inp)
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="c2")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return _set_random(keras.Model(inp, L.Dense(3, activation=activation, name="out")(x), name=name))


def _node_counts(model):
    layers = [layer for layer in model._flatten_layers(include_self=False)]
    return [len(layer._inbound_nodes) for layer in layers] + [len(layers)]


def _logits_by_hand(classifier, x):
    features = keras.Model(classifier.input, classifier.get_layer("gap").output)(x).numpy()
    kernel, bias = classifier.get_layer("out").get_weights()
    return features @ kernel + bias


@pytest.fixture(scope="module")
def nested():
    inner = _classifier()
    inp = keras.Input((8, 8, 1))
    wrapped = keras.Model(inp, inner(L.Rescaling(1.0, name="scale")(inp)), name="wrapped")
    return inner, wrapped, keras.Sequential([inner], name="seq_wrapped")


def test_a_softmax_inside_a_nested_model_is_removed(nested):
    inner, wrapped, sequential = nested
    for model in (wrapped, sequential):
        logits, path = modelparts.logit_model(model)
        assert path == "classifier/out" and logits.head_kind == "softmax"
        np.testing.assert_allclose(logits(X).numpy(), _logits_by_hand(inner, X), atol=1e-5)
        assert not np.allclose(logits(X).numpy().sum(axis=1), 1.0)


def test_gradients_of_a_nested_classifier_are_those_of_its_logits(nested):
    inner, wrapped, _ = nested
    linear = _classifier(activation=None, name="linear")
    linear.set_weights(inner.get_weights())
    for method in ("saliency", "integrated_gradients", "guided_backprop", "grad_cam"):
        kwargs = {"steps": 8} if method == "integrated_gradients" else {}
        layer = {"layer": "classifier/c2"} if method == "grad_cam" else {}
        got = attribution.METHODS[method](wrapped, X, target=1, **kwargs, **layer)
        want = attribution.METHODS[method](linear, X, target=1, **kwargs, **({"layer": "c2"} if layer else {}))
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=method)


def test_no_call_adds_nodes_or_layers_to_the_users_model(nested):
    inner, wrapped, _ = nested
    before = _node_counts(wrapped), _node_counts(inner)
    for _ in range(31):
        attribution.grad_cam(wrapped, X[:1], layer="classifier/c1")
    attribution.score_cam(wrapped, X[:1], layer="classifier/c2")
    attribution.grad_cam_plus_plus(wrapped, X[:1])
    attribution.occlusion(wrapped, X[:1], patch=4, stride=4)
    layer_activations(wrapped, X, ["classifier/c1", "classifier"])
    maximize.maximize_classes(wrapped, [0], steps=2, progress=False)
    receptive_field.receptive_field(wrapped, "classifier/c2")
    assert (_node_counts(wrapped), _node_counts(inner)) == before


def test_an_integer_layer_is_an_index_into_model_layers():
    model = _classifier()
    for i, layer in enumerate(model.layers):
        if isinstance(layer, L.InputLayer):
            with pytest.raises(ValueError, match="InputLayer"):
                modelparts.find_layer(model, i)
        else:
            assert modelparts.find_layer(model, i) == layer.name
            assert modelparts.find_layer(model, i - len(model.layers)) == layer.name
    np.testing.assert_allclose(attribution.grad_cam(model, X, layer=2, target=0),
                               attribution.grad_cam(model, X, layer="c2", target=0))


def test_a_sigmoid_head_is_a_binary_classifier():
    inp = keras.Input((8, 8, 1))
    x = L.GlobalAveragePooling2D()(L.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inp))
    model = _set_random(keras.Model(inp, L.Dense(1, activation="sigmoid", name="p")(x)), seed=5)
    p = model(X).numpy()[:, 0]
    logits, _ = modelparts.logit_model(model)
    assert logits.head_kind == "binary"
    np.testing.assert_allclose(keras.ops.softmax(logits(X)).numpy()[:, 1], p, atol=1e-6)
    z = np.log(p / (1 - p))
    grads_pos = attribution.input_gradients(model, X, target=1)
    grads_neg = attribution.input_gradients(model, X, target=0)
    np.testing.assert_allclose(grads_pos, -grads_neg, atol=1e-6)
    with tf.GradientTape() as tape:  # independent: d z / d x of the plain model, z = logit(p)
        x = tf.constant(X)
        tape.watch(x)
        zz = tf.reduce_sum(tf.math.log(model(x)[:, 0] / (1 - model(x)[:, 0])))
    np.testing.assert_allclose(grads_pos, 0.5 * tape.gradient(zz, x).numpy(), atol=1e-4)
    predicted = attribution.input_gradients(model, X)
    np.testing.assert_allclose(predicted, np.where((z > 0)[:, None, None, None], grads_pos, grads_neg), atol=1e-6)
    curves = groundtruth.deletion_insertion(model, X, np.ones((3, 8, 8)), target=1, fractions=2)
    np.testing.assert_allclose(curves["deletion"][:, 0], p, atol=1e-5)
    assert attribution.score_cam(model, X, target=1).max() > 0 or (p < 0.5).all()


def test_guided_backprop_treats_relu_layers_like_relu_activations():
    with_activation = _classifier()
    inp = keras.Input((8, 8, 1))
    x = L.ReLU()(L.Conv2D(4, 3, padding="same", name="c1")(inp))
    x = L.Activation("relu")(L.Conv2D(4, 3, padding="same", name="c2")(x))
    x = L.GlobalAveragePooling2D()(x)
    with_layers = keras.Model(inp, L.Dense(3, activation="softmax")(x))
    with_layers.set_weights(with_activation.get_weights())
    for method in ("guided_backprop", "deconvnet"):
        got = attribution.METHODS[method](with_layers, X, target=2)
        np.testing.assert_allclose(got, attribution.METHODS[method](with_activation, X, target=2), atol=1e-6)
    assert not np.allclose(attribution.guided_backprop(with_layers, X, target=2),
                           attribution.saliency(with_layers, X, target=2))


@pytest.mark.parametrize("rectifier", [lambda: L.Activation("relu6"), lambda: L.LeakyReLU(), lambda: L.ReLU(6.0)])
def test_guided_backprop_refuses_other_rectifiers(rectifier):
    inp = keras.Input((8, 8, 1))
    x = L.GlobalAveragePooling2D()(rectifier()(L.Conv2D(2, 3)(inp)))
    model = keras.Model(inp, L.Dense(2)(x))
    with pytest.raises(ValueError, match="plain ReLU"):
        attribution.guided_backprop(model, X)


def test_the_default_cam_layer_is_the_last_convolution_of_any_kind():
    inp = keras.Input((8, 8, 1))
    x = L.Conv2D(4, 3, name="plain")(inp)
    x = L.SeparableConv2D(4, 3, name="separable")(x)
    x = L.DepthwiseConv2D(3, name="depthwise")(x) if False else x
    model = keras.Model(inp, L.Dense(2)(L.GlobalAveragePooling2D()(x)))
    assert attribution.last_conv_layer(model) == "separable"
    x = L.DepthwiseConv2D(3, name="depthwise")(L.Conv2D(4, 3, name="plain2")(inp))
    assert attribution.last_conv_layer(keras.Model(inp, L.Dense(2)(L.Flatten()(x)))) == "depthwise"


def _gradient_support(model, path, row, col, shape):
    sub = modelparts.layer_output(model, path)
    x = tf.constant(RNG.random((1,) + shape).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = sub(x)[0, row, col, 0]
    touched = np.abs(tape.gradient(y, x).numpy()[0]).sum(axis=-1) > 0
    rows, cols = np.where(touched.any(axis=1))[0], np.where(touched.any(axis=0))[0]
    return (rows.min(), rows.max()), (cols.min(), cols.max())


def _positive(model):
    model.set_weights([np.abs(w) + 0.1 for w in model.get_weights()])
    return model


def test_receptive_fields_match_the_gradient_support_on_non_square_geometry():
    inp = keras.Input((20, 14, 1))
    x = L.Conv2D(2, (3, 5), strides=(2, 1), padding="same", name="a")(inp)
    x = L.LeakyReLU(negative_slope=0.5)(x)
    x = L.AveragePooling2D((2, 3), strides=(2, 2), padding="same", name="p")(x)
    x = L.ZeroPadding2D(((1, 0), (0, 2)))(x)
    x = L.Conv2D(1, (1, 3), dilation_rate=(1, 2), name="b")(x)
    model = _positive(keras.Model(inp, x))
    field = receptive_field.receptive_field(model, "b")
    assert field.shape == (5, 15) and (field.jump, field.col_jump) == (4, 2)
    for row, col in [(3, 3), (5, 4), (1, 2)]:
        expected = (tuple(np.clip(field.span(row, 0), 0, 19)), tuple(np.clip(field.span(col, 1), 0, 13)))
        assert _gradient_support(model, "b", row, col, (20, 14, 1)) == expected


def test_a_layer_applied_twice_counts_twice_and_its_own_output_is_ambiguous():
    inp = keras.Input((11, 11, 1))
    conv = L.Conv2D(1, 3, padding="same", name="shared")
    x = L.Activation("linear", name="after")(conv(conv(L.Conv2D(1, 3, padding="same", name="first")(inp))))
    model = _positive(keras.Model(inp, x))
    field = receptive_field.receptive_field(model, "after")
    assert field.size == 7 and _gradient_support(model, "after", 5, 5, (11, 11, 1)) == ((2, 8), (2, 8))
    for call in (lambda: receptive_field.receptive_field(model, "shared"),
                 lambda: layer_activations(model, np.zeros((1, 11, 11, 1)), "shared")):
        with pytest.raises(ValueError, match="called 2 times"):
            call()


def test_a_sub_model_used_by_two_models_is_followed_in_each():
    inner = _classifier()
    first = keras.Model(i := keras.Input((8, 8, 1)), inner(i), name="first")
    second = keras.Model(j := keras.Input((8, 8, 1)), inner(L.Rescaling(2.0)(j)), name="second")
    got = layer_activations(second, X, "classifier/c1")["classifier/c1"]
    np.testing.assert_allclose(got, layer_activations(inner, 2 * X, "c1")["c1"], atol=1e-6)
    np.testing.assert_allclose(layer_activations(first, X, "classifier/c1")["classifier/c1"],
                               layer_activations(inner, X, "c1")["c1"], atol=1e-6)


def test_subclassed_and_two_input_models_are_refused_with_what_to_pass():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv, self.dense = L.Conv2D(2, 3), L.Dense(2)

        def call(self, x):
            return self.dense(keras.ops.mean(self.conv(x), axis=(1, 2)))

    net = Net()
    net(X)
    with pytest.raises(ValueError, match="functional API"):
        attribution.saliency(net, X)
    a, b = keras.Input((8, 8, 1)), keras.Input((3,))
    two = keras.Model([a, b], L.Dense(2)(L.Concatenate()([L.Flatten()(a), b])))
    with pytest.raises(ValueError, match="one image input"):
        attribution.grad_cam(two, X)


def test_uint8_input_models_are_explained_on_their_pixel_values():
    inp = keras.Input((8, 8, 1), dtype="uint8")
    x = L.Rescaling(1 / 255)(inp)
    reference = _classifier()
    model = keras.Model(inp, reference(x))
    pixels = (X * 255).round().astype(np.uint8)
    np.testing.assert_allclose(attribution.grad_cam(model, pixels, layer="classifier/c2", target=1),
                               attribution.grad_cam(reference, pixels / 255.0, layer="c2", target=1), atol=1e-5)
    start = np.full((1, 8, 8, 1), 128.0, np.float32)
    images, trajectory = maximize.maximize_classes(model, [1], steps=5, step_size=50.0, start=start,
                                                   regularization=maximize.PLAIN, progress=False)
    assert not np.allclose(images, start) and trajectory[-1, 0] > trajectory[0, 0]


def test_mixed_precision_maximization_rises_in_float32():
    inp = keras.Input((8, 8, 1))
    x = L.Conv2D(4, 3, padding="same", activation="relu", dtype="mixed_float16", name="c1")(inp)
    model = keras.Model(inp, L.Dense(2, dtype="float32")(L.GlobalAveragePooling2D()(x)))
    images, trajectory = maximize.maximize_channels(model, "c1", [0, 1], steps=10, progress=False)
    assert images.dtype == np.float32 and np.isfinite(images).all()
    assert (trajectory[-1] > trajectory[0]).all()
    assert attribution.grad_cam(model, X, layer="c1").dtype == np.float32


def test_batched_occlusion_equals_covering_one_patch_at_a_time():
    model = _classifier(activation=None)
    maps = attribution.occlusion(model, X, target=[0, 1, 2], patch=3, stride=2, fill=0.5, batch_size=7)
    base = model(X).numpy()[np.arange(3), [0, 1, 2]]
    drop, count = np.zeros((3, 8, 8)), np.zeros((8, 8))
    for r in range(0, 6, 2):
        for c in range(0, 6, 2):
            covered = X.copy()
            covered[:, r:r + 3, c:c + 3] = 0.5
            drop[:, r:r + 3, c:c + 3] += (base - model(covered).numpy()[np.arange(3), [0, 1, 2]])[:, None, None]
            count[r:r + 3, c:c + 3] += 1
    expected = np.maximum(drop / np.maximum(count, 1), 0)
    expected /= np.where(expected.max(axis=(1, 2)) > 0, expected.max(axis=(1, 2)), 1)[:, None, None]
    np.testing.assert_allclose(maps, expected, atol=1e-5)


def test_many_starts_are_chunked_to_the_memory_budget():
    model = _classifier()
    whole = maximize.maximize_channels(model, "c1", [0, 1, 2], steps=3, regularization=maximize.PLAIN,
                                       progress=False)
    with pytest.warns(UserWarning, match="in 3 chunks"):
        chunked = maximize.maximize_channels(model, "c1", [0, 1, 2], steps=3, regularization=maximize.PLAIN,
                                             progress=False, memory_budget=1.2 * maximize.bytes_per_image(
                                                 modelparts.layer_model(model, "c1", True), (8, 8, 1)))
    np.testing.assert_allclose(chunked[0], whole[0], atol=1e-6)
    np.testing.assert_allclose(chunked[1], whole[1], atol=1e-5)


def test_per_channel_standardization():
    inp = keras.Input((8, 8, 3))
    model = _set_random(keras.Model(inp, L.Conv2D(2, 3, name="c")(inp)))
    mean, std = np.array([0.2, 0.5, 0.8]), np.array([0.5, 1.0, 2.0])
    start = RNG.random((1, 8, 8, 3)).astype(np.float32)
    _, trajectory = maximize.maximize_channels(model, "c", [0], steps=0, start=start, standardize=(mean, std),
                                               progress=False)
    expected = model((start - mean) / std).numpy()[..., 0].mean()
    np.testing.assert_allclose(trajectory[0, 0], expected, rtol=1e-5)
    with pytest.raises(ValueError, match="one per channel"):
        maximize.maximize_channels(model, "c", [0], steps=1, standardize=([0, 0], [1, 1]), progress=False)


def test_a_loop_of_single_image_grad_cams_traces_once_and_follows_new_weights():
    model = _classifier()
    for image in X:
        attribution.grad_cam(model, image, target=0)
    scorer = scoring.score_model(model, None, extra_layer="c2")
    run = graph.flat_of(scorer).compiled[id(scorer)][("grad_cam", (8, 8))]
    assert run.experimental_get_tracing_count() == 1
    _set_random(model, seed=9)
    fresh = _set_random(_classifier(), seed=9)
    np.testing.assert_allclose(attribution.grad_cam(model, X, target=0), attribution.grad_cam(fresh, X, target=0),
                               atol=1e-6)


def test_the_cache_never_keeps_a_deleted_model_alive():
    model = _classifier()
    attribution.grad_cam(model, X)
    attribution.guided_backprop(model, X)
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None


def test_top_patches_on_non_square_geometry_are_the_units_fields():
    inp = keras.Input((12, 9, 1))
    x = L.Conv2D(2, (3, 1), strides=(2, 1), padding="same", name="a")(inp)
    model = _positive(keras.Model(inp, L.Conv2D(1, (1, 3), name="b")(x)))
    images = RNG.random((5, 12, 9, 1)).astype(np.float32)
    top = receptive_field.top_patches(model, images, "b", 0, n=3)
    field = top["field"]
    assert top["patches"].shape == (3,) + field.shape + (1,) and field.shape == (3, 3)
    for patch, index, (row, col) in zip(top["patches"], top["indices"], top["positions"]):
        (r0, r1), (c0, c1) = field.span(row, 0), field.span(col, 1)
        expected = np.zeros(field.shape + (1,), np.float32)
        rr, cc = slice(max(r0, 0), r1 + 1), slice(max(c0, 0), c1 + 1)
        expected[max(-r0, 0):max(-r0, 0) + len(range(12)[rr]), :len(range(9)[cc])] = images[index][rr, cc]
        np.testing.assert_array_equal(patch, expected)
