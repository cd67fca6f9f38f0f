"""Time one epoch of ``Autoencoder.fit`` on 10,000 x 784 data.

Architecture 784-256-64-256-784, ReLU on every hidden layer (the code too,
as scikit-learn's MLPRegressor applies one activation to all of them), a
linear output, MSE, Adam (lr 1e-3), minibatches of 128, shuffled. Contenders,
taking turns in one process, each building its model and training one epoch:
npae's ``Autoencoder.fit``, the same loop in PyTorch CPU and scikit-learn's
``MLPRegressor(X -> X)`` with ``max_iter=1`` (when installed), and the
epoch's matrix products alone (the BLAS limit: the products of one step,
times the number of steps). Medians of repeated runs after a warm-up run, in
float32 and float64, each run after a pause that lets the previous
contender's threads stop spinning (``bench_dense.time_in_turns``). Writes
``benchmarks/results/fit.json`` and ``fit.md``.

    python benchmarks/bench_fit.py [--repeats 5] [--threads N] [--quick]
"""

import argparse
import math
import time
import warnings

import numpy as np
from bench_dense import gemm_step, set_threads, time_in_turns

from benchmarks_common import environment, write_results
from npae import Autoencoder

N_SAMPLES, N_FEATURES, HIDDEN, CODE, BATCH = 10_000, 784, 256, 64, 128
SIZES = (N_FEATURES, HIDDEN, CODE, HIDDEN, N_FEATURES)


def data(n_samples, dtype, seed=0):
    """Images-like data in [0, 1]: 20 smooth factors through a sigmoid."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n_samples, 20))
    A = rng.normal(size=(20, N_FEATURES)) / np.sqrt(20)
    return (1 / (1 + np.exp(-(Z @ A)))).astype(dtype)


def npae_fit(X):
    return lambda: Autoencoder(hidden_sizes=(HIDDEN,), code_size=CODE, code_activation="relu",
                               epochs=1, batch_size=BATCH, learning_rate=1e-3,
                               random_state=0).fit(X)


def torch_fit(X):
    import torch

    tdtype = torch.float32 if X.dtype == np.float32 else torch.float64
    data = torch.from_numpy(X)
    generator = torch.Generator().manual_seed(0)

    def fit():
        layers = []
        for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            layers.append(torch.nn.Linear(a, b, dtype=tdtype))
            if i < len(SIZES) - 2:
                layers.append(torch.nn.ReLU())
        net = torch.nn.Sequential(*layers)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        order = torch.randperm(len(data), generator=generator)
        for start in range(0, len(data), BATCH):
            xb = data[order[start:start + BATCH]]
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(net(xb), xb)
            loss.backward()
            opt.step()

    return fit


def sklearn_fit(X):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    def fit():
        model = MLPRegressor(hidden_layer_sizes=(HIDDEN, CODE, HIDDEN), activation="relu",
                             solver="adam", alpha=0.0, batch_size=BATCH, learning_rate_init=1e-3,
                             max_iter=1, shuffle=True, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # one epoch, on purpose
            model.fit(X, X)

    return fit


def gemm_epoch(n_samples, dtype):
    step = gemm_step(SIZES, BATCH, dtype, np.random.default_rng(1))
    n_steps = math.ceil(n_samples / BATCH)

    def epoch():
        for _ in range(n_steps):
            step()

    return epoch


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS and PyTorch threads (default: leave as they are)")
    parser.add_argument("--quick", action="store_true",
                        help="512 rows, one timed run: a smoke run")
    args = parser.parse_args()
    n_samples, repeats, warmup = (512, 1, 0) if args.quick else (N_SAMPLES, args.repeats, 1)
    set_threads(args.threads)
    skipped = []
    try:
        import torch  # noqa: F401
    except ImportError:
        skipped.append("torch")
    try:
        import sklearn.neural_network  # noqa: F401
    except ImportError:
        skipped.append("scikit-learn")
    rows = []
    for dtype in ("float32", "float64"):
        X = data(n_samples, dtype)
        runners = {"npae": npae_fit(X), "gemm": gemm_epoch(n_samples, dtype)}
        if "torch" not in skipped:
            runners["torch"] = torch_fit(X)
        if "scikit-learn" not in skipped:
            runners["sklearn"] = sklearn_fit(X)
        times = time_in_turns(runners, repeats=repeats, warmup=warmup)
        row = {"case": f"one epoch, {n_samples:,} x {N_FEATURES}, 784-256-64-256-784, batch 128",
               "dtype": dtype,
               **{f"{k}_s": times.get(k, "n/a") for k in ("npae", "torch", "sklearn", "gemm")},
               "ratio_to_torch": times["npae"] / times["torch"] if "torch" in times else "n/a",
               "ratio_to_sklearn":
                   times["npae"] / times["sklearn"] if "sklearn" in times else "n/a",
               "ratio_to_gemm": times["npae"] / times["gemm"]}
        rows.append(row)
        print(row, flush=True)
    env = environment(skipped=skipped)
    env["threads_option"] = args.threads
    env["repeats"] = repeats
    write_results("fit", rows, env)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"done in {time.perf_counter() - start:.1f} s")
