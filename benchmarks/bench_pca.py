"""Time closed-form PCA: npae against scikit-learn on 10,000 x 784 data, k = 50.

Data: 50 latent factors with decaying scales mixed into 784 features, plus
isotropic noise and an offset (MNIST-sized, with a clear spectrum). Contenders,
taking turns in one process: ``npae.decomposition.PCA`` (solver "auto", which
picks the covariance eigh here), scikit-learn's PCA with ``svd_solver="auto"``
and ``"covariance_eigh"``, and npae's SVD solver for scale. Medians of
repeated fits after warm-up, with 0.2 s of idling before each fit: NumPy
and SciPy each bring an OpenBLAS whose threads spin after a call, and
without the pause they slowed whichever fit came next by up to 50%. Also
checks that both libraries reconstruct the data identically (to ~1e-10).
``npae_time_ratio`` is npae's median time over the row's (below 1: npae is
faster). Writes ``benchmarks/results/pca.json``
and prints a Markdown table.

    python benchmarks/bench_pca.py [--repeats 7] [--threads N]
"""

import argparse
import contextlib
import time

import numpy as np
import sklearn
import sklearn.decomposition
from threadpoolctl import threadpool_limits

from benchmarks_common import environment, median_time, pause, write_results
from npae.decomposition import PCA

N_SAMPLES, N_FEATURES, K = 10_000, 784, 50


def structured_data(rng, dtype):
    """X = Z A + noise + offset: 50 factors with scales 3 ... 0.3, noise 0.1."""
    Z = rng.normal(size=(N_SAMPLES, K)) * np.geomspace(3.0, 0.3, K)
    A = rng.normal(size=(K, N_FEATURES)) / np.sqrt(K)
    X = Z @ A + 0.1 * rng.normal(size=(N_SAMPLES, N_FEATURES)) + 0.5
    return X.astype(dtype)


def contenders(X):
    return {
        "npae auto": lambda: PCA(K).fit(X),
        "sklearn auto": lambda: sklearn.decomposition.PCA(K, svd_solver="auto").fit(X),
        "sklearn covariance_eigh":
            lambda: sklearn.decomposition.PCA(K, svd_solver="covariance_eigh").fit(X),
        "npae svd": lambda: PCA(K, solver="svd").fit(X),
    }


def reconstruction(model, X):
    return model.inverse_transform(model.transform(X))


def mse(X, X_hat):
    """Mean squared reconstruction error per entry, accumulated in float64."""
    return float(np.mean((X.astype(np.float64) - X_hat) ** 2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads (default: the library's own choice)")
    args = parser.parse_args()
    limit = threadpool_limits(args.threads) if args.threads else contextlib.nullcontext()
    with limit:
        rows, env = run(args.repeats)
    env["threads_requested"] = args.threads
    write_results("pca", rows, env)


def run(repeats):
    """Time every contender on float64 and float32 data; rows for the table."""
    rng = np.random.default_rng(0)
    rows = []
    for dtype in ("float64", "float32"):
        X = structured_data(rng, dtype)
        runners = contenders(X)
        times = median_time(runners, repeats=repeats, warmup=1, gap=0.2)  # see pause()
        pause()
        reference = reconstruction(runners["npae auto"](), X)
        reference_mse = mse(X, reference)
        for name, fit in runners.items():
            X_hat = reconstruction(fit(), X)
            rows.append({
                "method": name,
                "dtype": dtype,
                "median_s": times[name],
                "npae_time_ratio": times["npae auto"] / times[name],
                "recon_mse": mse(X, X_hat),
                "mse_diff_vs_npae": abs(mse(X, X_hat) - reference_mse),
                "max_abs_diff_vs_npae": float(np.max(np.abs(X_hat - reference))),
            })
            print(rows[-1], flush=True)
    env = environment()
    env.update(sklearn=sklearn.__version__, shape=[N_SAMPLES, N_FEATURES], n_components=K,
               repeats=repeats)
    return rows, env


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"done in {time.perf_counter() - start:.1f} s")
