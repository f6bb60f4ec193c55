"""Benchmark: all 64 filters of seed 000's conv3, 100 steps, jitter/rotate/scale + TV, three ways.

1. this course's engine (``helpers.maximize``): every filter in one batch, one compiled step;
2. a per-filter eager loop, the way the course's sources write it;
3. tf-keras-vis 0.8.7 ``ActivationMaximization`` (install with ``pip install -e .[bench]``).

Prints wall time, the ratio to each baseline and the mean reached activation (the
post-ReLU mean of each filter's own map, measured on the original model for all
three). Run: ``.venv/bin/python benchmarks/maximize_vs_tf_keras_vis.py``.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import helpers  # noqa: E402

helpers.setup(0)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from helpers import activations, maximize, models  # noqa: E402
from helpers import regularizers as R  # noqa: E402

LAYER, STEPS, FILTERS = "conv3", 100, 64
JITTER, DEGREES, ZOOM, TV = 1, 5.0, 0.05, 0.05


def reached(model, images):
    maps = activations.layer_activations(model, images, LAYER)[LAYER]
    return float(maps.mean(axis=(1, 2))[np.arange(FILTERS), np.arange(FILTERS)].mean())


def ours(model, start, steps=STEPS):
    reg = R.Regularization(jitter=JITTER, rotate=DEGREES, scale=ZOOM, tv_weight=TV)
    images, _ = maximize.maximize_channels(model, LAYER, steps=steps, regularization=reg, start=start, progress=False)
    return images


def steps_to_match(model, start, target):
    """Fewest steps (of a short list) after which our engine's mean activation reaches ``target``."""
    for steps in (5, 10, 15, 20, 30, 50, STEPS):
        t0 = time.perf_counter()
        value = reached(model, ours(model, start, steps))
        if value >= target:
            return steps, time.perf_counter() - t0, value
    return None


def eager_loop(model, start):
    extractor = keras.Model(model.inputs[0], model.get_layer(LAYER).output)
    reg = R.Regularization(jitter=JITTER, rotate=DEGREES, scale=ZOOM)
    results = []
    for f in range(FILTERS):
        x = tf.Variable(start[f:f + 1])
        for i in range(STEPS):
            with tf.GradientTape() as tape:
                moved = R.random_transform(x, reg, tf.constant([f, i]))
                loss = tf.reduce_mean(extractor(moved)[..., f]) - TV * tf.reduce_sum(R.total_variation(x))
            grads = tape.gradient(loss, x)
            x.assign(tf.clip_by_value(x + grads / (tf.norm(grads) + 1e-12), 0.0, 1.0))
        results.append(x.numpy()[0])
    return np.stack(results)


def tf_keras_vis(model, start):
    from tf_keras_vis.activation_maximization import ActivationMaximization
    from tf_keras_vis.activation_maximization.input_modifiers import Jitter, Rotate2D, Scale
    from tf_keras_vis.activation_maximization.regularizers import TotalVariation2D
    from tf_keras_vis.utils.model_modifiers import ExtractIntermediateLayer, ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    vis = ActivationMaximization(model, model_modifier=[ExtractIntermediateLayer(LAYER), ReplaceToLinear()],
                                 clone=True)
    images = vis(CategoricalScore(list(range(FILTERS))), seed_input=start, input_range=(0.0, 1.0), steps=STEPS,
                 input_modifiers=[Jitter(jitter=JITTER), Rotate2D(degree=DEGREES), Scale(low=1 - ZOOM, high=1 + ZOOM)],
                 regularizers=[TotalVariation2D(weight=TV)])
    return np.clip(np.asarray(images, np.float32).reshape(start.shape), 0.0, 1.0)


def timed(method, model, start, repeats):
    """Best wall time of ``repeats`` calls (this machine's timings vary by 20 %) and the last images."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        images = method(model, start)
        best = min(best, time.perf_counter() - t0)
    return best, images


def main():
    model = models.trained("seed000_mnist", batch_size=64, epochs=3, verbose=0)
    start = R.start_images("grey", (FILTERS, 28, 28, 1), seed=0)
    print(f"start: mean reached activation {reached(model, start):.3f}")  # also warms TensorFlow up for all
    rows = {}
    for name, method, repeats in (("helpers.maximize (batched, compiled)", ours, 2),
                                  ("per-filter eager loop (the sources' way)", eager_loop, 1),
                                  ("tf-keras-vis 0.8.7 ActivationMaximization", tf_keras_vis, 2)):
        seconds, images = timed(method, model, start, repeats)
        rows[name] = (seconds, reached(model, images))
    base = rows["helpers.maximize (batched, compiled)"][0]
    print(f"\n{'method (best of 2 runs; eager loop: 1)':<44} {'seconds':>8} {'x slower than ours':>19} "
          f"{'mean activation':>16}")
    for name, (seconds, value) in rows.items():
        print(f"{name:<44} {seconds:8.2f} {seconds / base:19.1f} {value:16.3f}")
    seconds_tkv, target = rows["tf-keras-vis 0.8.7 ActivationMaximization"]
    match = steps_to_match(model, start, target)
    if match:
        steps, seconds, value = match
        print(f"\nat equal quality: our engine reaches tf-keras-vis's mean activation {target:.3f} after {steps} steps "
              f"({value:.3f}) in {seconds:.2f} s, {seconds_tkv / seconds:.1f}x faster than tf-keras-vis's {STEPS} steps")


if __name__ == "__main__":
    main()
