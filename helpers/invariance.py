"""The input-invariance test of Kindermans et al. (2019): same function, shifted inputs.

Take a model whose first layer is a convolution, and a constant ``shift`` per colour channel.
A second network that subtracts the shift's effect in that convolution's bias,

    b' = b - sum over the kernel of W * shift,

computes on ``images + shift`` *exactly* what the first computes on ``images``: the two are the
same function of the content, seen through inputs that differ by a constant. An attribution
method that explains the function should give both the same map. Gradient-based maps
(saliency, Grad-CAM, guided backpropagation) do, because the gradients are equal; methods
that compare the input with a fixed reference (Integrated Gradients from a black baseline,
occlusion with a black patch, Score-CAM's masking by multiplication) do not, unless the
reference is shifted too.
"""

import keras
import numpy as np

from helpers.modelparts import check_images


def _first_convolution(model):
    readers = [layer for layer in model.layers
               if not isinstance(layer, keras.layers.InputLayer)
               and any(node.input_tensors and node.input_tensors[0] is model.inputs[0]
                       for node in layer._inbound_nodes)]
    if len(model.inputs) != 1 or len(readers) != 1 or not isinstance(readers[0], keras.layers.Conv2D):
        found = ", ".join(f"{layer.name} ({type(layer).__name__})" for layer in readers) or "none"
        raise ValueError(f"the input-invariance copy needs a functional model with one input read by one Conv2D "
                         f"layer; {model.name!r} feeds its input to: {found}. Apply the test to a model that "
                         "starts with a convolution (put preprocessing before the model).")
    conv = readers[0]
    if conv.padding != "valid" or not conv.use_bias:
        raise ValueError(f"layer {conv.name!r} must use padding='valid' and a bias (it has padding="
                         f"{conv.padding!r}, use_bias={conv.use_bias}): zero padding at the border sees the "
                         "shift, so no bias can compensate it there")
    return conv


def shifted_input_copy(model, shift):
    """A copy of ``model`` that computes on ``images + shift`` what ``model`` computes on ``images``.

    Args:
        model: a functional Keras model whose input is read by one ``Conv2D`` with
            ``padding="valid"`` and a bias (not modified).
        shift: one number, or one per input channel.

    Returns:
        a new ``keras.Model`` with the same layers' weights, except the first convolution's
        bias, which is ``b - sum_{i, j, c} W[i, j, c, :] * shift[c]``.

    Raises:
        ValueError: the model does not start with such a convolution (the message names the
            layers that read its input), or the shift does not fit the channels.
    """
    conv = _first_convolution(model)
    kernel, bias = conv.get_weights()
    channels = kernel.shape[2]
    shift = np.broadcast_to(np.asarray(shift, np.float64), (channels,)) if np.ndim(shift) <= 1 and \
        np.size(shift) in (1, channels) else None
    if shift is None or not np.isfinite(shift).all():
        raise ValueError(f"shift must be one finite number or {channels} (one per input channel)")
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    compensated = bias - np.einsum("hwco,c->o", kernel.astype(np.float64), shift)
    copy.get_layer(conv.name).set_weights([kernel, compensated.astype(bias.dtype)])
    return copy


def input_invariance(model, images, shift, methods):
    """Largest difference between each method's maps on the model and on its shifted-input copy.

    Args:
        model: see :func:`shifted_input_copy`.
        images: a batch in the model's input range.
        shift: the constant added to every pixel (one number or one per channel).
        methods: dict name -> callable ``(model, images, target=...) -> maps``; each is
            called on ``(model, images)`` and on ``(copy, images + shift)`` for the class the
            model predicts. A value ``(callable, keyword)`` names the method's reference
            (``"baseline"`` of Integrated Gradients, ``"fill"`` of occlusion): it is 0 on the
            original and ``shift`` on the copy, the reference shifted with the inputs.

    Returns:
        ``(differences, outputs_gap, shifted_maps)``: dict name -> largest absolute
        difference between the two maps (maps are in [0, 1]); the largest difference of the
        two models' outputs (about 1e-6: the same function); dict name -> maps of the copy.
    """
    images = check_images(model, images)
    copy = shifted_input_copy(model, shift)
    shifted = (images + np.asarray(shift, np.float32)).astype(np.float32)
    original_out, copy_out = np.asarray(model(images, training=False)), np.asarray(copy(shifted, training=False))
    target = original_out.argmax(axis=-1)
    differences, shifted_maps = {}, {}
    for name, method in methods.items():
        method, reference = method if isinstance(method, tuple) else (method, None)
        before, after = ({}, {}) if reference is None else ({reference: 0.0}, {reference: shift})
        shifted_maps[name] = method(copy, shifted, target=target, **after)
        differences[name] = float(np.abs(method(model, images, target=target, **before) - shifted_maps[name]).max())
    return differences, float(np.abs(original_out - copy_out).max()), shifted_maps
