"""Shift tolerance and repeated pieces of optimized patterns, on hand-made models and images."""

import keras
import numpy as np
import pytest

from helpers import pattern_pieces


pytestmark = pytest.mark.usefixtures("seeded_session")


def window_model():
    """One unit that sums the 2x2 centre block of an 8x8 image (an 8x8 'valid' kernel)."""
    inputs = keras.Input((8, 8, 1))
    out = keras.layers.Conv2D(1, 8, activation="relu", name="window")(inputs)
    model = keras.Model(inputs, out)
    kernel = np.zeros((8, 8, 1, 1), np.float32)
    kernel[3:5, 3:5] = 1.0
    model.get_layer("window").set_weights([kernel, np.zeros(1, np.float32)])
    return model


def test_shift_tolerance_of_a_place_bound_and_a_uniform_pattern():
    model = window_model()
    block = np.zeros((1, 8, 8, 1), np.float32)
    block[0, 3:5, 3:5] = 1.0
    uniform = np.ones((1, 8, 8, 1), np.float32)
    dark = np.zeros((1, 8, 8, 1), np.float32)
    kept = pattern_pieces.shift_tolerance(model, "window", np.concatenate([block, uniform, dark]), [0, 0, 0], shift=2)
    # moved by 2 px in any of the 8 directions, the 2x2 block leaves the window entirely: nothing is kept;
    # a uniform image (edges repeated into the opened space) keeps everything; a dark one is undefined
    assert kept[0] == 0.0 and kept[1] == pytest.approx(1.0)
    assert np.isnan(kept[2])
    # moved by 1 px, the block overlaps the window by 2 pixels (straight moves) or 1 (diagonal moves): 3/8
    one = pattern_pieces.shift_tolerance(model, "window", block, [0], shift=1)
    assert one[0] == pytest.approx((4 * 0.5 + 4 * 0.25) / 8)


def test_self_similarity_finds_a_tiled_piece_and_a_rotation():
    rng = np.random.default_rng(0)
    piece = rng.random((5, 5))
    tiled = np.tile(piece, (4, 4))[:16, :16]  # the piece repeated every 5 pixels
    shift, _ = pattern_pieces.self_similarity(tiled, max_shift=6, min_shift=3)
    assert shift == pytest.approx(1.0)  # shifted by 5 pixels it matches itself exactly
    y, x = np.mgrid[-7.5:8, -7.5:8]
    radial = np.cos(np.hypot(y, x))  # unchanged by a 90-degree rotation
    assert pattern_pieces.self_similarity(radial)[1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="square, non-constant"):
        pattern_pieces.self_similarity(np.ones((8, 8)))


def test_surrogates_keep_the_pixel_values_and_lose_the_repetition():
    rng = np.random.default_rng(1)
    tiled = np.tile(rng.random((5, 5)), (4, 4))[:16, :16]
    fakes = pattern_pieces.surrogates(tiled, count=5, seed=0)
    assert fakes.shape == (5, 16, 16)
    for fake in fakes:  # the same histogram exactly
        np.testing.assert_array_equal(np.sort(fake.ravel()), np.sort(tiled.ravel()))
    result = pattern_pieces.repeated_piece(tiled, count=19, seed=0)
    assert result["shifted_piece"] and result["shift"] == pytest.approx(1.0) and result["shift_null"] < 0.9
    noise = pattern_pieces.repeated_piece(rng.random((16, 16)), count=19, seed=0)
    assert not noise["shifted_piece"] and noise["shift"] < 0.5
