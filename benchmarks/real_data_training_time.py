"""Benchmark: how long chapters 06 and 07 train on the real SVHN and CIFAR-10, on this CPU.

The real data sets cannot be downloaded here, so this times the models on random
arrays of exactly the real shapes and sizes (no data set is imitated: the numbers
are throughput, not accuracy). Training time does not depend on pixel values, so
seconds per batch times batches per epoch times the chapter's epochs estimates
the training part of each chapter's render. The same ratio is printed for
seed 000's MNIST model, whose real training time is known, as a check of the
estimate. Run: ``.venv/bin/python benchmarks/real_data_training_time.py``.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import helpers  # noqa: E402

helpers.setup(0)
import numpy as np  # noqa: E402

from helpers import models  # noqa: E402

BATCH, WARM, TIMED = 64, 20, 100
#: (architecture, input shape, training images left after the 5,000-image validation split,
#:  the chapter's default epochs, the chapter)
RUNS = (("seed000_mnist", (28, 28, 1), 55_000, 3, "01 (check: known real time)"),
        ("seed002_svhn", (32, 32, 3), 73_257 - 5_000, 5, "06"),
        ("seed002_cifar10", (32, 32, 3), 50_000 - 5_000, 10, "07"),
        ("keras_cifar10_cnn", (32, 32, 3), 50_000 - 5_000, 10, "07"))


def seconds_per_batch(name, shape):
    """Seconds per training step of ``name`` at batch size 64, after a warm-up."""
    rng = np.random.default_rng(0)
    x = rng.random((BATCH * TIMED, *shape), dtype=np.float32)
    y = rng.integers(0, 10, BATCH * TIMED)
    model = models.build(name, training_steps=10_000)
    model.fit(x[:BATCH * WARM], y[:BATCH * WARM], batch_size=BATCH, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    return (time.perf_counter() - start) / TIMED


def main():
    print(f"{'architecture':<18} {'chapter':<28} {'ms/batch':>9} {'s/epoch':>8} {'epochs':>6} {'minutes':>8}")
    for name, shape, n_train, epochs, chapter in RUNS:
        per_batch = seconds_per_batch(name, shape)
        per_epoch = per_batch * -(-n_train // BATCH)
        print(f"{name:<18} {chapter:<28} {per_batch * 1000:9.1f} {per_epoch:8.1f} {epochs:6d} "
              f"{per_epoch * epochs / 60:8.1f}")


if __name__ == "__main__":
    main()
