"""Run every benchmark and write the summary table: ``python benchmarks/run_all.py``.

Each benchmark runs in its own process (so one's threads, caches and
compiled kernels cannot slow another) and writes ``<name>.json`` and
``<name>.md`` into the results folder; then ``summary.md`` gathers the
targets of issue 8 (those that issue 18 tightened marked so) with what was
measured and whether each was met (and by how much it was missed), the
machine, the thread settings, the BLAS libraries threadpoolctl reports and
the load average, followed by every benchmark's own table.

    python benchmarks/run_all.py                  # everything but the VAE study (~6-8 min)
    python benchmarks/run_all.py --quick          # smoke run of the runner (< 1 min)
    python benchmarks/run_all.py --only dense fit --threads 1 --results /tmp/bench
    python benchmarks/run_all.py --vae            # also the VAE quality study (~25 min)
    python benchmarks/run_all.py --defaults --timeout 3600   # also default fits against
                                                  # 10x-epoch runs (~30-40 min)
    python benchmarks/run_all.py --openblas-unset conv unet   # these two also with
                                                  # the OpenBLAS kernel of this CPU

Timings are medians of runs taken in turns; ratios come from one process.
On a shared machine prefer ``--threads 1`` and read the ratios, not the
times. A benchmark that fails or runs past ``--timeout`` is reported as
such and the others still run. ``--quick`` runs only the fast benchmarks
(dense, fit, realsize, startup, memory, scaling, threads) with tiny sizes:
its numbers check the plumbing, not the speed.

Which OpenBLAS kernel ran (threadpoolctl's ``architecture``) is part of
every result: ``OPENBLAS_CORETYPE`` (and ``OPENBLAS_L2_SIZE``), when set in
the environment, force a kernel (Haswell, AVX2) that can run float32
products up to 2 x slower than the one OpenBLAS picks for an AVX-512 CPU
(SkylakeX). ``--openblas-unset`` runs the named benchmarks (every selected
one if none is named) a second time with both variables removed from that
child's environment only, writing into ``<results>/openblas-unset/``; the
summary then gives each target once per kernel, so ratios stay comparable
across machines. This never changes the environment of the runner itself,
of the tests or of CI.
"""

import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import time

from benchmarks_common import blas_kernel

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_RESULTS = os.path.join(HERE, "results")

# name -> (script, takes --threads, arguments in a --quick run or None to skip it there)
BENCHMARKS = {
    "dense": ("bench_dense.py", True, ["--quick"]),
    "profile_small_step": ("profile_small_step.py", False, ["--repeats", "2"]),
    "fit": ("bench_fit.py", True, ["--quick"]),
    "realsize": ("bench_realsize.py", True, ["--quick"]),
    "conv": ("bench_conv.py", True, None),
    "profile_conv": ("profile_conv.py", False, None),
    "numpy_ml": ("bench_numpy_ml.py", False, None),
    "unet": ("bench_unet.py", True, None),
    "pca": ("bench_pca.py", True, None),
    "startup": ("bench_startup.py", False, ["--quick"]),
    "memory": ("bench_memory.py", False, ["--quick"]),
    "scaling": ("bench_scaling.py", True, ["--quick"]),
    "threads": ("bench_threads.py", False, ["--quick"]),
    "vae": ("bench_vae.py", False, None),
    "streaming": ("bench_streaming.py", False, None),
    "defaults": ("bench_defaults.py", False, None),
}
# Long studies, run only when asked for (--vae, --defaults, or --only).
STUDIES = ("vae", "defaults")

# OpenBLAS settings that --openblas-unset removes from a child's environment, and the
# sub-folder of the results where such a run writes.
OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
UNSET = "openblas-unset"

# Runs a benchmark script with its results sent to the folder given first.
LAUNCHER = """
import runpy, sys
sys.path.insert(0, sys.argv[1])
import benchmarks_common
benchmarks_common.RESULTS = sys.argv[2]
sys.argv = sys.argv[3:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_benchmark(name, args, results, unset=False):
    """Run one benchmark in a child process; returns its status record.

    ``unset``: without ``OPENBLAS_VARIABLES`` in the child's environment,
    results in ``<results>/openblas-unset``.
    """
    script, takes_threads, quick_args = BENCHMARKS[name]
    extra = list(quick_args) if args.quick else []
    if args.threads is not None and takes_threads:
        extra += ["--threads", str(args.threads)]
    env = dict(os.environ)
    if args.threads is not None:  # also the children's children (startup, memory)
        for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[key] = str(args.threads)
    if unset:
        for key in OPENBLAS_VARIABLES:
            env.pop(key, None)
        results = os.path.join(results, UNSET)
        os.makedirs(results, exist_ok=True)
    command = [sys.executable, "-u", "-c", LAUNCHER, HERE, results,
               os.path.join(HERE, script), *extra]
    label = f"{name} ({' and '.join(OPENBLAS_VARIABLES)} unset)" if unset else name
    print(f"\n=== {label}: {script} {' '.join(extra)}", flush=True)
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        code = process.wait(timeout=args.timeout)
        status = "ok" if code == 0 else f"failed (exit code {code})"
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the benchmark and anything it started
        process.wait()
        status = f"timed out after {args.timeout:.0f} s"
    seconds = time.perf_counter() - start
    print(f"=== {label}: {status} in {seconds:.1f} s", flush=True)
    return {"name": name, "script": script, "arguments": extra, "status": status,
            "seconds": seconds, "openblas_unset": unset}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fast benchmarks only, tiny sizes: a smoke run")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), metavar="NAME",
                        help=f"run only these ({', '.join(BENCHMARKS)})")
    parser.add_argument("--vae", action="store_true",
                        help="also run the VAE quality study (200 epochs, ~25 min)")
    parser.add_argument("--defaults", action="store_true",
                        help="also run default fits against 10x-epoch runs (~30-40 min)")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS and PyTorch threads for every benchmark "
                             "(default: leave them as they are)")
    parser.add_argument("--results", default=DEFAULT_RESULTS,
                        help="folder for the JSON and Markdown files (default: %(default)s)")
    parser.add_argument("--openblas-unset", nargs="*", choices=sorted(BENCHMARKS),
                        metavar="NAME",
                        help="also run these benchmarks (every selected one if none is "
                             f"named) with {' and '.join(OPENBLAS_VARIABLES)} unset in their "
                             "process, so that OpenBLAS picks its kernel for this CPU")
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds one benchmark may take (default: %(default)s)")
    args = parser.parse_args(argv)
    results = os.path.abspath(args.results)
    os.makedirs(results, exist_ok=True)
    if args.only:
        names = args.only
    else:
        asked = {"vae": args.vae, "defaults": args.defaults}
        names = [n for n in BENCHMARKS if n not in STUDIES or asked[n]]
    if args.quick:
        names = [n for n in names if BENCHMARKS[n][2] is not None]
    if args.openblas_unset is None:
        unset = []
    else:
        unset = [n for n in names if n in args.openblas_unset or not args.openblas_unset]
    run = {"started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "load_average_before": os.getloadavg(), "command": sys.argv,
           "quick": args.quick, "threads": args.threads, "benchmarks": []}
    start = time.perf_counter()
    for name in names:
        run["benchmarks"].append(run_benchmark(name, args, results))
        if name in unset:
            run["benchmarks"].append(run_benchmark(name, args, results, unset=True))
    run["seconds"] = time.perf_counter() - start
    run["load_average_after"] = os.getloadavg()
    with open(os.path.join(results, "run_all.json"), "w") as fh:
        json.dump(run, fh, indent=2)
    path = write_summary(results, run)
    print(f"\nwrote {path} ({run['seconds']:.0f} s in all)")
    failed = [b["name"] for b in run["benchmarks"] if b["status"] != "ok"]
    if failed:
        print(f"not ok: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


# -- the summary -------------------------------------------------------------------------


def load(results, name, run, unset=False):
    """``(rows, environment, note)`` of ``<name>.json``, or None if it is missing.

    ``note`` is empty for a file this run wrote, else says when it was written.
    ``unset``: the file of the run without ``OPENBLAS_VARIABLES``.
    """
    path = os.path.join(results, UNSET if unset else "", f"{name}.json")
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        data = json.load(fh)
    ran = any(b["name"] == name and b["status"] == "ok" and b.get("openblas_unset", False) == unset
              for b in run["benchmarks"])
    when = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    note = "" if ran else f" (earlier run, {when:%Y-%m-%d %H:%M} UTC)"
    return data["rows"], data["environment"], note


def verdict(measured, target):
    """'met', or how far ``measured`` is above the upper bound ``target``."""
    if measured <= target:
        return "met"
    excess = 100 * (measured / target - 1)
    return f"**missed** by {excess:.1f}%" if excess < 10 else f"**missed** by {excess:.0f}%"


def number(value, digits=3):
    return f"{value:.{digits}g}" if isinstance(value, (int, float)) else str(value)


def dense_targets(rows, note):
    bounds = {("784-256-64-256-784", "float32"): ("(a)", 0.75),
              ("784-256-64-256-784", "float64"): ("(a)", 0.85),
              ("64-32-8-32-64", "float32"): ("(b)", 0.12),
              ("64-32-8-32-64", "float64"): ("(b)", 0.12)}
    for row in rows:
        label, bound = bounds[row["case"], row["dtype"]]
        case = f"{label} dense AE step {row['case']}, batch {row['batch']}, {row['dtype']}"
        npae = f"{number(row['npae_ms'])} ms ({row['npae_steps_per_s']:.0f} steps/s)"
        if row["ratio_to_torch"] == "n/a":
            yield case, f"<= {bound} x torch", f"{npae}{note}", "not compared: no torch"
            continue
        yield (case, f"<= {bound} x torch",
               f"{row['ratio_to_torch']:.3f} x torch: {npae} vs {number(row['torch_ms'])} ms; "
               f"{row['ratio_to_gemm']:.2f} x its BLAS products{note}",
               verdict(row["ratio_to_torch"], bound))


def fit_targets(rows, note):
    for row in rows:
        case = f"(c) Autoencoder.fit, {row['case']}, {row['dtype']}"
        for rival, key, bound, shown in (("torch", "ratio_to_torch", 0.8, "<= 0.8 x torch"),
                                         ("sklearn", "ratio_to_sklearn", 1.0,
                                          "< 1 x MLPRegressor")):
            if row[key] == "n/a":
                yield case, shown, f"{number(row['npae_s'])} s{note}", f"not compared: no {rival}"
                continue
            yield (case, shown,
                   f"{row[key]:.3f} x: {number(row['npae_s'])} s vs "
                   f"{number(row[rival + '_s'])} s; {row['ratio_to_gemm']:.2f} x its BLAS "
                   f"products{note}", verdict(row[key], bound))


def realsize_targets(rows, note):
    labels = {"deep_ae": "deep autoencoder 784-1000-500-250-30",
              "conv_ae": "ConvAutoencoder (16, 32), code 16", "vae": "MLP VAE 784-400-20",
              "unet": "UNet depth 2, base 8"}
    for row in rows:
        case = (f"(j) one epoch of `fit`, {labels[row['case']]}, {row['rows']:,} x "
                f"{row['input']}, batch {row['batch']}, {row['dtype']}")
        shown = f"<= {row['target']} x torch (issue 18)"
        if row["ratio_to_torch"] == "n/a":
            yield case, shown, f"{number(row['npae_fit_s'])} s{note}", "not compared: no torch"
            continue
        yield (case, shown,
               f"{row['ratio_to_torch']:.3f} x torch ({number(row['npae_fit_s'])} s vs "
               f"{number(row['torch_s'])} s); a bare step loop {row['loop_ratio_to_torch']:.3f} x"
               f"{note}", verdict(row["ratio_to_torch"], row["target"]))
        if row.get("auto_ratio_to_torch", "n/a") != "n/a":  # opt-in conv_algorithm="auto"
            yield (f"{case}, conv_algorithm='auto'", shown,
                   f"{row['auto_ratio_to_torch']:.3f} x torch ({number(row['npae_fit_auto_s'])} s "
                   f"vs {number(row['torch_s'])} s){note}",
                   verdict(row["auto_ratio_to_torch"], row["target"]))


# Bounds that issue 18 tightened, by (case, dtype); the rest are issue 8's.
ISSUE_18_CONV = {("Conv2D 16->32 3x3 p1", "float32"): 1.5,
                 ("Conv2D 16->32 3x3 p1", "float64"): 1.0,
                 ("ConvT 32->16 3x3 p1", "float32"): 1.5}


def conv_targets(rows, note):
    for row in rows:
        name = row["case"].removesuffix(" winograd")  # the opt-in algorithm: same bound
        bound = {"Conv2D 1->16 3x3 p1": ("(d)", 1.2),
                 "Conv2D 16->32 3x3 p1": ("(d)", 2.0)}.get(name)
        if bound is None and name.startswith(("MaxPool2D", "Upsample2D", "ConvT")):
            bound = ("(e)", 0.5)
        if bound is None:
            continue
        if (name, row["dtype"]) in ISSUE_18_CONV:
            bound = (bound[0], ISSUE_18_CONV[name, row["dtype"]])
            shown = f"<= {bound[1]} x torch (issue 18)"
        else:
            shown = f"<= {bound[1]} x torch"
        case = f"{bound[0]} {row['case']} fwd+bwd, {row['input']}, {row['dtype']}"
        if "numba_x_torch" not in row:
            yield case, shown, f"{number(row['numba_ms'])} ms{note}", "not compared: no torch"
            continue
        yield (case, shown,
               f"{row['numba_x_torch']:.3f} x torch ({number(row['numba_ms'])} ms vs "
               f"{number(row['torch_ms'])} ms){note}", verdict(row["numba_x_torch"], bound[1]))


def unet_targets(rows, note):
    for row in rows:
        bound = {"float32": 1.0, "float64": 0.8}[row["dtype"]]  # issue 18
        for key, how in (("npae", ""), ("npae_winograd", ", 3x3 convolutions by winograd")):
            if f"{key}_ms" not in row:  # a result file from before the winograd runner
                continue
            case = (f"(f) U-Net training step (16,1,64,64){how}, {row['dtype']}, "
                    f"{row['threads']} thread(s)")
            ratio = row.get("ratio_to_torch" if key == "npae" else "winograd_ratio_to_torch")
            if ratio is None:
                yield case, f"<= {bound} x torch (issue 18)", \
                    f"{number(row[key + '_ms'])} ms{note}", "not compared: no torch"
                continue
            yield (case, f"<= {bound} x torch (issue 18)",
                   f"{ratio:.3f} x torch ({number(row[key + '_ms'])} ms vs "
                   f"{number(row['torch_ms'])} ms){note}", verdict(ratio, bound))


def pca_targets(rows, note):
    for row in rows:
        if row["method"] != "sklearn auto":
            continue
        case = f"(g) PCA 10,000 x 784, k = 50, {row['dtype']}, vs scikit-learn (auto)"
        ratio = row["npae_time_ratio"]  # npae's time over scikit-learn's
        yield (case, "<= 1.1 x sklearn time", f"{ratio:.3f} x{note}", verdict(ratio, 1.1))
        relative = row["mse_diff_vs_npae"] / row["recon_mse"]
        yield (case, "identical reconstruction error (relative difference <= 1e-6)",
               f"{row['recon_mse']:.6g}, relative difference {relative:.1e}{note}",
               verdict(relative, 1e-6))


def startup_targets(rows, note):
    bounds = {"warm": 2.0, "cold": 15.0}
    for row in rows:
        bound = bounds[row["start"]]
        yield (f"(h) {row['start']} start: fresh process, import npae, fit a small model once",
               f"< {bound:g} s",
               f"{row['median_process_s']:.2f} s (import {row['median_import_s']:.2f} s, "
               f"fit {row['median_fit_s']:.2f} s; median of {row['runs']}){note}",
               verdict(row["median_process_s"], bound))


def memory_targets(rows, note):
    peak = max(row["peak_rss_mb"] for row in rows)
    yield ("(i) peak memory of a digits training run (ru_maxrss of the process)", "< 300 MB",
           f"{peak:.0f} MB ({rows[0]['rss_after_imports_mb']:.0f} MB after the imports; "
           f"{rows[0]['epochs']} epochs, float64 and float32){note}", verdict(peak, 300))


def streaming_targets(rows, note):
    for row in rows:
        if row.get("time_ratio", "") != "":
            yield (f"(k) time per row, {row['case']}", "<= 1.5 x",
                   f"{row['time_ratio']:.2f} x ({row['memmap_us_per_row']:.0f} / "
                   f"{row['in_memory_us_per_row']:.0f} us per row){note}",
                   verdict(row["time_ratio"], 1.5))
        elif row.get("components_max_abs_diff", "") != "":
            yield (f"(k) {row['case']}", "components equal to 1e-8",
                   f"{row['components_max_abs_diff']:.1e}{note}",
                   verdict(row["components_max_abs_diff"], 1e-8))
        elif row.get("peak_rss_mb", "") != "":
            yield (f"(k) peak memory: {row['case']}", "< 400 MB",
                   f"{row['peak_rss_mb']:.0f} MB (in-memory float64 data alone: "
                   f"{row['in_memory_float64_mb']:.0f} MB){note}",
                   verdict(row["peak_rss_mb"], 400))


TARGETS = [("dense", dense_targets), ("fit", fit_targets), ("realsize", realsize_targets),
           ("conv", conv_targets),
           ("unet", unet_targets), ("pca", pca_targets), ("startup", startup_targets),
           ("memory", memory_targets), ("streaming", streaming_targets)]


def kernel_cell(env, unset):
    """The OpenBLAS kernel a result ran with, and the variables that chose it."""
    kernel = env.get("blas_kernel") or blas_kernel(env.get("blas"))
    if unset:
        return f"{kernel} ({' and '.join(OPENBLAS_VARIABLES)} unset)"
    settings = ", ".join(f"{k}={v}" for k, v in env.get("threads_env", {}).items()
                         if k in OPENBLAS_VARIABLES and v is not None)
    return f"{kernel} ({settings or 'no OpenBLAS variable set'})"


def target_rows(results, name, targets, run):
    """Rows of the targets table for benchmark ``name``: its targets, each followed by
    the same target measured with ``OPENBLAS_VARIABLES`` unset when that file exists.

    Returns ``(rows, environment of this run's file or None, skipped comparisons)``.
    """
    runs = [(unset, load(results, name, run, unset)) for unset in (False, True)]
    runs = [(unset, loaded) for unset, loaded in runs if loaded is not None]
    if not runs:
        not_run = f"| {name} | - | see issue 8 | not run | not measured |"
        return [not_run], None, {f"{name}: not run"}
    per_run, env, skipped = [], None, set()
    for unset, (rows, bench_env, note) in runs:
        kernel = kernel_cell(bench_env, unset)
        per_run.append([f"| {case} | {kernel} | {' | '.join(cells)} |"
                        for case, *cells in targets(rows, note)])
        skipped.update(f"{name}: {s}" for s in bench_env.get("skipped", []))
        if not note and not unset:
            env = bench_env
    if len({len(lines) for lines in per_run}) == 1:  # the same targets: side by side
        return [line for same_target in zip(*per_run) for line in same_target], env, skipped
    return [line for lines in per_run for line in lines], env, skipped


def environment_lines(env, run):
    def loads(key):
        return ", ".join(f"{v:.2f}" for v in run[key])

    variables = ", ".join(f"{k}={v}" for k, v in env.get("threads_env", {}).items()
                          if v is not None)
    lines = [f"- started {run['started']}, {run['seconds']:.0f} s in all"
             + (" (--quick: sizes too small to mean anything)" if run["quick"] else ""),
             f"- load average (1, 5, 15 min): {loads('load_average_before')} before, "
             f"{loads('load_average_after')} after",
             f"- {env.get('cpu_count')} cores, {env.get('machine')}; Python {env.get('python')}, "
             f"NumPy {env.get('numpy')}, Numba {env.get('numba', 'not installed')}, "
             f"PyTorch {env.get('torch', 'not installed')}"
             + (f" ({env['torch_threads']} threads)" if "torch_threads" in env else ""),
             f"- threads: --threads {run['threads'] or 'not given'}; environment: "
             f"{variables or 'none set'}"]
    lines.append(f"- OpenBLAS kernel (threadpoolctl's architecture): {kernel_cell(env, False)}")
    unset = sorted({b["name"] for b in run["benchmarks"] if b.get("openblas_unset")})
    if unset:
        lines.append(f"- also run with {' and '.join(OPENBLAS_VARIABLES)} unset in the "
                     f"benchmark's process (--openblas-unset): {', '.join(unset)}; each target "
                     "is given once per kernel")
    pools = env.get("blas")
    if isinstance(pools, list):
        lines.append("- thread pools (threadpoolctl): " + "; ".join(
            " ".join(str(p[k]) for k in ("internal_api", "version", "architecture") if p.get(k))
            + f", {p.get('num_threads')} threads" for p in pools))
    return lines


def write_summary(results, run):
    """Write ``summary.md`` from the JSON files in ``results``; returns its path."""
    lines, skipped, env = [], set(), {}
    table = ["| case | OpenBLAS kernel | target | measured | status |", "|---|---|---|---|---|"]
    for name, targets in TARGETS:
        rows, bench_env, bench_skipped = target_rows(results, name, targets, run)
        table += rows
        env = env or bench_env or {}
        skipped |= bench_skipped
    if not env:  # no file of this run: describe the machine from any file
        for name in BENCHMARKS:
            loaded = load(results, name, run)
            if loaded:
                env = loaded[1]
                break
    lines += ["# Benchmark summary", "",
              "Targets of issue 8: time relative to PyTorch CPU (or scikit-learn) measured in",
              "the same process, taking turns, medians after warm-up (lower is faster).", "",
              *environment_lines(env, run), ""]
    lines += ["## Targets", "", *table, "",
              "What limits each missed target, with its profile: "
              "[benchmarks/PROFILES.md](../PROFILES.md).", ""]
    if skipped:
        lines += ["Skipped comparisons: " + "; ".join(sorted(skipped)) + ".", ""]
    lines += ["## Benchmarks run", "",
              "| benchmark | arguments | OpenBLAS variables | status | seconds |",
              "|---|---|---|---|---|"]
    lines += [f"| {b['script']} | {' '.join(b['arguments'])} | "
              f"{'unset' if b.get('openblas_unset') else 'as set'} | {b['status']} | "
              f"{b['seconds']:.1f} |" for b in run["benchmarks"]]
    lines.append("")
    for name in BENCHMARKS:
        for unset in (False, True):
            path = os.path.join(results, UNSET if unset else "", f"{name}.md")
            if not os.path.exists(path):
                continue
            with open(path) as fh:
                body = fh.read().split("\n", 1)[-1].strip()
            _, bench_env, note = load(results, name, run, unset) or (None, {}, "")
            title = f"{name}, OpenBLAS {kernel_cell(bench_env, unset)}" if unset else name
            lines += [f"## {title}{note}", "", body, ""]
    if os.path.exists(os.path.join(results, "scaling.png")):
        lines += ["![time per epoch against samples and width](scaling.png)", ""]
    path = os.path.join(results, "summary.md")
    with open(path, "w") as fh:
        fh.write("\n".join(lines))
    return path


if __name__ == "__main__":
    sys.exit(main())
