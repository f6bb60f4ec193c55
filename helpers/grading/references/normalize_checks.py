"""Checks of chapter 02's first exercise: the per-channel normalization of a feature map for display.

The reference is the course's own ``helpers.featuremaps.normalize_channel`` (the function chapter 02
teaches with); the checks draw a random map, a constant map and a map with one very bright pixel.
"""

import numpy as np

from helpers.grading.references.checks import Check, close


def _verify_normalize(what):
    def verify(out, channel):
        from helpers.featuremaps import normalize_channel

        close(out, normalize_channel(channel), 1, what)
    return verify


def _constant_map(rng):
    shape = tuple(int(v) for v in rng.integers(4, 10, 2))
    return (np.full(shape, float(rng.normal(0, 10))),)


def _one_bright_pixel(rng):
    channel = rng.random((10, 10)) * 0.1
    channel[tuple(rng.integers(0, 10, 2))] = rng.uniform(500, 2000)
    return (channel,)


NORMALIZE_FEATURE_MAP = (
    Check("random map", lambda rng: (rng.gamma(1.0, 2.0, (13, 13)),),
          _verify_normalize("a 13x13 map (rounding may differ by 1)")),
    Check("constant map", _constant_map, _verify_normalize("a constant map (it must become uniform grey 128)"),
          needs="random map"),
    Check("clipping", _one_bright_pixel, _verify_normalize("a 10x10 map with one very bright pixel (clipped)")),
)
