"""
Training on a Dask array with dask-ml's ``Incremental``
=======================================================

Train :class:`skvae.VAEOutlierDetector` on ADBench's ``11_donors`` (619,326 x 10) held
as a Dask array over float32 memory-mapped files, the way data that live on a
cluster are trained: dask-ml's :class:`~dask_ml.wrappers.Incremental` passes the
blocks, one after the other in a shuffled order, to the detector's ``partial_fit``
(skvae adds no loop of its own), and the fitted wrapper, a
:class:`~dask_ml.wrappers.ParallelPostFit`, predicts block by block. The test ROC AUC
and the peak memory are compared with a fit on the whole training part in memory,
each in a fresh process.

The scaler is dask-ml's :class:`~dask_ml.preprocessing.StandardScaler`, fitted on
the Dask array. The detector's threshold ``offset_`` is set by ``partial_fit`` on
each block, so after ``Incremental.fit`` it is the ``contamination`` quantile of the
last block's scores under the final weights (a block of 50,000 rows is plenty for a
quantile). The data are split and written to disk as
float32 ``.npy`` files as in ``stream_donors_partial_fit.py``, and every Dask task
reads its block from the file; without ``../shared/datasets/adbench`` beside the
repository a synthetic stand-in of the same shape is used.

This script is not run by the documentation build (about a minute on 2 cores):
``python examples/dask_donors_incremental.py``.
"""

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import torch
from dask.distributed import Client, LocalCluster
from dask_ml.preprocessing import StandardScaler
from dask_ml.wrappers import Incremental
from sklearn.metrics import average_precision_score, roc_auc_score
from stream_donors_partial_fit import write_memmaps

from skvae import VAEOutlierDetector

torch.set_num_threads(1)
CHUNK = 50_000
CONTAMINATION = 0.059


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def from_npy(path: Path, chunk: int = CHUNK) -> da.Array:
    """A Dask array whose blocks each task reads from the ``.npy`` file itself.

    ``da.from_array`` on a memmap would put the whole array into the task graph
    (Dask pickles the graph for the scheduler); tasks that open the file carry only
    its name, as on a cluster whose workers share a file system.
    """
    n_rows, n_features = np.load(path, mmap_mode="r").shape

    def read(start: int) -> np.ndarray:
        return np.array(np.load(path, mmap_mode="r")[start : start + chunk])

    return da.concatenate(
        [
            da.from_delayed(
                dask.delayed(read)(start),
                shape=(min(chunk, n_rows - start), n_features),
                dtype=np.float32,
            )
            for start in range(0, n_rows, chunk)
        ]
    )


def report(name: str, detector, seconds: float, y_test, scores, labels) -> None:
    print(
        f"{name}: {detector.n_iter_} epochs, {seconds:.0f} s; test ROC AUC "
        f"{roc_auc_score(y_test, scores):.3f}, AP "
        f"{average_precision_score(y_test, scores):.3f}, "
        f"{np.mean(labels == -1):.1%} of the test rows flagged; "
        f"peak RSS {peak_rss_mib():.0f} MiB"
    )


def train_on_dask(workdir: Path, y_test: np.ndarray) -> None:
    # In-process workers, so that this process's peak RSS covers the work.
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        train, test = from_npy(workdir / "train.npy"), from_npy(workdir / "test.npy")
        start = time.perf_counter()
        scaler = StandardScaler().fit(train)
        model = Incremental(
            VAEOutlierDetector(contamination=CONTAMINATION, random_state=0),
            random_state=0,
        ).fit(scaler.transform(train).astype(np.float32))
        seconds = time.perf_counter() - start
        detector = model.estimator_
        test_scaled = scaler.transform(test).astype(np.float32)
        labels = model.predict(test_scaled)  # ParallelPostFit: a lazy Dask array
        # ParallelPostFit forwards predict and transform; scores are mapped over
        # the blocks.
        scores = -da.map_blocks(
            detector.score_samples,
            test_scaled,
            drop_axis=1,
            dtype=np.float32,
            meta=np.array([], dtype=np.float32),
        )
        labels, scores = da.compute(labels, scores)
        report(
            f"Incremental over {train.numblocks[0]} blocks of {CHUNK:,} rows",
            detector,
            seconds,
            y_test,
            scores,
            labels,
        )


def train_in_memory(workdir: Path, y_test: np.ndarray) -> None:
    from sklearn.preprocessing import StandardScaler as InMemoryScaler

    start = time.perf_counter()
    X_train = np.load(workdir / "train.npy")
    scaler = InMemoryScaler().fit(X_train)
    detector = VAEOutlierDetector(contamination=CONTAMINATION, random_state=0)
    detector.fit(scaler.transform(X_train).astype(np.float32))
    seconds = time.perf_counter() - start
    X_test = scaler.transform(np.load(workdir / "test.npy")).astype(np.float32)
    report(
        "fit in memory",
        detector,
        seconds,
        y_test,
        -detector.score_samples(X_test),
        detector.predict(X_test),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--run", choices=["dask", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        y_test = np.load(args.workdir / "y_test.npy")
        print(f"  peak RSS after imports: {peak_rss_mib():.0f} MiB")
        {"dask": train_on_dask, "memory": train_in_memory}[args.run](
            args.workdir, y_test
        )
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        source, _, y_test = write_memmaps(workdir)
        np.save(workdir / "y_test.npy", y_test)
        print(f"data: {source}; float32 .npy files, 70/30 stratified split")
        # Each way in a fresh process of its own, so that the peak RSS of one does
        # not hide that of the other.
        for run in ("dask", "memory"):
            subprocess.run(
                [sys.executable, __file__, "--run", run, "--workdir", str(workdir)],
                check=True,
            )


if __name__ == "__main__":
    main()
