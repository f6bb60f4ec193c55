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
- :func:`layer_model`, :func:`logit_model`: sub-models on the flat copy (:mod:`helpers.graph`),
  cached with it (read them, do not change their layers).
- :func:`channel_indices`, :func:`check_target`, :func:`positive_int`,
  :func:`positive_number`: the numbers users pass (defined in :mod:`helpers.arguments`).
"""

import numbers
import warnings

import keras
import numpy as np

from helpers.graph import check_model, flatten
from helpers.layerkinds import check_channels_last, is_pass_through, op_kind
from helpers.arguments import (  # noqa: F401 (re-exported: the checks every visualization uses)
    channel_indices, check_target, finite_number, positive_int, positive_number)


# ----------------------------------------------------------------------------- the graph

def graph_input(model):
    """The model's symbolic input; refuses, with the fix, what the helpers cannot look into.

    Raises:
        TypeError: ``model`` is not a Keras model.
        ValueError: unbuilt, subclassed or multi-input models (the message says what to pass instead).
    """
    return check_model(model)


def layer_names(model):
    """Every layer path of ``model`` in call order, nested layers as ``outer/inner``, input layers left out."""
    return list(flatten(model, refresh=False).paths)


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
            index into ``model.layers`` exactly as Keras counts it (functional models list
            their InputLayer first; negative counts from the end), or a layer object of the model.

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
        if path is None or path not in valid:
            raise ValueError(f"layer object {layer.name!r} is not part of model {model.name!r}; {listing}")
        return path
    if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (str, numbers.Integral)):
        raise TypeError(f"layer must be a name (str), an index (int) or a layer object; got "
                        f"{type(layer).__name__} {layer!r}. {listing}")
    if isinstance(layer, numbers.Integral):
        layers = model.layers
        if not -len(layers) <= int(layer) < len(layers):
            raise ValueError(f"layer index {layer} is out of range: {model.name!r}.layers has {len(layers)} entries "
                             f"(0..{len(layers) - 1}, or negative from the end); {listing}")
        chosen = layers[int(layer)]
        if isinstance(chosen, keras.layers.InputLayer):
            raise ValueError(f"model.layers[{layer}] of {model.name!r} is its InputLayer, which computes nothing; "
                             f"pass the index of a layer after it (as in model.layers), or a name; {listing}")
        return find_layer(model, chosen)
    if layer not in valid:
        raise ValueError(f"no layer {layer!r} in model {model.name!r}; {listing}")
    return layer


def get_layer(model, layer):
    """The user's layer object for a name, ``outer/inner`` path, index or object (see :func:`find_layer`)."""
    return flatten(model, refresh=False).layer(find_layer(model, layer))


def layer_output(model, layer):
    """A model from the image input to the output of ``layer`` (name, path, index, object).

    Built on the cached flat copy (:mod:`helpers.graph`): the user's model is neither
    called nor changed, nested layers are reachable, and asking again costs nothing.
    """
    return layer_model(model, layer)


# ----------------------------------------------------------------------------- images

def check_images(model, images, allow_empty=False):
    """Return ``images`` as a float32 batch of the model's input shape, or explain the mismatch.

    A single image gets a batch axis; grey images without a channel axis get one
    when the model takes one channel. Integer images (e.g. uint8 0..255) are passed
    on unscaled, with a warning unless the model's own input is an integer type
    (``keras.Input(dtype="uint8")``): a float model may expect [0, 1].

    Raises:
        ValueError: wrong shape (the message states the expected one), an empty batch,
            NaN or infinite pixels.
        TypeError: values that are not numbers.
    """
    source = graph_input(model)
    check_channels_last(flatten(model, refresh=False), model.name)
    raw = np.asarray(images)
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"images must be a numeric array (n, H, W, C); got dtype {raw.dtype}")
    images = raw.astype(np.float32)
    expected = tuple(source.shape[1:])
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
    takes_integers = "int" in keras.backend.standardize_dtype(source.dtype)
    if raw.dtype.kind in "iu" and images.size and images.max() > 1 and not takes_integers:
        warnings.warn(f"images are integers ({raw.dtype}, up to {images.max():.0f}) and are passed to the model "
                      "unscaled; if it was trained on [0, 1], divide them by 255 first", stacklevel=3)
    return images


def _matches(shape, expected):
    return len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, shape))


def spatial_shape(model, images=None):
    """``(H, W, C)`` of the model's input; ``None`` dimensions are an error unless ``images`` fill them."""
    shape = tuple(graph_input(model).shape[1:])
    if None in shape:
        if images is not None:
            return tuple(np.asarray(images).shape[1:])
        raise ValueError(f"model {model.name!r} takes images of any size {shape}; optimizing an image needs a "
                         "size: pass start=an array of start images (n, H, W, C)")
    return shape


# ----------------------------------------------------------------------------- copies


def layer_model(model, layer, pre_activation=False):
    """A model from the image input to ``layer`` (name, path, index or object), on copied layers.

    Args:
        pre_activation: give ``layer`` a linear activation (on the copy), so a ReLU that
            is zero everywhere still passes a gradient. Layers without an activation
            are taken as they are.

    Returns:
        a keras.Model built on the flat copy (:mod:`helpers.graph`); the user's model is never touched.
    """
    path = find_layer(model, layer)
    flat = flatten(model, linear={path} if pre_activation else frozenset())
    return flat.submodel(flat.output(path), key=("output", path))


def output_names(model):
    """Names of the model's outputs (Sequential models too, which have no ``output_names``)."""
    names = getattr(model, "output_names", None)
    if names:
        return list(names)
    try:
        return [t._keras_history.operation.name for t in model.outputs]
    except AttributeError:  # a Sequential wrapping a built model has no outputs of its own
        flat = flatten(model, refresh=False)
        return [flat.path_of(t) for t in flat.outputs]


def head_index(model, head):
    """Index of output ``head`` (name or index) of ``model``; the message lists the outputs."""
    check_model(model)
    names = output_names(model)
    if len(names) > 1:
        if isinstance(head, numbers.Integral) and not isinstance(head, bool) and -len(names) <= head < len(names):
            return int(head) % len(names)
        if head not in names:
            raise ValueError(f"model {model.name!r} has {len(names)} outputs; choose head= one of "
                             f"{', '.join(names)} (or its index)")
        return names.index(head)
    if head is not None and head not in names and head != 0:
        raise ValueError(f"model {model.name!r} has one output ({names[0]}); leave head=None")
    return 0


def head_scores(model, head=None, relu_backward=None):
    """The flat copy and the pre-softmax score tensor of one head, wherever its softmax sits.

    A softmax however written (a ``Softmax()`` layer, ``Activation("softmax")`` or
    ``Activation(tf.nn.softmax)``, ``keras.ops.softmax``, ``Lambda(tf.nn.softmax)``: see
    :mod:`helpers.layerkinds`) is skipped, a softmax activation (``"softmax"`` or
    ``tf.nn.softmax``) is made linear on the copy, a softmax behind Reshape/Flatten/Dropout
    layers is undone where it sits, a log-softmax is undone like a softmax; nested
    classifiers are seen through. A sigmoid head of
    one unit becomes the two scores ``(-z/2, z/2)`` whose softmax is ``(1 - p, p)``: target 0
    is evidence for the negative class, 1 for the positive one. Several sigmoid units
    (multi-label) give their logits.

    Returns:
        ``(flat graph, score tensor, path of the output layer, kind)`` with kind
        ``"softmax"``, ``"binary"``, ``"sigmoid"`` or ``"linear"``.
    """
    index = head_index(model, head)
    flat = flatten(model, relu_backward=relu_backward, refresh=False)
    output = flat.outputs[index]
    path = flat.path_of(output)
    layer = flat.layer(path)
    kind = op_kind(layer)
    if kind in _PROBABILITIES and not getattr(layer, "weights", ()):  # Softmax(), Activation(...), keras.ops.softmax: its input
        output = flat.inputs[path][0][0]
        path = flat.path_of(output) or path
    elif kind in _PROBABILITIES:  # Dense(..., activation="softmax" or tf.nn.softmax): made linear on a copy
        flat = flatten(model, linear={path}, relu_backward=relu_backward, refresh=False)
        output = flat.outputs[index]
    else:
        behind = _probability_behind(flat, path)
        if behind is None:
            kind = "linear"
        else:  # a softmax behind a Reshape/Flatten/Dropout: undone where it sits
            kind = op_kind(flat.layer(behind))
            flat = flatten(model, linear={behind}, relu_backward=relu_backward, refresh=False)
            output = flat.outputs[index]
    if kind == "log_softmax":
        kind = "softmax"
    flat.refresh(model)
    if kind == "sigmoid" and output.shape[-1] == 1:
        kind = "binary"
    if len(output.shape) != 2:
        raise ValueError(f"head {index} of {model.name!r} outputs {tuple(output.shape)}; the helpers explain "
                         "class scores (n, classes): pass a classifier, or choose another head=")
    return flat, output, path, kind


_PROBABILITIES = ("softmax", "log_softmax", "sigmoid")


def _probability_behind(flat, path):
    """Path of a softmax/sigmoid reached from ``path`` back through pass-through layers, or ``None``."""
    while path is not None and is_pass_through(flat.layer(path)) and len(flat.inputs[path][0]) == 1:
        path = flat.path_of(flat.inputs[path][0][0])
        if path is not None and op_kind(flat.layer(path)) in _PROBABILITIES:
            return path
    return None


def logit_model(model, head=None, relu_backward=None):
    """A model on copied layers that outputs the pre-softmax scores of one head (see :func:`head_scores`).

    Returns:
        ``(scores_model, output_layer_path)``; ``scores_model.head_kind`` says what the scores are.
        The model is cached with the flat copy: do not change its layers.
    """
    flat, output, path, kind = head_scores(model, head, relu_backward)
    key = ("scores", id(output))
    scores = flat._submodels.get(key)
    if scores is None:
        tensor = keras.ops.concatenate([-0.5 * output, 0.5 * output], axis=-1) if kind == "binary" else output
        scores = flat.submodel(tensor, key=key)
        if kind == "linear":
            _refuse_hidden_probabilities(model, scores, path)
        scores.head_kind = kind
    return scores, path


def _refuse_hidden_probabilities(model, scores, path):
    """Refuse an output that computes probabilities by a means no rule can undo (a custom layer or
    Lambda): every row non-negative and summing to 1 on random inputs, with no softmax found."""
    shape = tuple(scores.inputs[0].shape)[1:]
    if len(scores.inputs) != 1 or None in shape or scores.outputs[0].shape[-1] < 2:
        return
    probe = np.random.default_rng(0).random((4, *shape)).astype("float32")
    rows = keras.ops.convert_to_numpy(scores(probe, training=False)).reshape(4, -1)
    if (rows >= 0).all() and np.allclose(rows.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError(
            f"the output {path!r} of {model.name!r} looks like probabilities (on random inputs every row is "
            "non-negative and sums to 1), but no softmax was found in the graph to undo; the helpers explain "
            "pre-softmax class scores. Fix: end the model with a Softmax() layer, Activation('softmax') or "
            "Dense(..., activation='softmax'), which the helpers undo, or pass a model that outputs the scores, "
            "e.g. keras.Model(model.inputs, model.get_layer(<the layer before the probabilities>).output)")
