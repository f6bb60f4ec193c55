"""The check networks of the exercises that run a model, and the checks of chapter 02's activation
model and chapter 05's Grad-CAM++ (chapter 04's ascents: :mod:`helpers.grading.references.ascent_checks`).

Every check builds its own small network from the submission's seed (random channel
counts, random weights set explicitly from the seed, so nothing depends on Keras's
global random state) and random images. The student's function receives the model
itself; in the grader the model travels into the sandbox as a ``.keras`` file and is
loaded there. The expected values are computed here, outside the sandbox, with the
grader's own code (NumPy from the gradients, not the course's helper); on a global-average-
pool network also from the dense weights alone (the gradient is then ``w[k, c] / (h w)``
everywhere), which needs no gradient at all.
"""

import numpy as np

from helpers.grading.references.checks import Check, close, per_network

#: Class count of the check networks, different from every channel count they can have.
CLASSES = 5


def _set_weights(model, rng, spread=0.5):
    model.set_weights([rng.normal(0.0, spread, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def check_cnn(rng, pooled=False, softmax=False):
    """A seeded 12x12 grey CNN: conv1 (3-4 channels) -> pool1 -> conv2 (6-8) -> either flatten ->
    hidden (9 units, ReLU) -> scores, or (``pooled``) global average pooling -> scores. The class
    scores are linear, or probabilities with ``softmax``."""
    import keras

    c1, c2 = int(rng.integers(3, 5)), int(rng.integers(6, 9))
    inputs = keras.Input((12, 12, 1), name="image")
    x = keras.layers.Conv2D(c1, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(c2, 3, activation="relu", name="conv2")(x)
    if pooled:
        x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    else:
        x = keras.layers.Dense(9, activation="relu", name="hidden")(keras.layers.Flatten(name="flatten")(x))
    outputs = keras.layers.Dense(CLASSES, activation="softmax" if softmax else None, name="scores")(x)
    return _set_weights(keras.Model(inputs, outputs, name="check_cnn"), rng)


def _images(rng, n=4):
    return rng.random((n, 12, 12, 1)).astype(np.float32)


# -- 02: the mean of every channel of a layer, through an activation model ----------------
def _layer_output(model, layer, images):
    import keras

    probe = keras.Model(model.input, model.get_layer(layer).output)
    return np.asarray(probe(images, training=False), np.float64)


def _verify_channel_means(what):
    def verify(out, model, layer, images):
        a = _layer_output(model, layer, images)
        close(out, a.mean(axis=tuple(range(a.ndim - 1))), 1e-4, what)
    return verify


def _channel_means_inputs(layer):
    return lambda rng: (check_cnn(rng), layer, _images(rng))


CHANNEL_MEANS = (
    Check("a middle convolution", _channel_means_inputs("conv2"), _verify_channel_means("conv2 of a random CNN")),
    Check("the first convolution", _channel_means_inputs("conv1"), _verify_channel_means("conv1 of a random CNN")),
    Check("a dense layer", _channel_means_inputs("hidden"), _verify_channel_means("the dense layer 'hidden'")),
)


# -- 05: Grad-CAM++ from a gradient tape --------------------------------------------------
@per_network
def maps_and_gradients(model, images, layer, class_index):
    """The layer's maps ``A`` and the gradient of the class score with respect to them, ``(n, h, w, k)`` each."""
    import keras
    import tensorflow as tf

    both = keras.Model(model.input, [model.get_layer(layer).output, model.output])
    with tf.GradientTape() as tape:
        maps, scores = both(images, training=False)
        score = scores[:, class_index]
    return np.asarray(maps, np.float64), np.asarray(tape.gradient(score, maps), np.float64)


def plus_plus_weights(maps, g):
    """Grad-CAM++'s channel weights ``sum_ij alpha_ij relu(g_ij)``, alpha = g^2 / (2 g^2 + sum_ab A_ab g^3)."""
    denominator = 2 * g ** 2 + maps.sum(axis=(1, 2), keepdims=True) * g ** 3
    alpha = np.divide(g ** 2, denominator, out=np.zeros_like(g), where=denominator != 0)
    return (alpha * np.maximum(g, 0)).sum(axis=(1, 2))


def plus_plus_map(maps, g):
    """Grad-CAM++ at the layer's grid from the maps and their gradient: ReLU of the weighted sum of the maps."""
    return np.maximum(np.einsum("nhwk,nk->nhw", maps, plus_plus_weights(maps, g)), 0)


def grad_cam_plus_plus_by_tape(model, images, layer, class_index):
    """The grader's Grad-CAM++ at the layer's grid."""
    return plus_plus_map(*maps_and_gradients(model, images, layer, class_index))


def _cam_inputs(layer, pooled=False):
    """A network, images, the layer and a class whose map is non-zero for every image and whose gradients
    are negative for some channels (so that a missing ``relu(g)`` shows)."""
    def inputs(rng):
        for _ in range(100):
            model, images = check_cnn(rng, pooled), _images(rng)
            class_index = int(rng.integers(0, CLASSES))
            maps, g = maps_and_gradients(model, images, layer, class_index)
            if (plus_plus_map(maps, g) > 1e-4).any(axis=(1, 2)).all() and (g < -1e-4).any():
                return model, images, layer, class_index
        raise RuntimeError(f"no check network with a non-zero map at {layer} in 100 draws")
    return inputs


def _verify_plus_plus(what):
    def verify(out, model, images, layer, class_index):
        close(out, grad_cam_plus_plus_by_tape(model, images, layer, class_index), 1e-4, what)
    return verify


def _verify_gap_identity(out, model, images, layer, class_index):
    """On conv -> global average pool -> dense the gradient is w[k, c] / (h w) everywhere: Grad-CAM++ follows
    from the dense weights and the maps alone, without a gradient."""
    maps = _layer_output(model, layer, images)
    h, w = maps.shape[1:3]
    g = np.broadcast_to(model.get_layer("scores").get_weights()[0][:, class_index] / (h * w), maps.shape)
    close(out, plus_plus_map(maps, g), 1e-4, "a global-average-pool network (gradient w[k, c] / (h w) everywhere)")


GRAD_CAM_PLUS_PLUS = (
    Check("last convolution", _cam_inputs("conv2"), _verify_plus_plus("conv2 of a random CNN")),
    Check("first convolution", _cam_inputs("conv1"), _verify_plus_plus("conv1 of a random CNN")),
    Check("global average pool", _cam_inputs("conv2", pooled=True), _verify_gap_identity),
)
