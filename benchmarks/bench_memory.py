"""Peak memory of a digits training run, in a fresh process.

The child imports npae, loads the digits (1797 x 64) and fits
``Autoencoder(hidden_sizes=(64,), code_size=8)`` (the defaults, 100 epochs)
in float64 and float32. Reported: the process's peak resident set size
(``ru_maxrss``) after the imports and after training, and the peak of the
memory the fits allocate through Python and NumPy (``tracemalloc``). Writes
``benchmarks/results/memory.json`` and ``memory.md``.

    python benchmarks/bench_memory.py [--epochs 100] [--quick]
"""

import argparse
import json
import subprocess
import sys

from benchmarks_common import environment, write_results

CHILD = """
import json, resource, sys, time, tracemalloc
import npae
from npae.datasets import load_digits
imported_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
X, _, _ = load_digits()
epochs = int(sys.argv[1])
rows = []
for dtype in ("float64", "float32"):
    tracemalloc.start()
    start = time.perf_counter()
    npae.Autoencoder(epochs=epochs, random_state=0).fit(X.astype(dtype))
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rows.append({"dtype": dtype, "epochs": epochs, "fit_s_under_tracemalloc": seconds,
                 "traced_peak_mb": peak / 2**20})
print(json.dumps({"imported_mb": imported_kb / 1024, "rows": rows,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="5 epochs: a smoke run")
    args = parser.parse_args()
    epochs = 5 if args.quick else args.epochs
    out = subprocess.run([sys.executable, "-c", CHILD, str(epochs)], check=True,
                         capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    rows = [{"case": "digits 1797 x 64, Autoencoder() defaults", **row,
             "rss_after_imports_mb": result["imported_mb"],
             "peak_rss_mb": result["peak_rss_mb"]} for row in result["rows"]]
    env = environment()
    env["note"] = ("peak_rss_mb is the whole process (interpreter, NumPy, SciPy, scikit-learn, "
                   "Numba) after both fits; traced_peak_mb is what one fit allocates")
    write_results("memory", rows, env)


if __name__ == "__main__":
    main()
