"""Names of the architectures, their default data set and how each is compiled."""

import inspect
from dataclasses import dataclass, field

from helpers.models import zoo


@dataclass(frozen=True)
class Architecture:
    """One entry of the zoo: builder, the data set it is trained on, fixed builder arguments."""

    builder: object
    dataset: str
    fixed: dict = field(default_factory=dict)
    optimizer: str = "adam"
    source: str = ""


ARCHITECTURES = {
    "seed000_mnist": Architecture(zoo.seed000_mnist, "mnist", source="seed 000, Keras model"),
    "seed000_same": Architecture(zoo.seed000_same, "mnist", source="seed 000, TensorFlow variant"),
    "seed001_base_mnist": Architecture(zoo.seed001_base, "mnist", source="seed 001, base model on MNIST"),
    "seed001_base_lines": Architecture(zoo.seed001_base, "lines", {"input_shape": (28, 28, 3), "classes": 96},
                                       source="seed 001, base model on the Line data"),
    "seed001_deep_lines": Architecture(zoo.seed001_deep, "lines", source="seed 001, deep Line model"),
    "seed001_multi1": Architecture(zoo.seed001_multi1, "lines_heads", source="seed 001, question 2 variation 1"),
    "seed001_multi2": Architecture(zoo.seed001_multi2, "lines_heads", source="seed 001, question 2 variation 2"),
    "seed001_multi3": Architecture(zoo.seed001_multi3, "lines_heads", source="seed 001, question 2 variation 3"),
    "seed002_mnist": Architecture(zoo.seed002_mnist, "mnist", source="seed 002, MNIST model"),
    "seed002_svhn": Architecture(zoo.seed002_svhn, "svhn", source="seed 002, SVHN model"),
    "seed002_cifar10": Architecture(zoo.seed002_cifar10, "cifar10", source="seed 002, first CIFAR-10 model"),
    "keras_cifar10_cnn": Architecture(zoo.keras_cifar10_cnn, "cifar10", source="Keras example cifar10_cnn (seed 002)"),
    "seed003_mnist": Architecture(zoo.seed003_mnist, "mnist", source="seed 003"),
    "seed004_mnist": Architecture(zoo.seed004_mnist, "mnist", optimizer="sgd_momentum", source="seed 004"),
}


def available():
    """Names of every architecture, sorted."""
    return sorted(ARCHITECTURES)


def architecture(name):
    """The catalogue entry of ``name``; an unknown name lists the available ones."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; available: {', '.join(available())}")
    return ARCHITECTURES[name]


def describe(name):
    """One line: source, default data set, the builder's docstring summary."""
    arch = architecture(name)
    doc = inspect.getdoc(arch.builder).split("\n\n")[0].replace("\n", " ")
    return f"{name} ({arch.source}; trained on {arch.dataset}): {doc}"


def optimizer_for(kind, training_steps=None, learning_rate=None):
    """The optimizer an architecture is trained with.

    Both recipes decay the learning rate along a cosine to zero over
    ``training_steps`` (constant when it is None): short trainings gain most
    from ending with small steps.

    - ``adam``: Adam, learning rate 2e-3 at the start.
    - ``sgd_momentum`` (seed 004): SGD with Nesterov momentum 0.9, learning rate 0.05.
    """
    import keras

    starts = {"adam": 2e-3, "sgd_momentum": 0.05}
    if kind not in starts:
        raise ValueError(f"unknown optimizer {kind!r}; choose one of {', '.join(starts)}")
    rate = learning_rate or starts[kind]
    if training_steps:
        rate = keras.optimizers.schedules.CosineDecay(rate, training_steps)
    if kind == "adam":
        return keras.optimizers.Adam(rate)
    return keras.optimizers.SGD(rate, momentum=0.9, nesterov=True)


def build(name, compile=True, training_steps=None, **options):
    """Build architecture ``name`` as a (compiled) Keras functional model.

    Args:
        name: one of :func:`available`.
        compile: compile with the architecture's optimizer, sparse categorical
            cross-entropy and accuracy (one per head for multi-output models).
        training_steps: optimizer steps of the whole training, for the learning-rate
            schedule (None: constant learning rate).
        **options: builder arguments, e.g. ``filters=(3, 6, 12)`` for ``seed000_same``.

    Returns:
        A ``keras.Model``.

    Raises:
        ValueError: unknown name, or an option the builder does not take (the message
            lists the ones it does).
    """
    arch = architecture(name)
    accepted = set(inspect.signature(arch.builder).parameters) - set(arch.fixed)
    unknown = set(options) - accepted
    if unknown:
        raise ValueError(f"{name} does not take {sorted(unknown)}; its options: {sorted(accepted) or 'none'}")
    model = arch.builder(**arch.fixed, **options)
    if compile:
        heads = model.output_names
        multi = isinstance(model.output, dict)
        loss = {h: "sparse_categorical_crossentropy" for h in heads} if multi else "sparse_categorical_crossentropy"
        metrics = {h: ["accuracy"] for h in heads} if multi else ["accuracy"]
        model.compile(optimizer=optimizer_for(arch.optimizer, training_steps), loss=loss, metrics=metrics)
    return model
