import numpy as np
import pytest

from helpers import featuremaps, statistics


def test_normalize_channel_on_a_known_array():
    channel = np.array([[0.0, 1.0], [2.0, 3.0]])  # mean 1.5, std sqrt(1.25)
    expected = np.clip((channel - 1.5) / np.sqrt(1.25) * 64 + 128, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(featuremaps.normalize_channel(channel), expected)
    assert featuremaps.normalize_channel(channel).tolist() == [[42, 99], [156, 213]]
    assert featuremaps.normalize_channel(np.zeros((3, 3))).tolist() == [[128] * 3] * 3  # no NaN
    spiky = np.zeros((10, 10))
    spiky[0, 0] = 100.0
    assert featuremaps.normalize_channel(spiky)[0, 0] == 255  # clipped


@pytest.mark.parametrize("channels, ncols, axes", [(32, 16, 32), (6, 4, 8), (7, 16, 7), (1, 8, 1)])
def test_grid_works_for_any_channel_count(channels, ncols, axes):
    activation = np.random.default_rng(0).random((5, 5, channels))
    fig = featuremaps.feature_map_grid(activation, ncols=ncols)
    images = [ax for ax in fig.axes if ax.get_images()]
    assert len(fig.axes) == axes and len(images) == channels


def test_raw_grid_shares_one_scale_with_colourbar():
    activation = np.stack([np.zeros((4, 4)), np.full((4, 4), 2.0), np.full((4, 4), 4.0)], axis=-1)
    fig = featuremaps.feature_map_grid(activation, mode="raw")
    limits = {im.get_clim() for ax in fig.axes for im in ax.get_images()}
    assert limits == {(0.0, 4.0)}
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)
    with pytest.raises(ValueError, match="one image's activation"):
        featuremaps.feature_map_grid(activation[None])


def test_show_channel_checks_the_index():
    with pytest.raises(ValueError, match="channels 0..2"):
        featuremaps.show_channel(np.zeros((4, 4)), np.zeros((2, 2, 3)), 3, "conv1")


def test_sparsity_on_constructed_activations():
    act = np.zeros((2, 3, 3, 4))
    act[0, :, :, 0] = 1.0  # image 0: channel 0 alive
    act[1, 1, 1, 0] = 2.0  # image 1: channels 0 and 2 alive
    act[1, 0, 0, 2] = 1.0
    result = statistics.sparsity(act)
    np.testing.assert_allclose(result["per_image"], [0.75, 0.5])
    assert result["mean"] == 0.625 and result["dead_on_all"] == 0.5  # channels 1 and 3 never fire
    assert result["zero_fraction"] == pytest.approx(1 - 11 / 72)
    best, value = statistics.most_activated_channel(act)
    assert best.tolist() == [0, 0] and value.tolist() == [1.0, 2 / 9]


def test_class_patterns_and_similarity():
    act = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    patterns = statistics.class_mean_patterns(act, [0, 0, 1, 2])
    assert patterns.tolist() == [[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]]
    sim = statistics.cosine_similarity_matrix(patterns)
    np.testing.assert_allclose(sim, [[1, 0, 2 ** -0.5], [0, 1, 2 ** -0.5], [2 ** -0.5, 2 ** -0.5, 1]])
    with pytest.raises(ValueError, match=r"no image of class \[1\]"):
        statistics.class_mean_patterns(act, [0, 0, 2, 2])


def test_show_most_activated_picks_the_channel_with_the_highest_mean():
    from helpers.featuremaps import show_most_activated

    acts = np.zeros((2, 4, 4, 3), np.float32)
    acts[0, :, :, 2] = 1.0          # image 0: channel 2, mean 1
    acts[1, 0, 0, 1] = 8.0          # image 1: channel 1, mean 8/16
    acts[1, :, :, 0] = 0.25         # channel 0 has mean 0.25 < 0.5
    fig, choices = show_most_activated(np.zeros((2, 8, 8, 3)), {"conv": acts}, titles=["a", "b"])
    best, mean = choices["conv"]
    assert best.tolist() == [2, 1] and mean.tolist() == [1.0, 0.5]
    assert [ax.get_title() for ax in fig.axes[:4]] == ["a", "conv ch 2 (mean 1.00)", "b", "conv ch 1 (mean 0.50)"]


def test_encoding_silent_channels_grey_and_similarity_colour_maps():
    import matplotlib.pyplot as plt
    from helpers import featuremaps, statistics
    act = np.zeros((4, 4, 2))
    act[1, 2, 1] = 3.0  # channel 0 silent, channel 1 not
    fig = featuremaps.feature_map_grid(act, ncols=2)
    silent, live = (ax.images[0] for ax in fig.axes[:2])
    assert silent.get_cmap().name == "gray" and np.all(silent.get_array() == 0.6)
    assert live.get_cmap().name == "viridis"
    plt.close(fig)
    fig = statistics.plot_similarity(np.array([[1.0, 0.2], [0.2, 1.0]]), "non-negative")
    assert fig.axes[0].images[0].get_cmap().name == "viridis" and fig.axes[0].images[0].get_clim() == (0, 1)
    plt.close(fig)
    fig = statistics.plot_similarity(np.array([[1.0, -0.2], [-0.2, 1.0]]), "signed")
    assert fig.axes[0].images[0].get_cmap().name == "coolwarm" and fig.axes[0].images[0].get_clim() == (-1, 1)
    plt.close(fig)


def test_unit_order_groups_units_by_their_class():
    from helpers import statistics
    patterns = np.array([[0.0, 5.0, 0.0, 1.0, 0.0],
                         [2.0, 0.0, 0.0, 3.0, 0.0]])
    # class 0 owns unit 1 (5.0); class 1 owns units 3 (3.0) and 0 (2.0); units 2 and 4 are silent
    assert statistics.unit_order(patterns).tolist() == [1, 3, 0, 2, 4]
