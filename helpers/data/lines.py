"""The synthetic Line data set: one straight line on a black 28x28 RGB canvas.

Four factors make 2 x 2 x 2 x 12 = 96 classes: length {short, long}, width
{thin, thick}, colour {red, blue} and angle 0..165 degrees in 15-degree steps.
Because the images are drawn in code, every image comes with the exact pixel
mask of its line: the ground truth that chapter 05 scores attribution maps against.
"""

from dataclasses import dataclass

import numpy as np

SIZE = 28
#: Factor name -> (value names, drawing parameter per value).
LENGTHS = {"short": 10.0, "long": 18.0}  # end-to-end length in pixels
WIDTHS = {"thin": 1.0, "thick": 3.0}  # stroke width in pixels
COLOURS = {"red": (1.0, 0.0, 0.0), "blue": (0.0, 0.0, 1.0)}
ANGLES = {f"{a}": float(a) for a in range(0, 180, 15)}  # degrees, counter-clockwise
FACTORS = {"length": LENGTHS, "width": WIDTHS, "colour": COLOURS, "angle": ANGLES}
FACTOR_SIZES = tuple(len(v) for v in FACTORS.values())  # (2, 2, 2, 12)
N_CLASSES = int(np.prod(FACTOR_SIZES))  # 96
_MAX_N = 1_000_000
_CHUNK = 2048


@dataclass(frozen=True)
class LineData:
    """Images, labels and masks of the Line data.

    Attributes:
        images: float32 ``(n, 28, 28, 3)`` in [0, 1].
        labels: int64 ``(n,)`` class index 0..95, see :func:`class_index`.
        length, width, colour, angle: int64 ``(n,)`` factor labels (2, 2, 2, 12 values).
        masks: bool ``(n, 28, 28)``, True on the line's pixels.
    """

    images: np.ndarray
    labels: np.ndarray
    length: np.ndarray
    width: np.ndarray
    colour: np.ndarray
    angle: np.ndarray
    masks: np.ndarray

    def __len__(self):
        return len(self.labels)

    def factor_labels(self):
        """Dict factor name -> labels, in the order of the multi-output heads."""
        return {name: getattr(self, name) for name in FACTORS}


def class_index(length, width, colour, angle):
    """The 96-class label of factor labels (arrays or ints): angle varies fastest."""
    return ((np.asarray(length) * 2 + np.asarray(width)) * 2 + np.asarray(colour)) * 12 + np.asarray(angle)


def class_factors(label):
    """Inverse of :func:`class_index` for one label: dict factor -> value name."""
    if not 0 <= int(label) < N_CLASSES:
        raise ValueError(f"a Line class is 0..{N_CLASSES - 1}, got {label}")
    indices = np.unravel_index(int(label), FACTOR_SIZES)
    return {name: list(values)[i] for (name, values), i in zip(FACTORS.items(), indices)}


def _draw_masks(x0, y0, x1, y1, half_width):
    """Boolean masks of segments (x0, y0)-(x1, y1): pixel centres within half_width."""
    coords = np.arange(SIZE, dtype=np.float64)
    px = coords[None, None, :]
    py = coords[None, :, None]
    dx, dy = (x1 - x0)[:, None, None], (y1 - y0)[:, None, None]
    t = ((px - x0[:, None, None]) * dx + (py - y0[:, None, None]) * dy) / (dx * dx + dy * dy)
    t = np.clip(t, 0.0, 1.0)
    dist2 = (px - x0[:, None, None] - t * dx) ** 2 + (py - y0[:, None, None] - t * dy) ** 2
    return dist2 < half_width[:, None, None] ** 2


def make_lines(n, seed=0):
    """Generate ``n`` Line images, deterministically from ``seed``.

    The classes are balanced (each of the 96 appears ``n // 96`` or one more
    times) and shuffled. The line's centre is drawn uniformly among the
    positions that keep the whole stroke inside the canvas at its angle.

    Args:
        n: number of images, 1..1,000,000.
        seed: non-negative integer; the same seed gives the same images.

    Returns:
        :class:`LineData`.

    Raises:
        ValueError: on a non-integer or out-of-range ``n`` or ``seed``.
    """
    for name, value, low, high in (("n", n, 1, _MAX_N), ("seed", seed, 0, 2**63 - 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"{name} must be in {low}..{high}, got {value}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % N_CLASSES).astype(np.int64)
    length, width, colour, angle = (a.astype(np.int64) for a in np.unravel_index(labels, FACTOR_SIZES))

    half_len = np.array(list(LENGTHS.values()))[length] / 2
    half_width = np.array(list(WIDTHS.values()))[width] / 2
    theta = np.deg2rad(np.array(list(ANGLES.values()))[angle])
    ux, uy = np.cos(theta), -np.sin(theta)  # image rows grow downwards
    reach_x = half_len * np.abs(ux) + half_width
    reach_y = half_len * np.abs(uy) + half_width
    cx = reach_x + rng.random(n) * (SIZE - 1 - 2 * reach_x)
    cy = reach_y + rng.random(n) * (SIZE - 1 - 2 * reach_y)

    masks = np.empty((n, SIZE, SIZE), dtype=bool)
    for start in range(0, n, _CHUNK):
        s = slice(start, start + _CHUNK)
        masks[s] = _draw_masks(
            cx[s] - half_len[s] * ux[s], cy[s] - half_len[s] * uy[s],
            cx[s] + half_len[s] * ux[s], cy[s] + half_len[s] * uy[s], half_width[s],
        )
    rgb = np.array(list(COLOURS.values()), dtype=np.float32)[colour]
    images = masks[..., None].astype(np.float32) * rgb[:, None, None, :]
    return LineData(images, labels, length, width, colour, angle, masks)
