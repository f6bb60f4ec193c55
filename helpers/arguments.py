"""The numbers users pass to the visualizations, checked in one place.

Channel indices, class targets, step counts and sizes: each function returns the
value in the form the code needs or raises a ``ValueError``/``TypeError`` that says
what to pass instead (:mod:`helpers.modelparts` re-exports them).
"""

import numbers

import numpy as np


def _integers(values, what):
    array = np.asarray(values)
    if array.dtype.kind == "b" or array.dtype.kind not in "iuf":
        raise TypeError(f"{what} must be whole numbers; got {values!r}")
    if array.dtype.kind == "f" and not np.array_equal(array, np.round(array)):
        raise TypeError(f"{what} must be whole numbers; got {values!r} (use int(...) if you meant to round)")
    return array.astype(np.int64)


def channel_indices(channels, available, what):
    """``channels`` (default: all ``available``) as an int array, checked to lie in 0..available-1.

    ``what`` starts the error message, e.g. ``"layer conv1 has filters"``.
    """
    if channels is None:
        return np.arange(available, dtype=np.int64)
    chosen = np.atleast_1d(_integers(channels, f"{what} 0..{available - 1}: the indices"))
    if chosen.size == 0 or chosen.min() < 0 or chosen.max() >= available:
        raise ValueError(f"{what} 0..{available - 1}; got {np.asarray(channels).tolist()}")
    return chosen


def check_target(target, n_classes, n):
    """Validate a ``target`` (None, a class index, one class per image, or a callable).

    Returns:
        ``target`` unchanged for None and callables, else an int array of ``()`` or ``(n,)``.
    """
    if target is None or callable(target):
        return target
    if isinstance(target, str):
        raise TypeError(f"target must be a class index 0..{n_classes - 1}, a list of them, a callable or None; "
                        f"got the string {target!r} (map class names to indices first)")
    chosen = _integers(target, f"target (class indices 0..{n_classes - 1})")
    if chosen.ndim > 1 or (chosen.ndim == 1 and len(chosen) != n):
        entries = f"{len(chosen)} entries" if chosen.ndim == 1 else f"shape {chosen.shape}"
        raise ValueError(f"target has {entries} for {n} images: give one class per image, "
                         "a single class for all, or None for the predicted class")
    if chosen.size and (chosen.min() < 0 or chosen.max() >= n_classes):
        raise ValueError(f"target must lie in 0..{n_classes - 1} (the model has {n_classes} classes); "
                         f"got {chosen.tolist()}")
    return chosen


def positive_int(value, name, minimum=1):
    """``value`` as an int, checked to be a whole number >= ``minimum`` (NaN and infinity refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or value != int(value):
        raise TypeError(f"{name} must be a whole number >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def finite_number(value, name):
    """``value`` as a float, checked to be a finite number."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    return float(value)


def positive_number(value, name, allow_zero=False):
    """``value`` as a float, checked to be finite and > 0 (>= 0 with ``allow_zero``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number; got {value!r}")
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0; got {value}")
    return float(value)


def check_seed(seed, name="seed"):
    """``seed`` checked for ``np.random.default_rng``: ``None`` or a whole number >= 0."""
    if seed is None or isinstance(seed, (np.random.Generator, np.random.SeedSequence)):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be a whole number >= 0 (or None for a fresh random state); got {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be >= 0 (NumPy's random generator takes no negative seeds); got {seed}: "
                         f"pass abs({seed}) or another whole number >= 0")
    return int(seed)


def unit_position(position, map_shape, layer):
    """``position = (row, col)`` of a unit as two ints, checked to lie in a ``(n, h, w, c)`` map of ``layer``."""
    if isinstance(position, str) or np.ndim(position) != 1 or len(position) != 2:
        raise ValueError(f"position must be (row, col), two whole numbers, of a unit of layer {layer}; got "
                         f"{position!r}")
    row, col = (int(v) for v in _integers(position, f"position (row, col) of a unit of layer {layer}"))
    if not (0 <= row < map_shape[1] and 0 <= col < map_shape[2]):
        raise ValueError(f"layer {layer} has positions (0..{map_shape[1] - 1}, 0..{map_shape[2] - 1}); "
                         f"got {tuple(position)}")
    return row, col


def class_labels(labels, name, n=None, classes=None):
    """``labels`` as a 1-D int array of class indices, checked: whole numbers >= 0, ``n`` of them
    (when given) and below ``classes`` (when given)."""
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one class index per image, shape (n,); got shape {array.shape}"
                         + (" (one-hot rows? use labels.argmax(axis=1))" if array.ndim == 2 else ""))
    if array.size and array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    array = _integers(array, f"{name} (class indices)") if array.size else array.astype(np.int64)
    if n is not None and len(array) != n:
        raise ValueError(f"{name} has {len(array)} entries for {n} images: give one class per image")
    if array.size and array.min() < 0:
        raise ValueError(f"{name} must be class indices >= 0; got {int(array.min())}")
    if classes is not None and array.size and array.max() >= classes:
        raise ValueError(f"{name} holds class {int(array.max())} but classes={classes} (0..{classes - 1}): "
                         "raise classes or leave it None")
    return array


def finite_array(values, name, min_ndim=1):
    """``values`` as a float array with at least ``min_ndim`` axes and at least one entry, all finite."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array; got dtype {array.dtype}")
    if array.ndim < min_ndim or array.size == 0:
        raise ValueError(f"{name} must be a non-empty array with at least {min_ndim} axes; got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds {int((~np.isfinite(array)).sum())} NaN or infinite values")
    return array
