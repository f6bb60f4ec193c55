"""The pieces of regularized activation maximization: start images, the Fourier
parametrization, per-step transforms and regularizers. All run inside a compiled step."""

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class Regularization:
    """Which regularizers an activation-maximization run uses (all off by default).

    Attributes:
        jitter: largest random shift, in pixels, applied before each forward pass.
        rotate: largest random rotation, in degrees, per step.
        scale: largest relative random zoom per step (0.05 -> factors in [0.95, 1.05]).
        blur_every, blur_sigma: Gaussian blur of the image every ``blur_every`` steps (0: never).
        l2_decay: shrink the image towards black by this fraction after every step.
        clip_percentile: after every step, set pixels below this percentile of their
            image's values to 0 (0..100; 0: off).
        tv_weight: weight of the total-variation penalty (mean absolute neighbour difference).
        lp_weight, lp: weight and exponent of the Lp-norm penalty on pixel values.
        diversity: weight of a penalty on the correlation between images that optimize the
            same unit from different starts (see :func:`similarity_to_siblings`); 0: off.
        normalize_gradient: divide each image's gradient by its L2 norm.
    """

    jitter: int = 0
    rotate: float = 0.0
    scale: float = 0.0
    blur_every: int = 0
    blur_sigma: float = 0.5
    l2_decay: float = 0.0
    clip_percentile: float = 0.0
    tv_weight: float = 0.0
    lp_weight: float = 0.0
    diversity: float = 0.0
    lp: float = 6.0
    normalize_gradient: bool = True

    def __post_init__(self):
        for name, value in vars(self).items():
            if isinstance(value, bool) and name != "normalize_gradient" or not np.isfinite(float(value)):
                raise ValueError(f"{name} must be a finite number; got {value!r}")
        if not 0 <= self.clip_percentile <= 100:
            raise ValueError(f"clip_percentile is a percentile, 0..100; got {self.clip_percentile} "
                             "(seed 002's crash came from passing a fraction times 100 twice)")
        for name in ("jitter", "rotate", "scale", "blur_every", "l2_decay", "tv_weight", "lp_weight", "diversity"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.l2_decay >= 1:
            raise ValueError(f"l2_decay is a fraction per step, below 1; got {self.l2_decay}")
        if self.blur_every and self.blur_sigma <= 0:
            raise ValueError(f"blur_sigma must be > 0 when blur_every is set; got {self.blur_sigma} "
                             "(blur_every=0 switches the blur off)")
        if self.blur_every != int(self.blur_every) or self.jitter != int(self.jitter):
            raise ValueError(f"blur_every and jitter are whole numbers; got {self.blur_every}, {self.jitter}")
        if self.lp_weight and self.lp <= 0:
            raise ValueError(f"lp must be > 0 (the exponent of the Lp penalty); got {self.lp}")


def start_images(kind, shape, seed=0, length_scale=4.0, noise=0.05):
    """Starting images in [0, 1].

    Args:
        kind: ``"grey"`` -- 0.5 plus uniform noise of amplitude ``noise``; ``"uniform"`` --
            uniform noise in [0, 1]; ``"lowfreq"`` -- smooth noise varying over about
            ``length_scale`` pixels (seed 004: deep maps need long-range variation to
            respond at all); ``"multiscale"`` -- the sum of smooth noise at length scales
            1, 2, 4, ... up to ``length_scale``.
        shape: ``(n, H, W, C)``.
        seed: the same seed gives the same images.
    """
    rng = np.random.default_rng(seed)
    n, h, w, c = shape
    if kind == "grey":
        return (0.5 + noise * (rng.random(shape) - 0.5)).astype(np.float32)
    if kind == "uniform":
        return rng.random(shape).astype(np.float32)
    if kind not in ("lowfreq", "multiscale"):
        raise ValueError(f"unknown start {kind!r}; choose grey, uniform, lowfreq or multiscale")
    if length_scale < 1:
        raise ValueError(f"length_scale is in pixels, >= 1; got {length_scale}")
    scales = [length_scale] if kind == "lowfreq" else [2.0 ** k for k in range(int(math.log2(length_scale)) + 1)]
    total = np.zeros(shape, np.float32)
    for scale in scales:
        coarse = rng.random((n, max(1, math.ceil(h / scale)) + 1, max(1, math.ceil(w / scale)) + 1, c))
        total += tf.image.resize(coarse.astype(np.float32), (h, w), method="bicubic").numpy()
    total /= len(scales)
    low, high = total.min(axis=(1, 2, 3), keepdims=True), total.max(axis=(1, 2, 3), keepdims=True)
    return ((total - low) / np.maximum(high - low, 1e-6)).astype(np.float32)


def fourier_scale(h, w, decay=1.0):
    """Per-frequency weights 1/f**decay of a real 2-D FFT grid (the zero frequency gets weight 1)."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx ** 2 + fy ** 2)
    f[0, 0] = 1.0 / max(h, w)
    return (1.0 / (f * max(h, w)) ** decay).astype(np.float32)


def fourier_to_image(spectrum, scale, h, w):
    """Image in [0, 1] from a decorrelated spectrum ``(n, C, h, w//2+1, 2)`` (real, imaginary)."""
    complex_spectrum = tf.complex(spectrum[..., 0] * scale, spectrum[..., 1] * scale)
    spatial = tf.signal.irfft2d(complex_spectrum, fft_length=[h, w])  # (n, C, h, w)
    return tf.sigmoid(tf.transpose(spatial, (0, 2, 3, 1)) * 4.0)


def image_to_fourier(images, scale):
    """Inverse of :func:`fourier_to_image` (for restarting from earlier results)."""
    x = np.clip(np.asarray(images, np.float64), 1e-3, 1 - 1e-3)
    spatial = np.log(x / (1 - x)) / 4.0
    spectrum = np.fft.rfft2(np.transpose(spatial, (0, 3, 1, 2))) / scale
    return np.stack([spectrum.real, spectrum.imag], axis=-1).astype(np.float32)


def random_transform(images, reg, seed):
    """Jitter, rotate and zoom a batch by one random draw (``seed``: a stateless seed pair)."""
    if reg.jitter:
        shift = tf.random.stateless_uniform([2], seed, -reg.jitter, reg.jitter + 1, dtype=tf.int32)
        images = tf.roll(images, shift, axis=[1, 2])
    if reg.rotate or reg.scale:
        draws = tf.random.stateless_uniform([2], seed + 1, -1.0, 1.0)
        angle = draws[0] * reg.rotate * math.pi / 180.0
        zoom = 1.0 + draws[1] * reg.scale
        h, w = images.shape[1], images.shape[2]
        cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
        cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom
        transform = tf.stack([cos, sin, cx - cos * cx - sin * cy, -sin, cos, cy + sin * cx - cos * cy, 0.0, 0.0])
        transforms = tf.tile(transform[None], [tf.shape(images)[0], 1])
        images = tf.raw_ops.ImageProjectiveTransformV3(
            images=images, transforms=transforms, output_shape=[h, w], fill_value=0.0,
            interpolation="BILINEAR", fill_mode="REFLECT")
    return images


def total_variation(images):
    """Mean absolute difference between neighbouring pixels, per image ``(n,)``."""
    dy = tf.reduce_mean(tf.abs(images[:, 1:] - images[:, :-1]), axis=[1, 2, 3])
    dx = tf.reduce_mean(tf.abs(images[:, :, 1:] - images[:, :, :-1]), axis=[1, 2, 3])
    return dx + dy


def similarity_to_siblings(images, groups):
    """Per image, the mean Pearson correlation with the other images of its group, ``(n,)``.

    ``groups[k]`` names what image ``k`` optimizes (its channel or class); images alone in
    their group score 0. Subtracting it from the objective pushes different starts of the
    same unit apart (a pixel-space version of Lucid's diversity objective).
    """
    flat = tf.reshape(images, [tf.shape(images)[0], -1])
    flat = flat - tf.reduce_mean(flat, axis=1, keepdims=True)
    flat = flat / (tf.norm(flat, axis=1, keepdims=True) + 1e-8)
    siblings = tf.cast(tf.equal(groups[:, None], groups[None, :]), images.dtype)
    siblings = siblings - tf.eye(tf.shape(siblings)[0], dtype=images.dtype)
    count = tf.maximum(tf.reduce_sum(siblings, axis=1), 1.0)
    return tf.reduce_sum(siblings * tf.matmul(flat, flat, transpose_b=True), axis=1) / count


def gaussian_blur(images, sigma):
    """Blur each channel with a 5x5 Gaussian (reflect padding)."""
    taps = np.exp(-0.5 * (np.arange(-2, 3) / sigma) ** 2)
    taps /= taps.sum()
    channels = images.shape[-1]
    kernel = np.outer(taps, taps)[:, :, None, None] * np.ones((1, 1, channels, 1))
    padded = tf.pad(images, [[0, 0], [2, 2], [2, 2], [0, 0]], mode="REFLECT")
    return tf.nn.depthwise_conv2d(padded, tf.constant(kernel, tf.float32), [1, 1, 1, 1], "VALID")


def clip_weak_pixels(images, percentile):
    """Set every pixel below its image's ``percentile`` to 0 (percentile over all pixel values)."""
    flat = tf.reshape(images, [tf.shape(images)[0], -1])
    n = flat.shape[1]
    index = int(round(percentile / 100.0 * (n - 1)))
    threshold = tf.sort(flat, axis=1)[:, index][:, None, None, None]
    return tf.where(images < threshold, tf.zeros_like(images), images)
