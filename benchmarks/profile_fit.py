"""Where one epoch of ``fit`` spends its time beyond the training steps themselves.

Runs ``fit`` (one epoch, float32) of a case of ``bench_realsize`` under
cProfile and splits its time by the parts of ``fit``: validation and
building (``_initialize``), the targets' check (U-Net), the epoch's steps
(forward, loss and backward in the model's ``_step``; the optimizer), the
batches' gathering and the loop's hooks (the rest of ``_run_epoch``), and
the passes after the epoch (the divergence guard's check of the final
weights on every training row, ``DivergenceGuard.confirm``, and the anomaly
threshold ``offset_`` of the autoencoders, ``_set_offset``). cProfile's own
overhead inflates calls of small Python functions, so read the large parts;
the whole is also timed without the profiler. Writes
``benchmarks/results/profile_fit.md``.

    python benchmarks/profile_fit.py [--case unet] [--rows 320] [--threads N]
"""

import argparse
import cProfile
import os
import pstats
import time

from bench_dense import set_threads
from bench_realsize import CASES, make_data, make_model

import benchmarks_common

# (label, file ending, function name): the parts of fit, by cumulative time.
PARTS = [("validation and building (_initialize)", "models/base.py", "_initialize"),
         ("targets' check (_check_targets)", "models/unet.py", "_check_targets"),
         ("the epoch (Trainer._run_epoch)", "npae/train.py", "_run_epoch"),
         ("  the model's steps (_step)", "", "_step"),
         ("  the optimizer (step)", "npae/optim.py", "step"),
         ("  zero_grad", "npae/network.py", "zero_grad"),
         ("final weights' check on the training rows (DivergenceGuard.confirm)",
          "npae/train.py", "confirm"),
         ("epoch snapshots (_snapshot)", "npae/train.py", "_snapshot"),
         ("offset_ from the training rows (_set_offset)", "npae/anomaly.py", "_set_offset")]


def cumulative(stats, ending, function):
    """Cumulative seconds of the functions named ``function`` in files ending in ``ending``."""
    return sum(cum for (path, _, name), (_, _, _, cum, _) in stats.stats.items()
               if name == function and path.endswith(ending))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=list(CASES), default="unet")
    parser.add_argument("--rows", type=int, default=None,
                        help="rows of the epoch (default: the case's full size)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    set_threads(args.threads)
    rows = args.rows or CASES[args.case][0]
    X, Y = make_data(args.case, rows, "float32")

    def fit():
        model = make_model(args.case, "float32")
        model.fit(X, Y) if args.case == "unet" else model.fit(X)

    fit()  # warm-up: compiled kernels, buffers
    start = time.perf_counter()
    fit()
    plain = time.perf_counter() - start
    profiler = cProfile.Profile()
    profiler.runcall(fit)
    stats = pstats.Stats(profiler)
    whole = stats.total_tt
    lines = [f"# profile_fit: {args.case}, one epoch of {rows:,} rows, float32", "",
             f"fit without the profiler: {plain:.3f} s; under cProfile: {whole:.3f} s.", "",
             "| part of fit | s (cProfile) | share |", "|---|---|---|"]
    for label, ending, function in PARTS:
        seconds = cumulative(stats, ending, function)
        if seconds:
            lines.append(f"| {label} | {seconds:.3f} | {100 * seconds / whole:.1f}% |")
    text = "\n".join(lines) + "\n"
    print(text)
    stats.sort_stats("cumulative").print_stats(25)
    os.makedirs(benchmarks_common.RESULTS, exist_ok=True)
    with open(os.path.join(benchmarks_common.RESULTS, "profile_fit.md"), "w") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
