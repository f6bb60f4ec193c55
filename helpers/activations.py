"""What each layer computes for an image: intermediate activations of any Keras 3 model.

:func:`layer_activations` works for functional models, Sequential models
(built with or without an ``Input``), nested sub-models (their layers are
named ``outer/inner``) and multi-output models. It builds a separate
extractor model; the user's model is never changed.
"""

import keras
import numpy as np


def _is_model(layer):
    return isinstance(layer, keras.Model)


def layer_names(model, prefix=""):
    """Every layer name of ``model``, nested sub-model layers as ``sub/inner``, input layers left out."""
    names = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        names.append(prefix + layer.name)
        if _is_model(layer):
            names.extend(layer_names(layer, prefix + layer.name + "/"))
    return names


def graph_input(model):
    """The model's symbolic input (a single tensor for single-input models)."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if inputs and len(inputs) == 1:
        return inputs[0]
    if not inputs:
        raise ValueError(
            f"model {model.name!r} has not been built, so it has no layer outputs yet: call it once on "
            "a batch of images (model(images)) or give it a keras.Input, then ask again"
        )
    return inputs


def _matches(shape, expected):
    return len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, shape))


def check_images(model, images):
    """Return ``images`` as a float32 batch of the model's input shape, or explain the mismatch.

    A single image gets a batch axis; grey images without a channel axis get one
    when the model takes one channel.
    """
    images = np.asarray(images, dtype=np.float32)
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
    return images


def _sub_model_inputs(model, name, values):
    """Nested sub-model ``name`` of ``model`` and the value of its input for the batch ``values``."""
    sub = model.get_layer(name)
    extractor = keras.Model(graph_input(model), sub._inbound_nodes[-1].input_tensors)
    return sub, extractor(values, training=False)


def layer_activations(model, images, layers=None, batch_size=256):
    """Outputs of the chosen layers for a batch of images.

    Args:
        model: a built Keras 3 model.
        images: ``(n, H, W, C)`` (or one image ``(H, W, C)``; grey ``(n, H, W)`` for
            one-channel models), values as the model expects them.
        layers: a layer name or list of names (``sub/inner`` for nested models);
            default every layer (see :func:`layer_names`).
        batch_size: images per forward pass.

    Returns:
        dict layer name -> numpy array with a leading batch axis, in the order asked.

    Raises:
        ValueError: an unknown layer name (the message lists the valid ones), an
            image batch of the wrong shape (the message states the expected one),
            or an unbuilt model.
    """
    valid = layer_names(model)
    if layers is None:
        layers = valid
    elif isinstance(layers, str):
        layers = [layers]
    unknown = [name for name in layers if name not in valid]
    if unknown:
        raise ValueError(f"no layer {', '.join(map(repr, unknown))} in model {model.name!r}; "
                         f"valid names: {', '.join(valid)}")
    graph_input(model)  # an unbuilt model is refused before the images are looked at
    images = check_images(model, images)
    result = {}
    top = [n for n in layers if "/" not in n]
    if top:
        extractor = keras.Model(graph_input(model), [model.get_layer(n).output for n in top])
        outputs = extractor.predict(images, batch_size=batch_size, verbose=0)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        result.update(zip(top, (np.asarray(o) for o in outputs)))
    nested = {}
    for name in layers:
        if "/" in name:
            outer, inner = name.split("/", 1)
            nested.setdefault(outer, []).append(inner)
    for outer, inners in nested.items():
        sub, sub_inputs = _sub_model_inputs(model, outer, images)
        inner_values = layer_activations(sub, np.asarray(sub_inputs), inners, batch_size)
        result.update({f"{outer}/{k}": v for k, v in inner_values.items()})
    return {name: result[name] for name in layers}
