"""Scoring attribution maps: against ground truth, by faithfulness, and by a sanity check.

- :func:`pointing_game` and :func:`energy_in_mask`: does the map point at the pixels
  that define the class (the Line data's masks)?
- :func:`deletion_insertion`: does removing the top-ranked pixels destroy the score
  quickly, and does inserting them restore it quickly (Petsiuk et al. 2018)?
- :func:`cascading_randomization`: does the map change when the model's weights are
  randomized from the top layer down (Adebayo et al. 2018)? A method that does not
  depend on the model fails it.
- :func:`bootstrap_interval`: how far a mean score over these images could move with
  other images (a 95 % bootstrap interval).
"""

import warnings

import keras
import numpy as np
import scipy.ndimage
import scipy.stats

from helpers.arguments import check_seed
from helpers import graph
from helpers.graph import FlatGraph
from helpers.modelparts import check_images, finite_number, output_names, positive_int
from helpers.scoring import pick_scores, probabilities, score_model, target_indices


def _check(maps, masks):
    maps, raw = np.asarray(maps, np.float64), np.asarray(masks)
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"masks must be boolean arrays (n, H, W), True on the object; got dtype {raw.dtype}")
    if raw.dtype.kind == "f" and not np.isin(raw, (0.0, 1.0)).all():
        bad = int((~np.isfinite(raw)).sum())
        raise ValueError(f"masks must hold only 0/1 or True/False; got {bad} NaN or infinite and "
                         f"{int(np.isfinite(raw).sum() - np.isin(raw, (0.0, 1.0)).sum())} other values: "
                         "pass masks > 0.5 (NaN counts as outside) or np.nan_to_num(masks) > 0.5")
    masks = raw.astype(bool)
    if maps.shape != masks.shape or maps.ndim != 3:
        raise ValueError(f"maps {maps.shape} and masks {masks.shape} must have the same shape (n, H, W)")
    if not np.isfinite(maps).all():
        raise ValueError("the maps contain NaN or infinite values; fix the method that made them")
    return maps, masks


def pointing_game(maps, masks, tolerance=1):
    """True where the map's maximum lies on the mask, grown by ``tolerance`` pixels."""
    maps, masks = _check(maps, masks)
    tolerance = positive_int(tolerance, "tolerance (pixels the mask is grown by)", minimum=0)
    if tolerance:
        masks = np.stack([scipy.ndimage.binary_dilation(m, iterations=tolerance) for m in masks])
    flat = maps.reshape(len(maps), -1)
    peak = flat.argmax(axis=1)
    hit = masks.reshape(len(masks), -1)[np.arange(len(maps)), peak]
    return hit & (flat.max(axis=1) > 0)  # an all-zero map points nowhere


def energy_in_mask(maps, masks):
    """Fraction of each map's total value that falls on the mask (0 for an all-zero map)."""
    maps, masks = _check(maps, masks)
    total = maps.reshape(len(maps), -1).sum(axis=1)
    inside = (maps * masks).reshape(len(maps), -1).sum(axis=1)
    return np.divide(inside, total, out=np.zeros_like(total, dtype=np.float64), where=total > 0)


def deletion_insertion(model, images, maps, target=None, head=None, fractions=20, fill=0.0, batch_size=256):
    """Deletion and insertion curves of the target's probability, and their areas.

    The probability is the softmax of the pre-softmax scores (for a one-unit sigmoid head:
    ``p`` for target 1, ``1 - p`` for target 0).

    Pixels are ranked by the map (ties broken by position). Deletion sets the top
    ``k`` pixels to ``fill``; insertion starts from an image of ``fill`` and puts the
    top ``k`` pixels back; ``k`` runs over ``fractions + 1`` evenly spaced fractions.

    Returns:
        dict with ``fractions`` ``(fractions + 1,)``, ``deletion`` and ``insertion``
        curves ``(n, fractions + 1)`` and their areas ``deletion_auc`` and
        ``insertion_auc`` ``(n,)`` (trapezoid rule; lower deletion and higher
        insertion mean a more faithful map).
    """
    images = check_images(model, images)
    fractions = positive_int(fractions, "fractions (the number of steps of the curves)")
    fill = finite_number(fill, "fill")
    batch_size = positive_int(batch_size, "batch_size")
    maps = np.asarray(maps, np.float64)
    if maps.shape != images.shape[:3]:
        raise ValueError(f"maps {maps.shape} must be one (H, W) map per image: {images.shape[:3]}")
    if not np.isfinite(maps).all():
        raise ValueError("the maps contain NaN or infinite values: they cannot rank pixels")
    n, h, w = maps.shape
    logits = score_model(model, head)
    indices = target_indices(target, logits.predict(images, batch_size=batch_size, verbose=0))
    order = np.argsort(-np.asarray(maps).reshape(n, -1), axis=1, kind="stable")
    steps = np.linspace(0, 1, fractions + 1)
    curves = {"deletion": np.zeros((n, len(steps))), "insertion": np.zeros((n, len(steps)))}
    for j, fraction in enumerate(steps):
        chosen = np.zeros((n, h * w), bool)
        k = int(round(fraction * h * w))
        np.put_along_axis(chosen, order[:, :k], True, axis=1)
        chosen = chosen.reshape(n, h, w, 1)
        for kind, batch in (("deletion", np.where(chosen, fill, images)), ("insertion", np.where(chosen, images, fill))):
            probs = probabilities(logits, logits.predict(batch, batch_size=batch_size, verbose=0))
            curves[kind][:, j] = np.asarray(pick_scores(probs, indices, n))
    return {"fractions": steps, **curves,
            "deletion_auc": np.trapezoid(curves["deletion"], steps, axis=1),
            "insertion_auc": np.trapezoid(curves["insertion"], steps, axis=1)}


def randomized_maps(model, images, method, target=None, seed=0, **method_options):
    """The maps of ``method`` as the model's weights are randomized layer by layer from the output down.

    Args:
        model: the trained model (not modified: a copy is randomized).
        images: a batch of images.
        method: an attribution function with the common call shape.
        target: explained class(es); fixed to the trained model's prediction when None,
            so every step explains the same class.
        seed: seed of the random weights.

    Returns:
        list of ``(step name, maps)``: ``("original", maps of the trained model)``, then one
        entry per layer with weights, named after it, where every layer down to that one has
        been re-initialized with random weights of the same spread.
    """
    if not callable(method):
        raise TypeError(f"method must be an attribution function with the call shape method(model, images, "
                        f"target=...); got {method!r}. Pass e.g. attribution.saliency, or "
                        "attribution.METHODS[name] for a method given by name")
    images = check_images(model, images)
    rng = np.random.default_rng(check_seed(seed))
    if target is None:  # the trained model's prediction, from its pre-softmax scores (any head, sigmoid too)
        target = score_model(model, method_options.get("head")).predict(images, verbose=0).argmax(axis=-1)
    steps = [("original", method(model, images, target=target, **method_options))]
    flat = FlatGraph(model)  # a private flat copy (not the cached one): its layers may be randomized
    names = output_names(model)
    copy = keras.Model(flat.input, flat.outputs[0] if len(flat.outputs) == 1 else dict(zip(names, flat.outputs)))
    with graph.tracked_weights(copy) as changed:  # each step copies one layer's weights, not every layer's
        for path in reversed(flat.paths):
            layer = flat.clone(path)
            weights = layer.get_weights() if layer is not None and hasattr(layer, "get_weights") else []
            if not weights:
                continue
            # kernels, biases, scales and shifts get random values of the same spread; the
            # running statistics of batch normalization keep theirs (a variance must stay positive)
            layer.set_weights([w if "moving" in var.name else rng.normal(0.0, np.std(w) or 0.05, w.shape)
                               .astype(w.dtype) for var, w in zip(layer.weights, weights)])
            changed.append(layer)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a randomized model often has all-zero maps; that is the point
                steps.append((path, method(copy, images, target=target, **method_options)))
    return steps


def similarity_to_original(steps, support="all"):
    """Mean rank correlation of every step's maps with the original maps (see :func:`randomized_maps`).

    Args:
        steps: the list :func:`randomized_maps` returns.
        support: ``"all"`` pixels, or ``"either"``: only the pixels non-zero in either map
            (see :func:`rank_correlation`).

    Returns:
        list of ``(step name, mean Spearman correlation, number of undefined pairs)``; pairs
        whose correlation is undefined (a constant map) are left out of the mean (NaN when all are).
    """
    original = steps[0][1]
    rows = []
    for name, maps in steps:
        rhos = np.array([rank_correlation(a, b, support) for a, b in zip(original, maps)])
        defined = rhos[~np.isnan(rhos)]
        rows.append((name, float(defined.mean()) if defined.size else float("nan"), int(np.isnan(rhos).sum())))
    return rows


def cascading_randomization(model, images, method, target=None, seed=0, support="all", **method_options):
    """Randomize the weights layer by layer from the output down and compare the maps.

    :func:`randomized_maps` followed by :func:`similarity_to_original`.

    Returns:
        list of ``(layer name, mean Spearman rank correlation with the original maps,
        number of undefined pairs)``, starting with ``("original", 1.0, ...)``; each later
        step has every layer down to the named one re-initialized with random weights. A
        constant map (all zeros) has no ranking, so its correlation is undefined: such pairs
        are left out of the mean (NaN when every pair is undefined) and counted instead.
    """
    return similarity_to_original(randomized_maps(model, images, method, target, seed, **method_options), support)


def rank_correlation(a, b, support="all"):
    """Spearman rank correlation of two maps.

    Args:
        a, b: two maps of the same shape.
        support: ``"all"`` compares every pixel; ``"either"`` only the pixels that are non-zero
            in at least one of the maps. Maps that are zero on most pixels (Integrated Gradients
            on a black background) share a large block of tied zeros, which pushes the
            correlation over all pixels towards 1 whatever the few non-zero pixels do;
            ``"either"`` measures the agreement where the maps say something.

    Returns:
        float; NaN (undefined) when either map is constant on the compared pixels (e.g. all
        zero: such a map ranks nothing) or fewer than 3 pixels are compared.
    """
    a, b = np.ravel(a), np.ravel(b)
    if a.shape != b.shape:
        raise ValueError(f"maps of {a.size} and {b.size} pixels cannot be compared")
    if support not in ("all", "either"):
        raise ValueError(f"support must be 'all' or 'either' (pixels non-zero in either map); got {support!r}")
    if support == "either":
        keep = (a != 0) | (b != 0)
        a, b = a[keep], b[keep]
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(scipy.stats.spearmanr(a, b).statistic)


def bootstrap_interval(values, level=0.95, resamples=2000, seed=0):
    """Mean of per-image scores and its bootstrap confidence interval (percentile method).

    Args:
        values: one score per image (pointing-game hits, energies, AUCs).
        level: confidence level of the interval.
        resamples: bootstrap resamples of the images.
        seed: seed of the resampling.

    Returns:
        ``(mean, low, high)``; a constant score gives ``(v, v, v)``.
    """
    values = np.asarray(values, np.float64).ravel()
    if values.size < 2 or not np.isfinite(values).all():
        raise ValueError(f"need at least 2 finite scores for an interval; got {values.size} "
                         f"({int((~np.isfinite(values)).sum())} not finite)")
    if np.ptp(values) == 0:
        return float(values[0]), float(values[0]), float(values[0])
    result = scipy.stats.bootstrap((values,), np.mean, confidence_level=level, n_resamples=resamples,
                                   method="percentile", rng=np.random.default_rng(check_seed(seed)))
    return float(values.mean()), float(result.confidence_interval.low), float(result.confidence_interval.high)
