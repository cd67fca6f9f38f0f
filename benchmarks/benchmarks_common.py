"""Shared benchmark plumbing: turn-taking medians, environment facts, result files.

On a shared 2-core machine single timings vary by 10-15% (PERF-NOTES), so
every case runs its contenders in turn, round after round, and reports
medians; ratios come from the same run.
"""

import collections
import collections.abc
import json
import os
import platform
import statistics
import time
import warnings

import numpy as np

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def median_time(runners, repeats=50, warmup=5, clock=time.perf_counter, gap=0.0, block=1):
    """Median seconds per call of each ``runners[name]()``, taking turns, on ``clock``.

    A turn times ``block`` calls back to back. ``gap`` seconds of idling
    (untimed) before each turn let the previous contender's threads (OpenBLAS,
    PyTorch's OpenMP) stop spinning, so that they do not slow the next one.
    """
    for fn in runners.values():
        for _ in range(warmup):
            fn()
    samples = {name: [] for name in runners}
    for _ in range(repeats):
        for name, fn in runners.items():
            if gap:
                time.sleep(gap)
            start = clock()
            for _ in range(block):
                fn()
            samples[name].append((clock() - start) / block)
    return {name: statistics.median(values) for name, values in samples.items()}


def import_numpy_ml():
    """numpy-ml's ``neural_nets`` package (the pure-NumPy peer), or None if not installed.

    numpy-ml 0.1.2 uses ``collections.Hashable``, gone since Python 3.10; the
    alias is put back here, in the benchmark's process only.
    """
    collections.Hashable = collections.abc.Hashable
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its reinforcement-learning part asks for gym
            import numpy_ml.neural_nets
    except ImportError:
        return None
    return numpy_ml.neural_nets


def pause(seconds=0.2):
    """Let OpenBLAS worker threads stop spinning before the next block."""
    time.sleep(seconds)


def environment(skipped=()):
    """Machine, thread and library facts recorded with every result file."""
    info = {
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "threads_env": {k: os.environ.get(k) for k in (
            "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
            "NUMBA_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
        "skipped": list(skipped),
    }
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [{k: p.get(k) for k in ("internal_api", "version", "num_threads",
                                               "architecture")} for p in threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    info["blas_kernel"] = blas_kernel(info["blas"])
    try:
        import numba

        info["numba"] = numba.__version__
    except ImportError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


def blas_kernel(pools):
    """The OpenBLAS kernel(s) that ran, from threadpoolctl's ``architecture``: e.g. "Haswell".

    ``OPENBLAS_CORETYPE`` forces a kernel; unset, OpenBLAS picks one for the
    CPU (SkylakeX on an AVX-512 machine), and float32 products can differ by
    2 x between the two. "unknown" without threadpoolctl or OpenBLAS.
    """
    if not isinstance(pools, list):
        return "unknown"
    kernels = dict.fromkeys(p["architecture"] for p in pools
                            if p.get("internal_api") == "openblas" and p.get("architecture"))
    return " / ".join(kernels) or "unknown"


def markdown_table(rows):
    """Rows (dicts with the same keys) as a Markdown table."""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_results(name, rows, env):
    """Write ``results/<name>.json`` and ``results/<name>.md``; print the table."""
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f"{name}.json"), "w") as fh:
        json.dump({"environment": env, "rows": rows}, fh, indent=2)
    table = markdown_table(rows)
    with open(os.path.join(RESULTS, f"{name}.md"), "w") as fh:
        fh.write(f"# {name}\n\n{table}\n")
    print(table)


def selected(cases, texts, exact=False):
    """The ``(label, ...)`` cases whose label contains (with ``exact``: equals) one of
    ``texts`` (a benchmark's ``--cases``); all if None, and an error if none matches."""
    if texts is None:
        return cases
    chosen = [case for case in cases
              if any(case[0] == t if exact else t in case[0] for t in texts)]
    if not chosen:
        raise SystemExit(f"no case matches {texts}; the cases are "
                         f"{sorted({case[0] for case in cases})}")
    return chosen
