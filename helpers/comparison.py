"""Comparing two methods on the same images: an order is stated only when the paired interval says so.

Two methods scored on the same images give paired scores. Whether A is higher than B is a
question about the per-image differences ``a - b``: their mean and its bootstrap interval over the
images. The order is asserted only when the interval lies on one side of zero; otherwise the two
cannot be told apart with these images, and the sentence says so. This is stricter than reading two
separate intervals (which may overlap while the paired one separates, or the other way round for
very noisy pairs), and it is the rule chapter 05 uses for every "A beats B". Two classifiers on the same test items are
compared with the exact McNemar test (:func:`mcnemar`).
"""

import numpy as np
import scipy.stats

from helpers.groundtruth import bootstrap_interval


def paired_difference(a, b, level=0.95, resamples=2000, seed=0):
    """Mean of the per-image differences ``a - b`` and its bootstrap interval.

    Args:
        a, b: one score per image for two methods, on the same images in the same order.
        level: confidence level of the interval.
        resamples: bootstrap resamples of the images.
        seed: seed of the resampling.

    Returns:
        ``(mean, low, high)`` of ``a - b``.
    """
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired scores need one score per image for both methods; got {a.size} and {b.size}")
    return bootstrap_interval(a - b, level=level, resamples=resamples, seed=seed)


def order(a, b, level=0.95, resamples=2000, seed=0):
    """``1`` if ``a`` is higher than ``b`` (the paired interval lies above 0), ``-1`` if lower, else ``0``."""
    _, low, high = paired_difference(a, b, level, resamples, seed)
    return 1 if low > 0 else -1 if high < 0 else 0


def compare(name_a, a, name_b, b, score="score", level=0.95, resamples=2000, seed=0, unit="images"):
    """One sentence comparing two methods' paired scores, with the interval of the difference.

    Args:
        name_a, name_b: the methods' names, as the sentence should show them.
        a, b: their per-image scores on the same images.
        score: what the scores are, e.g. ``"pointing game"``.
        unit: what was paired, as the sentence counts it (``"images"``; ``"channels"`` for patterns).

    Returns:
        ``(sign, sentence)``: ``sign`` as :func:`order`; the sentence says "higher", "lower" or
        "cannot be told apart", with the mean difference, its interval and the number of images.
    """
    mean, low, high = paired_difference(a, b, level, resamples, seed)
    sign = 1 if low > 0 else -1 if high < 0 else 0
    verdict = {1: f"{name_a}'s {score} is higher than {name_b}'s",
               -1: f"{name_a}'s {score} is lower than {name_b}'s",
               0: f"{name_a} and {name_b} cannot be told apart on {score}"}[sign]
    n = np.asarray(a).size
    return sign, f"{verdict} (difference {mean:+.3f}, {level * 100:.0f} % interval [{low:+.3f}, {high:+.3f}], {n} {unit})"


def mcnemar(correct_a, correct_b):
    """Exact McNemar test: can two classifiers scored on the same test items be told apart?

    Only the items exactly one of them gets right carry information: were the two equally accurate,
    each such item would be a fair coin between them, so the two-sided binomial p-value of the split
    says how surprising the observed difference is (Dietterich 1998 recommends this test for one
    training run of each classifier; it does not cover the spread between training runs).

    Args:
        correct_a, correct_b: booleans, one per test item, the same items in the same order.

    Returns:
        ``(only_a, only_b, p)``: items only A gets right, items only B gets right, the p-value
        (1.0 when no item separates them).
    """
    a, b = np.asarray(correct_a, bool).ravel(), np.asarray(correct_b, bool).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired results need one result per test item for both; got {a.size} and {b.size}")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    p = 1.0 if only_a + only_b == 0 else float(scipy.stats.binomtest(only_a, only_a + only_b, 0.5).pvalue)
    return only_a, only_b, p


def ranking(scores, higher_is_better=True, level=0.95, resamples=2000, seed=0):
    """Methods sorted by mean score, grouped where neighbours cannot be told apart.

    Neighbours in the sorted order fall into one group when the paired interval of their
    difference contains zero; a new group starts only where the next method is separated from the
    previous one.

    Args:
        scores: dict method name -> per-image scores (all on the same images).
        higher_is_better: sort from the highest mean (True) or the lowest (False).

    Returns:
        A list of groups, each a list of method names, best group first.
    """
    if not scores:
        raise ValueError("ranking needs at least one method's scores")
    names = sorted(scores, key=lambda k: float(np.mean(scores[k])), reverse=higher_is_better)
    groups = [[names[0]]]
    for previous, current in zip(names, names[1:]):
        sign = order(scores[previous], scores[current], level, resamples, seed)
        separated = sign == (1 if higher_is_better else -1)
        if separated:
            groups.append([current])
        else:
            groups[-1].append(current)
    return groups
