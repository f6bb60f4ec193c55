"""The input-invariance test (Kindermans et al. 2019) on a hand-weighted network."""

import keras
import numpy as np
import pytest

from helpers import attribution, invariance


pytestmark = pytest.mark.usefixtures("seeded_session")


def conv_model():
    """A 2x2 valid convolution (2 channels in, 2 out, bias 0.1 and -0.2), ReLU, a dense read-out of 3 classes."""
    inputs = keras.Input((5, 5, 2))
    x = keras.layers.Conv2D(2, 2, activation="relu", name="conv")(inputs)
    out = keras.layers.Dense(3, name="out")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, out)
    kernel = np.arange(16, dtype=np.float32).reshape(2, 2, 2, 2) / 10 - 0.7
    model.get_layer("conv").set_weights([kernel, np.array([0.1, -0.2], np.float32)])
    model.get_layer("out").set_weights([np.linspace(-1, 1, 32 * 3, dtype=np.float32).reshape(32, 3),
                                        np.zeros(3, np.float32)])
    return model


def test_copy_has_the_compensated_bias_and_the_same_function():
    model, shift = conv_model(), np.array([0.5, -0.25])
    copy = invariance.shifted_input_copy(model, shift)
    kernel, bias = model.get_layer("conv").get_weights()
    # by hand: b' = b - sum_{i,j,c} W[i, j, c, o] * shift[c]
    expected = [bias[o] - sum(kernel[i, j, c, o] * shift[c] for i in range(2) for j in range(2) for c in range(2))
                for o in range(2)]
    np.testing.assert_allclose(copy.get_layer("conv").get_weights()[1], expected, rtol=1e-6)
    x = np.random.default_rng(0).random((4, 5, 5, 2)).astype(np.float32)
    np.testing.assert_allclose(copy(x + shift.astype(np.float32)), model(x), atol=1e-5)
    np.testing.assert_array_equal(model.get_layer("conv").get_weights()[1], bias)  # the model is untouched


def test_gradient_maps_are_invariant_and_black_baseline_ig_is_not():
    model = conv_model()
    x = np.random.default_rng(1).random((3, 5, 5, 2)).astype(np.float32)
    methods = {"saliency": attribution.saliency, "ig_black": attribution.integrated_gradients,
               "ig_shifted": (attribution.integrated_gradients, "baseline")}
    differences, gap, maps = invariance.input_invariance(model, x, 0.5, methods)
    assert gap < 1e-5
    assert differences["saliency"] < 1e-5
    assert differences["ig_shifted"] < 1e-3
    assert differences["ig_black"] > 0.05
    assert maps["saliency"].shape == (3, 5, 5)


def test_refusals_name_the_fix():
    same = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, padding="same", name="c")])
    with pytest.raises(ValueError, match="padding='valid'"):
        invariance.shifted_input_copy(same, 1.0)
    dense_first = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(name="flat"), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"flat \(Flatten\)"):
        invariance.shifted_input_copy(dense_first, 1.0)
    with pytest.raises(ValueError, match="one per input channel"):
        invariance.shifted_input_copy(conv_model(), [1.0, 2.0, 3.0])
