"""How the time of one training epoch grows with the samples and with the width.

``Autoencoder.fit`` for one epoch, float32, minibatches of 128: against the
number of samples (1k, 3k, 10k, 30k, 100k of 784 features, architecture
784-256-64-256-784) and against the hidden width (64 ... 1024, code 64, on
10k samples). An epoch is a fixed number of steps per sample, so its time
should grow linearly with the samples; a least-squares line through the
origin and its R^2 say how closely it does. Medians of a few runs. Writes
``benchmarks/results/scaling.json``, ``scaling.md`` and the figure
``scaling.png``.

    python benchmarks/bench_scaling.py [--repeats 3] [--quick]
"""

import argparse
import os
import statistics
import time

import numpy as np
from bench_dense import set_threads
from bench_fit import data

import benchmarks_common
from benchmarks_common import environment, pause, write_results
from npae import Autoencoder

SAMPLES = [1_000, 3_000, 10_000, 30_000, 100_000]
WIDTHS = [64, 128, 256, 512, 1024]


def epoch_seconds(X, hidden, repeats):
    """Median seconds of ``fit`` for one epoch (a fresh model each time)."""
    times = []
    for _ in range(repeats):
        model = Autoencoder(hidden_sizes=(hidden,), code_size=64, epochs=1, batch_size=128,
                            random_state=0)
        start = time.perf_counter()
        model.fit(X)
        times.append(time.perf_counter() - start)
    pause()
    return statistics.median(times)


def line_through_origin(x, y):
    """Slope of y = a x by least squares, and its R^2."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    slope = float(x @ y / (x @ x))
    residual = y - slope * x
    return slope, float(1 - residual @ residual / ((y - y.mean()) @ (y - y.mean())))


def plot(rows, fit, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    by_samples = [r for r in rows if r["vary"] == "samples"]
    n = np.array([r["n_samples"] for r in by_samples])
    left.loglog(n, [r["epoch_s"] for r in by_samples], "o-", label="npae, one epoch")
    left.loglog(n, fit[0] * n, "--", label=f"linear fit (R$^2$ = {fit[1]:.4f})")
    left.set(xlabel="samples (784 features)", ylabel="seconds per epoch",
             title="784-256-64-256-784, float32, batch 128")
    left.legend()
    by_width = [r for r in rows if r["vary"] == "width"]
    right.plot([r["hidden"] for r in by_width], [r["epoch_s"] for r in by_width], "o-")
    right.set(xlabel="hidden width (784-w-64-w-784)", ylabel="seconds per epoch",
              title=f"{by_width[0]['n_samples']} samples, float32" if by_width else "")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads (default: leave as they are)")
    parser.add_argument("--quick", action="store_true",
                        help="1k and 3k samples, widths 64 and 128, one run each: a smoke run")
    args = parser.parse_args()
    set_threads(args.threads)
    samples, widths, repeats = (([1_000, 3_000], [64, 128], 1) if args.quick
                                else (SAMPLES, WIDTHS, args.repeats))
    X_all = data(max(samples), "float32")
    rows = []
    for n in samples:
        # the largest sets once (an epoch of 100k takes seconds), the small ones repeated
        seconds = epoch_seconds(X_all[:n], 256, repeats if n <= 10_000 else 1)
        rows.append({"vary": "samples", "n_samples": n, "hidden": 256, "epoch_s": seconds,
                     "us_per_sample": seconds / n * 1e6})
        print(rows[-1], flush=True)
    n_width = min(10_000, max(samples))
    for hidden in widths:
        seconds = epoch_seconds(X_all[:n_width], hidden, repeats)
        rows.append({"vary": "width", "n_samples": n_width, "hidden": hidden,
                     "epoch_s": seconds, "us_per_sample": seconds / n_width * 1e6})
        print(rows[-1], flush=True)
    by_samples = [r for r in rows if r["vary"] == "samples"]
    fit = line_through_origin([r["n_samples"] for r in by_samples],
                              [r["epoch_s"] for r in by_samples])
    for row in rows:
        row["linear_fit_s"] = fit[0] * row["n_samples"] if row["vary"] == "samples" else "n/a"
    env = environment()
    env["threads_option"] = args.threads
    env["linear_fit"] = {"seconds_per_sample": fit[0], "r_squared": fit[1]}
    write_results("scaling", rows, env)
    plot(rows, fit, os.path.join(benchmarks_common.RESULTS, "scaling.png"))
    print(f"linear fit: {fit[0] * 1e6:.2f} us per sample, R^2 = {fit[1]:.5f}")


if __name__ == "__main__":
    main()
