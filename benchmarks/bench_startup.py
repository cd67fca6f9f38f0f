"""Time a fresh process that imports npae and fits a small model once.

Cold: the Numba cache (``NUMBA_CACHE_DIR``) points at an empty temporary
directory, so every kernel the fit meets is compiled. Warm: the same
directory again, now filled, so every kernel loads from it. The model is
``Autoencoder(hidden_sizes=(32,), code_size=8, epochs=1)`` on the digits
(1797 x 64), float64 and float32. Reports the wall time of the whole
process (interpreter start-up included) and, as the child measures them,
the import and the fit. Medians over the runs. Writes
``benchmarks/results/startup.json`` and ``startup.md``.

    python benchmarks/bench_startup.py [--cold 2] [--warm 3] [--quick]

``--quick`` makes one warm run from Numba's usual cache (next to the
kernels), a smoke run.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks_common import environment, write_results

CHILD = """
import json, time
start = time.perf_counter()
import npae
from npae.datasets import load_digits
imported = time.perf_counter()
X, _, _ = load_digits()
for dtype in ("float64", "float32"):
    npae.Autoencoder(hidden_sizes=(32,), code_size=8, epochs=1, random_state=0).fit(
        X.astype(dtype))
print(json.dumps({"import_s": imported - start, "fit_s": time.perf_counter() - imported}))
"""


def run_child(cache_dir):
    """(process wall seconds, the child's own import and fit seconds).

    ``cache_dir`` None leaves ``NUMBA_CACHE_DIR`` as it is.
    """
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, check=True,
                         capture_output=True, text=True).stdout
    wall = time.perf_counter() - start
    return {"process_s": wall, **json.loads(out.strip().splitlines()[-1])}


def summarize(kind, runs):
    row = {"start": kind, "runs": len(runs)}
    for key in ("process_s", "import_s", "fit_s"):
        row[f"median_{key}"] = statistics.median(run[key] for run in runs)
    row["max_process_s"] = max(run["process_s"] for run in runs)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=2, help="cold runs (each an empty cache)")
    parser.add_argument("--warm", type=int, default=3, help="warm runs")
    parser.add_argument("--quick", action="store_true", help="one warm run only: a smoke run")
    args = parser.parse_args()
    cold, warm = [], []
    if args.quick:
        warm.append(run_child(None))
        args.cold = args.warm = 0
    with tempfile.TemporaryDirectory() as shared:
        for _ in range(args.cold):
            with tempfile.TemporaryDirectory() as empty:
                cold.append(run_child(empty))
                print("cold", cold[-1], flush=True)
        if args.warm:
            run_child(shared)  # fills the cache the warm runs load from
        for _ in range(args.warm):
            warm.append(run_child(shared))
            print("warm", warm[-1], flush=True)
    rows = [summarize(kind, runs) for kind, runs in (("cold", cold), ("warm", warm)) if runs]
    env = environment(skipped=[] if cold else ["cold start (--quick)"])
    env["model"] = "Autoencoder(hidden_sizes=(32,), code_size=8, epochs=1), digits, f64 + f32"
    write_results("startup", rows, env)


if __name__ == "__main__":
    main()
