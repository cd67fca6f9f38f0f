"""Data larger than memory: peak memory and time of fits that read a uint8 memory map.

Writes a 1,000,000 x 784 uint8 ``.npy`` file (MNIST-8M's shape: 784 MB; random
pixels with a low-rank structure) in a temporary folder, deleted afterwards,
and runs, each in a fresh process so that its peak resident set size
(``VmHWM``, which counts the memory map's pages too) is its own:

- ``PCA(50).fit`` of the whole file, read through ``npae.ScaledArray(X, 1/255)``;
- one epoch of ``Autoencoder(hidden_sizes=(256,), code_size=32, dtype="float32")``
  on the whole file, the same way;
- time per row: the same model fitted for one epoch on the first ``--subset``
  rows, from the memory map against an in-memory float32 copy of them
  (already scaled), taking turns, medians;
- PCA on a Dask ``LocalCluster`` (two worker processes, each chunk read by
  its worker from the file) against the in-memory PCA of the same rows.

Beside each peak: what the in-memory float64 data alone would take. Writes
``benchmarks/results/streaming.json`` and ``streaming.md``.

    python benchmarks/bench_streaming.py [--rows 1000000] [--subset 100000] [--quick]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from benchmarks_common import environment, write_results

N_FEATURES = 784

# Runs in a fresh process: argv = [path, what, ...]; prints one JSON line.
CHILD = r"""
import json, resource, sys, time
import numpy as np
import npae

def peak_mb():
    # VmHWM: this process's own peak. ru_maxrss would also count the parent's memory at
    # fork time (Linux keeps it across exec).
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

path, what = sys.argv[1], sys.argv[2]
X = np.load(path, mmap_mode="r")
imported = peak_mb()
if what == "pca":
    start = time.perf_counter()
    pca = npae.PCA(50).fit(npae.ScaledArray(X, 1 / 255))
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb(), "imported_mb": imported,
                      "explained": float(pca.explained_variance_ratio_.sum())}))
elif what == "autoencoder":
    model = npae.Autoencoder(hidden_sizes=(256,), code_size=32, epochs=1, dtype="float32",
                             random_state=0)
    start = time.perf_counter()
    model.fit(npae.ScaledArray(X, 1 / 255, dtype="float32"))
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb(), "imported_mb": imported,
                      "loss": model.history_["loss"][-1]}))
elif what == "per_row":
    n, repeats = int(sys.argv[3]), int(sys.argv[4])
    mapped = npae.ScaledArray(X[:n], 1 / 255, dtype="float32")
    in_memory = np.asarray(mapped)
    def fit(data):
        model = npae.Autoencoder(hidden_sizes=(256,), code_size=32, epochs=1, dtype="float32",
                                 random_state=0)
        start = time.perf_counter()
        model.fit(data)
        return time.perf_counter() - start, model
    fit(in_memory[:2000])  # warm-up: compile the kernels
    times = {"memmap": [], "in_memory": []}
    for _ in range(repeats):
        t, a = fit(mapped)
        times["memmap"].append(t)
        t, b = fit(in_memory)
        times["in_memory"].append(t)
    same = all(np.array_equal(p, q) for p, q in zip(a.network_.params(), b.network_.params()))
    print(json.dumps({"times": times, "same_weights": same}))
"""

DASK_CHILD = r"""
import json, sys, time
import numpy as np
import dask, dask.array as da
from distributed import Client, LocalCluster
import npae

def rows(path, start, stop):
    return np.load(path, mmap_mode="r")[start:stop] / 255.0

path, n, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                  dashboard_address=None) as cluster, Client(cluster):
    parts = [da.from_delayed(dask.delayed(rows)(path, s, min(s + chunk, n)),
                             shape=(min(s + chunk, n) - s, 784), dtype=np.float64)
             for s in range(0, n, chunk)]
    start = time.perf_counter()
    on_cluster = npae.PCA(50).fit(da.concatenate(parts))
    cluster_s = time.perf_counter() - start
X = np.load(path, mmap_mode="r")[:n] / 255.0
start = time.perf_counter()
in_memory = npae.PCA(50).fit(X)
memory_s = time.perf_counter() - start
signs = np.sign(np.sum(on_cluster.components_ * in_memory.components_, axis=1))[:, None]
print(json.dumps({
    "cluster_s": cluster_s, "in_memory_s": memory_s,
    "components_max_abs_diff": float(np.abs(on_cluster.components_ * signs
                                            - in_memory.components_).max()),
    "variance_max_rel_diff": float(np.max(np.abs(on_cluster.explained_variance_
                                                 / in_memory.explained_variance_ - 1))),
    "offset_rel_diff": abs(on_cluster.offset_ / in_memory.offset_ - 1)}))
"""


def write_data(path, n_rows, seed=0, block=50_000):
    """uint8 rows with a 30-factor structure plus noise, written block by block."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(30, N_FEATURES)) * 20
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n_rows, N_FEATURES))
    for start in range(0, n_rows, block):
        stop = min(start + block, n_rows)
        values = rng.normal(size=(stop - start, 30)) @ basis + 128
        values += rng.normal(scale=10, size=values.shape)
        out[start:stop] = np.clip(values, 0, 255).astype(np.uint8)
    out.flush()
    del out


def child(code, *args):
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--subset", type=int, default=100_000,
                        help="rows of the per-row time comparison (they must fit in memory)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="50,000 rows: a smoke run")
    args = parser.parse_args()
    n_rows = 50_000 if args.quick else args.rows
    subset = min(args.subset, n_rows) if not args.quick else 10_000
    float64_mb = n_rows * N_FEATURES * 8 / 2**20
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "rows.npy")
        write_data(path, n_rows)
        file_mb = os.path.getsize(path) / 2**20
        for what, case in (("pca", "PCA(50).fit"),
                           ("autoencoder", "Autoencoder(256, 32) float32, one epoch")):
            result = child(CHILD, path, what)
            rows.append({"case": f"{case}, {n_rows:,} x 784 uint8 memmap",
                         "peak_rss_mb": result["peak_rss_mb"],
                         "rss_after_imports_mb": result["imported_mb"],
                         "file_mb": file_mb, "in_memory_float64_mb": float64_mb,
                         "seconds": result["seconds"],
                         "us_per_row": 1e6 * result["seconds"] / n_rows})
        timing = child(CHILD, path, "per_row", subset, args.repeats)
        memmap_s = float(np.median(timing["times"]["memmap"]))
        memory_s = float(np.median(timing["times"]["in_memory"]))
        rows.append({"case": f"one epoch on {subset:,} rows: memmap / in-memory float32",
                     "memmap_us_per_row": 1e6 * memmap_s / subset,
                     "in_memory_us_per_row": 1e6 * memory_s / subset,
                     "time_ratio": memmap_s / memory_s,
                     "same_weights": timing["same_weights"]})
        dask_rows = min(n_rows, 200_000)
        result = child(DASK_CHILD, path, dask_rows, 25_000)
        rows.append({"case": f"PCA(50) on a Dask LocalCluster (2 processes), {dask_rows:,} "
                             "rows, against in-memory", **result})
    keys = list(dict.fromkeys(key for row in rows for key in row))
    rows = [{key: row.get(key, "") for key in keys} for row in rows]  # one table, one header
    env = environment()
    env["note"] = ("peak_rss_mb is the fresh process's VmHWM (interpreter and libraries "
                   "included, memory-mapped pages too); in_memory_float64_mb is the data alone "
                   "as float64")
    write_results("streaming", rows, env)


if __name__ == "__main__":
    main()
