"""The Dask cluster that the course's parallel tools run on (render sweeps, class grading).

A Dask ``LocalCluster`` of worker processes (``workers``, default 2) or an existing
cluster given by its scheduler address; results come back in submission order,
with a progress bar as they finish.
"""

import os

from helpers.progress import progress


def make_client(scheduler=None, workers=2):
    """A Dask client: connected to ``scheduler``, or to a new ``LocalCluster`` of ``workers`` processes."""
    from distributed import Client, LocalCluster

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # inherited by the workers, which import TensorFlow
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if scheduler:
        return Client(scheduler)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=50)
    return Client(cluster)


def gather(client, futures, label, done=None):
    """Results of ``futures`` in submission order, with a progress bar as they finish; ``done(result)``,
    when given, is called with each result as soon as it is there (results are saved as they come).
    The results returned are the objects ``done`` saw, so what it adds to one (a note) is kept."""
    from distributed import as_completed

    results = {}
    with progress(None, label, total=len(futures)) as bar:
        for future in as_completed(futures):
            results[future.key] = future.result()
            if done is not None:
                done(results[future.key])
            bar.update(1)
    return [results[future.key] for future in futures]


def close(client, scheduler):
    cluster = None if scheduler else client.cluster
    client.close()
    if cluster is not None:
        cluster.close()
