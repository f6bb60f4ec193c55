"""Benchmark: Grad-CAM on 1,000 MNIST test images, this course's helper against tf-keras-vis.

Both explain the same class (the model's prediction) at seed 000's ``conv3`` with the
softmax swapped for a linear activation on a copy of the model, in one process on the
same CPU, TensorFlow warmed up first, best of three timed calls each:

1. ``helpers.attribution.grad_cam`` (maps at input resolution, each scaled to a maximum of 1);
2. tf-keras-vis 0.8.7 ``Gradcam`` as its documentation calls it (``ReplaceToLinear``,
   ``CategoricalScore``, ``expand_cam`` and ``normalize_cam`` on; install with
   ``pip install -e .[bench]``).

For the maps' difference, tf-keras-vis is called once more with ``expand_cam=False`` and
``normalize_cam=False`` (its own normalization is a min-max stretch and its resize a
spline zoom, where ours divides by the maximum and resizes bilinearly); its layer-resolution
maps are then resized and scaled exactly as ours. Run:
``.venv/bin/python benchmarks/gradcam_vs_tf_keras_vis.py``.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import helpers  # noqa: E402

helpers.setup(0)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from helpers import attribution, data, models  # noqa: E402

LAYER, N_IMAGES, REPEATS = "conv3", 1000, 3


def ours(model, images, targets):
    return attribution.grad_cam(model, images, layer=LAYER, target=targets, batch_size=N_IMAGES)


def tf_keras_vis(model, images, targets, **options):
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    gradcam = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)
    return np.asarray(gradcam(CategoricalScore(list(targets)), images, penultimate_layer=LAYER,
                              seek_penultimate_conv_layer=False, **options))


def same_post_processing(cams, size):
    """Bilinear resize to the input and division by each map's maximum, as ``grad_cam`` does."""
    cams = tf.image.resize(np.maximum(cams, 0)[..., None], size, method="bilinear")[..., 0].numpy()
    peak = cams.reshape(len(cams), -1).max(axis=1)
    return cams / np.where(peak > 0, peak, 1.0)[:, None, None]


def best_time(fn):
    best, result = float("inf"), None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main():
    model = models.trained("seed000_mnist", batch_size=64, epochs=3, verbose=0)
    (_, _), (x_test, _) = data.load_mnist()
    images = x_test[:N_IMAGES, ..., None].astype(np.float32) / 255.0
    targets = model.predict(images, verbose=0).argmax(axis=1)
    ours(model, images[:8], targets[:8])  # warm-up: TensorFlow's first calls compile kernels
    tf_keras_vis(model, images[:8], targets[:8])
    seconds_ours, maps_ours = best_time(lambda: ours(model, images, targets))
    seconds_tkv, _ = best_time(lambda: tf_keras_vis(model, images, targets))
    raw = tf_keras_vis(model, images, targets, expand_cam=False, normalize_cam=False)
    diff = np.abs(same_post_processing(raw, images.shape[1:3]) - maps_ours).max()
    print(f"Grad-CAM at {LAYER} on {N_IMAGES} MNIST test images (best of {REPEATS} calls each)")
    print(f"{'method':<42} {'seconds':>8} {'ms per image':>13}")
    print(f"{'helpers.attribution.grad_cam':<42} {seconds_ours:8.3f} {1000 * seconds_ours / N_IMAGES:13.3f}")
    print(f"{'tf-keras-vis 0.8.7 Gradcam':<42} {seconds_tkv:8.3f} {1000 * seconds_tkv / N_IMAGES:13.3f}")
    print(f"ours is {seconds_tkv / seconds_ours:.1f}x faster; largest absolute difference of the maps "
          f"(same resize and scaling): {diff:.2e}")


if __name__ == "__main__":
    main()
