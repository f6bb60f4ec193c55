"""A flat copy of a model's graph: every layer call, nested models inlined, on copied layers.

Every visualization needs the model's graph: the output of an inner layer, the
scores before a softmax that may sit inside a nested classifier, the kernel and
stride of every layer between the input and a unit. Asking the user's model for
these directly adds nodes to its layers each time (Keras records every symbolic
call) and cannot see through nested models. :func:`flatten` instead re-runs the
model's graph once on **copies** of its layers: nested models (Sequential or
functional, at any depth) are inlined, a layer used twice stays one shared copy
with both calls recorded, and the user's model is never called, changed or
extended. The copy is cached per model (weakly: it never keeps a deleted model
alive) and its weights and state constants (an adapted ``Normalization``'s mean and
variance) are refreshed from the user's model each time it is asked for, so a model
trained further is explained with its new weights; a model whose function changed
since (an activation swapped, a layer or weight replaced, a layer re-adapted) is
copied again. Activations given as TensorFlow functions (``tf.nn.softmax``) are
carried over as they are.

- :func:`flatten` -- the :class:`FlatGraph` of a model (cached).
- :func:`tracked_weights` -- a block in which only reported layers' weight values change.
- :class:`FlatGraph` -- ``paths`` in call order, ``calls[path]`` (one output per call),
  ``layer(path)`` (the user's layer), ``path_of(tensor)``, ``submodel(outputs)``.
"""

import contextlib
import weakref

import keras
from keras import tree

from helpers.layerkinds import op_kind, swap_relu

_CACHE = weakref.WeakKeyDictionary()  # model -> {"signature": signature(model), variant: FlatGraph}
_TRACKED = weakref.WeakKeyDictionary()  # model -> list of its layers whose weights changed, in order


class UnsupportedModel(ValueError):
    """The model has no graph of layers the helpers can follow; the message says what to pass."""


def _is_graph(model):
    return isinstance(model, keras.Sequential) or (
        hasattr(model, "_run_through_graph") and hasattr(model, "_nodes_by_depth"))


def check_model(model):
    """Refuse what has no single-image-input layer graph, naming what to pass instead."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"expected a Keras model (keras.Model or keras.Sequential); got {type(model).__name__}")
    if not _is_graph(model):
        raise UnsupportedModel(
            f"model {model.name!r} is a subclassed model ({type(model).__name__}): its layers are called from "
            "Python code, so there is no graph of layer outputs to look into. Rebuild it with the functional "
            "API (inputs = keras.Input(shape=...); x = layer(inputs); ...; keras.Model(inputs, outputs)) and "
            "copy the weights over (new.set_weights(model.get_weights())), then pass the functional model")
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs and isinstance(model, keras.Sequential):
        first = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)][:1]
        if first and isinstance(first[0], keras.Model) and _is_graph(first[0]):
            inputs = [check_model(first[0])]  # Sequential([classifier]): the classifier's input is the input
    if not inputs:
        raise UnsupportedModel(
            f"model {model.name!r} has not been built, so it has no layer outputs yet: give it a keras.Input "
            "as its first layer (or call model.build((None, H, W, C))), then ask again")
    if len(inputs) != 1:
        names = ", ".join(str(t.name) for t in inputs)
        raise UnsupportedModel(
            f"model {model.name!r} takes {len(inputs)} inputs ({names}); the helpers explain models with one "
            "image input. Wrap it with the other inputs held fixed, e.g. image = keras.Input(shape=...); "
            "keras.Model(image, model([image, keras.ops.convert_to_tensor(other)])), and pass that")
    return inputs[0]


class FlatGraph:
    """The flattened copy of one model (see the module docstring).

    Args:
        model: a built single-input functional or Sequential model.
        linear: paths whose copied layer gets a linear activation (pre-activation views).
        relu_backward: ``None``, or a function ``relu(x)`` that replaces every ReLU of the copy
            (ReLU layers, ``Activation("relu")`` and ``activation="relu"``).
    """

    def __init__(self, model, linear=frozenset(), relu_backward=None):
        source = check_model(model)
        self.name = model.name
        self.input_dtype = keras.backend.standardize_dtype(source.dtype)
        dtype = self.input_dtype if "float" in self.input_dtype else "float32"  # integer images: gradients need floats
        self.input = keras.Input(batch_shape=source.shape, dtype=dtype, name=f"{model.name}__flat_input")
        self.paths, self.calls, self.inputs, self._layers = [], {}, {}, {}
        self._clones, self._pairs = {}, []
        self._linear, self._relu = frozenset(linear), relu_backward
        outputs = self._run(model, self.input, "")
        self.outputs = tree.flatten(outputs)
        self._tensor_paths = {}
        for path in self.paths:  # inner layers come before the nested model that returns their tensor
            for tensor in tree.flatten(self.calls[path]):
                self._tensor_paths.setdefault(id(tensor), path)  # the innermost layer that made it wins
        self._submodels, self.compiled = {}, {}
        self.refresh(model)

    # ------------------------------------------------------------------ building
    def _run(self, model, inputs, prefix):
        if isinstance(model, keras.Sequential):
            x = inputs
            for layer in model.layers:
                if not isinstance(layer, keras.layers.InputLayer):
                    x = self._call(layer, prefix, (x,), {})
            return x
        if not _is_graph(model):
            check_model(model)  # raises with the fix
        return model._run_through_graph(inputs, operation_fn=lambda op: (
            lambda *args, **kwargs: self._call(op, prefix, args, kwargs)))

    def _call(self, op, prefix, args, kwargs):
        path = prefix + op.name
        if isinstance(op, keras.Model):
            check_model(op)
            out = self._run(op, args[0], path + "/")
        else:
            out = self._clone(op, path)(*args, **kwargs)
        if path not in self.calls:
            self.paths.append(path)
            self._layers[path] = op
        self.calls.setdefault(path, []).append(out)
        self.inputs.setdefault(path, []).append(
            [t for t in tree.flatten((args, kwargs)) if isinstance(t, keras.KerasTensor)])
        return out

    def _clone(self, op, path):
        if id(op) in self._clones:
            return self._clones[id(op)]
        carries = isinstance(op, keras.layers.Layer) and "activation" in vars(op)
        try:
            config = _config_of(op, carries)
            if isinstance(config, dict) and "name" in config:
                config["name"] = path.replace("/", "__")  # unique in the flat graph, whatever the nesting
            clone = op.__class__.from_config(config)
        except Exception as err:  # a custom layer without get_config: say which one and how to fix it
            raise UnsupportedModel(
                f"layer {path!r} ({type(op).__name__}) cannot be copied ({type(err).__name__}: {err}); give it "
                "a get_config() that returns its constructor arguments (Keras' custom-layer guide)") from err
        if carries:
            clone.activation = op.activation  # as the user's layer has it: tf.nn.softmax, None, a swapped one
        if path in self._linear:
            if getattr(clone, "activation", None) is not None:
                clone.activation = keras.activations.linear
            elif op_kind(clone) in ("softmax", "log_softmax", "sigmoid"):
                clone.call = lambda inputs, *args, **kwargs: inputs  # a softmax layer or keras.ops op: undone
        if self._relu is not None:
            swap_relu(clone, self._relu)
        self._clones[id(op)] = clone
        if isinstance(op, keras.layers.Layer):
            self._pairs.append((op, clone))
        return clone

    def refresh(self, model):
        """Copy the user's current weights into the copied layers (values only: compiled functions stay valid);
        within :func:`tracked_weights`, only those of the layers reported changed since the last refresh."""
        pairs, changed = self._pairs, _TRACKED.get(model)
        seen = getattr(self, "_seen", None)  # (the block's list, how much of it this copy has taken in)
        if changed is not None and seen is not None and seen[0] is changed:  # the same block as last time
            moved = {id(layer) for layer in changed[seen[1]:]}
            pairs = [pair for pair in pairs if id(pair[0]) in moved]
        self._seen = (changed, len(changed)) if changed is not None else None
        for original, clone in pairs:
            mine, theirs = clone.weights, original.weights
            if len(mine) != len(theirs):
                raise UnsupportedModel(f"layer {original.name!r} of {model.name!r} did not copy with its "
                                       f"{len(theirs)} weights (the copy has {len(mine)})")
            for target, value in zip(mine, theirs):
                target.assign(value)
            for name, value in _state_constants(original).items():  # e.g. an adapted Normalization's mean
                setattr(clone, name, value)
        return self

    # ------------------------------------------------------------------ reading
    def layer(self, path):
        """The user's layer (or nested model) at ``path``."""
        return self._layers[path]

    def output(self, path):
        """The output of ``path``'s only call; a layer called more than once is refused with the reason."""
        calls = self.calls[path]
        if len(calls) > 1:
            raise ValueError(f"layer {path!r} of {self.name!r} is called {len(calls)} times (a shared layer), so "
                             "'its output' is ambiguous; pass a layer that is called once (for example the layer "
                             "right after the call you mean)")
        return calls[0]

    def path_of(self, tensor):
        """Path of the layer of this graph that produced ``tensor`` (``None`` for the input)."""
        return self._tensor_paths.get(id(tensor))

    def clone(self, path):
        """The copied layer at ``path`` (for reading its configuration)."""
        return self._clones.get(id(self._layers[path]))

    def submodel(self, outputs, key=None, cast=True):
        """A keras.Model from the flat input to ``outputs`` (tensors of this graph), cached by ``key``.

        ``cast``: outputs in float32 (mixed precision). Leave it off when gradients are taken
        with respect to an output that the others depend on: a cast copy is a side branch.
        """
        if key is not None and key in self._submodels:
            return self._submodels[key]
        cast = tree.map_structure(lambda t: t if not cast or t.dtype == "float32" else keras.ops.cast(t, "float32"),
                                  outputs)
        model = keras.Model(self.input, cast)
        if key is not None:
            self._submodels[key] = model
        model._flat_graph = weakref.ref(self)  # weak: the cache above owns the graph, the graph its sub-models
        return model


def _config_of(op, carries_activation):
    """``op.get_config()``; with ``carries_activation`` read from a stand-in whose activation is linear,
    since TensorFlow functions (``tf.nn.softmax``) and ``None`` do not serialize (the user's layer is
    not touched: the stand-in shares its attributes)."""
    if not carries_activation:
        return op.get_config()
    stand_in = object.__new__(type(op))
    stand_in.__dict__.update(vars(op))
    stand_in.__dict__["activation"] = keras.activations.linear
    return type(op).get_config(stand_in)


def _state_constants(layer):
    """Tensors a layer computes with that are not variables: build-time constants such as the mean and
    variance an adapted (or loaded) ``Normalization`` made in ``finalize_state()``."""
    # dtype and shape first: keras.ops.is_tensor is a slow protocol check (about 3 ms a layer)
    return {name: value for name, value in vars(layer).items()
            if hasattr(value, "dtype") and hasattr(value, "shape") and keras.ops.is_tensor(value)
            and not isinstance(value, keras.Variable) and not name.startswith("__")}


def signature(model):
    """What the model computes with, by identity: every layer, its activation and call, its variables and
    state constants. A change (an activation swapped, a layer or weight replaced, a layer re-adapted)
    means the cached copy no longer computes what the model does."""
    parts = []
    for layer in model._flatten_layers(include_self=True):
        parts.append((id(layer), id(getattr(layer, "activation", None)), id(vars(layer).get("call")),
                      tuple(id(v) for v in layer.weights), tuple(id(v) for v in _state_constants(layer).values())))
        if isinstance(layer, keras.Sequential):
            parts.append(tuple(id(sub) for sub in layer.layers))
    return tuple(parts)


def flatten(model, linear=frozenset(), relu_backward=None, refresh=True):
    """The cached :class:`FlatGraph` of ``model``, its weights refreshed from the model.

    Args:
        model: a built single-input functional or Sequential Keras model (nested models inside are fine).
        linear: paths whose copied layer gets a linear activation.
        relu_backward: see :class:`FlatGraph`.
        refresh: copy the model's current weights in (leave it off for lookups of structure only).
    """
    check_model(model)
    variants = _CACHE.get(model)
    if variants is None or model not in _TRACKED:  # within tracked_weights the structure stays as it was
        current = signature(model)
        if variants is None or variants.get("signature") != current:  # new, or changed since it was copied
            variants = _CACHE[model] = {"signature": current}
    key = (frozenset(linear), relu_backward)
    if key not in variants:
        variants[key] = FlatGraph(model, linear, relu_backward)
        return variants[key]
    return variants[key].refresh(model) if refresh else variants[key]


@contextlib.contextmanager
def tracked_weights(model):
    """A block in which the caller changes only the *values* of ``model``'s weights and reports each layer it
    changed with ``changed.append(layer)`` (``changed`` is what the block gets): the cached copies of ``model``
    then skip :func:`signature` and copy in only the reported layers' weights, instead of every layer's.

    For a model the caller owns and edits step by step (cascading randomization's private copy): one
    layer changed between two attribution calls costs one layer's assignment.
    """
    changed = _TRACKED[model] = []
    try:
        yield changed
    finally:
        _TRACKED.pop(model, None)


def flat_of(submodel):
    """The :class:`FlatGraph` a sub-model (from :meth:`FlatGraph.submodel`) was cut from."""
    return submodel._flat_graph()
