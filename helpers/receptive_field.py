"""Which input pixels can a unit see? Receptive fields from the layer geometry, and the
dataset patches that drive a channel most."""

from dataclasses import dataclass

import keras
import numpy as np

from helpers.activations import layer_activations
from helpers.graph import flatten
from helpers.modelparts import channel_indices, check_images, find_layer, positive_int

#: Layers that keep every pixel where it is (at inference): they pass the field through unchanged.
SHAPE_KEEPING = tuple(getattr(keras.layers, name) for name in (
    "BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization", "Activation", "ReLU",
    "LeakyReLU", "PReLU", "ELU", "Softmax", "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
    "AlphaDropout", "ActivityRegularization", "Normalization", "Rescaling", "Identity", "RandomFlip",
    "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness", "RandomCrop")
    if hasattr(keras.layers, name))
_CONVS = (keras.layers.Conv2D, keras.layers.SeparableConv2D, keras.layers.DepthwiseConv2D)
_POOLS = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)


@dataclass(frozen=True)
class ReceptiveField:
    """Geometry of a layer's units in input pixels, per axis.

    Unit ``i`` along the rows sees input rows ``offset + i * jump`` to
    ``offset + i * jump + size - 1``; ``offset`` is negative when padding puts part
    of the field outside the image. ``col_size``, ``col_jump`` and ``col_offset`` say
    the same along the columns (equal to the row values for square geometry).
    """

    size: int
    jump: int
    offset: int
    col_size: int = None
    col_jump: int = None
    col_offset: int = None

    def __post_init__(self):
        for name in ("size", "jump", "offset"):
            if getattr(self, "col_" + name) is None:
                object.__setattr__(self, "col_" + name, getattr(self, name))

    @property
    def shape(self):
        """``(rows, cols)`` of the field in input pixels."""
        return self.size, self.col_size

    def span(self, index, axis=0):
        """First and last input pixel (inclusive) seen by unit ``index`` along ``axis`` (0 rows, 1 columns)."""
        size, jump, offset = (self.size, self.jump, self.offset) if axis == 0 else (
            self.col_size, self.col_jump, self.col_offset)
        start = offset + index * jump
        return start, start + size - 1


def _same_left_pad(n_in, kernel, stride):
    total = max((-(-n_in // stride) - 1) * stride + kernel - n_in, 0)
    return total // 2


def _chain(flat, path):
    """The calls from the input to ``path``'s output: ``[(layer copy, input shape)]`` in order."""
    chain, tensor = [], flat.output(path)
    while tensor is not flat.input:
        operation, node_index, _ = tensor._keras_history
        inputs = [t for t in operation._inbound_nodes[node_index].input_tensors]
        if len(inputs) != 1:
            raise ValueError(f"{flat.path_of(tensor)!r} ({type(operation).__name__}) on the way to {path!r} joins "
                             f"{len(inputs)} branches; receptive fields are computed for chains of layers only")
        chain.append((operation, tuple(inputs[0].shape[1:3]), flat.path_of(tensor)))
        tensor = inputs[0]
    return chain[::-1]


def _axis_geometry(layer, axis, n_in):
    """``(kernel, stride, left pad)`` of ``layer`` along ``axis`` for an input of ``n_in`` pixels."""
    if isinstance(layer, _CONVS):
        kernel = (layer.kernel_size[axis] - 1) * layer.dilation_rate[axis] + 1
        stride = layer.strides[axis]
    else:
        kernel, stride = layer.pool_size[axis], layer.strides[axis]
    if layer.padding == "same":
        if n_in is None:
            raise ValueError(f"{layer.name!r} pads 'same' on an input of unknown size; the field depends on "
                             "the size: build the model with a fixed input shape")
        return kernel, stride, _same_left_pad(n_in, kernel, stride)
    return kernel, stride, 0


def receptive_field(model, layer):
    """Receptive field of ``layer`` (name, ``outer/inner`` path, index or object), per axis.

    Follows the calls from the input to the layer in the model's graph (nested models
    included, a layer applied twice counted twice): convolutions (Conv2D, separable,
    depthwise; kernel, stride, dilation and padding per axis) and pooling change the
    geometry, ZeroPadding2D and Cropping2D shift it, and layers that keep every pixel
    in place (normalization, activations, dropout, rescaling, augmentation) pass it on.

    Raises:
        ValueError: the layer does not exist (valid names are listed), is called more
            than once, or something on the way is not modelled (a merge of branches, a
            layer of unknown geometry: the message names it).
    """
    path = find_layer(model, layer)
    flat = flatten(model, refresh=False)
    fields = [[1, 1, 0], [1, 1, 0]]  # rows, cols: size, jump, offset
    for operation, in_shape, name in _chain(flat, path):
        if isinstance(operation, _CONVS + _POOLS):
            if getattr(operation, "data_format", "channels_last") != "channels_last":
                raise ValueError(f"{name!r} uses data_format={operation.data_format!r}; only channels_last is modelled")
            for axis, field in enumerate(fields):
                kernel, stride, pad = _axis_geometry(operation, axis, in_shape[axis])
                field[2] -= pad * field[1]
                field[0] += (kernel - 1) * field[1]
                field[1] *= stride
        elif isinstance(operation, (keras.layers.ZeroPadding2D, keras.layers.Cropping2D)):
            amounts = operation.padding if isinstance(operation, keras.layers.ZeroPadding2D) else operation.cropping
            sign = -1 if isinstance(operation, keras.layers.ZeroPadding2D) else 1
            for axis, field in enumerate(fields):
                field[2] += sign * amounts[axis][0] * field[1]
        elif not isinstance(operation, SHAPE_KEEPING + (keras.layers.InputLayer,)):
            raise ValueError(f"layer {name!r} ({type(operation).__name__}) lies before {path!r} and is not a "
                             "convolution, pooling, padding, cropping or pixel-wise layer: its geometry is unknown, "
                             "so no receptive field is computed")
    (size, jump, offset), (col_size, col_jump, col_offset) = fields
    return ReceptiveField(size, jump, offset, col_size, col_jump, col_offset)


def crop(image, field, row, col):
    """The part of ``image`` seen by unit (row, col), zero-padded where it leaves the image."""
    image = np.asarray(image)
    (r0, r1), (c0, c1) = field.span(row, 0), field.span(col, 1)
    out = np.zeros(field.shape + image.shape[2:], dtype=image.dtype)
    rr0, rr1 = max(r0, 0), min(r1, image.shape[0] - 1)
    cc0, cc1 = max(c0, 0), min(c1, image.shape[1] - 1)
    if rr0 <= rr1 and cc0 <= cc1:
        out[rr0 - r0:rr1 - r0 + 1, cc0 - c0:cc1 - c0 + 1] = image[rr0:rr1 + 1, cc0:cc1 + 1]
    return out


def field_means(model, layer, image, grid):
    """The input as ``layer``'s grid sees it: the mean of ``image`` over every unit's receptive field.

    Args:
        model, layer: the network and the layer (as :func:`receptive_field` takes them).
        image: one image ``(H, W)`` or ``(H, W, C)``.
        grid: ``(rows, cols)`` of the layer's feature maps.

    Returns:
        ``(rows, cols)``: the mean over each unit's field (and over colour channels); the part of
        a field outside the image counts as zero, as the padding does.
    """
    field = receptive_field(model, layer)
    rows, cols = grid
    return np.array([[crop(image, field, r, c).mean() for c in range(cols)] for r in range(rows)])


def top_patches(model, images, layer, channel, n=9, batch_size=512, activation=None):
    """The ``n`` images whose strongest unit in ``channel`` is strongest, cropped to that unit's field.

    Each image contributes at most one patch (its best position), so the result
    shows ``n`` different images.

    Args:
        activation: optional, ``layer``'s outputs for ``images`` as
            :func:`helpers.activations.layer_activations` returns them, computed once and reused
            for every channel (the explorer does so); None computes them here.

    Returns:
        dict with ``patches`` ``(n, rows, cols, C)`` (the field's shape), ``values`` (the activations),
        ``indices`` (image indices) and ``positions`` ((row, col) of the unit).
    """
    layer_name = find_layer(model, layer)
    n = positive_int(n, "n")
    if activation is None:
        activation = layer_activations(model, images, layer_name, batch_size)[layer_name]
    activation = np.asarray(activation)
    if len(activation) != len(check_images(model, images)):
        raise ValueError(f"activation= holds {len(activation)} images' maps but images= has "
                         f"{len(check_images(model, images))}: pass layer_activations(model, images, "
                         f"{layer_name!r})[{layer_name!r}] for the same images, or activation=None")
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
    images = np.asarray(images).reshape(check_images(model, images).shape)  # one image, grey: as the model saw it
    patches = np.stack([crop(images[i], field, r, c) for i, (r, c) in zip(order, positions)])
    return {"patches": patches, "values": best_value[order], "indices": order, "positions": positions,
            "field": field}
