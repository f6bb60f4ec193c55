"""A probability output that no rule can undo is refused with the fix; real scores are not."""

import keras
import numpy as np
import pytest

from helpers import attribution, cams


class HandSoftmax(keras.layers.Layer):
    """A softmax written by hand in a custom layer: nothing in the graph says "softmax"."""

    def call(self, x):
        e = keras.ops.exp(x - keras.ops.max(x, axis=-1, keepdims=True))
        return e / keras.ops.sum(e, axis=-1, keepdims=True)


def _model(head):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    z = keras.layers.Dense(3, name="scores")(keras.layers.Flatten()(h))
    return keras.Model(inputs, head(z))


IMAGES = np.random.default_rng(1).random((2, 8, 8, 1)).astype("float32")


@pytest.mark.parametrize("method", [attribution.saliency, attribution.integrated_gradients, cams.grad_cam])
def test_a_hand_written_softmax_is_refused_naming_the_fix(method):
    with pytest.raises(ValueError, match=r"looks like probabilities .* Softmax\(\) layer"):
        method(_model(HandSoftmax()), IMAGES, target=0)


def test_scores_and_undoable_softmaxes_are_explained_with_the_same_maps():
    plain = attribution.saliency(_model(lambda z: z), IMAGES, target=[0, 2])
    undone = attribution.saliency(_model(keras.layers.Softmax()), IMAGES, target=[0, 2])
    np.testing.assert_allclose(undone, plain, atol=1e-6)
    assert plain.max() == pytest.approx(1.0)


def test_non_negative_scores_that_do_not_sum_to_one_are_not_refused():
    relu_scores = attribution.saliency(_model(keras.layers.ReLU()), IMAGES, target=0)
    assert relu_scores.shape == (2, 8, 8)
