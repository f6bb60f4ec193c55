"""A table of bad and unusual inputs against the public API, on every kind of model a user brings.

Each probe either raises a ValueError/TypeError (or the data errors) whose message names
the fix, or returns a value that is checked: maps of a Sequential, nested, Softmax-layer
or multi-output model equal those of the same functional model with the same weights.
After every probe the user's models are compared with a snapshot taken before: weights,
layer objects, activations and outputs unchanged.
"""

import json
import pathlib
import warnings

import keras
import numpy as np
import pytest

from helpers import (attribution, evaluation, featuremaps, filters, groundtruth, maximize, modelparts, overlays,
                     receptive_field, statistics)
from helpers.activations import layer_activations
from helpers.data import registry
from helpers.data.mnist import load_mnist
from helpers.featuremaps import normalize_channel
from helpers.regularizers import Regularization

L = keras.layers
X = np.random.default_rng(0).random((2, 8, 8, 1)).astype(np.float32)


def _features():
    return [L.Conv2D(4, 3, padding="same", activation="relu", name="c1"), L.MaxPooling2D(2, name="p1"),
            L.Conv2D(4, 3, padding="same", activation="relu", name="c2")]


def _head(kind):
    if kind == "softmax_layer":
        return [L.GlobalAveragePooling2D(name="gap"), L.Dense(3, name="out"), L.Softmax(name="prob")]
    if kind == "activation_softmax":
        return [L.GlobalAveragePooling2D(name="gap"), L.Dense(3, name="out"), L.Activation("softmax", name="prob")]
    if kind == "linear":
        return [L.GlobalAveragePooling2D(name="gap"), L.Dense(3, name="out")]
    return [L.GlobalAveragePooling2D(name="gap"), L.Dense(3, activation="softmax", name="out")]


def _chain(x, layers):
    for layer in layers:
        x = layer(x)
    return x


def build_models():
    """Every kind of model, all with the same weights (so their maps must agree)."""
    rng = np.random.default_rng(1)
    models = {}
    inp = keras.Input((8, 8, 1))
    models["functional"] = keras.Model(inp, _chain(inp, _features() + _head("softmax")), name="functional")
    weights = [rng.normal(0, 0.5, w.shape).astype(np.float32) + (0.1 if w.ndim == 1 else 0)
               for w in models["functional"].get_weights()]
    models["functional"].set_weights(weights)
    models["seq_input"] = keras.Sequential([keras.Input((8, 8, 1))] + _features() + _head("softmax"), name="seq_input")
    models["seq_built"] = keras.Sequential(_features() + _head("softmax"), name="seq_built")
    models["seq_built"](X)
    for kind in ("softmax_layer", "activation_softmax", "linear"):
        inp = keras.Input((8, 8, 1))
        models[kind] = keras.Model(inp, _chain(inp, _features() + _head(kind)), name=kind)
    inner = keras.Sequential([keras.Input((8, 8, 1))] + _features(), name="features")
    inp = keras.Input((8, 8, 1))
    models["nested"] = keras.Model(inp, _chain(inner(inp), _head("softmax")), name="nested")
    inp = keras.Input((8, 8, 1))
    h = _chain(inp, _features() + [L.GlobalAveragePooling2D(name="gap")])
    models["multi"] = keras.Model(inp, {"out": L.Dense(3, activation="softmax", name="out")(h),
                                        "aux": L.Dense(2, activation="softmax", name="aux")(h)}, name="multi")
    for name, model in models.items():
        if name != "multi":
            model.set_weights(weights)
    for layer in ("c1", "c2", "out"):
        models["multi"].get_layer(layer).set_weights(models["functional"].get_layer(layer).get_weights())
    models["multi"].get_layer("aux").set_weights([rng.normal(0, 0.5, (4, 2)).astype(np.float32), np.zeros(2, np.float32)])
    inp = keras.Input((8, 8, 3))
    models["rgb"] = keras.Model(inp, _chain(inp, _features() + _head("softmax")), name="rgb")
    inp = keras.Input((8, 8, 1))
    models["no_bias"] = keras.Model(inp, _chain(inp, [L.Conv2D(2, 3, use_bias=False, name="c1"),
                                                      L.GlobalAveragePooling2D(), L.Dense(3, name="out")]))
    inp = keras.Input((None, None, 1))
    models["free_size"] = keras.Model(inp, _chain(inp, _features() + _head("softmax")), name="free_size")
    models["free_size"].set_weights(weights)
    # second round: a softmax classifier wrapped in another model, or in a Sequential; ReLU layers
    for kind in ("wrapped_softmax", "seq_wrapped"):
        inp = keras.Input((8, 8, 1))
        classifier = keras.Model(inp, _chain(inp, _features() + _head("softmax")), name="classifier")
        classifier.set_weights(weights)
        inp = keras.Input((8, 8, 1))
        models[kind] = (keras.Model(inp, classifier(L.Rescaling(1.0, name="identity")(inp)), name=kind)
                        if kind == "wrapped_softmax" else keras.Sequential([classifier], name=kind))
    inp = keras.Input((8, 8, 1))
    models["relu_layers"] = keras.Model(inp, _chain(inp, [
        L.Conv2D(4, 3, padding="same", name="c1"), L.ReLU(name="r1"), L.MaxPooling2D(2, name="p1"),
        L.Conv2D(4, 3, padding="same", name="c2"), L.Activation("relu", name="r2")] + _head("softmax")),
        name="relu_layers")
    models["relu_layers"].set_weights(weights)
    return models


MODELS = build_models()
METHODS = attribution.METHODS
FAST = {"integrated_gradients": {"steps": 8}, "smoothgrad": {"samples": 4}}


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def snapshot(model):
    layers = list(_all_layers(model))
    outputs = model(X if modelparts.graph_input(model).shape[-1] == 1 else np.repeat(X, 3, axis=-1), training=False)
    outputs = [np.asarray(o) for o in (outputs.values() if isinstance(outputs, dict) else [outputs])]
    nodes = [len(layer._inbound_nodes) for layer in layers]  # no probe may add a node (a call) to a user's layer
    return ([id(layer) for layer in layers] + nodes, [getattr(layer, "activation", None) for layer in layers],
            [w.copy() for w in model.get_weights()], outputs)


def call(method, model, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return METHODS[method](MODELS[model], X, **{**FAST.get(method, {}), **kwargs})


def equals_reference(method, **kwargs):
    def check(maps):
        reference = call(method, "functional", **{k: v for k, v in kwargs.items() if k not in ("head", "layer")})
        assert maps.shape == (2, 8, 8) and np.isfinite(maps).all()
        assert (reference.reshape(2, -1).max(axis=1) == 1).all()  # no all-zero map: equality is not trivial
        np.testing.assert_allclose(maps, reference, atol=2e-5)
    return ("value", check)


def raises(exc, pattern):
    return ("raises", exc, pattern)


PROBES = []


def probe(name, fn, expect):
    PROBES.append(pytest.param(fn, expect, id=name))


# --- every method on every kind of model: the same maps as the functional model -------------
for method in METHODS:
    for kind in ("seq_input", "seq_built", "nested", "softmax_layer", "activation_softmax", "linear",
                 "wrapped_softmax", "seq_wrapped", "relu_layers"):
        # with ReLU layers the last conv outputs pre-activation maps: the CAMs take the ReLU's output
        at = {"layer": "r2"} if kind == "relu_layers" and "cam" in method else {}
        probe(f"{method}-{kind}", lambda m=method, k=kind, a=at: call(m, k, target=1, **a),
              equals_reference(method, target=1))
    probe(f"{method}-multi-head", lambda m=method: call(m, "multi", target=1, head="out"),
          equals_reference(method, target=1))
    probe(f"{method}-multi-no-head", lambda m=method: call(m, "multi"), raises(ValueError, "choose head= one of"))
    # --- bad targets, every method
    probe(f"{method}-target-99", lambda m=method: call(m, "functional", target=99), raises(ValueError, r"0\.\.2"))
    probe(f"{method}-target-negative", lambda m=method: call(m, "functional", target=-1), raises(ValueError, r"0\.\.2"))
    probe(f"{method}-target-float", lambda m=method: call(m, "functional", target=1.7), raises(TypeError, "whole"))
    probe(f"{method}-target-str", lambda m=method: call(m, "functional", target="cat"), raises(TypeError, "indices"))
    probe(f"{method}-target-length", lambda m=method: call(m, "functional", target=[0, 1, 2]),
          raises(ValueError, "3 entries for 2 images"))
    probe(f"{method}-batch-size-0", lambda m=method: call(m, "functional", batch_size=0),
          raises(ValueError, "batch_size must be >= 1"))

for method in ("grad_cam", "grad_cam_plus_plus", "score_cam"):
    probe(f"{method}-dense-layer", lambda m=method: call(m, "functional", layer="out"),
          raises(ValueError, "spatial maps.*e.g. 'c2'"))
    probe(f"{method}-layer-index", lambda m=method: call(m, "functional", layer=3, target=1),
          equals_reference(method, target=1))
    probe(f"{method}-layer-object", lambda m=method: call(m, "functional", layer=MODELS["functional"].get_layer("c2"),
                                                          target=1), equals_reference(method, target=1))
    probe(f"{method}-nested-path", lambda m=method: call(m, "nested", layer="features/c2", target=1),
          equals_reference(method, target=1))
    probe(f"{method}-unknown-layer", lambda m=method: call(m, "functional", layer="conv9"),
          raises(ValueError, "its layers: c1, p1, c2, gap, out"))
    probe(f"{method}-layer-float", lambda m=method: call(m, "functional", layer=1.5),
          raises(TypeError, "name .str., an index .int. or a layer object"))


def _nan_images():
    bad = X.copy()
    bad[0, 0, 0, 0] = np.nan
    return bad


# --- images
probe("images-nan", lambda: attribution.saliency(MODELS["functional"], _nan_images()), raises(ValueError, "NaN"))
probe("images-empty", lambda: attribution.grad_cam(MODELS["functional"], X[:0]), raises(ValueError, "empty"))
probe("images-wrong-shape", lambda: attribution.grad_cam(MODELS["functional"], np.zeros((2, 9, 9, 1))),
      raises(ValueError, r"expects images of shape \(n, 8, 8, 1\)"))
probe("images-strings", lambda: attribution.saliency(MODELS["functional"], np.full((1, 8, 8, 1), "a")),
      raises(TypeError, "numeric"))
probe("images-rgb-to-grey-model", lambda: attribution.saliency(MODELS["functional"], np.zeros((1, 8, 8, 3))),
      raises(ValueError, r"\(n, 8, 8, 1\)"))


def _uint8_warns():
    with pytest.warns(UserWarning, match="divide them by 255"):
        return attribution.saliency(MODELS["functional"], (X * 255).astype(np.uint8), target=1)


probe("images-uint8-warns", _uint8_warns, ("value", lambda maps: maps.shape == (2, 8, 8)))
probe("images-grey-without-channel-axis", lambda: attribution.saliency(MODELS["functional"], X[..., 0], target=1),
      equals_reference("saliency", target=1))
probe("not-a-model", lambda: attribution.saliency("model.keras", X), raises(TypeError, "expected a Keras model"))
probe("unbuilt-sequential", lambda: attribution.saliency(keras.Sequential([L.Dense(2)]), X),
      raises(ValueError, "not been built"))

# --- steps and sizes
probe("ig-steps-0", lambda: call("integrated_gradients", "functional", steps=0), raises(ValueError, "steps must be >= 1"))
probe("ig-steps-float", lambda: call("integrated_gradients", "functional", steps=2.5), raises(TypeError, "whole"))
probe("ig-baseline-shape", lambda: call("integrated_gradients", "functional", baseline=np.zeros((3, 3))),
      raises(ValueError, "baseline of shape"))
probe("smoothgrad-samples-0", lambda: call("smoothgrad", "functional", samples=0), raises(ValueError, "samples"))
probe("smoothgrad-noise-negative", lambda: call("smoothgrad", "functional", noise=-1), raises(ValueError, "noise"))
probe("occlusion-patch-0", lambda: call("occlusion", "functional", patch=0), raises(ValueError, "patch must be >= 1"))
probe("occlusion-stride-0", lambda: call("occlusion", "functional", stride=0), raises(ValueError, "stride"))
probe("occlusion-patch-too-big", lambda: call("occlusion", "functional", patch=9), raises(ValueError, "patch <= 8"))
probe("occlusion-fill-nan", lambda: call("occlusion", "functional", fill=np.nan), raises(ValueError, "fill"))
probe("callable-target-wrong-shape", lambda: call("saliency", "functional", target=lambda out: out),
      raises(ValueError, "one score per image"))
probe("layer-saliency-channel-99", lambda: attribution.layer_saliency(MODELS["functional"], X, "c1", channel=99),
      raises(ValueError, r"channels 0\.\.3"))
probe("layer-saliency-sequential",
      lambda: attribution.layer_saliency(MODELS["seq_built"], X, "c2"),
      ("value", lambda maps: np.testing.assert_allclose(
          maps, attribution.layer_saliency(MODELS["functional"], X, "c2"), atol=1e-6) is None))

# --- ground truth
MASKS = np.zeros((2, 8, 8), bool)
MASKS[:, 2:4, 2:4] = True
probe("pointing-tolerance-negative", lambda: groundtruth.pointing_game(X[..., 0], MASKS, tolerance=-1),
      raises(ValueError, "tolerance"))
probe("pointing-shape-mismatch", lambda: groundtruth.pointing_game(X[..., 0], MASKS[:1]), raises(ValueError, "same shape"))
probe("pointing-nan-map", lambda: groundtruth.pointing_game(_nan_images()[..., 0], MASKS), raises(ValueError, "NaN"))
probe("energy-by-hand", lambda: groundtruth.energy_in_mask(np.ones((2, 8, 8)), MASKS),
      ("value", lambda e: np.allclose(e, 4 / 64)))
probe("deletion-fractions-0", lambda: groundtruth.deletion_insertion(MODELS["functional"], X, X[..., 0], fractions=0),
      raises(ValueError, "fractions"))
probe("deletion-fractions-negative",
      lambda: groundtruth.deletion_insertion(MODELS["functional"], X, X[..., 0], fractions=-3),
      raises(ValueError, "fractions"))
probe("deletion-maps-shape", lambda: groundtruth.deletion_insertion(MODELS["functional"], X, X[:1, ..., 0]),
      raises(ValueError, "one .H, W. map per image"))
probe("deletion-sequential", lambda: groundtruth.deletion_insertion(MODELS["seq_built"], X, X[..., 0], target=1,
                                                                    fractions=4)["deletion_auc"],
      ("value", lambda auc: np.allclose(auc, groundtruth.deletion_insertion(
          MODELS["functional"], X, X[..., 0], target=1, fractions=4)["deletion_auc"])))

# --- maximization
MAX = dict(steps=3, progress=False)
probe("channels-starts-0", lambda: maximize.maximize_channels(MODELS["functional"], "c1", starts=0, **MAX),
      raises(ValueError, "starts must be >= 1"))
probe("classes-starts-0", lambda: maximize.maximize_classes(MODELS["functional"], starts=0, **MAX),
      raises(ValueError, "starts must be >= 1"))
probe("neuron-starts-0", lambda: maximize.maximize_neuron(MODELS["functional"], "c1", 0, (1, 1), starts=0, **MAX),
      raises(ValueError, "starts must be >= 1"))
probe("steps-negative", lambda: maximize.maximize_channels(MODELS["functional"], "c1", steps=-1, progress=False),
      raises(ValueError, "steps must be >= 0"))
probe("step-size-nan", lambda: maximize.maximize_channels(MODELS["functional"], "c1", step_size=np.nan, **MAX),
      raises(ValueError, "step_size"))
probe("step-size-0", lambda: maximize.maximize_channels(MODELS["functional"], "c1", step_size=0, **MAX),
      raises(ValueError, "step_size"))
probe("standardize-zero-std", lambda: maximize.maximize_channels(MODELS["functional"], "c1", standardize=(0, 0), **MAX),
      raises(ValueError, "std > 0"))
probe("blur-sigma-0", lambda: Regularization(blur_every=4, blur_sigma=0), raises(ValueError, "blur_sigma"))
probe("clip-percentile-fraction-x100", lambda: Regularization(clip_percentile=150), raises(ValueError, "0..100"))
probe("regularization-nan", lambda: Regularization(tv_weight=np.nan), raises(ValueError, "finite"))
probe("channels-float", lambda: maximize.maximize_channels(MODELS["functional"], "c1", channels=1.7, **MAX),
      raises(TypeError, "whole numbers"))
probe("channels-out-of-range", lambda: maximize.maximize_channels(MODELS["functional"], "c1", channels=[9], **MAX),
      raises(ValueError, r"channels 0\.\.3"))
probe("channels-string", lambda: maximize.maximize_channels(MODELS["functional"], "c1", channels="a", **MAX),
      raises(TypeError, "whole numbers"))
probe("classes-out-of-range", lambda: maximize.maximize_classes(MODELS["functional"], classes=[3], **MAX),
      raises(ValueError, r"classes 0\.\.2"))
probe("neuron-position-outside", lambda: maximize.maximize_neuron(MODELS["functional"], "c2", 0, (9, 9), **MAX),
      raises(ValueError, "positions"))
probe("neuron-on-dense", lambda: maximize.maximize_neuron(MODELS["functional"], "out", 0, (0, 0), **MAX),
      raises(ValueError, "no spatial maps"))
probe("unknown-option", lambda: maximize.maximize_channels(MODELS["functional"], "c1", stepz=3),
      raises(TypeError, "unknown options"))
probe("maximize-free-size-model", lambda: maximize.maximize_channels(MODELS["free_size"], "c1", **MAX),
      raises(ValueError, r"pass start=an array of start images \(n, H, W, C\)"))
probe("maximize-free-size-with-start",
      lambda: maximize.maximize_channels(MODELS["free_size"], "c1", [0], start=np.full((1, 12, 12, 1), 0.5, np.float32),
                                         **MAX)[0],
      ("value", lambda images: images.shape == (1, 12, 12, 1)))
probe("maximize-layer-index", lambda: maximize.maximize_channels(MODELS["functional"], 1, [1], **MAX)[1],
      ("value", lambda t: np.allclose(t, maximize.maximize_channels(MODELS["functional"], "c1", [1], **MAX)[1])))
probe("maximize-nested-path", lambda: maximize.maximize_channels(MODELS["nested"], "features/c2", [1], **MAX)[1],
      ("value", lambda t: np.allclose(t, maximize.maximize_channels(MODELS["functional"], "c2", [1], **MAX)[1])))
probe("maximize-classes-sequential-softmax", lambda: maximize.maximize_classes(MODELS["softmax_layer"], [2], **MAX)[1],
      ("value", lambda t: np.allclose(t, maximize.maximize_classes(MODELS["functional"], [2], **MAX)[1])))
probe("maximize-classes-seq-built", lambda: maximize.maximize_classes(MODELS["seq_built"], [2], **MAX)[1],
      ("value", lambda t: np.allclose(t, maximize.maximize_classes(MODELS["functional"], [2], **MAX)[1])))
probe("trajectory-length", lambda: maximize.maximize_channels(MODELS["functional"], "c1", [0, 1], steps=5,
                                                              progress=False)[1].shape,
      ("value", lambda shape: shape == (6, 2)))
probe("gradient-ascent-trajectory-length",
      lambda: filters.gradient_ascent(MODELS["functional"], "c1", [0, 1], steps=5, progress=False)[1].shape,
      ("value", lambda shape: shape == (6, 2)))
probe("gradient-ascent-steps-negative", lambda: filters.gradient_ascent(MODELS["functional"], "c1", steps=-1),
      raises(ValueError, "steps"))
probe("gradient-ascent-position-on-dense",
      lambda: filters.gradient_ascent(MODELS["functional"], "out", position=(0, 0), steps=1, progress=False),
      raises(ValueError, "no spatial maps"))

# --- layers, kernels, activations
probe("kernels-nested-path", lambda: filters.kernels(MODELS["nested"], "features/c1")[0],
      ("value", lambda k: np.array_equal(k, filters.kernels(MODELS["functional"], "c1")[0])))
probe("kernels-no-bias", lambda: filters.kernels(MODELS["no_bias"], "c1")[1],
      ("value", lambda b: np.array_equal(b, np.zeros(2))))
probe("kernels-dense-layer", lambda: filters.kernels(MODELS["functional"], "out"),
      raises(ValueError, "not a Conv2D layer.*conv layers: c1, c2"))
probe("kernels-index", lambda: filters.kernels(MODELS["seq_built"], 0)[0],
      ("value", lambda k: np.array_equal(k, filters.kernels(MODELS["functional"], "c1")[0])))
probe("layer-index-out-of-range", lambda: layer_activations(MODELS["functional"], X, 42),
      raises(ValueError, "out of range"))
probe("activations-nested-model-as-layer", lambda: layer_activations(MODELS["nested"], X, "features")["features"],
      ("value", lambda a: np.allclose(a, layer_activations(MODELS["functional"], X, "c2")["c2"], atol=1e-6)))
probe("activations-layer-object", lambda: layer_activations(MODELS["functional"], X, MODELS["functional"].layers[1]),
      ("value", lambda d: list(d) == ["c1"]))
probe("activations-foreign-layer-object", lambda: layer_activations(MODELS["functional"], X, L.Dense(2)),
      raises(ValueError, "not part of model"))
probe("receptive-field-index", lambda: receptive_field.receptive_field(MODELS["functional"], 3),
      ("value", lambda f: f.size == 8))
probe("top-patches-channel-99", lambda: receptive_field.top_patches(MODELS["functional"], X, "c1", 99),
      raises(ValueError, r"channels 0\.\.3"))

# --- the other chapter 02-05 functions on Sequential models: the functional model's values
probe("receptive-field-sequential", lambda: receptive_field.receptive_field(MODELS["seq_built"], "c2"),
      ("value", lambda f: f == receptive_field.receptive_field(MODELS["functional"], "c2")))
probe("top-patches-sequential", lambda: receptive_field.top_patches(MODELS["seq_input"], X, "c2", 1, n=2)["values"],
      ("value", lambda v: np.allclose(v, receptive_field.top_patches(MODELS["functional"], X, "c2", 1, n=2)["values"])))
probe("cascading-randomization-sequential",
      lambda: groundtruth.cascading_randomization(MODELS["seq_built"], X, attribution.saliency, target=1),
      ("value", lambda r: r == groundtruth.cascading_randomization(MODELS["functional"], X, attribution.saliency,
                                                                   target=1)))
probe("gradient-ascent-sequential", lambda: filters.gradient_ascent(MODELS["seq_input"], "c2", [1], steps=3,
                                                                    progress=False)[1],
      ("value", lambda t: np.allclose(t, filters.gradient_ascent(MODELS["functional"], "c2", [1], steps=3,
                                                                 progress=False)[1])))
probe("plot-kernels-sequential", lambda: len(filters.plot_kernels(MODELS["seq_built"], "c1").axes),
      ("value", lambda n: n == len(filters.plot_kernels(MODELS["functional"], "c1").axes)))
probe("reached-activation-sequential", lambda: maximize.reached_activation(MODELS["seq_built"], X, "c1", [0, 3]),
      ("value", lambda r: np.allclose(r, maximize.reached_activation(MODELS["functional"], X, "c1", [0, 3]))))

# --- second round: the layers a user names, and the numbers chapters 02-05 compute from arrays
probe("layer-index-is-model-layers-index", lambda: [modelparts.find_layer(MODELS["functional"], i) for i in (1, 2, -1)],
      ("value", lambda names: names == [MODELS["functional"].layers[i].name for i in (1, 2, -1)]))
probe("layer-index-input-layer", lambda: layer_activations(MODELS["functional"], X, 0), raises(ValueError, "InputLayer"))
probe("logits-wrapped-softmax", lambda: modelparts.logit_model(MODELS["wrapped_softmax"])[0](X).numpy(),
      ("value", lambda z: np.allclose(z, modelparts.logit_model(MODELS["linear"])[0](X).numpy(), atol=1e-6)))
probe("activations-wrapped-path", lambda: layer_activations(MODELS["wrapped_softmax"], X, "classifier/c2"),
      ("value", lambda d: np.allclose(d["classifier/c2"], layer_activations(MODELS["functional"], X, "c2")["c2"])))
probe("receptive-field-relu-layers", lambda: receptive_field.receptive_field(MODELS["relu_layers"], "r2"),
      ("value", lambda f: f == receptive_field.receptive_field(MODELS["functional"], "c2")))
probe("receptive-field-wrapped", lambda: receptive_field.receptive_field(MODELS["wrapped_softmax"], "classifier/c2"),
      ("value", lambda f: f == receptive_field.receptive_field(MODELS["functional"], "c2")))
probe("maximize-classes-wrapped", lambda: maximize.maximize_classes(MODELS["wrapped_softmax"], [2], **MAX)[1],
      ("value", lambda t: np.allclose(t, maximize.maximize_classes(MODELS["functional"], [2], **MAX)[1], atol=1e-5)))
probe("cascading-randomization-wrapped",
      lambda: groundtruth.cascading_randomization(MODELS["wrapped_softmax"], X, attribution.saliency, target=1),
      ("value", lambda r: [name for name, *_ in r] == ["original", "classifier/out", "classifier/c2", "classifier/c1"]))
probe("cascading-randomization-multi",
      lambda: groundtruth.cascading_randomization(MODELS["multi"], X, attribution.saliency, head="out")[0],
      ("value", lambda first: first[0] == "original"))
probe("sparsity-nan", lambda: statistics.sparsity(_nan_images()), raises(ValueError, "NaN"))
probe("sparsity-empty", lambda: statistics.sparsity(np.zeros((0, 4, 4, 2))), raises(ValueError, "non-empty"))
probe("class-means-label-count", lambda: statistics.class_mean_patterns(X, [0, 1, 1]),
      raises(ValueError, "3 entries for 2 images"))
probe("class-means-float-labels", lambda: statistics.class_mean_patterns(X, [0.5, 1]), raises(TypeError, "whole"))
probe("class-means-one-hot", lambda: statistics.class_mean_patterns(X, np.eye(2)), raises(ValueError, "argmax"))
probe("class-means-classes-too-few", lambda: statistics.class_mean_patterns(X, [0, 3], classes=2),
      raises(ValueError, "holds class 3 but classes=2"))
probe("similarity-1d", lambda: statistics.cosine_similarity_matrix(np.ones(3)), raises(ValueError, "at least 2 axes"))
probe("confusion-negative", lambda: evaluation.confusion_matrix([0, -1], [0, 1]), raises(ValueError, ">= 0"))
probe("confusion-length", lambda: evaluation.confusion_matrix([0, 1, 1], [0, 1]), raises(ValueError, "2 entries"))
probe("confusion-beyond-classes", lambda: evaluation.confusion_matrix([0, 5], [0, 1], classes=3),
      raises(ValueError, "holds class 5"))
probe("confusion-values", lambda: evaluation.confusion_matrix(np.array([0, 1, 1, 2], np.uint8), [0, 2, 1, 2]),
      ("value", lambda cm: cm.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]))
probe("grid-ncols-0", lambda: featuremaps.feature_map_grid(np.ones((4, 4, 3)), ncols=0), raises(ValueError, "ncols"))
probe("grid-nan", lambda: featuremaps.feature_map_grid(np.full((4, 4, 3), np.nan)), raises(ValueError, "NaN"))

# --- display
probe("overlay-uint8", lambda: overlays.overlay((X[0] * 255).astype(np.uint8), X[0, ..., 0]),
      ("value", lambda rgb: np.allclose(rgb, overlays.overlay((X[0] * 255).astype(np.uint8) / 255.0, X[0, ..., 0]))))
probe("overlay-alpha", lambda: overlays.overlay(X[0], X[0, ..., 0], alpha=2), raises(ValueError, "alpha"))
probe("normalize-channel-nan", lambda: normalize_channel(_nan_images()[0, ..., 0]), raises(ValueError, "NaN"))
probe("normalize-channel-3d", lambda: normalize_channel(X[0]), raises(ValueError, r"\(H, W\)"))


# --- data files
def _load_mnist_file(tmp_path, content):
    path = tmp_path / "mnist.npz"
    if isinstance(content, dict):
        np.savez(path, **content)
    else:
        path.write_bytes(content)
    return load_mnist(path)


GOOD = dict(x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.zeros(2, np.int64),
            x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.zeros(1, np.int64))
probe("mnist-empty-file", lambda tmp: _load_mnist_file(tmp, b""), raises(registry.DatasetUnavailable, "not a readable"))
probe("mnist-text-file", lambda tmp: _load_mnist_file(tmp, b"hello"), raises(registry.DatasetUnavailable, "mnist.npz"))
probe("mnist-truncated", lambda tmp: _load_mnist_file(tmp, pathlib.Path(load_mnist.__code__.co_filename).parents[2]
                                                       .joinpath("data/mnist.npz").read_bytes()[:5000]),
      raises(registry.DatasetUnavailable, "not a readable"))
probe("mnist-float-arrays", lambda tmp: _load_mnist_file(tmp, {**GOOD, "x_train": np.zeros((2, 28, 28))}),
      raises(registry.DatasetUnavailable, "uint8"))
probe("mnist-missing-key", lambda tmp: _load_mnist_file(tmp, {k: v for k, v in GOOD.items() if k != "y_test"}),
      raises(registry.DatasetUnavailable, "lacks arrays"))
probe("mnist-missing-file", lambda tmp: load_mnist(tmp / "nope.npz"), raises(registry.DatasetUnavailable, "does not exist"))
probe("mnist-good-file", lambda tmp: _load_mnist_file(tmp, GOOD)[0][0].dtype, ("value", lambda d: d == np.uint8))


def _registry(tmp, text):
    path = tmp / "registry.json"
    if text is not None:
        path.write_text(text)
    registry._read_registry.cache_clear()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(registry.REGISTRY_ENV, str(path))
        try:
            return registry.load_registry()
        finally:
            registry._read_registry.cache_clear()


probe("registry-missing", lambda tmp: _registry(tmp, None), raises(registry.DatasetUnavailable, "does not exist"))
probe("registry-malformed", lambda tmp: _registry(tmp, "{nope"), raises(registry.DatasetUnavailable, "not valid JSON"))
probe("registry-wrong-layout", lambda tmp: _registry(tmp, json.dumps([1, 2])),
      raises(registry.DatasetUnavailable, "mapping"))


def _tampered_cifar(tmp):
    import io
    import os
    import pickle
    import tarfile

    from helpers.data.cifar10 import read_cifar10_archive

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        payload = pickle.dumps({b"data": Evil(), b"labels": [0]})
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    return read_cifar10_archive(path)


def _render_discover(tmp):
    from helpers.course.render import discover

    return discover(notebook_dir=tmp)


probe("cifar-tampered-pickle", _tampered_cifar, raises(registry.DatasetUnavailable, "refusing to load posix.system"))
probe("render-empty-notebook-dir", _render_discover, raises(SystemExit, "no chapter notebooks"))
probe("render-missing-notebook-dir", lambda tmp: _render_discover(tmp / "nope"), raises(SystemExit, "does not exist"))


def test_the_table_is_large_enough():
    assert len(PROBES) >= 120


@pytest.mark.parametrize("fn, expect", PROBES)
def test_probe(fn, expect, tmp_path):
    before = {name: snapshot(model) for name, model in MODELS.items()}
    args = (tmp_path,) if fn.__code__.co_varnames[:fn.__code__.co_argcount] == ("tmp",) else ()
    if expect[0] == "raises":
        with pytest.raises(expect[1], match=expect[2]):
            fn(*args)
    else:
        value = fn(*args)
        assert expect[1](value) is not False
    for name, model in MODELS.items():
        ids, activations, weights, outputs = snapshot(model)
        assert ids == before[name][0], f"{name}: layer objects replaced"
        assert activations == before[name][1], f"{name}: activations changed"
        for a, b in zip(weights + outputs, before[name][2] + before[name][3]):
            np.testing.assert_array_equal(a, b, err_msg=f"{name}: weights or outputs changed")


def test_grad_cam_of_a_sequential_model_equals_the_functional_model():
    functional = attribution.grad_cam(MODELS["functional"], X, target=[1, 0])
    assert (functional.reshape(2, -1).max(axis=1) == 1).all() and (functional.reshape(2, -1).min(axis=1) < 1).all()
    for kind in ("seq_input", "seq_built", "nested", "softmax_layer"):
        np.testing.assert_allclose(attribution.grad_cam(MODELS[kind], X, target=[1, 0]), functional, atol=1e-6)


def test_guided_backprop_leaves_the_users_relus_alone():
    model = MODELS["softmax_layer"]
    plain = attribution.saliency(model, X, target=1)
    guided = attribution.guided_backprop(model, X, target=1)
    assert not np.allclose(plain, guided)
    np.testing.assert_array_equal(attribution.saliency(model, X, target=1), plain)


def test_logits_of_a_softmax_layer_model_are_pre_softmax():
    logits, path = modelparts.logit_model(MODELS["softmax_layer"])
    assert path == "out"
    np.testing.assert_allclose(keras.ops.softmax(logits(X)), MODELS["softmax_layer"](X), atol=1e-6)
    reference, _ = modelparts.logit_model(MODELS["functional"])
    np.testing.assert_allclose(logits(X), reference(X), atol=1e-6)


def test_gradient_ascent_on_a_dense_layer_optimizes_each_images_own_unit():
    model = MODELS["linear"]
    images, trajectory = filters.gradient_ascent(model, "out", channels=[0, 2], steps=4, progress=False)
    logits = np.asarray(model(images))
    np.testing.assert_allclose(trajectory[-1], logits[[0, 1], [0, 2]], rtol=1e-5)
    assert (trajectory[-1] > trajectory[0]).all()
    # image 0 follows unit 0's gradient only: its direction is unit 0's input gradient
    _, alone = filters.gradient_ascent(model, "out", channels=[0], steps=4, progress=False)
    np.testing.assert_allclose(alone[:, 0], trajectory[:, 0], rtol=1e-5)
