"""Benchmark: what a notebook loop costs. Grad-CAM image by image, and occlusion.

1. Grad-CAM called on 200 MNIST test images **one at a time** (as a notebook loop does),
   ``helpers.attribution.grad_cam`` against tf-keras-vis 0.8.7's ``Gradcam`` called the same
   way (``ReplaceToLinear``, ``CategoricalScore``, one new ``Gradcam`` per call as a loop over
   images written from its documentation does, and also with one ``Gradcam`` reused). Ours
   reuses its compiled function across calls (the flat copy and its graph are cached on the
   model), so the loop traces once. Maps compared after the same resize and scaling.
2. Occlusion of 100 MNIST test images, patch 4, stride 2: ``helpers.attribution.occlusion``
   (all covered copies through one compiled call per batch) against the previous
   implementation, re-created here as the baseline: one ``model.predict`` per patch position.

The model is seed 000's MNIST network, built with seeded random weights (timings and map
agreement do not depend on training). Timings: one process, TensorFlow warmed up first,
best of three runs. Run: ``.venv/bin/python benchmarks/loops_and_occlusion.py`` (needs
``pip install -e .[bench]`` for tf-keras-vis).
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import helpers  # noqa: E402

helpers.setup(0)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from helpers import attribution, data, models  # noqa: E402
from helpers.scoring import pick_scores, score_model  # noqa: E402

LAYER, N_LOOP, N_OCCLUSION, REPEATS = "conv3", 200, 100, 3


def best_time(fn, repeats=REPEATS):
    """``(fastest seconds over repeats, last result)``."""
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def compare_occlusion(title, model, images, targets):
    """Time the previous per-position occlusion (one run) against the batched helper; print the ratio."""
    attribution.occlusion(model, images[:2], target=targets[:2])  # warm-up
    t_old, old = best_time(lambda: occlusion_per_position(model, images, targets), repeats=1)
    t_new, new = best_time(lambda: attribution.occlusion(model, images, target=targets))
    print(f"\n{title}")
    print(f"{'one predict per position (previous code, baseline)':<52} {t_old:8.2f}")
    print(f"{'helpers.attribution.occlusion (batched, compiled)':<52} {t_new:8.2f}   {t_old / t_new:.1f}x faster")
    print(f"largest absolute difference of the maps: {np.abs(old - new).max():.2e}")


def ours_loop(model, images, targets):
    return np.concatenate([attribution.grad_cam(model, x, layer=LAYER, target=int(t)) for x, t in zip(images, targets)])


def tkv_loop(model, images, targets, reuse, **options):
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    shared = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True) if reuse else None
    maps = []
    for x, t in zip(images, targets):
        gradcam = shared or Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)
        maps.append(np.asarray(gradcam(CategoricalScore([int(t)]), x[None], penultimate_layer=LAYER,
                                       seek_penultimate_conv_layer=False, **options)))
    return np.concatenate(maps)


def same_post_processing(cams, size):
    cams = tf.image.resize(np.maximum(cams, 0)[..., None], size, method="bilinear")[..., 0].numpy()
    peak = cams.reshape(len(cams), -1).max(axis=1)
    return cams / np.where(peak > 0, peak, 1.0)[:, None, None]


def occlusion_per_position(model, images, targets, patch=4, stride=2):
    """The previous implementation: one ``predict`` of all images per patch position."""
    scorer = score_model(model)
    n, h, w, _ = images.shape
    base = np.asarray(pick_scores(scorer(images, training=False), targets, n))
    drop, count = np.zeros((n, h, w)), np.zeros((h, w))
    for r in range(0, h - patch + 1, stride):
        for c in range(0, w - patch + 1, stride):
            covered = images.copy()
            covered[:, r:r + patch, c:c + patch, :] = 0.0
            score = np.asarray(pick_scores(scorer.predict(covered, batch_size=256, verbose=0), targets, n))
            drop[:, r:r + patch, c:c + patch] += (base - score)[:, None, None]
            count[r:r + patch, c:c + patch] += 1
    maps = np.maximum(drop / np.maximum(count, 1), 0)
    peak = maps.reshape(n, -1).max(axis=1)
    return maps / np.where(peak > 0, peak, 1.0)[:, None, None]


def main():
    keras_model = models.build("seed000_mnist")
    (_, _), (x_test, _) = data.load_mnist()
    images = x_test[:N_LOOP, ..., None].astype(np.float32) / 255.0
    targets = keras_model.predict(images, verbose=0).argmax(axis=1)
    ours_loop(keras_model, images[:2], targets[:2])  # warm-up
    tkv_loop(keras_model, images[:2], targets[:2], reuse=True)
    t_ours, maps = best_time(lambda: ours_loop(keras_model, images, targets))
    t_new, _ = best_time(lambda: tkv_loop(keras_model, images, targets, reuse=False), repeats=1)
    t_reuse, _ = best_time(lambda: tkv_loop(keras_model, images, targets, reuse=True))
    raw = tkv_loop(keras_model, images, targets, reuse=True, expand_cam=False, normalize_cam=False)
    diff = np.abs(same_post_processing(raw, images.shape[1:3]) - maps).max()
    print(f"Grad-CAM at {LAYER}, {N_LOOP} MNIST test images one call each (best of {REPEATS}; a new Gradcam per "
          "call: one run)")
    print(f"{'method':<52} {'seconds':>8} {'ms/image':>9} {'vs ours':>8}")
    for label, t in (("helpers.attribution.grad_cam (baseline)", t_ours),
                     ("tf-keras-vis Gradcam, one reused object", t_reuse),
                     ("tf-keras-vis Gradcam, a new object per call", t_new)):
        print(f"{label:<52} {t:8.2f} {1000 * t / N_LOOP:9.2f} {t / t_ours:7.1f}x")
    print(f"largest absolute difference of the maps (same resize and scaling): {diff:.2e}")

    compare_occlusion(f"Occlusion of {N_OCCLUSION} images, patch 4, stride 2 (169 positions)", keras_model,
                      images[:N_OCCLUSION], targets[:N_OCCLUSION])
    lines = models.build("seed001_base_lines")  # the case: one image, one predict per position before
    one = np.random.default_rng(0).random((1,) + tuple(lines.input_shape[1:]), dtype=np.float32)
    compare_occlusion(f"Occlusion of one {one.shape[1]}x{one.shape[2]} image (seed 001's Line model), patch 4, "
                      "stride 2", lines, one, np.array([0]))


if __name__ == "__main__":
    main()
