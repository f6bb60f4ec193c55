"""Which way does a first-layer kernel's edge run? Its projection on the two Sobel templates.

A 3x3 kernel that subtracts the left column from the right one responds to intensity that changes
from left to right: a *vertical* edge (or stroke). Projecting the kernel (its mean removed, so that
a uniform brightness does not count) on the Sobel template of each direction measures how much of
it is such a difference. Chapter 03 uses it to test seed 000's reading of its 16 first-layer filters.
"""

import numpy as np

#: Responds to left-right changes, i.e. to vertical edges; its transpose to horizontal edges.
SOBEL_VERTICAL_EDGE = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def edge_orientation(kernels, ratio=2.0):
    """Vertical and horizontal edge strength of single-channel 3x3 kernels, and the label they earn.

    Args:
        kernels: ``(n, 3, 3)`` (or ``(n, 3, 3, 1)``, as :func:`helpers.filters.kernels` returns
            for a grey input).
        ratio: a kernel is "vertical" when its vertical strength is at least ``ratio`` times its
            horizontal strength, "horizontal" in the opposite case, otherwise "neither".

    Returns:
        dict with ``vertical`` and ``horizontal`` (``(n,)``: absolute projection of the zero-mean
        kernel on each Sobel template) and ``labels`` (list of n strings).
    """
    k = np.asarray(kernels, np.float64)
    if k.ndim == 4 and k.shape[-1] == 1:
        k = k[..., 0]
    if k.ndim != 3 or k.shape[1:] != (3, 3):
        raise ValueError(f"kernels must be (n, 3, 3) single-channel 3x3 kernels; got shape {k.shape}. "
                         "For an RGB first layer pass one input channel, e.g. kernels[..., 0]")
    if not np.isfinite(ratio) or ratio < 1:
        raise ValueError(f"ratio must be a number >= 1; got {ratio!r}")
    k = k - k.mean(axis=(1, 2), keepdims=True)
    vertical = np.abs((k * SOBEL_VERTICAL_EDGE).sum(axis=(1, 2)))
    horizontal = np.abs((k * SOBEL_VERTICAL_EDGE.T).sum(axis=(1, 2)))
    labels = ["vertical" if v >= ratio * h and v > 0 else "horizontal" if h >= ratio * v and h > 0 else "neither"
              for v, h in zip(vertical, horizontal)]
    return {"vertical": vertical, "horizontal": horizontal, "labels": labels}
