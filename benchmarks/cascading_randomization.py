"""Benchmark: cascading randomization (``groundtruth.randomized_maps``), before and after, same run.

Saliency of 2 random images through a ``keras.applications`` model with ``weights=None``,
randomized layer by layer from the output down (fixed targets), each run cold on a fresh model,
TensorFlow warmed up first on a tiny model; the maps of every step must be identical.

Profile (printed with the *before* run): of each step, the method's compiled gradient call is a
small part; most of the time goes to the helpers' bookkeeping of the model copy that every method
call does, ``helpers.graph.signature`` (is the cached copy still the model?) and
``FlatGraph.refresh`` (copy the weights in). Both call ``graph._state_constants`` on every layer,
whose ``keras.ops.is_tensor`` test on every attribute of the layer is an ``isinstance`` against a
``typing`` protocol: about 3 ms a layer.

- *before*: ``randomized_maps`` verbatim as of commit e99d4ca (kept below) with that commit's
  ``helpers.graph._state_constants`` (``keras.ops.is_tensor`` on every attribute), patched in for
  this run only.
- *after*: ``groundtruth.randomized_maps`` as the library has it now: ``helpers.graph._state_constants``
  tests only objects with a ``dtype`` and a ``shape`` with ``keras.ops.is_tensor`` (the benchmark first
  checks that both find the same constants on every layer of the model), and the steps run inside
  ``graph.tracked_weights``, so each method call skips ``graph.signature`` and copies in the weights of
  the one layer just randomized instead of every layer's.

Run: ``.venv/bin/python benchmarks/cascading_randomization.py [--model mobilenet|resnet50]``.
The default is MobileNet (alpha 0.25, 128x128, 55 randomized layers), which takes about 1.5 minutes on
the shared 2-CPU box; ResNet50 at 224x224 (107 layers) takes about 4 minutes for the before run there.
"""

import argparse
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from helpers import attribution, graph, groundtruth  # noqa: E402
from helpers.arguments import check_seed  # noqa: E402
from helpers.graph import FlatGraph  # noqa: E402
from helpers.modelparts import check_images, output_names  # noqa: E402
from helpers.scoring import score_model  # noqa: E402


def old_randomized_maps(model, images, method, target=None, seed=0, **method_options):
    """``groundtruth.randomized_maps`` as it was before this benchmark (commit e99d4ca)."""
    images = check_images(model, images)
    rng = np.random.default_rng(check_seed(seed))
    if target is None:
        target = score_model(model, method_options.get("head")).predict(images, verbose=0).argmax(axis=-1)
    steps = [("original", method(model, images, target=target, **method_options))]
    flat = FlatGraph(model)
    names = output_names(model)
    copy = keras.Model(flat.input, flat.outputs[0] if len(flat.outputs) == 1 else dict(zip(names, flat.outputs)))
    for path in reversed(flat.paths):
        layer = flat.clone(path)
        weights = layer.get_weights() if layer is not None and hasattr(layer, "get_weights") else []
        if not weights:
            continue
        layer.set_weights([w if "moving" in var.name else rng.normal(0.0, np.std(w) or 0.05, w.shape).astype(w.dtype)
                           for var, w in zip(layer.weights, weights)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            steps.append((path, method(copy, images, target=target, **method_options)))
    return steps


def build(name):
    keras.utils.set_random_seed(0)
    if name == "resnet50":
        return keras.applications.ResNet50(weights=None), (224, 224)
    return keras.applications.MobileNet(alpha=0.25, input_shape=(128, 128, 3), weights=None), (128, 128)


def unfiltered_state_constants(layer):
    """``helpers.graph._state_constants`` as of commit e99d4ca: every attribute through ``is_tensor``."""
    return {name: value for name, value in vars(layer).items()
            if keras.ops.is_tensor(value) and not isinstance(value, keras.Variable) and not name.startswith("__")}


class Profile:
    """Seconds spent in the method calls and, inside them, in a few helpers, while active."""

    def __init__(self):
        self.spent = {"method": 0.0, "compiled gradients": 0.0, "FlatGraph.refresh": 0.0, "graph.signature": 0.0}
        self._patches = [(attribution, "_gradients", "compiled gradients"),
                         (graph.FlatGraph, "refresh", "FlatGraph.refresh"), (graph, "signature", "graph.signature")]

    def timed(self, label, fn):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[label] += time.perf_counter() - t
        return wrapper

    def __enter__(self):
        self._saved = [(owner, name, getattr(owner, name)) for owner, name, _ in self._patches]
        for (owner, name, label), (_, _, fn) in zip(self._patches, self._saved):
            setattr(owner, name, self.timed(label, fn))
        return self

    def __exit__(self, *exc):
        for owner, name, fn in self._saved:
            setattr(owner, name, fn)


def gradient_pass_seconds(model, images, target):
    """Seconds of one input-gradient pass of ``images`` through ``model`` in a plain compiled
    ``tf.function`` (best of 5 after a warm-up): the least work a cascading step needs."""
    import tensorflow as tf

    x, index = tf.constant(images), tf.constant(target)

    @tf.function
    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.gather(model(x, training=False), index, axis=1, batch_dims=1)
        return tape.gradient(score, x)

    gradient(x)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        gradient(x).numpy()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["mobilenet", "resnet50"], default="mobilenet")
    args = parser.parse_args()
    tiny = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(),
                             keras.layers.Dense(2, activation="softmax")])
    groundtruth.randomized_maps(tiny, np.zeros((1, 8, 8, 1), np.float32), attribution.saliency)  # warm-up
    _, size = build(args.model)
    images = np.random.default_rng(0).uniform(0, 255, (2, *size, 3)).astype(np.float32)
    target = np.array([1, 2])
    times, results = {}, {}

    model, _ = build(args.model)
    layers = list(model._flatten_layers(include_self=True))
    assert all(unfiltered_state_constants(la).keys() == graph._state_constants(la).keys() for la in layers)
    saved, graph._state_constants = graph._state_constants, unfiltered_state_constants
    try:
        with Profile() as profile:
            t = time.perf_counter()
            results["before"] = old_randomized_maps(model, images, profile.timed("method", attribution.saliency),
                                                    target=target)
            times["before"] = time.perf_counter() - t
    finally:
        graph._state_constants = saved

    model, _ = build(args.model)
    t = time.perf_counter()
    results["after"] = groundtruth.randomized_maps(model, images, attribution.saliency, target=target)
    times["after"] = time.perf_counter() - t

    floor_per_pass = gradient_pass_seconds(model, images, target)
    passes = len(results["after"])  # one gradient pass of the 2 images per step, the original included
    same = len(results["before"]) == len(results["after"]) and all(
        a[0] == b[0] and np.array_equal(a[1], b[1]) for a, b in zip(results["before"], results["after"]))
    print(f"cascading randomization, saliency, 2 images {size[0]}x{size[1]}, {args.model} (weights=None), "
          f"{len(results['after']) - 1} randomized layers")
    print(f"  before (as of e99d4ca)                         {times['before']:7.1f} s")
    print(f"  after (prefiltered constants, tracked weights) {times['after']:7.1f} s   "
          f"({times['before'] / times['after']:.1f}x faster)")
    print(f"  floor: {passes} gradient passes of a plain compiled tf.function "
          f"({floor_per_pass:.3f} s each, best of 5) {passes * floor_per_pass:7.1f} s   "
          f"(after / floor {times['after'] / (passes * floor_per_pass):.1f})")
    print(f"  maps of every step identical: {same}")
    print(f"profile of the before run, seconds summed over its {len(results['before'])} method calls:")
    for label, value in profile.spent.items():
        print(f"  {label:<22} {value:7.1f}")
    if not same:
        raise SystemExit("the maps differ")


if __name__ == "__main__":
    main()
