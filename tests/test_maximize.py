"""Activation maximization: the objective rises, each regularizer does what it says,
class images convince the model, results are reproducible, the model is untouched."""

import keras
import numpy as np
import pytest

import helpers
import helpers.data
from helpers import activations, filters, maximize, models
from helpers import regularizers as R


@pytest.fixture(scope="module")
def mnist_model():
    helpers.setup(0)
    return models.trained("seed000_mnist", batch_size=64, epochs=3, verbose=0)


def run(model, reg, **kw):
    return maximize.maximize_channels(model, "conv2", channels=range(8), steps=40, regularization=reg,
                                      progress=False, **kw)


def test_objective_rises_five_fold_for_every_live_conv3_channel(mnist_model):
    images, trajectory = maximize.maximize_channels(mnist_model, "conv3", steps=100, progress=False)
    assert trajectory.shape == (101, 64) and (trajectory[-1] > trajectory[0]).all()  # the optimized objective
    start = R.start_images("lowfreq", images.shape, seed=0)
    relu = {name: activations.layer_activations(mnist_model, x, "conv3")["conv3"] for name, x in
            (("start", start), ("end", images))}
    own = np.arange(64)
    before = relu["start"].mean(axis=(1, 2))[own, own]
    after = relu["end"].mean(axis=(1, 2))[own, own]
    (_, _), (x_test, _) = helpers.data.load_mnist()
    real = activations.layer_activations(mnist_model, x_test[:1000, ..., None] / 255.0, "conv3")["conv3"]
    live = real.max(axis=(0, 1, 2)) > 0  # channels that fire for at least one real digit
    assert live.sum() >= 48
    assert (after[live] > 0).all() and (after[live] >= 5 * before[live]).all()
    assert images.min() >= 0.0 and images.max() <= 1.0


def test_total_variation_weight_lowers_total_variation(mnist_model):
    plain, _ = run(mnist_model, R.Regularization())
    smooth, _ = run(mnist_model, R.Regularization(tv_weight=2.0))
    tv = lambda x: float(np.mean(R.total_variation(x)))  # noqa: E731
    assert tv(smooth) < 0.7 * tv(plain)


def test_blur_lowers_high_frequency_energy(mnist_model):
    plain, _ = run(mnist_model, R.Regularization())
    blurred, _ = run(mnist_model, R.Regularization(blur_every=1, blur_sigma=1.0))
    assert filters.high_frequency_energy(blurred).mean() < 0.7 * filters.high_frequency_energy(plain).mean()


def test_percentile_clipping_zeroes_the_weakest_pixels(mnist_model):
    clipped, _ = run(mnist_model, R.Regularization(clip_percentile=60))
    assert (np.mean(clipped == 0, axis=(1, 2, 3)) >= 0.6 - 1 / 784).all()  # pixels below the 60th percentile
    x = np.arange(10, dtype=np.float32).reshape(1, 10, 1, 1)
    np.testing.assert_array_equal(np.asarray(R.clip_weak_pixels(x, 30)).ravel(), [0, 0, 0, 3, 4, 5, 6, 7, 8, 9])
    for bad in (-1, 100.5, 250):
        with pytest.raises(ValueError, match="percentile, 0..100"):
            R.Regularization(clip_percentile=bad)


def test_l2_decay_and_lp_penalty_darken_the_image(mnist_model):
    plain, _ = run(mnist_model, R.Regularization())
    decayed, _ = run(mnist_model, R.Regularization(l2_decay=0.05))
    penalized, _ = run(mnist_model, R.Regularization(lp_weight=5.0, lp=2.0))
    assert decayed.mean() < plain.mean() and penalized.mean() < plain.mean()


def test_class_images_convince_the_model(mnist_model):
    images, trajectory = maximize.maximize_classes(mnist_model, steps=200, progress=False)
    probs = mnist_model.predict(images, verbose=0)
    assert (probs[np.arange(10), np.arange(10)] >= 0.9).all()
    assert (trajectory[-1] > trajectory[0]).all()
    assert mnist_model.get_layer("predictions").activation is keras.activations.softmax  # untouched


def test_same_seed_same_images(mnist_model):
    a, _ = run(mnist_model, maximize.DEFAULT, seed=3)
    b, _ = run(mnist_model, maximize.DEFAULT, seed=3)
    c, _ = run(mnist_model, maximize.DEFAULT, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_neuron_fourier_restart_and_diversity(mnist_model):
    images, trajectory = maximize.maximize_neuron(mnist_model, "conv2", 3, (5, 5), starts=2, steps=30, progress=False)
    assert images.shape == (2, 28, 28, 1) and (trajectory[-1] > trajectory[0]).all()
    with pytest.raises(ValueError, match=r"positions \(0..10, 0..10\)"):
        maximize.maximize_neuron(mnist_model, "conv2", 3, (11, 0), steps=1, progress=False)
    fourier, traj = maximize.maximize_channels(mnist_model, "conv2", [0, 1], steps=30, parametrization="fourier",
                                               progress=False)
    assert (traj[-1] > traj[0]).all() and 0 <= fourier.min() and fourier.max() <= 1
    again, traj2 = maximize.maximize_channels(mnist_model, "conv2", [0, 1], steps=10, start=fourier,
                                              parametrization="fourier", progress=False)
    np.testing.assert_allclose(traj2[0], traj[-1], rtol=1e-2, atol=1e-2)  # the restart begins where we stopped
    many, _ = maximize.maximize_channels(mnist_model, "conv2", [0], starts=3, steps=20, progress=False)
    assert many.shape[0] == 3 and not np.allclose(many[0], many[1])


def test_multi_output_needs_a_head():
    model = models.build("seed001_multi1", compile=False)
    with pytest.raises(ValueError, match="choose head= one of"):
        maximize.maximize_classes(model, steps=1, progress=False)
    images, _ = maximize.maximize_classes(model, head="angle", steps=3, progress=False)
    assert images.shape == (12, 28, 28, 3)


def test_start_images():
    shape = (4, 28, 28, 1)
    smooth = R.start_images("lowfreq", shape, length_scale=7)
    rough = R.start_images("uniform", shape)
    assert filters.high_frequency_energy(smooth).mean() < 0.2 * filters.high_frequency_energy(rough).mean()
    assert smooth.min() == 0.0 and smooth.max() == 1.0
    np.testing.assert_array_equal(R.start_images("multiscale", shape, seed=1), R.start_images("multiscale", shape, seed=1))
    with pytest.raises(ValueError, match="unknown start"):
        R.start_images("pink", shape)


def test_option_errors(mnist_model):
    with pytest.raises(TypeError, match="unknown options"):
        maximize.maximize_channels(mnist_model, "conv1", steps=1, learning_rate=3)
    with pytest.raises(ValueError, match="layers: .*conv3"):
        maximize.maximize_channels(mnist_model, "conv9", steps=1)
    with pytest.raises(ValueError, match="channels.*0..31"):
        maximize.maximize_channels(mnist_model, "conv1", [32], steps=1)


def test_contrast_enhancement_and_reached_activation(mnist_model):
    ramp = np.linspace(0.4, 0.6, 100).reshape(1, 10, 10, 1)
    enhanced = maximize.enhance_contrast(ramp, low=0, high=100)
    assert enhanced.min() == 0.0 and enhanced.max() == 1.0
    np.testing.assert_allclose(enhanced, (ramp - 0.4) / 0.2, atol=1e-9)
    images = np.zeros((2, 28, 28, 1), np.float32)
    np.testing.assert_allclose(maximize.reached_activation(mnist_model, images, "dense1", [0, 1]),
                               activations.layer_activations(mnist_model, images, "dense1")["dense1"][[0, 1], [0, 1]])


def test_similarity_to_siblings_by_hand():
    import tensorflow as tf

    from helpers.regularizers import similarity_to_siblings

    a = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    images = tf.constant(np.concatenate([a, a * 2 + 1, -a, a]))  # groups: 0, 0, 0, 1
    sims = similarity_to_siblings(images, tf.constant([0, 0, 0, 1], tf.int64)).numpy()
    # image 0 correlates +1 with image 1 and -1 with image 2: mean 0; the lone image 3 scores 0
    np.testing.assert_allclose(sims, [0.0, 0.0, -1.0, 0.0], atol=1e-6)


def test_diversity_pushes_starts_apart(mnist_model):
    from dataclasses import replace

    def correlation(images):
        flat = images.reshape(len(images), -1) - images.reshape(len(images), -1).mean(axis=1, keepdims=True)
        flat /= np.linalg.norm(flat, axis=1, keepdims=True)
        return (flat @ flat.T)[np.triu_indices(len(images), 1)].mean()

    options = dict(starts=3, steps=60, start="multiscale", length_scale=8, progress=False)
    same, _ = maximize.maximize_channels(mnist_model, "conv3", [5], **options)
    apart, trajectory = maximize.maximize_channels(mnist_model, "conv3", [5], **options,
                                                   regularization=replace(maximize.DEFAULT, diversity=0.5))
    assert correlation(apart) < correlation(same) - 0.2
    assert (trajectory[-1] > trajectory[0]).all()


def test_local_contrast_shows_edges_where_a_stretch_changes_nothing():
    step = np.zeros((1, 12, 12, 1))
    step[:, :, 6:] = 1.0  # saturated: already spans 0..1
    np.testing.assert_allclose(maximize.enhance_contrast(step), step)
    local = maximize.local_contrast(step)
    assert local.min() == 0.0 and local.max() == 1.0
    assert local[0, 5, 5, 0] == 0.0 and local[0, 5, 6, 0] == 1.0  # darkest and brightest beside the edge
    np.testing.assert_allclose(local[0, :, 0, 0], local[0, 0, 0, 0])  # flat far from the edge, along every row
    assert np.abs(local - step).mean() > 0.3
    np.testing.assert_array_equal(maximize.local_contrast(np.full((2, 5, 5, 3), 0.4)), np.zeros((2, 5, 5, 3)))
