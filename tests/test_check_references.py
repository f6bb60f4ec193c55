"""The grader's references of the model exercises, against hand-computed values and independent code."""

import keras
import numpy as np
import pytest

from helpers import models, receptive_field
from helpers.grading.references import field_checks, prediction_checks

pytestmark = pytest.mark.usefixtures("seeded_session")


def test_confident_mistakes_on_a_hand_made_classifier():
    """Softmax of the inputs themselves: probabilities computable by hand."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Softmax()])
    logits = np.array([[2, 0, 0], [0, 3, 0], [0, 0, 1], [1, 0, 0], [0, 0, 5]], np.float32)
    labels = np.array([1, 1, 0, 0, 2])  # images 0 and 2 are mistakes, 0 the more confident (e^2 vs e^1)
    p0, p2 = np.exp(2) / (np.exp(2) + 2), np.exp(1) / (np.exp(1) + 2)
    assert p0 > p2
    np.testing.assert_array_equal(prediction_checks.confident_mistakes(model, logits, labels, 5), [0, 2])
    np.testing.assert_array_equal(prediction_checks.confident_mistakes(model, logits, labels, 1), [0])
    assert prediction_checks.confident_mistakes(model, logits, [0, 1, 2, 0, 2], 3).shape == (0,)


def test_drawn_labels_make_the_stated_number_of_mistakes():
    rng = np.random.default_rng(5)
    for check, count in zip(prediction_checks.MOST_CONFIDENT_MISTAKES, (None, 3, 0)):
        model, images, labels, n = check.inputs(rng)
        wrong = int((prediction_checks.probabilities(model, images).argmax(1) != labels).sum())
        assert wrong == count if count is not None else len(images) // 3 <= wrong <= len(images) // 2


def test_measured_fields_of_the_course_network_by_hand():
    """seed000_mnist: conv1 3x3; pool1 (2, stride 2) 4; conv2 on a grid of step 2: 4 + 2*2 = 8;
    pool2: 8 + 1*2 = 10; conv3 on a grid of step 4: 10 + 2*4 = 18."""
    model = models.build("seed000_mnist", compile=False)
    layers = [layer for layer in model.layers if layer.name.startswith(("conv", "pool"))]
    chain = keras.Sequential([keras.Input((28, 28, 1))] + layers)
    fields = {name: tuple(field_checks.measured_field(chain, name))
              for name in ("conv1", "pool1", "conv2", "pool2", "conv3")}
    assert fields == {"conv1": (3, 3), "pool1": (4, 4), "conv2": (8, 8), "pool2": (10, 10), "conv3": (18, 18)}


@pytest.mark.parametrize("seed", range(6))
def test_measured_field_equals_the_course_recurrence(seed):
    """Two independent computations: the gradient footprint (grader) and the size/jump recurrence
    of helpers.receptive_field, on every check network of a seed."""
    rng = np.random.default_rng(seed)
    for check in field_checks.RECEPTIVE_FIELD_SIZE:
        model, layer = check.inputs(rng)
        field = receptive_field.receptive_field(model, layer)
        np.testing.assert_array_equal(field_checks.measured_field(model, layer), [field.size, field.col_size])


def test_check_networks_have_what_the_exercise_must_handle():
    rng = np.random.default_rng(0)
    model, layer = field_checks.RECEPTIVE_FIELD_SIZE[0].inputs(rng)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert all(l.kernel_size[0] != l.kernel_size[1] for l in convs)
    assert any(max(l.strides) > 1 for l in convs) and any(max(l.dilation_rate) > 1 for l in convs)
    pools = [l for l in model.layers if isinstance(l, keras.layers.MaxPooling2D)]
    assert any(tuple(l.pool_size) != tuple(l.strides) for l in pools)
    names = [l.name for l in model.layers]
    assert names.index(layer) < names.index("flatten") - 2  # more conv/pool layers follow the one asked about


def test_the_graders_score_cam_equals_the_course_helper():
    """Two implementations: the grader's masks and forward passes, and helpers.cams.score_cam (which also
    resizes, here from the image's own size, and scales each map to a maximum of 1)."""
    from helpers import cams
    from helpers.grading.references import perturbation_checks

    rng = np.random.default_rng(3)
    for check in perturbation_checks.SCORE_CAM:
        model, images, layer, class_index = check.inputs(rng)
        mine = perturbation_checks.score_cam_by_masks(model, images, layer, class_index)
        assert np.isfinite(mine).all() and (mine.max(axis=(1, 2)) > 0).all()
        helper = np.asarray(cams.score_cam(model, images, layer=layer, target=class_index))
        np.testing.assert_allclose(helper, mine / mine.max(axis=(1, 2), keepdims=True), atol=1e-5)


def test_the_silent_channel_is_silent_on_every_check_image():
    from helpers.grading.references import model_checks, perturbation_checks

    model, images, layer, _ = perturbation_checks.SCORE_CAM[2].inputs(np.random.default_rng(4))
    maps = model_checks._layer_output(model, layer, images)
    assert (maps[..., -1] == 0).all() and (maps[..., :-1].max(axis=(1, 2)) > 0).any()


def test_the_class_ascent_climbs_the_logit_the_softmax_hides():
    """The logit from the last layer's weights is the softmax's input (log-probabilities up to a constant per
    image), and the grader's regularized ascent raises the objective it states."""
    import tensorflow as tf

    from helpers.grading.references import ascent_checks

    model, class_index, start, shifts, tv_weight, step_size = ascent_checks.REGULARIZED_CLASS_ASCENT[0].inputs(
        np.random.default_rng(6))
    scores = model.get_layer("scores")
    features = keras.Model(model.input, scores.input)
    kernel, bias = scores.get_weights()

    def logits(x):
        return np.asarray(features(x), np.float64) @ kernel + bias

    def objective(x):
        tv = np.abs(np.diff(x, axis=1)).mean() + np.abs(np.diff(x, axis=2)).mean()
        return logits(x)[0, class_index] - tv_weight * tv

    log_p = np.log(np.asarray(model(start), np.float64))
    np.testing.assert_allclose(logits(start) - log_p, (logits(start) - log_p)[:, :1].repeat(5, axis=1), atol=1e-4)
    end = ascent_checks.class_ascent_by_tape(model, class_index, start, np.zeros_like(shifts), tv_weight, step_size)
    assert objective(end.astype(np.float32)) > objective(start) + 1.0
    assert not tf.reduce_any(tf.math.is_nan(end))
