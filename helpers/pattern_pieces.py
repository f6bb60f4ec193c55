"""What an optimized pattern is made of: is it tied to one place, and does it repeat a piece?

Seed 004 read its conv3 patterns as "translations and rotations of elementary patterns", and
some as large-scale patterns "without much translational invariance". Two measurements turn
those readings into numbers:

- :func:`shift_tolerance`: the share of a channel's activation that its own pattern keeps
  when it is moved by a few pixels. A pattern tied to one location loses most of it.
- :func:`self_similarity` with :func:`surrogates`: how well a pattern matches a shifted or
  rotated copy of itself, against images with the same power spectrum and random phases
  and the same pixel values (the same smoothness and histogram, no repeated structure). A pattern built from shifted or rotated
  copies of one piece matches itself better than its surrogates do.
"""

import numpy as np
import scipy.ndimage

from helpers.maximize import reached_activation

#: The eight directions of a move.
DIRECTIONS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def shift_tolerance(model, layer, images, channels, shift=4):
    """Share of each channel's activation kept when its image is moved by ``shift`` pixels.

    Args:
        model, layer: the network and the layer the images were optimized for.
        images: ``(n, H, W, C)`` in [0, 1], image ``k`` optimized for ``channels[k]``.
        channels: one channel index per image.
        shift: pixels moved, in each of the 8 directions (edge pixels are repeated into the
            space the move opens).

    Returns:
        ``(n,)``: the mean over the 8 moves of (activation after the move) / (activation
        before); NaN for an image whose channel is at zero before the move.
    """
    images = np.asarray(images, np.float32)
    before = reached_activation(model, images, layer, channels)
    after = [reached_activation(model, scipy.ndimage.shift(images, (0, dy * shift, dx * shift, 0), order=0,
                                                           mode="nearest"), layer, channels)
             for dy, dx in DIRECTIONS]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(before > 0, np.mean(after, axis=0) / np.where(before > 0, before, 1.0), np.nan)


def self_similarity(image, max_shift=8, min_shift=3):
    """Best normalized correlation of a pattern with a shifted or rotated copy of itself.

    Args:
        image: ``(H, W)`` or ``(H, W, 1)``.
        max_shift: largest shift compared, in pixels along each axis (the overlap stays large).
        min_shift: for the unrotated copy, shifts shorter than this are left out (every smooth
            image matches itself shifted by a pixel or two).

    Returns:
        ``(best over shifts, best over 90/180/270-degree rotations)``: Pearson correlations
        over the overlapping pixels.
    """
    p = np.asarray(image, np.float64).squeeze()
    if p.ndim != 2 or p.shape[0] != p.shape[1] or np.ptp(p) == 0:
        raise ValueError(f"need one square, non-constant (H, W) pattern; got shape {np.shape(image)}")
    h = p.shape[0]
    best = [-1.0, -1.0]
    for k in range(4):
        q = np.rot90(p, k)
        for dy in range(-max_shift, max_shift + 1):
            for dx in range(-max_shift, max_shift + 1):
                if k == 0 and max(abs(dy), abs(dx)) < min_shift:
                    continue
                a = p[max(dy, 0):h + min(dy, 0), max(dx, 0):h + min(dx, 0)].ravel()
                b = q[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):h + min(-dx, 0)].ravel()
                if np.ptp(a) and np.ptp(b):
                    best[k > 0] = max(best[k > 0], float(np.corrcoef(a, b)[0, 1]))
    return tuple(best)


def surrogates(image, count=20, seed=0):
    """Images with the pattern's pixel values and, nearly, its power spectrum, but random phases.

    Amplitude-adjusted Fourier surrogates: random phases on the pattern's spectrum give an
    image with its smoothness and no structure; its pixels are then replaced by the pattern's
    own values in the same rank order, so a surrogate has exactly the pattern's histogram (a
    pattern saturated at 0 and 1 gets saturated surrogates).

    Returns:
        ``(count, H, W)`` arrays.
    """
    p = np.asarray(image, np.float64).squeeze()
    rng = np.random.default_rng(seed)
    magnitude = np.abs(np.fft.rfft2(p - p.mean()))
    phases = np.exp(2j * np.pi * rng.random((count,) + magnitude.shape))
    fake = np.fft.irfft2(magnitude * phases, s=p.shape).reshape(count, -1)
    ranks = fake.argsort(axis=1, kind="stable").argsort(axis=1, kind="stable")
    return np.sort(p.ravel())[ranks].reshape((count,) + p.shape)


def repeated_piece(image, count=20, seed=0, **options):
    """Does the pattern match its shifted / rotated copies better than all of its surrogates?

    Returns:
        dict with the pattern's ``shift`` and ``rotation`` similarities, the surrogates'
        largest of each (``shift_null``, ``rotation_null``), and ``shifted_piece`` /
        ``rotated_piece``: True where the pattern beats every surrogate.
    """
    own = self_similarity(image, **options)
    null = np.array([self_similarity(fake, **options) for fake in surrogates(image, count, seed)])
    return {"shift": own[0], "rotation": own[1], "shift_null": float(null[:, 0].max()),
            "rotation_null": float(null[:, 1].max()), "shifted_piece": bool(own[0] > null[:, 0].max()),
            "rotated_piece": bool(own[1] > null[:, 1].max())}
