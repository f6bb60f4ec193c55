"""One dead/live decision for counts, titles and marks; orders stated only when paired intervals separate."""

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest

from helpers import comparison, groundtruth, live_channels


def test_titles_never_print_zero_for_a_live_channel():
    values = [0.0, 1e-4, 0.04, 0.049, 3.21, 12.6, -0.0]
    assert live_channels.titles(values) == ["0: zero", "1: 0.00010", "2: 0.040", "3: 0.049", "4: 3.2", "5: 13", "6: zero"]
    assert live_channels.titles([0.5, 0.0], channels=[7, 9]) == ["7: 0.50", "9: zero"]
    assert live_channels.count_at_zero(values) == 2
    with pytest.raises(ValueError, match="NaN"):
        live_channels.at_zero([np.nan])
    with pytest.raises(ValueError, match="channel indices"):
        live_channels.titles([1.0, 2.0], channels=[1])


def test_the_gallery_marks_exactly_the_channels_the_count_calls_zero():
    rng = np.random.default_rng(0)
    values = np.where(rng.random(40) < 0.3, 0.0, rng.random(40) * 0.06)  # many live values below 0.05
    images = rng.random((40, 6, 6))
    fig, marked = live_channels.show_patterns(images, values, "test patterns")
    grey = [ax for ax in fig.axes if ax.get_title() and ax.title.get_color() == live_channels.ZERO_COLOUR]
    assert marked == live_channels.count_at_zero(values) == len(grey) == int((values <= 0).sum())
    assert all(ax.get_title().endswith(": zero") for ax in grey)
    live_titles = [ax.get_title() for ax in fig.axes if ax.get_title() and ax not in grey]
    assert len(live_titles) == 40 - marked and not any(t.endswith((": 0.0", ": 0", ": zero")) for t in live_titles)
    assert f"({marked} of 40 at zero, titled in grey)" in fig._suptitle.get_text()
    fig, n = live_channels.show_patterns(images[:3], [0.0, 1.0, 2.0], "moved", marked=[False, True, False], marked_word="unmoved")
    assert n == 1 and [ax.get_title() for ax in fig.axes[:3]] == ["0: zero", "1: unmoved", "2: 2.0"]


def test_paired_difference_is_the_interval_of_the_per_image_differences():
    a, b = np.array([0.5, 0.7, 0.2, 0.9]), np.array([0.4, 0.5, 0.3, 0.6])
    mean, low, high = comparison.paired_difference(a, b, seed=3)
    assert mean == pytest.approx(0.125)
    assert (low, high) == pytest.approx(groundtruth.bootstrap_interval(a - b, seed=3)[1:])
    assert comparison.paired_difference(a + 0.1, a) == pytest.approx((0.1, 0.1, 0.1))
    with pytest.raises(ValueError, match="one score per image"):
        comparison.paired_difference(a, b[:3])


def test_paired_scores_separate_where_the_separate_intervals_overlap_and_not_otherwise():
    rng = np.random.default_rng(1)
    shared = rng.random(200)  # images differ a lot, the methods little
    a, b = shared + 0.02 + rng.normal(0, 0.01, 200), shared
    ia, ib = groundtruth.bootstrap_interval(a), groundtruth.bootstrap_interval(b)
    assert ia[1] < ib[2]  # the separate intervals overlap ...
    sign, sentence = comparison.compare("A", a, "B", b, score="energy")
    assert sign == 1 and sentence.startswith("A's energy is higher than B's (difference +0.0")
    assert comparison.paired_difference(a, b)[0] == pytest.approx(0.02, abs=0.002)
    assert "95 % interval" in sentence
    assert sentence.endswith("200 images)")
    noise = rng.normal(0, 0.2, 200)
    sign, sentence = comparison.compare("A", shared + noise, "B", shared - noise[::-1], score="energy")
    assert sign == 0 and "cannot be told apart on energy" in sentence
    assert comparison.order(b, a) == -1


def test_ranking_groups_neighbours_that_cannot_be_told_apart():
    rng = np.random.default_rng(2)
    base = rng.random(300)
    scores = {"low": base - 0.3, "mid1": base + rng.normal(0, 0.3, 300), "mid2": base + rng.normal(0, 0.3, 300),
              "high": base + 0.5}
    assert comparison.ranking(scores) == [["high"], ["mid1", "mid2"], ["low"]] or \
        comparison.ranking(scores) == [["high"], ["mid2", "mid1"], ["low"]]
    assert comparison.ranking(scores, higher_is_better=False)[0] == ["low"]
    with pytest.raises(ValueError, match="at least one"):
        comparison.ranking({})


def test_mcnemar_counts_only_the_items_one_classifier_gets_right_and_gives_the_exact_binomial_p():
    from helpers import comparison

    a = np.array([1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0], bool)  # 7 right where b is wrong, 1 the other way
    b = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0], bool)  # and 2 both right, 2 both wrong
    only_a, only_b, p = comparison.mcnemar(a, b)
    assert (only_a, only_b) == (7, 1)
    assert p == pytest.approx(2 * (8 + 1) / 2 ** 8)  # P(X >= 7) + P(X <= 1) for X ~ Bin(8, 1/2)
    assert comparison.mcnemar(b, a)[2] == pytest.approx(p)
    assert comparison.mcnemar(a, a) == (0, 0, 1.0)
    with pytest.raises(ValueError, match="one result per test item"):
        comparison.mcnemar(a, b[:5])
