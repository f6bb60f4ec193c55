"""The gradient methods' compiled loops (helpers.gradient_loops) against plain per-sample loops.

Every batched method is compared with a GradientTape loop written here, one noise sample or
path point at a time, on a tiny seeded model, for batch sizes that do and do not divide the
number of images, with the call size forced small (several calls, one noise sample per
draw) and large; a model edited after a first call must give the edited model's maps.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import attribution, graph
from helpers import gradient_loops as loops
from helpers.scoring import score_model

N, CLASSES = 5, 4
TARGETS = np.array([0, 3, 1, 2, 3])


def build(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((10, 10, 2))
    x = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture()
def model():
    return build()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).uniform(0, 1, (N, 10, 10, 2)).astype(np.float32)


def logits_of(model):
    """A plain copy of ``model`` whose head is linear: the pre-softmax scores."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.get_layer("head").activation = keras.activations.linear
    return copy


def plain_gradients(logits, x, targets):
    """Input gradients image by image (one GradientTape per image)."""
    grads = []
    for image, target in zip(x, targets):
        image = tf.constant(image[None])
        with tf.GradientTape() as tape:
            tape.watch(image)
            score = logits(image, training=False)[0, target]
        grads.append(tape.gradient(score, image).numpy()[0])
    return np.stack(grads)


def norm(maps):
    maps = np.asarray(maps, np.float64)
    return maps / maps.reshape(len(maps), -1).max(axis=1)[:, None, None]


def plain_smoothgrad(model, x, targets, samples, noise, seed):
    logits, rng = logits_of(model), np.random.default_rng(seed)
    spread = noise * (x.max(axis=(1, 2, 3), keepdims=True) - x.min(axis=(1, 2, 3), keepdims=True))
    total = np.zeros(x.shape)
    for _ in range(samples):
        total += np.abs(plain_gradients(logits, x + spread * rng.standard_normal(x.shape).astype(np.float32), targets))
    return norm(total.max(axis=-1) / samples)


def plain_integrated_gradients(model, x, targets, steps, baseline):
    logits, total = logits_of(model), np.zeros(x.shape)
    for alpha in (np.arange(steps) + 0.5) / steps:
        total += plain_gradients(logits, (baseline + alpha * (x - baseline)).astype(np.float32), targets)
    attributions = (x - baseline) * total / steps
    return norm(np.abs(attributions).sum(axis=-1)), attributions


@pytest.fixture(params=["one call", "small calls"])
def call_size(request, monkeypatch):
    if request.param == "small calls":  # every call one batch, every noise draw one sample
        monkeypatch.setattr(loops, "CALL_BYTES", 1)
    return request.param


@pytest.mark.parametrize("batch_size", [1, 2, 5, 64])
def test_saliency_and_gradients_equal_a_per_image_loop(model, images, batch_size, call_size):
    want = plain_gradients(logits_of(model), images, TARGETS)
    got = attribution.input_gradients(model, images, target=TARGETS, batch_size=batch_size)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(attribution.saliency(model, images, target=TARGETS, batch_size=batch_size),
                               norm(np.abs(want).max(axis=-1)), atol=1e-5)


@pytest.mark.parametrize("batch_size,samples", [(1, 3), (2, 7), (3, 4), (64, 5)])
def test_smoothgrad_equals_a_per_sample_loop_with_the_same_noise(model, images, batch_size, samples, call_size):
    want = plain_smoothgrad(model, images, TARGETS, samples, 0.2, seed=7)
    got = attribution.smoothgrad(model, images, target=TARGETS, samples=samples, noise=0.2, seed=7,
                                 batch_size=batch_size)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_smoothgrad_explains_the_clean_prediction_and_callables_alike(model, images):
    clean = logits_of(model)(images).numpy().argmax(axis=1)
    want = plain_smoothgrad(model, images, clean, 4, 0.15, seed=3)
    np.testing.assert_allclose(attribution.smoothgrad(model, images, samples=4, seed=3, batch_size=2), want, atol=1e-5)
    by_callable = attribution.smoothgrad(model, images, target=lambda out: out[:, 2], samples=4, seed=3, batch_size=2)
    np.testing.assert_allclose(by_callable, plain_smoothgrad(model, images, np.full(N, 2), 4, 0.15, seed=3), atol=1e-5)


@pytest.mark.parametrize("batch_size,steps", [(1, 3), (2, 8), (3, 5), (64, 16)])
def test_integrated_gradients_equal_a_per_step_loop(model, images, batch_size, steps, call_size):
    baseline = np.full_like(images, 0.25)
    want, attributions = plain_integrated_gradients(model, images, TARGETS, steps, baseline)
    maps, details = attribution.integrated_gradients(model, images, target=TARGETS, steps=steps, baseline=0.25,
                                                     batch_size=batch_size, return_details=True)
    np.testing.assert_allclose(maps, want, atol=1e-5)
    np.testing.assert_allclose(details["attributions"], attributions, rtol=1e-5, atol=1e-7)
    by_callable = attribution.integrated_gradients(model, images, target=lambda out: out[:, 1], steps=steps,
                                                   baseline=0.25, batch_size=batch_size)
    np.testing.assert_allclose(by_callable, plain_integrated_gradients(model, images, np.ones(N, int), steps,
                                                                       baseline)[0], atol=1e-5)


def test_the_compiled_loops_trace_once_for_any_number_of_images(model, images):
    for n in (5, 3, 1, 4):
        attribution.smoothgrad(model, images[:n], target=TARGETS[:n], samples=2, batch_size=2)
        attribution.integrated_gradients(model, images[:n], target=TARGETS[:n], steps=3, batch_size=2)
        attribution.saliency(model, images[:n], target=TARGETS[:n], batch_size=2)
    scorer = score_model(model)
    functions = graph.flat_of(scorer).compiled[id(scorer)]
    for kind in ("noisy", "path", "gradients"):
        assert functions[("gradient_loops", kind, (10, 10, 2))].experimental_get_tracing_count() == 1, kind


@pytest.mark.parametrize("method", ["saliency", "smoothgrad", "integrated_gradients"])
def test_a_model_edited_after_a_first_call_gets_fresh_maps(model, images, method):
    """No stale compiled function: new weights, then a swapped activation, are explained as they are."""
    call = {"saliency": lambda m: attribution.saliency(m, images, target=TARGETS, batch_size=2),
            "smoothgrad": lambda m: attribution.smoothgrad(m, images, target=TARGETS, samples=3, batch_size=2),
            "integrated_gradients": lambda m: attribution.integrated_gradients(m, images, target=TARGETS, steps=4,
                                                                               batch_size=2)}[method]
    want = {"saliency": lambda m: norm(np.abs(plain_gradients(logits_of(m), images, TARGETS)).max(axis=-1)),
            "smoothgrad": lambda m: plain_smoothgrad(m, images, TARGETS, 3, 0.15, seed=0),
            "integrated_gradients": lambda m: plain_integrated_gradients(m, images, TARGETS, 4,
                                                                         np.zeros_like(images))[0]}[method]
    first = call(model)
    np.testing.assert_allclose(first, want(model), atol=1e-5)
    model.set_weights(build(seed=5).get_weights())  # trained further, say
    retrained = call(model)
    np.testing.assert_allclose(retrained, want(model), atol=1e-5)
    assert np.abs(retrained - first).max() > 1e-3
    model.get_layer("conv").activation = keras.activations.tanh  # the function itself changed
    edited = call(model)
    np.testing.assert_allclose(edited, want(model), atol=1e-5)
    assert np.abs(edited - retrained).max() > 1e-3
    model.get_layer("head").activation = keras.activations.sigmoid  # last layer swapped: scores stay pre-sigmoid
    np.testing.assert_allclose(call(model), edited, atol=1e-5)


def test_bad_batch_sizes_keep_their_message(model, images):
    for method in (attribution.saliency, attribution.smoothgrad, attribution.integrated_gradients):
        with pytest.raises(ValueError, match="batch_size must be >= 1"):
            method(model, images, target=TARGETS, batch_size=0)


def test_every_loop_runs_one_batch_at_a_time():
    """TensorFlow's default parallel_iterations=10 keeps several batches' activations alive at once
    (64 % more peak memory measured on a 128-channel model): batch_size would no longer bound memory."""
    import ast
    import pathlib

    import helpers.gradient_loops as loops

    tree = ast.parse(pathlib.Path(loops.__file__).read_text())
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and getattr(node.func, "attr", None) == "while_loop"]
    assert len(calls) == 3
    for call in calls:
        values = {k.arg: k.value for k in call.keywords}
        assert isinstance(values.get("parallel_iterations"), ast.Constant) and values["parallel_iterations"].value == 1
