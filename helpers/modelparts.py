"""Model plumbing shared by every visualization: the one place that checks what a user passes.

Users bring their own Keras models: Sequential (with or without an ``Input``),
functional, nested, multi-output, ending in a ``Dense(activation="softmax")``, an
``Activation("softmax")`` or a ``Softmax()`` layer. Every function here accepts all
of them, never changes the user's model (anything that must change is changed on a
copy with the same weights), and answers bad input with a ``ValueError`` or
``TypeError`` whose message says what to pass instead.

- :func:`graph_input`, :func:`layer_names`, :func:`find_layer`, :func:`layer_output`:
  where things are in the model's graph (layers by name, ``outer/inner`` path,
  index or layer object).
- :func:`check_images`: a float32 batch of the shape the model expects.
- :func:`model_copy`, :func:`layer_model`, :func:`logit_model`: sub-models, always
  safe to modify.
- :func:`channel_indices`, :func:`check_target`, :func:`positive_int`,
  :func:`positive_number`: the numbers users pass (defined in :mod:`helpers.arguments`).
"""

import numbers
import warnings

import keras
import numpy as np

from helpers.arguments import (  # noqa: F401 (re-exported: the checks every visualization uses)
    channel_indices, check_target, finite_number, positive_int, positive_number)


# ----------------------------------------------------------------------------- the graph

def graph_input(model):
    """The model's symbolic input (a single tensor for single-input models).

    Raises:
        TypeError: ``model`` is not a Keras model.
        ValueError: the model has not been built (the message says how to build it).
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"expected a Keras model (keras.Model or keras.Sequential); got {type(model).__name__}")
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            f"model {model.name!r} has not been built, so it has no layer outputs yet: call it once on "
            "a batch of images (model(images)) or give it a keras.Input, then ask again")
    return inputs[0] if len(inputs) == 1 else inputs


def layer_names(model, prefix=""):
    """Every layer name of ``model``, nested sub-model layers as ``sub/inner``, input layers left out."""
    names = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        names.append(prefix + layer.name)
        if isinstance(layer, keras.Model):
            names.extend(layer_names(layer, prefix + layer.name + "/"))
    return names


def _path_of(model, wanted, prefix=""):
    for layer in model.layers:
        if layer is wanted:
            return prefix + layer.name
        if isinstance(layer, keras.Model):
            found = _path_of(layer, wanted, prefix + layer.name + "/")
            if found:
                return found
    return None


def find_layer(model, layer):
    """The path (``name`` or ``outer/inner``) of a layer given by name, path, index or object.

    Args:
        model: a Keras model.
        layer: a layer name, an ``outer/inner`` path into a nested model, an int
            index into ``model.layers`` (negative counts from the end), or a layer object
            of the model.

    Returns:
        the layer's path, as :func:`layer_names` lists it.

    Raises:
        ValueError: no such layer (the message lists the valid names).
        TypeError: ``layer`` is of another type.
    """
    valid = layer_names(model)
    listing = f"its layers: {', '.join(valid)}"
    if isinstance(layer, keras.layers.Layer):
        path = _path_of(model, layer)
        if path is None:
            raise ValueError(f"layer object {layer.name!r} is not part of model {model.name!r}; {listing}")
        return path
    if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (str, numbers.Integral)):
        raise TypeError(f"layer must be a name (str), an index (int) or a layer object; got "
                        f"{type(layer).__name__} {layer!r}. {listing}")
    if isinstance(layer, numbers.Integral):
        real = [x for x in model.layers if not isinstance(x, keras.layers.InputLayer)]
        if not -len(real) <= int(layer) < len(real):
            raise ValueError(f"layer index {layer} is out of range: {model.name!r} has {len(real)} layers "
                             f"(0..{len(real) - 1}, or negative from the end); {listing}")
        return real[int(layer)].name
    if layer not in valid:
        raise ValueError(f"no layer {layer!r} in model {model.name!r}; {listing}")
    return layer


def output_tensor(model, layer):
    """Symbolic output of ``layer`` in ``model``'s own graph (a nested model's ``.output`` is not)."""
    if isinstance(layer, keras.Model):
        reachable = {id(t) for node_outputs in _node_outputs(model) for t in node_outputs}
        for node in reversed(layer._inbound_nodes):
            outputs = node.output_tensors
            if outputs and all(id(t) in reachable for t in outputs):
                return outputs[0] if len(outputs) == 1 else outputs
    return layer.output


def get_layer(model, layer):
    """The layer object for a name, ``outer/inner`` path, index or object (see :func:`find_layer`)."""
    found = model
    for part in find_layer(model, layer).split("/"):
        found = found.get_layer(part)
    return found


def _node_outputs(model):
    for op in model.layers:
        for node in op._inbound_nodes:
            yield node.output_tensors


def layer_output(model, layer):
    """A model from ``model``'s image input to the output of ``layer`` (name, path, index, object).

    The sub-model shares the user's layers; copy it (:func:`layer_model` does) before changing it.
    """
    path = find_layer(model, layer)
    inputs = graph_input(model)
    if "/" not in path:
        return keras.Model(inputs, output_tensor(model, model.get_layer(path)))
    outer, inner = path.split("/", 1)
    sub = model.get_layer(outer)
    feed = keras.Model(inputs, sub._inbound_nodes[-1].input_tensors[0])  # what the nested model is given
    inner_model = layer_output(sub, inner)
    return keras.Model(inputs, inner_model(feed.output))


# ----------------------------------------------------------------------------- images

def check_images(model, images, allow_empty=False):
    """Return ``images`` as a float32 batch of the model's input shape, or explain the mismatch.

    A single image gets a batch axis; grey images without a channel axis get one
    when the model takes one channel. Integer images (e.g. uint8 0..255) are passed
    on unscaled with a warning, since the model may expect [0, 1].

    Raises:
        ValueError: wrong shape (the message states the expected one), an empty batch,
            NaN or infinite pixels.
        TypeError: values that are not numbers.
    """
    graph_input(model)
    raw = np.asarray(images)
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"images must be a numeric array (n, H, W, C); got dtype {raw.dtype}")
    images = raw.astype(np.float32)
    expected = tuple(model.input_shape[1:])
    grey = expected[-1] == 1
    if _matches(images.shape, expected):
        images = images[None]
    elif grey and _matches(images.shape[1:], expected[:-1]):
        images = images[..., None]
    elif grey and _matches(images.shape, expected[:-1]):
        images = images[None, ..., None]
    if not _matches(images.shape[1:], expected):
        shape = "(n, " + ", ".join("any" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"model {model.name!r} expects images of shape {shape}; got {images.shape}")
    if len(images) == 0 and not allow_empty:
        raise ValueError("the image batch is empty (0 images); pass at least one image")
    if not np.isfinite(images).all():
        raise ValueError(f"{int((~np.isfinite(images)).sum())} pixel values are NaN or infinite; "
                         "replace them (np.nan_to_num) before explaining the images")
    if raw.dtype.kind in "iu" and images.size and images.max() > 1:
        warnings.warn(f"images are integers ({raw.dtype}, up to {images.max():.0f}) and are passed to the model "
                      "unscaled; if it was trained on [0, 1], divide them by 255 first", stacklevel=3)
    return images


def _matches(shape, expected):
    return len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, shape))


def spatial_shape(model, images=None):
    """``(H, W, C)`` of the model's input; ``None`` dimensions are an error unless ``images`` fill them."""
    shape = tuple(model.input_shape[1:])
    if None in shape:
        if images is not None:
            return tuple(np.asarray(images).shape[1:])
        raise ValueError(f"model {model.name!r} takes images of any size {shape}; optimizing an image needs a "
                         "size: pass start=an array of start images (n, H, W, C)")
    return shape


# ----------------------------------------------------------------------------- copies

def model_copy(model):
    """A copy of ``model`` with the same weights and new layer objects: safe to modify."""
    graph_input(model)
    try:
        copy = keras.models.clone_model(model)
    except Exception as err:  # subclassed models cannot be cloned; say so instead of modifying the original
        raise ValueError(f"model {model.name!r} ({type(model).__name__}) cannot be copied with "
                         f"keras.models.clone_model ({err}); rebuild it as a functional or Sequential model") from err
    copy.set_weights(model.get_weights())
    return copy


def _is_softmax(layer):
    if isinstance(layer, keras.layers.Softmax):
        return True
    activation = getattr(layer, "activation", None)
    return activation is keras.activations.softmax or getattr(activation, "__name__", "") == "softmax"


def layer_model(model, layer, pre_activation=False):
    """A copy of the model from its image input to ``layer`` (name, path, index or object).

    Args:
        pre_activation: give ``layer`` a linear activation (on the copy), so a ReLU that
            is zero everywhere still passes a gradient. Layers without an activation
            are taken as they are.

    Returns:
        a new keras.Model built on copied layers; the user's model is never touched.
    """
    path = find_layer(model, layer)
    copy = model_copy(model)
    if pre_activation:
        target = get_layer(copy, path)
        if getattr(target, "activation", None) is not None:
            target.activation = keras.activations.linear
    return layer_output(copy, path)


def output_names(model):
    """Names of the model's outputs (Sequential models too, which have no ``output_names``)."""
    names = getattr(model, "output_names", None)
    if names:
        return list(names)
    return [t._keras_history.operation.name for t in model.outputs]


def logit_model(model, head=None):
    """A copy of the model that outputs pre-softmax scores (of the chosen head).

    A trailing ``Softmax()`` layer or ``Activation("softmax")`` is dropped, a softmax
    activation of the output layer is made linear; other outputs are kept as they are.

    Args:
        head: for a multi-output model, the output's name (or index); the message lists them.

    Returns:
        ``(scores_model, output_layer_path)``.
    """
    graph_input(model)
    names = output_names(model)
    if len(names) > 1:
        if isinstance(head, numbers.Integral) and not isinstance(head, bool) and -len(names) <= head < len(names):
            head = names[head]
        if head not in names:
            raise ValueError(f"model {model.name!r} has {len(names)} outputs; choose head= one of "
                             f"{', '.join(names)} (or its index)")
        index = names.index(head)
    elif head is not None and head not in names and head != 0:
        raise ValueError(f"model {model.name!r} has one output ({names[0]}); leave head=None")
    else:
        index = 0
    copy = model_copy(model)
    output = copy.outputs[index]
    operation = output._keras_history.operation
    path = _path_of(copy, operation) or operation.name
    if isinstance(operation, keras.layers.Softmax) or (
            isinstance(operation, keras.layers.Activation) and _is_softmax(operation)):
        output = operation._inbound_nodes[-1].input_tensors[0]
        path = output._keras_history.operation.name
    elif _is_softmax(operation):
        operation.activation = keras.activations.linear
    return keras.Model(graph_input(copy), output), path
