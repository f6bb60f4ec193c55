"""helpers.orientation on hand-made kernels with known projections."""

import numpy as np
import pytest

from helpers.orientation import SOBEL_VERTICAL_EDGE, edge_orientation


def test_sobel_kernels_and_a_blob_get_their_exact_strengths_and_labels():
    blob = np.full((3, 3), 0.5)  # uniform: no edge at all once its mean is removed
    diagonal = np.array([[0.0, 1.0, 2.0], [-1.0, 0.0, 1.0], [-2.0, -1.0, 0.0]])
    result = edge_orientation(np.stack([SOBEL_VERTICAL_EDGE, SOBEL_VERTICAL_EDGE.T, -2 * SOBEL_VERTICAL_EDGE,
                                        blob, diagonal])[..., None])
    np.testing.assert_allclose(result["vertical"], [12.0, 0.0, 24.0, 0.0, 8.0])
    np.testing.assert_allclose(result["horizontal"], [0.0, 12.0, 0.0, 0.0, 8.0])
    assert result["labels"] == ["vertical", "horizontal", "vertical", "neither", "neither"]


def test_the_ratio_decides_and_bad_input_is_refused():
    mixed = SOBEL_VERTICAL_EDGE + 0.4 * SOBEL_VERTICAL_EDGE.T  # strengths 12 and 4.8: ratio 2.5
    assert edge_orientation(mixed[None], ratio=2.0)["labels"] == ["vertical"]
    assert edge_orientation(mixed[None], ratio=3.0)["labels"] == ["neither"]
    with pytest.raises(ValueError, match=r"kernels\[\.\.\., 0\]"):
        edge_orientation(np.zeros((4, 3, 3, 3)))
    with pytest.raises(ValueError, match="ratio must be"):
        edge_orientation(mixed[None], ratio=0.5)
