"""What an operation of a model's graph computes, whichever way the user wrote it.

Keras users write the same function several ways: ``Dense(5, activation="softmax")``,
``Dense(5, activation=tf.nn.softmax)``, ``Activation(tf.nn.softmax)``, ``Softmax()``,
``keras.ops.softmax(x)`` in a functional graph (an operation, not a layer). The flat
copy (:mod:`helpers.graph`) and the score models (:mod:`helpers.modelparts`) ask
:func:`op_kind` what a node computes, so every spelling is treated alike.

- :func:`activation_kind`: the canonical name of an activation function (``"softmax"``,
  ``"relu"``, ``"linear"``, ...), TensorFlow and ``keras.ops`` functions included.
- :func:`op_kind`: the activation a layer or operation applies last (``""`` for none).
- :func:`is_pass_through`: layers that only reshape or copy values (a softmax behind them
  is still the model's softmax).
- :data:`RECTIFIERS`: activations other than the plain ReLU that guided backprop refuses.
"""

import keras

#: Names of elementwise activations other than the plain ReLU (guided/deconvnet rules do not apply).
RECTIFIERS = ("relu6", "leaky_relu", "elu", "gelu", "selu", "silu", "swish", "softplus", "hard_silu",
              "hard_swish", "mish", "celu", "glu", "sparse_plus", "squareplus")

#: ``keras.ops`` operation classes (Operation subclasses in a functional graph) and the activation they apply.
_OP_CLASSES = {"Softmax": "softmax", "LogSoftmax": "log_softmax", "Sigmoid": "sigmoid", "Relu": "relu",
               "Relu6": "relu6", "LeakyRelu": "leaky_relu", "Elu": "elu", "Gelu": "gelu", "Selu": "selu",
               "Silu": "silu", "Swish": "silu", "Softplus": "softplus", "HardSilu": "hard_silu",
               "Celu": "celu", "Glu": "glu", "Tanh": "tanh", "HardSigmoid": "hard_sigmoid"}

_ALIASES = {"softmax_v2": "softmax", "log_softmax_v2": "log_softmax", "swish": "silu", "hard_swish": "hard_silu"}


def activation_kind(function):
    """Canonical name of an activation function (``None`` is ``"linear"``; unknown callables their name).

    Args:
        function: a Keras activation, a ``tf.nn``/``tf.math``/``keras.ops`` function, or ``None``.

    Returns:
        e.g. ``"softmax"`` for ``keras.activations.softmax``, ``tf.nn.softmax`` and ``keras.ops.softmax``.
    """
    if function is None:
        return "linear"
    name = getattr(function, "__name__", "") or type(function).__name__
    return _ALIASES.get(name, name)


def op_kind(op):
    """The activation ``op`` (a layer or a ``keras.ops`` operation of a graph) applies last.

    Args:
        op: a Keras layer or operation.

    Returns:
        ``"softmax"``, ``"relu"``, ... ; ``""`` when it applies none (a ``Lambda`` is looked into
        only when it wraps an activation function directly, e.g. ``Lambda(tf.nn.softmax)``).
    """
    layers = keras.layers
    if isinstance(op, layers.Softmax):
        return "softmax"
    if isinstance(op, layers.ReLU):
        return "relu"
    if isinstance(op, layers.LeakyReLU):
        return "leaky_relu"
    if isinstance(op, (layers.ELU, layers.PReLU)):
        return type(op).__name__.lower()
    if isinstance(op, layers.Lambda):
        kind = activation_kind(getattr(op, "function", None))
        return kind if kind in _OP_CLASSES.values() else ""
    if not isinstance(op, layers.Layer):
        return _OP_CLASSES.get(type(op).__name__, "")
    if hasattr(op, "activation"):
        return activation_kind(op.activation)
    return ""


def is_pass_through(op):
    """True for layers that only reshape, copy or drop values (Reshape, Flatten, Identity, Dropout, linear
    Activation): what comes out is what went in, rearranged."""
    layers = keras.layers
    if isinstance(op, (layers.Reshape, layers.Flatten, layers.Identity, layers.Dropout, layers.GaussianNoise,
                       layers.ActivityRegularization)):
        return True
    return isinstance(op, layers.Activation) and op_kind(op) == "linear"


def check_channels_last(flat, name):
    """Refuse a flat graph (:mod:`helpers.graph`) with a ``data_format="channels_first"`` layer.

    Args:
        flat: the model's :class:`helpers.graph.FlatGraph`.
        name: the model's name, for the message.

    Raises:
        ValueError: naming the first such layer, the argument and the fix.
    """
    for path in flat.paths:
        if getattr(flat.layer(path), "data_format", None) == "channels_first":
            raise ValueError(f"layer {path!r} of {name!r} uses data_format='channels_first'; the helpers read "
                             "images and maps as (n, H, W, channels). Rebuild the model with data_format="
                             "'channels_last' (the Keras default; convolution kernels keep their shape, so "
                             "new.set_weights(model.get_weights()) works when no Flatten precedes a Dense) and "
                             "pass images as (n, H, W, C): np.moveaxis(images, 1, -1)")


def swap_relu(layer, relu):
    """Give every plain ReLU of ``layer`` (a copy) the function ``relu``; refuse other rectifiers.

    Args:
        layer: a copied layer or ``keras.ops`` operation (changed in place).
        relu: the replacement, e.g. the guided-backprop ReLU.

    Raises:
        ValueError: a ReLU with max_value/negative_slope/threshold, or another rectifier.
    """
    from helpers.graph import UnsupportedModel

    kind = op_kind(layer)
    if isinstance(layer, keras.layers.ReLU):
        if layer.max_value is not None or layer.negative_slope or layer.threshold:
            raise UnsupportedModel(f"layer {layer.name!r} is a ReLU with max_value/negative_slope/threshold; the "
                                   "guided and deconvnet rules are defined for the plain ReLU max(x, 0) only")
        layer.call = lambda inputs, *a, **k: relu(inputs)
    elif kind == "relu" and not isinstance(layer, keras.layers.Layer):  # keras.ops.relu in a functional graph
        layer.call = lambda inputs, *a, **k: relu(inputs)
    elif kind == "relu" and isinstance(layer, keras.layers.Lambda):
        raise UnsupportedModel(f"layer {layer.name!r} is a Lambda around a ReLU; write it as keras.layers.ReLU() "
                               "so that guided backprop and the deconvnet can change its backward rule")
    elif kind == "relu":
        layer.activation = relu
    elif kind in RECTIFIERS or kind in ("leaky_relu", "elu", "prelu"):
        raise UnsupportedModel(f"layer {layer.name!r} applies {kind!r}; the guided and deconvnet rules are "
                               "defined for the plain ReLU only: use saliency, integrated_gradients or grad_cam "
                               "for this model")
