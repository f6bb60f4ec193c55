"""What each layer computes for an image: intermediate activations of any Keras 3 model.

:func:`layer_activations` works for functional models, Sequential models
(built with or without an ``Input``), nested sub-models (their layers are
named ``outer/inner``) and multi-output models. It builds a separate
extractor model; the user's model is never changed.
"""

import keras
import numpy as np

from helpers.graph import flatten
from helpers.modelparts import check_images, find_layer, graph_input, layer_names, positive_int

__all__ = ["layer_activations", "layer_names", "graph_input", "check_images"]


def layer_activations(model, images, layers=None, batch_size=256):
    """Outputs of the chosen layers for a batch of images.

    Args:
        model: a built Keras 3 model.
        images: ``(n, H, W, C)`` (or one image ``(H, W, C)``; grey ``(n, H, W)`` for
            one-channel models), values as the model expects them.
        layers: a layer (name, ``sub/inner`` path for nested models, index into
            ``model.layers`` or layer object) or a list of them; default every layer (see
            :func:`layer_names`). The result is keyed by layer name (path).
        batch_size: images per forward pass.

    Returns:
        dict layer name -> numpy array with a leading batch axis, in the order asked.

    Raises:
        ValueError: an unknown layer name (the message lists the valid ones), an
            image batch of the wrong shape (the message states the expected one),
            a shared layer (called more than once: its output is ambiguous), or an
            unbuilt, subclassed or multi-input model (the message says what to pass).
    """
    graph_input(model)  # an unbuilt model is refused before anything else is looked at
    if layers is None:
        layers = layer_names(model)
    elif isinstance(layers, (str, int, np.integer, keras.layers.Layer)):
        layers = [layers]
    if isinstance(layers, np.ndarray):
        layers = layers.tolist()
    if isinstance(layers, (list, tuple)) and not layers:
        raise ValueError("layers is empty: pass a layer (name, index or object), a list of them, or "
                         f"None for every layer ({len(layer_names(model))} of them)")
    layers = [find_layer(model, layer) for layer in layers]
    batch_size = positive_int(batch_size, "batch_size")
    images = check_images(model, images)
    flat = flatten(model)
    unique = list(dict.fromkeys(layers))
    extractor = flat.submodel([flat.output(path) for path in unique], key=("outputs", tuple(unique)))
    outputs = extractor.predict(images, batch_size=batch_size, verbose=0)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    result = dict(zip(unique, (np.asarray(o) for o in outputs)))
    return {name: result[name] for name in layers}
