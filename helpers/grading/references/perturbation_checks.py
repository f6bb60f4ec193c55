"""Checks of chapter 05's exercise without gradients: Score-CAM by masking the image.

The student's function gets a network whose class scores are logits, images, a layer whose maps
have the image's height and width ('same' padding, so no resizing is involved) and a class. Every
check network is drawn from the submission's seed; the third has a channel that is silent on every
image (a strongly negative bias), whose mask must be zeros, not NaN. The reference is the grader's
own NumPy around the network's forward passes.
"""

import numpy as np
from scipy.special import softmax

from helpers.grading.references.checks import Check, close, per_network
from helpers.grading.references.model_checks import CLASSES, _images, _layer_output


def same_cnn(rng, silent=False):
    """A seeded 12x12 grey CNN whose convolutions keep the image size: conv1 (3-4 channels, 'same') ->
    conv2 (4-6, 'same') -> pool -> flatten -> scores (logits). ``silent``: conv2's last channel never fires."""
    import keras

    c1, c2 = int(rng.integers(3, 5)), int(rng.integers(4, 7))
    inputs = keras.Input((12, 12, 1), name="image")
    x = keras.layers.Conv2D(c1, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(c2, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Flatten(name="flatten")(keras.layers.MaxPooling2D(3, name="pool")(x))
    outputs = keras.layers.Dense(CLASSES, name="scores")(x)
    model = keras.Model(inputs, outputs, name="same_cnn")
    weights = [rng.normal(0.0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()]
    if silent:
        weights[3][-1] = -100.0  # conv2's bias of its last channel
    model.set_weights(weights)
    return model


@per_network
def score_cam_by_masks(model, images, layer, class_index):
    """The grader's Score-CAM at the layer's grid, ``(n, h, w)``."""
    images = np.asarray(images, np.float64)
    maps = _layer_output(model, layer, images)
    low, high = maps.min(axis=(1, 2), keepdims=True), maps.max(axis=(1, 2), keepdims=True)
    masks = np.divide(maps - low, high - low, out=np.zeros_like(maps), where=high > low)
    black = softmax(np.asarray(model(np.zeros_like(images[:1], np.float32)), np.float64), axis=1)[0, class_index]
    result = np.zeros(maps.shape[:3])
    for i, image in enumerate(images):
        masked = (image[None] * np.moveaxis(masks[i], -1, 0)[..., None]).astype(np.float32)
        weights = softmax(np.asarray(model(masked), np.float64), axis=1)[:, class_index] - black
        result[i] = np.maximum(maps[i] @ weights, 0)
    return result


def _score_inputs(layer, silent=False):
    """A network, images, the layer and a class whose map is non-zero for every image."""
    def inputs(rng):
        for _ in range(100):
            model, images = same_cnn(rng, silent), _images(rng, 3)
            class_index = int(rng.integers(0, CLASSES))
            if (score_cam_by_masks(model, images, layer, class_index) > 1e-4).any(axis=(1, 2)).all():
                return model, images, layer, class_index
        raise RuntimeError(f"no check network with a non-zero Score-CAM at {layer} in 100 draws")
    return inputs


def _verify(what):
    def verify(out, model, images, layer, class_index):
        close(out, score_cam_by_masks(model, images, layer, class_index), 1e-4, what)
    return verify


SCORE_CAM = (
    Check("last convolution", _score_inputs("conv2"), _verify("conv2 of a random CNN")),
    Check("first convolution", _score_inputs("conv1"), _verify("conv1 of a random CNN")),
    Check("a silent channel", _score_inputs("conv2", silent=True),
          _verify("conv2 with a channel at zero on every image (its mask is all zeros)"), needs="last convolution"),
)
