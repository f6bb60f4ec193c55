"""Checks of chapter 03's exercise on a network's geometry: the receptive field of a layer.

The student's function gets a model and a layer name and returns ``(rows, cols)``: the height and
width of the input window that one unit of the layer's output depends on. Every check network is
drawn from the submission's seed: convolutions with non-square kernels, strides and dilation rates,
max pooling whose stride may differ from its size, pixel-wise layers in between, and more layers
after the one asked about.

The reference does not use the textbook recurrence: it measures the field. On a copy of the
network's geometry with positive weights, linear convolutions and average pooling in place of max
pooling, the gradient of one central unit with respect to the input is positive exactly on the
pixels the unit depends on; the field is the height and width of that footprint.
"""

import numpy as np

from helpers.grading.references.checks import Check, close

#: Input side of the measuring copy to start with (doubled while the footprint reaches its border).
PROBE_SIDE = 160


def _conv(rng, name, kind):
    """A convolution with a non-square kernel: plain, ``"strided"`` or ``"dilated"`` (Keras allows not both)."""
    import keras

    kernel = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
    while kernel[0] == kernel[1]:
        kernel = (kernel[0], int(rng.integers(1, 6)))
    options = {"padding": str(rng.choice(["valid", "same"]))}
    if kind == "dilated":
        options["dilation_rate"] = (int(rng.integers(2, 4)), int(rng.integers(1, 3)))
    elif kind == "strided":
        options["strides"] = (2, int(rng.integers(1, 3)))
    return keras.layers.Conv2D(2, kernel, name=name, **options)


def field_network(rng, blocks, first_dilated=False):
    """A seeded chain of ``blocks`` convolution blocks on 128x128 grey images, plus a dense head.

    Each block: a convolution (non-square kernel; of blocks 2 and 3 one strided and one dilated, in
    drawn order; the first dilated with ``first_dilated``), a ReLU layer, and, in every other block,
    max pooling whose stride differs from its size. Weights are random (seeded); only the geometry
    matters here.
    """
    import keras

    strided, dilated = (int(b) for b in rng.permutation([2, 3]))
    x = inputs = keras.Input((128, 128, 1), name="image")
    for b in range(1, blocks + 1):
        kind = "dilated" if b == dilated or (b == 1 and first_dilated) else "strided" if b == strided else "plain"
        x = keras.layers.ReLU(name=f"relu{b}")(_conv(rng, f"conv{b}", kind)(x))
        if b % 2 == 0:
            pool = (int(rng.integers(2, 4)), int(rng.integers(2, 4)))
            strides = (int(rng.integers(1, 3)), 1) if b == 2 else (1, 1)  # later pools keep the maps large
            x = keras.layers.MaxPooling2D(pool, strides=strides, name=f"pool{b}")(x)
    x = keras.layers.Dense(3, name="scores")(keras.layers.Flatten(name="flatten")(x))
    model = keras.Model(inputs, x, name="field_network")
    model.set_weights([rng.normal(0.0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _measuring_copy(layer):
    """The same geometry without values: all-ones linear convolutions, average instead of max pooling."""
    import keras

    if isinstance(layer, keras.layers.Conv2D):
        return keras.layers.Conv2D(1, layer.kernel_size, strides=layer.strides, dilation_rate=layer.dilation_rate,
                                   padding=layer.padding, use_bias=False, kernel_initializer="ones")
    if isinstance(layer, keras.layers.MaxPooling2D):
        return keras.layers.AveragePooling2D(layer.pool_size, strides=layer.strides, padding=layer.padding)
    if isinstance(layer, keras.layers.ReLU):
        return keras.layers.Identity()
    raise ValueError(f"no measuring copy of {type(layer).__name__} {layer.name!r}")


def measured_field(model, layer, side=PROBE_SIDE):
    """``(rows, cols)`` of the footprint of one central unit of ``layer``, measured on a ``side`` square
    input (doubled until the footprint stays clear of the input's border). ``model`` is a chain of
    Conv2D, MaxPooling2D and ReLU layers up to ``layer``."""
    import keras
    import tensorflow as tf

    chain = []
    for current in model.layers:
        if isinstance(current, keras.layers.InputLayer):  # functional models list it, Sequential ones do not
            continue
        chain.append(_measuring_copy(current))
        if current.name == layer:
            break
    x = tf.ones((1, side, side, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x
        for step in chain:
            y = step(y)
        unit = y[0, y.shape[1] // 2, y.shape[2] // 2, 0]
    rows, cols = np.nonzero(np.asarray(tape.gradient(unit, x))[0, ..., 0] > 0)
    if min(rows.min(), cols.min()) == 0 or max(rows.max(), cols.max()) == side - 1:
        return measured_field(model, layer, 2 * side)
    return np.array([rows.max() - rows.min() + 1, cols.max() - cols.min() + 1])


def _field_inputs(blocks, first=False):
    """A network and one of its layers: a convolution or pooling layer from conv3 on (blocks 2 and 3 are the
    strided and the dilated one, so neither can be left out) and before the last one (so the layer matters),
    or with ``first`` the first convolution."""
    def inputs(rng):
        model = field_network(rng, blocks, first_dilated=first)
        if first:
            return model, "conv1"
        names = [layer.name for layer in model.layers if layer.name.startswith(("conv", "pool"))]
        names = names[names.index("conv3"):-1]
        return model, str(rng.choice(names))
    return inputs


def _verify(what):
    def verify(out, model, layer):
        close(np.ravel(out) if np.size(out) == 2 else out, measured_field(model, layer), 0, what)
    return verify


RECEPTIVE_FIELD_SIZE = (
    Check("a four-block network", _field_inputs(4), _verify("a middle layer of a four-block network")),
    Check("a six-block network", _field_inputs(6), _verify("a middle layer of a six-block network")),
    Check("the first convolution", _field_inputs(3, first=True), _verify("a dilated first convolution"),
          needs="a four-block network"),
)
