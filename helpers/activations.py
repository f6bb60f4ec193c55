"""What each layer computes for an image: intermediate activations of any Keras 3 model.

:func:`layer_activations` works for functional models, Sequential models
(built with or without an ``Input``), nested sub-models (their layers are
named ``outer/inner``) and multi-output models. It builds a separate
extractor model; the user's model is never changed.
"""

import keras
import numpy as np

from helpers.modelparts import check_images, find_layer, graph_input, layer_names, output_tensor, positive_int

__all__ = ["layer_activations", "layer_names", "graph_input", "check_images"]


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
        layers: a layer (name, ``sub/inner`` path for nested models, index or layer
            object) or a list of them; default every layer (see :func:`layer_names`).
            The result is keyed by layer name (path).
        batch_size: images per forward pass.

    Returns:
        dict layer name -> numpy array with a leading batch axis, in the order asked.

    Raises:
        ValueError: an unknown layer name (the message lists the valid ones), an
            image batch of the wrong shape (the message states the expected one),
            or an unbuilt model.
    """
    graph_input(model)  # an unbuilt model is refused before anything else is looked at
    if layers is None:
        layers = layer_names(model)
    elif isinstance(layers, (str, int, keras.layers.Layer)):
        layers = [layers]
    layers = [find_layer(model, layer) for layer in layers]
    batch_size = positive_int(batch_size, "batch_size")
    images = check_images(model, images)
    result = {}
    top = [n for n in layers if "/" not in n]
    if top:
        extractor = keras.Model(graph_input(model), [output_tensor(model, model.get_layer(n)) for n in top])
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
