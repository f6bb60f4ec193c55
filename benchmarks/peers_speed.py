"""Benchmark: every attribution method of chapter 05 and activation maximization against the peers.

Chapter 05's methods (saliency, gradient x input, SmoothGrad, Integrated Gradients, guided
backprop, deconvnet, Grad-CAM, Grad-CAM++, Score-CAM, occlusion) and activation maximization of
all 64 filters of ``conv3``, on seed 000's shipped network and MNIST test images (targets: the
true labels, pre-softmax scores), with this course's helpers, Xplique 2.0.2 and tf-keras-vis
0.8.7 where they have the method (``pip install --no-deps`` of the ``peers`` extra in
pyproject.toml, as tests/test_peers_equality.py does). Same images, settings and batch size
for all; each peer's explainer object is built once, outside the timing (its best case).

Each method's **floor** is the least work it needs: its fewest forward or forward+backward
passes of the model, measured with a plain compiled ``tf.function`` of the model (a Keras
clone with a linear head) over batches already in TensorFlow. Ours, each peer and the floor
are timed in turn, round after round (one warm-up round first, then ``--repeats`` timed rounds,
best kept), so a load that changes during the run hits them alike. Printed: seconds, peer/ours
(above 1: ours faster), ours/floor, the largest absolute difference of the maps (both scaled
as ours: negative values clipped, divided by the maximum; where the definitions differ the
line says how) and the machine's load. Run:

    .venv/bin/python benchmarks/peers_speed.py [--images 500] [--repeats 3] [--batch 64] [--only saliency ig]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import helpers  # noqa: E402

helpers.setup(0)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from helpers import activations, attribution, data, maximize, models  # noqa: E402
from helpers import regularizers as R  # noqa: E402

LAYER, SAMPLES, NOISE, STEPS, PATCH, STRIDE = "conv3", 16, 0.15, 64, 4, 2
AM_STEPS, AM_FILTERS, JITTER, DEGREES, ZOOM, TV = 100, 64, 1, 5.0, 0.05, 0.05


def norm(maps):
    """Our scaling: negative values clipped, each map divided by its maximum."""
    maps = np.maximum(np.asarray(maps, np.float64), 0)
    peak = maps.reshape(len(maps), -1).max(axis=1)
    return maps / np.where(peak > 0, peak, 1.0).reshape(-1, *[1] * (maps.ndim - 1))


def diff(ours, theirs):
    """Largest absolute difference; a peer's map with a trailing channel axis of one is compared as ours."""
    ours = np.asarray(ours, np.float64)
    return float(np.abs(ours - np.asarray(theirs, np.float64).reshape(ours.shape)).max())


class Floors:
    """The plain compiled passes of the model that each method needs at least."""

    def __init__(self, logits, images, targets, batch):
        self.batch = batch
        self.x = [tf.constant(images[a:a + batch]) for a in range(0, len(images), batch)]
        self.c = [tf.constant(targets[a:a + batch].astype(np.int32)) for a in range(0, len(images), batch)]
        features = keras.Model(logits.inputs, [logits.get_layer(LAYER).output, logits.output])
        self.forward = tf.function(lambda x: logits(x, training=False))
        self.full = tf.constant(np.resize(images, (batch, *images.shape[1:])))

        @tf.function
        def gradient(x, c):
            with tf.GradientTape() as tape:
                tape.watch(x)
                score = tf.reduce_sum(tf.gather(logits(x, training=False), c, axis=1, batch_dims=1))
            return tape.gradient(score, x)

        @tf.function
        def layer_gradient(x, c):
            with tf.GradientTape() as tape:
                a, out = features(x, training=False)
                score = tf.reduce_sum(tf.gather(out, c, axis=1, batch_dims=1))
            return tape.gradient(score, a)

        @tf.function
        def to_layer(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                total = tf.reduce_sum(features(x, training=False)[0])
            return tape.gradient(total, x)

        self.gradient, self.layer_gradient, self.to_layer = gradient, layer_gradient, to_layer

    def gradients(self, passes=1):
        """``passes`` forward+backward passes of every image to the input."""
        for _ in range(passes):
            for x, c in zip(self.x, self.c):
                self.gradient(x, c).numpy()

    def cam(self):
        for x, c in zip(self.x, self.c):
            self.layer_gradient(x, c).numpy()

    def forwards(self, count):
        """``count`` images through the model, in full batches (the last one partial)."""
        for start in range(0, count, self.batch):
            self.forward(self.full[:min(self.batch, count - start)]).numpy()

    def maximize(self, start):
        x = tf.constant(start)
        for _ in range(AM_STEPS):
            x = x + 1e-3 * self.to_layer(x)
        x.numpy()


def xplique_methods(logits, batch):
    from xplique import attributions as X
    from xplique.features_visualizations import Objective, optimize
    from xplique.features_visualizations.regularizers import total_variation_reg
    from xplique.features_visualizations.transformations import compose_transformations, random_jitter, random_scale

    def one(explainer, reduce=None):
        def run(images, onehot):
            maps = np.asarray(explainer.explain(images, onehot))
            return maps if reduce is None else reduce(maps)
        return run

    absmax = lambda m: norm(np.abs(m).max(axis=-1))  # noqa: E731
    objective = Objective.channel(logits, LAYER, list(range(AM_FILTERS)))
    moves = compose_transformations([random_jitter(JITTER), random_scale((1 - ZOOM, 1 + ZOOM))])  # it has no rotation

    def act_max(start, _):
        images, _ = optimize(objective, nb_steps=AM_STEPS, use_fft=False, custom_shape=None, transformations=moves,
                             regularizers=[total_variation_reg(TV)], image_normalizer="clip")
        return np.asarray(images[-1])
    return {
        "saliency": one(X.Saliency(logits, batch_size=batch), norm),
        "gradient_x_input": one(X.GradientInput(logits, batch_size=batch, reducer=None)),
        "smoothgrad": one(X.SmoothGrad(logits, batch_size=batch, nb_samples=SAMPLES, noise=NOISE), norm),
        "integrated_gradients": one(X.IntegratedGradients(logits, batch_size=batch, steps=STEPS, reducer=None),
                                    lambda m: norm(np.abs(m).sum(axis=-1))),
        "guided_backprop": one(X.GuidedBackprop(logits, batch_size=batch, reducer=None), absmax),
        "deconvnet": one(X.DeconvNet(logits, batch_size=batch, reducer=None), absmax),
        "grad_cam": one(X.GradCAM(logits, conv_layer=LAYER, batch_size=batch), norm),
        "grad_cam_plus_plus": one(X.GradCAMPP(logits, conv_layer=LAYER, batch_size=batch), norm),
        "occlusion": one(X.Occlusion(logits, batch_size=batch, patch_size=PATCH, patch_stride=STRIDE,
                                     occlusion_value=0.0), norm),
        "activation_maximization": act_max,
    }


def tf_keras_vis_methods(model, batch):
    from tf_keras_vis.activation_maximization import ActivationMaximization
    from tf_keras_vis.activation_maximization.input_modifiers import Jitter, Rotate2D, Scale
    from tf_keras_vis.activation_maximization.regularizers import TotalVariation2D
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.scorecam import Scorecam
    from tf_keras_vis.utils.model_modifiers import ExtractIntermediateLayer, ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    saliency = Saliency(model, model_modifier=ReplaceToLinear(), clone=True)
    cams = {name: cls(model, model_modifier=ReplaceToLinear(), clone=True)
            for name, cls in (("grad_cam", Gradcam), ("grad_cam_plus_plus", GradcamPlusPlus), ("score_cam", Scorecam))}
    am = ActivationMaximization(model, model_modifier=[ExtractIntermediateLayer(LAYER), ReplaceToLinear()], clone=True)
    cam_options = dict(penultimate_layer=LAYER, seek_penultimate_conv_layer=False, normalize_cam=False)

    def cam(name, **options):
        return lambda images, targets: norm(cams[name](CategoricalScore(list(targets)), images, **cam_options,
                                                        **options))

    def act_max(start, _):
        images = am(CategoricalScore(list(range(AM_FILTERS))), seed_input=start, input_range=(0.0, 1.0),
                    steps=AM_STEPS, regularizers=[TotalVariation2D(weight=TV)],
                    input_modifiers=[Jitter(jitter=JITTER), Rotate2D(degree=DEGREES),
                                     Scale(low=1 - ZOOM, high=1 + ZOOM)])
        return np.clip(np.asarray(images, np.float32).reshape(start.shape), 0.0, 1.0)
    return {
        "saliency": lambda images, targets: norm(saliency(CategoricalScore(list(targets)), images,
                                                          normalize_map=False)),
        "smoothgrad": lambda images, targets: norm(saliency(CategoricalScore(list(targets)), images,
                                                            smooth_samples=SAMPLES, smooth_noise=NOISE,
                                                            normalize_map=False)),
        "grad_cam": cam("grad_cam"), "grad_cam_plus_plus": cam("grad_cam_plus_plus"),
        "score_cam": cam("score_cam", batch_size=batch),
        "activation_maximization": act_max,
    }


def ours_methods(model, batch):
    A = attribution
    reg = R.Regularization(jitter=JITTER, rotate=DEGREES, scale=ZOOM, tv_weight=TV)
    return {
        "saliency": lambda x, t: A.saliency(model, x, target=t, batch_size=batch),
        "gradient_x_input": lambda x, t: A.input_gradients(model, x, target=t, batch_size=batch) * x,
        "smoothgrad": lambda x, t: A.smoothgrad(model, x, target=t, samples=SAMPLES, noise=NOISE, batch_size=batch),
        "integrated_gradients": lambda x, t: A.integrated_gradients(model, x, target=t, steps=STEPS, batch_size=batch),
        "guided_backprop": lambda x, t: A.guided_backprop(model, x, target=t, batch_size=batch),
        "deconvnet": lambda x, t: A.deconvnet(model, x, target=t, batch_size=batch),
        "grad_cam": lambda x, t: A.grad_cam(model, x, layer=LAYER, target=t, batch_size=batch),
        "grad_cam_plus_plus": lambda x, t: A.grad_cam_plus_plus(model, x, layer=LAYER, target=t, batch_size=batch),
        "score_cam": lambda x, t: A.score_cam(model, x, layer=LAYER, target=t, batch_size=batch),
        "occlusion": lambda x, t: A.occlusion(model, x, target=t, patch=PATCH, stride=STRIDE, batch_size=batch),
        "activation_maximization": lambda start, _: maximize.maximize_channels(
            model, LAYER, steps=AM_STEPS, regularization=reg, start=start, progress=False)[0],
    }


#: How each peer's map compares with ours, where the definitions differ.
NOTES = {
    "smoothgrad": "other random noise; Xplique averages the signed gradient (|mean g|), ours and tf-keras-vis mean |g|",
    "integrated_gradients": "Xplique: trapezoid rule on linspace(0, 1), ours: midpoint rule",
    "grad_cam": "tf-keras-vis: scipy zoom (corners aligned), Xplique: bicubic, ours: bilinear half-pixel",
    "grad_cam_plus_plus": "each its own Eq. 19 variant and resize (tests/test_peers_equality.py)",
    "score_cam": "tf-keras-vis: no black-image baseline, scipy zoom",
    "occlusion": "Xplique sums the signed drops, ours averages them per pixel, rises clipped",
    "activation_maximization": "mean reached activation of each filter's own map, not a map difference; Xplique "
                               "has no rotation and starts from its own noise with Adam",
}


def floors_of(floors, n, start, channels):
    positions = len(range(0, 28 - PATCH + 1, STRIDE)) ** 2
    return {
        "saliency": floors.gradients, "gradient_x_input": floors.gradients,
        "smoothgrad": lambda: floors.gradients(SAMPLES), "integrated_gradients": lambda: floors.gradients(STEPS),
        "guided_backprop": floors.gradients, "deconvnet": floors.gradients,
        "grad_cam": floors.cam, "grad_cam_plus_plus": floors.cam,
        "score_cam": lambda: floors.forwards(n * (channels + 1)),
        "occlusion": lambda: floors.forwards(n * (positions + 1)),
        "activation_maximization": lambda: floors.maximize(start),
    }


def reached(model, images):
    maps = activations.layer_activations(model, images, LAYER)[LAYER]
    return float(maps.mean(axis=(1, 2))[np.arange(AM_FILTERS), np.arange(AM_FILTERS)].mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500, help="MNIST test images (default 500)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds after the warm-up (default 3)")
    parser.add_argument("--batch", type=int, default=64, help="batch size for all (default 64)")
    parser.add_argument("--only", nargs="+", metavar="METHOD", help="some methods (names as printed)")
    args = parser.parse_args(argv)
    keras.utils.disable_interactive_logging()  # tf-keras-vis's Score-CAM calls predict with a progress bar
    model = models.trained("seed000_mnist", batch_size=64, epochs=3, verbose=0)
    (_, _), (x_test, y_test) = data.load_mnist()
    images = x_test[:args.images, ..., None].astype(np.float32) / 255.0
    targets = y_test[:args.images].astype(np.int64)
    onehot = np.eye(10, dtype=np.float32)[targets]
    logits = keras.models.clone_model(model)
    logits.set_weights(model.get_weights())
    logits.layers[-1].activation = keras.activations.linear
    start = R.start_images("grey", (AM_FILTERS, 28, 28, 1), seed=0)
    channels = model.get_layer(LAYER).filters
    ours = ours_methods(model, args.batch)
    peers = {"Xplique": xplique_methods(logits, args.batch), "tf-keras-vis": tf_keras_vis_methods(model, args.batch)}
    floors = floors_of(Floors(logits, images, targets, args.batch), len(images), start, channels)
    names = [m for m in ours if not args.only or m in args.only]
    print(f"{len(images)} MNIST test images, batch {args.batch}, best of {args.repeats} after a warm-up; "
          f"load before: {os.getloadavg()}", flush=True)
    rows = []
    for name in names:
        am = name == "activation_maximization"
        inputs = {"ours": (start, None) if am else (images, targets)}
        runners = {"ours": ours[name]}
        for peer, methods in peers.items():
            if name in methods:
                runners[peer] = methods[name]
                inputs[peer] = (start, None) if am else (images, onehot if peer == "Xplique" else targets)
        runners["floor"] = lambda f=floors[name]: f()
        best, outputs = {k: float("inf") for k in runners}, {}
        for round_ in range(args.repeats + 1):
            for key, run in runners.items():
                t0 = time.perf_counter()
                out = run() if key == "floor" else run(*inputs[key])
                seconds = time.perf_counter() - t0
                if round_:
                    best[key] = min(best[key], seconds)
                outputs[key] = out
        agreement = {}
        mine = outputs["ours"]
        for peer in peers:
            if peer in outputs:
                agreement[peer] = (f"act {reached(model, outputs[peer]):.3f} vs ours {reached(model, mine):.3f}"
                                   if am else f"{diff(mine, outputs[peer]):.1e}")
        rows.append((name, best, agreement))
        line = "  ".join(f"{k} {v:.3f} s" for k, v in best.items())
        print(f"{name}: {line}  agreement {agreement}", flush=True)
    print(f"\nload after: {os.getloadavg()}\n")
    print(f"{'method':<24} {'ours':>8} {'Xplique':>8} {'tf-k-vis':>8} {'floor':>8} {'Xpl/ours':>9} {'tkv/ours':>9} "
          f"{'ours/floor':>10}  agreement (max abs diff of the maps)")
    for name, best, agreement in rows:
        cell = lambda k: f"{best[k]:8.3f}" if k in best else f"{'-':>8}"  # noqa: E731
        ratio = lambda k: f"{best[k] / best['ours']:8.1f}x" if k in best else f"{'-':>9}"  # noqa: E731
        notes = "; ".join(f"{peer} {value}" for peer, value in agreement.items())
        print(f"{name:<24} {cell('ours')} {cell('Xplique')} {cell('tf-keras-vis')} {cell('floor')} {ratio('Xplique')} "
              f"{ratio('tf-keras-vis')} {best['ours'] / best['floor']:10.2f}  {notes}"
              + (f" ({NOTES[name]})" if name in NOTES else ""))


if __name__ == "__main__":
    main()
