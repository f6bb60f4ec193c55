import numpy as np
import pytest

from helpers import evaluation, gallery
from helpers.data import make_lines


def drawn_images(fig):
    return [im for ax in fig.axes for im in ax.get_images()]


def test_confusion_matrix_counts():
    cm = evaluation.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    with pytest.raises(ValueError, match="y_pred has 1 entries for 2 images"):
        evaluation.confusion_matrix([0, 1], [0])


def test_misclassified_most_confident_first():
    y_true = np.array([0, 1, 2, 1])
    y_pred = np.array([1, 1, 0, 0])
    probs = np.array([[0.4, 0.6, 0], [0, 1, 0], [0.9, 0, 0.1], [0.7, 0.3, 0]])
    assert evaluation.misclassified(y_true, y_pred, probs).tolist() == [2, 3, 0]
    assert evaluation.misclassified(y_true, y_pred, probs, n=1).tolist() == [2]


def test_plot_confusion_matrix_has_colourbar_and_labels():
    fig = evaluation.plot_confusion_matrix(np.array([[5, 1], [0, 7]]), class_names=["a", "b"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert len(fig.axes) == 2  # matrix + colour bar
    assert sorted(t.get_text() for t in ax.texts) == ["1", "5", "7"]


def test_history_plot_draws_train_and_validation():
    fig = evaluation.plot_history({"loss": [1.0, 0.5], "accuracy": [0.5, 0.9],
                                   "val_loss": [0.8, 0.6], "val_accuracy": [0.6, 0.8]})
    acc_ax, loss_ax = fig.axes
    assert [line.get_ydata().tolist() for line in acc_ax.lines] == [[0.5, 0.9], [0.6, 0.8]]
    assert [line.get_ydata().tolist() for line in loss_ax.lines] == [[1.0, 0.5], [0.8, 0.6]]


def test_show_images_any_count():
    images = np.zeros((7, 5, 5, 1))
    fig = gallery.show_images(images, titles=list("abcdefg"), ncols=3)
    assert len(fig.axes) == 9 and len(drawn_images(fig)) == 7
    assert drawn_images(fig)[0].get_array().shape == (5, 5)
    with pytest.raises(ValueError, match="7 images but 2 titles"):
        gallery.show_images(images, titles=["a", "b"])


def test_class_samples_and_distribution():
    labels = np.array([0, 1, 1, 2, 2, 2])
    fig = gallery.show_class_samples(np.zeros((6, 4, 4)), labels, per_class=2)
    assert len(drawn_images(fig)) == 1 + 2 + 2
    _, counts = gallery.plot_class_distribution({"train": labels, "test": np.array([2])})
    assert counts["train"].tolist() == [1, 2, 3] and counts["test"].tolist() == [0, 0, 1]


def test_lines_by_factor_rows():
    data = make_lines(96 * 2, seed=0)
    fig = gallery.show_lines_by_factor(data, "angle", ncols=3)
    assert len(fig.axes) == 12 * 3 and len(drawn_images(fig)) == 36
    with pytest.raises(ValueError, match="length, width, colour, angle"):
        gallery.show_lines_by_factor(data, "size")


def test_predictions_titles_mark_mistakes():
    probs = np.array([[0.9, 0.1], [0.2, 0.8]])
    fig = evaluation.show_predictions(np.zeros((2, 3, 3)), np.array([0, 0]), np.array([0, 1]), probs, [0, 1])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["#0: 0 (90.0%)", "#1: 1 (80.0%) != 0"]

