"""How well did a classifier learn? Curves, scores, confusion matrix, predictions, mistakes."""

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np

from helpers.arguments import class_labels, positive_int

from helpers.gallery import show_images


def plot_history(history, title="Training"):
    """Accuracy and loss per epoch, training against validation.

    Args:
        history: dict metric -> list per epoch, as in ``model.course_record.history``
            (for multi-output models every ``<head>_accuracy`` is drawn).
        title: figure title.

    Returns:
        The matplotlib figure.
    """
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(9, 3.2))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for key, values in history.items():
        if key.startswith("val_"):
            continue
        ax = ax_acc if key.endswith("accuracy") else ax_loss if key == "loss" else None
        if ax is None:
            continue
        ax.plot(epochs, values, label=f"train {key}")  # the course's cycle: colour, marker and dash differ
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label=f"validation {key}")
    for ax, name in ((ax_acc, "accuracy"), (ax_loss, "loss")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=10))  # 60 epochs: no overprinted ticks
        ax.set_title(f"{name} per epoch")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def predict_labels(model, images, batch_size=512):
    """Predicted class and its probability for each image (single-output models).

    A one-unit sigmoid output ``p`` is a binary classifier: class 1 where ``p > 0.5``, and its
    probabilities are returned as the two columns ``(1 - p, p)``.

    Args:
        model: a single-output Keras classifier (softmax or one-unit sigmoid output).
        images: a batch the model takes.
        batch_size: images per forward pass.

    Returns:
        ``(labels, probabilities)``: int array ``(n,)`` and the ``(n, classes)`` probabilities.

    Raises:
        ValueError: a multi-output model, or an output that is not one row of scores per image.
    """
    batch_size = positive_int(batch_size, "batch_size")
    probs = model.predict(images, batch_size=batch_size, verbose=0)
    if isinstance(probs, (list, tuple, dict)):
        names = list(probs) if isinstance(probs, dict) else list(range(len(probs)))
        raise ValueError(f"model {model.name!r} has {len(probs)} outputs ({', '.join(map(str, names))}); "
                         "predict_labels takes one classifier output: pass keras.Model(model.input, "
                         "model.outputs[i]) for head i")
    probs = np.asarray(probs)
    if probs.ndim != 2:
        raise ValueError(f"model {model.name!r} outputs shape {probs.shape[1:]} per image; predict_labels needs "
                         "one row of class probabilities per image (n, classes)")
    if probs.shape[1] == 1:  # a one-unit sigmoid: p is the probability of class 1
        probs = np.concatenate([1 - probs, probs], axis=1)
    return probs.argmax(axis=1), probs


def confusion_matrix(y_true, y_pred, classes=None):
    """Counts ``cm[t, p]`` of images of true class ``t`` predicted as ``p``."""
    classes = None if classes is None else positive_int(classes, "classes")
    y_true = class_labels(y_true, "y_true", classes=classes)
    y_pred = class_labels(y_pred, "y_pred", n=len(y_true), classes=classes)
    if not len(y_true):
        raise ValueError("y_true and y_pred are empty: no images to count")
    classes = classes or int(max(y_true.max(), y_pred.max())) + 1
    return np.bincount(y_true * classes + y_pred, minlength=classes * classes).reshape(classes, classes)


def plot_confusion_matrix(cm, class_names=None, title="Confusion matrix (test set)"):
    """Draw a confusion matrix with counts in the cells and a colour bar (log-scaled colours)."""
    from matplotlib.colors import LogNorm

    classes = len(cm)
    names = class_names if class_names is not None else [str(i) for i in range(classes)]
    fig, ax = plt.subplots(figsize=(0.55 * classes + 2, 0.5 * classes + 1.2))
    image = ax.imshow(cm + 1, cmap="Blues", norm=LogNorm(vmin=1, vmax=cm.max() + 1))
    for t in range(classes):
        for p in range(classes):
            if cm[t, p]:
                ax.text(p, t, str(cm[t, p]), ha="center", va="center", fontsize=7,
                        color="white" if image.norm(cm[t, p] + 1) > 0.55 else "black")
    long_names = max(len(n) for n in names) > 3
    ax.set_xticks(range(classes), names, rotation=45 if long_names else 0, ha="right" if long_names else "center")
    ax.set_yticks(range(classes), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="images + 1 (log scale)")
    fig.tight_layout()
    return fig


def show_predictions(images, y_true, y_pred, probs, indices, suptitle="Predictions"):
    """Images with 'predicted (probability)' titles; wrong predictions are marked with '!=true'."""
    titles = []
    for i in indices:
        mark = "" if y_pred[i] == y_true[i] else f" != {y_true[i]}"
        titles.append(f"#{i}: {y_pred[i]} ({probs[i, y_pred[i]]:.1%}){mark}")
    return show_images(images[list(indices)], titles=titles, ncols=min(10, len(indices)), suptitle=suptitle,
                       size=1.3)


def misclassified(y_true, y_pred, probs, n=None):
    """Indices of wrong predictions, most confident mistakes first."""
    wrong = np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred))
    confidence = probs[wrong, np.asarray(y_pred)[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")]
    return order if n is None else order[:n]


def show_misclassified(images, y_true, y_pred, probs, n=20, ncols=10):
    """The ``n`` most confident mistakes, titled 'true -> predicted (probability)'."""
    picks = misclassified(y_true, y_pred, probs, n)
    if len(picks) == 0:
        raise ValueError("no misclassified images: nothing to show")
    titles = [f"#{i}: {y_true[i]}->{y_pred[i]} ({probs[i, y_pred[i]]:.0%})" for i in picks]
    return show_images(images[picks], titles=titles, ncols=ncols, size=1.3,
                       suptitle=f"The {len(picks)} most confident mistakes (true -> predicted)")
