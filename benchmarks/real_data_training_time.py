"""Benchmark: how long chapters 06 and 07 train on the real SVHN and CIFAR-10, on this CPU.

The real data sets cannot be downloaded here, so this times the models on random
arrays of exactly the real shapes and sizes (no data set is imitated: the numbers
are throughput, not accuracy). Training time does not depend on pixel values, so
seconds per batch times batches per epoch times the chapter's epochs estimates
the training part of each chapter's render. Epochs, batch size and validation
split come from each chapter's parameters cell. The same estimate is printed for
seed 000's MNIST model, whose real training time is known, as a check of the
estimate. Run: ``.venv/bin/python benchmarks/real_data_training_time.py``.
"""

import ast
import inspect
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import helpers  # noqa: E402

helpers.setup(0)
import numpy as np  # noqa: E402
import papermill  # noqa: E402

from helpers import models  # noqa: E402
from helpers.data.prepare import training_data  # noqa: E402
from helpers.data.registry import REPO_ROOT  # noqa: E402

WARM, TIMED, REPEATS = 20, 60, 3  # batches to warm up; batches per timed run; timed runs (median kept)
#: (architecture, input shape, images in the real training set, the chapter that trains it)
RUNS = (("seed000_mnist", (28, 28, 1), 60_000, "01_train_mnist"),
        ("seed002_svhn", (32, 32, 3), 73_257, "06_svhn"),
        ("seed002_cifar10", (32, 32, 3), 50_000, "07_cifar10"),
        ("keras_cifar10_cnn", (32, 32, 3), 50_000, "07_cifar10"))


def chapter_settings(chapter):
    """Epochs, batch size and validation images of a chapter, read from its parameters cell."""
    found = papermill.inspect_notebook(str(REPO_ROOT / "notebooks" / f"{chapter}.ipynb"))
    params = {name: ast.literal_eval(info["default"]) for name, info in found.items()}
    default_validation = inspect.signature(training_data).parameters["validation_size"].default
    return params["epochs"], params["batch_size"], params.get("validation_size", default_validation)


def seconds_per_batch(name, shape, batch):
    """Seconds per training step of ``name`` at batch size ``batch``: the median of
    ``REPEATS`` timed runs after a warm-up (this machine's timings vary by up to 2x)."""
    rng = np.random.default_rng(0)
    x = rng.random((batch * TIMED, *shape), dtype=np.float32)
    y = rng.integers(0, 10, batch * TIMED)
    model = models.build(name, training_steps=10_000)
    model.fit(x[:batch * WARM], y[:batch * WARM], batch_size=batch, epochs=1, verbose=0)
    runs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        runs.append((time.perf_counter() - start) / TIMED)
    return float(np.median(runs))


def main():
    print(f"{'architecture':<18} {'chapter':<16} {'ms/batch':>9} {'s/epoch':>8} {'epochs':>6} {'minutes':>8}")
    for name, shape, n_real, chapter in RUNS:
        epochs, batch, validation = chapter_settings(chapter)
        per_batch = seconds_per_batch(name, shape, batch)
        per_epoch = per_batch * -(-(n_real - validation) // batch)
        print(f"{name:<18} {chapter:<16} {per_batch * 1000:9.1f} {per_epoch:8.1f} {epochs:6d} "
              f"{per_epoch * epochs / 60:8.1f}")
    print("(seed000_mnist is the check: its real training time is in its model-cache meta.json)")


if __name__ == "__main__":
    main()
