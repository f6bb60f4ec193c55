"""Which input pixels can a unit see? Receptive fields from the layer geometry, and the
dataset patches that drive a channel most."""

from dataclasses import dataclass

import keras
import numpy as np

from helpers.activations import layer_activations
from helpers.modelparts import channel_indices, find_layer, positive_int

_SHAPE_KEEPING = (keras.layers.BatchNormalization, keras.layers.Activation, keras.layers.ReLU,
                  keras.layers.Dropout, keras.layers.Normalization, keras.layers.Rescaling,
                  keras.layers.InputLayer)


@dataclass(frozen=True)
class ReceptiveField:
    """Geometry of a layer's units in input pixels.

    Unit ``i`` (along one axis) sees input pixels ``offset + i * jump`` to
    ``offset + i * jump + size - 1``; ``offset`` is negative when padding puts part
    of the field outside the image.
    """

    size: int
    jump: int
    offset: int

    def span(self, index):
        """First and last input pixel (inclusive) seen by unit ``index``."""
        start = self.offset + index * self.jump
        return start, start + self.size - 1


def _same_left_pad(n_in, kernel, stride):
    total = max((-(-n_in // stride) - 1) * stride + kernel - n_in, 0)
    return total // 2


def receptive_field(model, layer):
    """Receptive field of ``layer`` (name, index or object of a top-level layer) along the first
    spatial axis (the models here are square).

    Walks the chain of layers from the input: Conv2D (with dilation), MaxPooling2D
    and AveragePooling2D change the geometry; normalization, activation and
    dropout layers keep it.

    Raises:
        ValueError: the layer does not exist (valid names are listed), or a layer on
            the way changes geometry in a way this function does not model.
    """
    layer_name = find_layer(model, layer)
    if "/" in layer_name:
        raise ValueError(f"receptive_field walks the top-level layers; {layer_name!r} lies inside a nested model")
    size, jump, offset = 1, 1, 0
    n_in = model.input_shape[1]
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            if isinstance(layer, keras.layers.Conv2D):
                kernel = (layer.kernel_size[0] - 1) * layer.dilation_rate[0] + 1
                stride = layer.strides[0]
            else:
                kernel, stride = layer.pool_size[0], layer.strides[0]
            pad = _same_left_pad(n_in, kernel, stride) if layer.padding == "same" else 0
            offset -= pad * jump
            size += (kernel - 1) * jump
            jump *= stride
            n_in = layer.output.shape[1]
        elif not isinstance(layer, _SHAPE_KEEPING):
            raise ValueError(f"layer {layer.name} ({type(layer).__name__}) lies before {layer_name!r} and is not "
                             "a convolution, pooling or shape-keeping layer: no receptive field to compute")
        if layer.name == layer_name:
            return ReceptiveField(size, jump, offset)
    raise AssertionError("unreachable: the layer name was checked above")


def crop(image, field, row, col):
    """The part of ``image`` seen by unit (row, col), zero-padded where it leaves the image."""
    image = np.asarray(image)
    (r0, r1), (c0, c1) = field.span(row), field.span(col)
    out = np.zeros((field.size, field.size) + image.shape[2:], dtype=image.dtype)
    rr0, rr1 = max(r0, 0), min(r1, image.shape[0] - 1)
    cc0, cc1 = max(c0, 0), min(c1, image.shape[1] - 1)
    out[rr0 - r0:rr1 - r0 + 1, cc0 - c0:cc1 - c0 + 1] = image[rr0:rr1 + 1, cc0:cc1 + 1]
    return out


def top_patches(model, images, layer, channel, n=9, batch_size=512):
    """The ``n`` images whose strongest unit in ``channel`` is strongest, cropped to that unit's field.

    Each image contributes at most one patch (its best position), so the result
    shows ``n`` different images.

    Returns:
        dict with ``patches`` ``(n, size, size, C)``, ``values`` (the activations),
        ``indices`` (image indices) and ``positions`` ((row, col) of the unit).
    """
    layer_name = find_layer(model, layer)
    n = positive_int(n, "n")
    activation = layer_activations(model, images, layer_name, batch_size)[layer_name]
    if activation.ndim != 4:
        raise ValueError(f"layer {layer_name} has no spatial maps (output shape {activation.shape[1:]})")
    channel = int(channel_indices([channel], activation.shape[-1], f"layer {layer_name} has channels")[0])
    maps = activation[..., channel].reshape(len(activation), -1)
    best_position = maps.argmax(axis=1)
    best_value = maps[np.arange(len(maps)), best_position]
    order = np.argsort(-best_value, kind="stable")[:n]
    field = receptive_field(model, layer_name)
    width = activation.shape[2]
    positions = [divmod(int(best_position[i]), width) for i in order]
    images = np.asarray(images)
    patches = np.stack([crop(images[i], field, r, c) for i, (r, c) in zip(order, positions)])
    return {"patches": patches, "values": best_value[order], "indices": order, "positions": positions,
            "field": field}
