"""How npae and PyTorch scale from 1 to 2 threads: the dense epoch and the conv step.

Cases, float32:

- one epoch of ``Autoencoder.fit`` (784-256-64-256-784, batch 128) on
  10,000 rows, against the same loop in PyTorch (``bench_fit``);
- Conv2D 16->32 3x3 pad 1 forward and backward on (64, 16, 14, 14), by
  im2col (``bench_conv``), against ``torch.nn.Conv2d``.

For each thread count, every pool is limited to it: OpenBLAS through
threadpoolctl, Numba's (``numba.set_num_threads``) and PyTorch's
(``torch.set_num_threads``). The contenders take turns in one process,
each turn after a pause that lets the previous one's threads stop
spinning (``bench_dense.time_in_turns``); medians. Writes
``benchmarks/results/threads.json`` and ``threads.md``: each case's time
per thread count, its ratio to PyTorch at the same count, and each side's
speed-up from 1 to 2 threads.

    python benchmarks/bench_threads.py [--repeats 7] [--threads 1 2] [--quick]
"""

import argparse
import time

import numpy as np
from bench_conv import CASES as CONV_CASES
from bench_conv import npae_step as conv_npae_step
from bench_conv import torch_step as conv_torch_step
from bench_dense import time_in_turns
from bench_fit import data, npae_fit, torch_fit
from threadpoolctl import threadpool_limits

from benchmarks_common import environment, pause, write_results

CONV = "Conv2D 16->32 3x3 p1"


def set_pools(threads, have_torch):
    """Limit Numba's and PyTorch's pools to ``threads`` (BLAS: the caller's context)."""
    try:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass
    if have_torch:
        import torch

        torch.set_num_threads(threads)


def cases(n_rows, have_torch, conv_block=10):
    """``{case: ({contender: callable}, calls per turn)}`` for the two cases."""
    X = data(n_rows, "float32")
    dense = {"npae": npae_fit(X)}
    if have_torch:
        dense["torch"] = torch_fit(X)
    _, make, torch_make, shape = next(c for c in CONV_CASES if c[0] == CONV)
    rng = np.random.default_rng(0)
    conv = {"npae": conv_npae_step(make, shape, "float32", None, rng)}
    if have_torch:
        conv["torch"] = conv_torch_step(torch_make, shape, "float32", rng)
    return {f"dense epoch, {n_rows:,} x 784, 784-256-64-256-784": (dense, 1),
            f"{CONV} fwd+bwd, {shape}": (conv, conv_block)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--quick", action="store_true", help="256 rows, one turn: a smoke run")
    args = parser.parse_args()
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    n_rows, repeats, warmup = (256, 1, 0) if args.quick else (10_000, args.repeats, 1)
    timed = {}
    for case, (runners, block) in cases(n_rows, have_torch, 1 if args.quick else 10).items():
        for threads in args.threads:
            with threadpool_limits(threads, user_api="blas"):
                set_pools(threads, have_torch)
                timed[case, threads] = time_in_turns(runners, repeats=repeats, block=block,
                                                     warmup=warmup)
            pause()
    rows = []
    first = args.threads[0]
    for (case, threads), times in timed.items():
        row = {"case": case, "dtype": "float32", "threads": threads,
               "npae_ms": times["npae"] * 1e3, "torch_ms": times.get("torch", "n/a")}
        if have_torch:
            row["torch_ms"] = times["torch"] * 1e3
            row["ratio_to_torch"] = times["npae"] / times["torch"]
        else:
            row["ratio_to_torch"] = "n/a"
        base = timed[case, first]
        row[f"npae_speedup_vs_{first}"] = base["npae"] / times["npae"]
        row[f"torch_speedup_vs_{first}"] = (base["torch"] / times["torch"] if have_torch
                                            else "n/a")
        rows.append(row)
        print(row, flush=True)
    env = environment(skipped=[] if have_torch else ["torch"])
    env["repeats"] = repeats
    write_results("threads", rows, env)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"done in {time.perf_counter() - start:.1f} s")
