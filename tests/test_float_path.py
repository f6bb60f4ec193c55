"""``make test`` runs TensorFlow on another float path than ``make render``: prove that it matters.

The committed notebooks are rendered with TensorFlow's default thread pool (every core);
``make test`` sets ``TF_NUM_INTRAOP_THREADS=1`` (Makefile). Reductions are then split and
summed in another order, which is what another CPU type does too (other vector widths). This
test trains the course's default network briefly under both settings and checks that the
weights differ: so when nbval re-executes chapter 01 under ``make test``, it trains other
weights than the committed render did, and its checked outputs pass only if they hold for
any such weights (margins, not digits). Chapters 02-07 load shipped weights and are compared
through inference on this other float path.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = """
import sys
import numpy as np
import helpers
helpers.setup(0)
from helpers import models
m = models.trained("seed000_mnist", epochs=1, train_size=3000, batch_size=64, verbose=0, shipped=False)
np.save(sys.argv[1], np.concatenate([w.ravel() for w in m.get_weights()]))
np.save(sys.argv[2], m.course_record.meta["test"]["accuracy"])
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: the default thread pool is one thread too")
def test_one_intra_op_thread_trains_other_weights_than_the_default_pool(tmp_path):
    results = {}
    for threads in ("1", str(os.cpu_count())):
        env = {**os.environ, "TF_NUM_INTRAOP_THREADS": threads, "COURSE_CACHE_DIR": str(tmp_path / threads)}
        weights, accuracy = tmp_path / f"w{threads}.npy", tmp_path / f"a{threads}.npy"
        subprocess.run([sys.executable, "-c", SCRIPT, str(weights), str(accuracy)], env=env, check=True, timeout=600)
        results[threads] = np.load(weights), float(np.load(accuracy))
    (one, acc_one), (pool, acc_pool) = results.values()
    assert one.shape == pool.shape
    assert np.mean(one != pool) > 0.3 and np.abs(one - pool).max() > 0  # most weights differ in their last bits
    assert abs(acc_one - acc_pool) < 0.02  # and both trainings still learn the same task
