"""Every architecture of the course's sources, by name.

Each builder returns an uncompiled Keras 3 functional model whose layer names
say what they are (``conv1``, ``pool1``, ``dense1``, ``predictions``). Where a
source prints a model summary, the layer shapes and parameter counts here are
the same (``tests/test_models.py`` asserts them).
"""

import keras
from keras import layers

from helpers.data.lines import FACTORS

LINE_HEADS = {name: len(values) for name, values in FACTORS.items()}  # length 2, width 2, colour 2, angle 12
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # pixel statistics of the MNIST training set in [0, 1]


def _classifier(inputs, x, classes, name):
    outputs = layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def seed000_mnist(input_shape=(28, 28, 1), classes=10):
    """Seed 000's Keras CNN: conv32-pool-conv64-pool-conv64-dense64-dense10 (93,322 parameters)."""
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="dense1")(x)
    return _classifier(inputs, x, classes, "seed000_mnist")


def seed000_same(input_shape=(28, 28, 1), classes=10, filters=(16, 32, 64), dropout=0.25):
    """Seed 000's TensorFlow variant: three 3x3 'same' convolutions with configurable filter
    counts (the source compares (3, 6, 12) with (16, 32, 64)), 2x2 'same' pooling after the
    first two, dropout, and a softmax output layer."""
    if len(filters) != 3 or min(filters) < 1:
        raise ValueError(f"filters must be three positive counts, e.g. (3, 6, 12); got {filters!r}")
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for i, f in enumerate(filters, 1):
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        if i < 3:
            x = layers.MaxPooling2D(2, padding="same", name=f"pool{i}")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    return _classifier(inputs, x, classes, "seed000_same")


def seed001_base(input_shape=(28, 28, 1), classes=10):
    """Seed 001's base model: 7x7x32 conv, batch norm, 2x2 pool, dense 1024.
    3,977,930 parameters on MNIST; 4,069,216 on the Line data (3 channels, 96 classes)."""
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(32, 7, activation="relu", name="conv1")(inputs)
    x = layers.BatchNormalization(name="batchnorm1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(1024, activation="relu", name="dense1")(x)
    return _classifier(inputs, x, classes, "seed001_base")


def seed001_deep(input_shape=(28, 28, 3), classes=96):
    """Seed 001's deep Line model: conv 32/64/128 (3x3), pooling, batch norm, dense 1024."""
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Conv2D(128, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.BatchNormalization(name="batchnorm3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(1024, activation="relu", name="dense1")(x)
    return _classifier(inputs, x, classes, "seed001_deep")


def _multi_head(inputs, features, hidden, name):
    """One hidden dense layer and one softmax head per Line factor."""
    outputs = {}
    for (head, classes), units in zip(LINE_HEADS.items(), hidden):
        h = layers.Dense(units, activation="relu", name=f"{head}_dense")(features)
        outputs[head] = layers.Dense(classes, activation="softmax", name=head)(h)
    return keras.Model(inputs, outputs, name=name)


def seed001_multi1(input_shape=(28, 28, 3)):
    """Seed 001's 'question 2' variation 1: conv 4@3x3, conv 4@5x5, four dense-64 branches."""
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    x = layers.Conv2D(4, 5, activation="relu", name="conv2")(x)
    x = layers.Flatten(name="flatten")(x)
    return _multi_head(inputs, x, (64, 64, 64, 64), "seed001_multi1")


def seed001_multi2(input_shape=(28, 28, 3)):
    """Variation 2: conv 8@7x7 same, pool, conv 6@5x5, 2x2 pool with stride 1, dense branches.
    The source's summary lists a 128- and a 256-unit branch; the other two are 128 here."""
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(8, 7, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(6, 5, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, strides=1, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    return _multi_head(inputs, x, (128, 128, 128, 256), "seed001_multi2")


def seed001_multi3(input_shape=(28, 28, 3)):
    """Variation 3: conv 10@5x5 same, pool, conv 8@3x3, pool, dense branches.
    The source's summary lists a 128- and a 64-unit branch; here length/width 128, colour/angle 64."""
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(10, 5, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(8, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    return _multi_head(inputs, x, (128, 128, 64, 64), "seed001_multi3")


def seed002_mnist(input_shape=(28, 28, 1), classes=10):
    """Seed 002's MNIST CNN: conv 64@5x5 - pool - conv 32@5x5 - pool - dense."""
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(64, 5, activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(32, 5, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    return _classifier(inputs, x, classes, "seed002_mnist")


def _paired_conv_blocks(x, second_padding):
    """Two blocks of two 3x3 convolutions (32, then 64 filters), 2x2 pooling and dropout 0.25."""
    for block, filters in ((1, 32), (2, 64)):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{2 * block - 1}")(x)
        x = layers.Conv2D(filters, 3, padding=second_padding, activation="relu", name=f"conv{2 * block}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{block}")(x)
        x = layers.Dropout(0.25, name=f"dropout{block}")(x)
    return layers.Flatten(name="flatten")(x)


def seed002_svhn(input_shape=(32, 32, 3), classes=10):
    """Seed 002's SVHN CNN: conv1-conv2-pool-dropout-conv3-conv4-pool-dropout-fc-dropout-fc."""
    inputs = keras.Input(input_shape, name="image")
    x = _paired_conv_blocks(inputs, second_padding="same")
    x = layers.Dense(512, activation="relu", name="fc1")(x)
    x = layers.Dropout(0.5, name="dropout3")(x)
    return _classifier(inputs, x, classes, "seed002_svhn")


def seed002_cifar10(input_shape=(32, 32, 3), classes=10):
    """Seed 002's CIFAR-10 CNN: conv 32@5x5 and 64@5x5 with pooling, dense 1024 and 512
    (4,778,954 parameters). The output layer is called ``preds`` as in the source."""
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(32, 5, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 5, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(1024, activation="relu", name="fc1")(x)
    x = layers.Dense(512, activation="relu", name="fc2")(x)
    outputs = layers.Dense(classes, activation="softmax", name="preds")(x)
    return keras.Model(inputs, outputs, name="seed002_cifar10")


def keras_cifar10_cnn(input_shape=(32, 32, 3), classes=10):
    """The Keras example ``cifar10_cnn`` that seed 002 also trains (1,250,858 parameters)."""
    inputs = keras.Input(input_shape, name="image")
    x = _paired_conv_blocks(inputs, second_padding="valid")
    x = layers.Dense(512, activation="relu", name="dense1")(x)
    x = layers.Dropout(0.5, name="dropout3")(x)
    return _classifier(inputs, x, classes, "keras_cifar10_cnn")


def seed003_mnist(input_shape=(28, 28, 1), classes=10):
    """Seed 003's CNN: conv 24/48/64 (3x3, same) each followed by pooling, dense 128,
    dropout 0.25 (113,514 parameters)."""
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for i, f in enumerate((24, 48, 64), 1):
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="dense1")(x)
    x = layers.Dropout(0.25, name="dropout")(x)
    return _classifier(inputs, x, classes, "seed003_mnist")


def seed004_mnist(input_shape=(28, 28, 1), classes=10, l2=1e-3):
    """Seed 004's CNN: inputs standardized with MNIST's mean and std inside the model, conv
    32/64/64, dense 70, an L2 penalty on every kernel (trained with SGD + momentum and a
    decaying learning rate, see :func:`helpers.models.training.optimizer_for`)."""
    reg = keras.regularizers.L2(l2)
    inputs = keras.Input(input_shape, name="image")
    x = layers.Normalization(mean=MNIST_MEAN, variance=MNIST_STD**2, name="standardize")(inputs)
    x = layers.Conv2D(32, 3, activation="relu", kernel_regularizer=reg, name="conv1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", kernel_regularizer=reg, name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Conv2D(64, 3, activation="relu", kernel_regularizer=reg, name="conv3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(70, activation="relu", kernel_regularizer=reg, name="dense1")(x)
    return _classifier(inputs, x, classes, "seed004_mnist")
