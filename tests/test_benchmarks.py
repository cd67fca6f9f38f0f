"""The benchmark suite runs end to end and writes well-formed results (no timing checks)."""

import json
import os
import subprocess
import sys

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "benchmarks")
sys.path.insert(0, BENCHMARKS)
import run_all  # noqa: E402

QUICK = ["dense", "profile_small_step", "fit", "realsize", "startup", "memory", "scaling",
         "threads"]


def run_suite(results, *args, env=None):
    return subprocess.run([sys.executable, os.path.join(BENCHMARKS, "run_all.py"), "--quick",
                           "--results", str(results), *args], capture_output=True, text=True,
                          timeout=300, env=env)


def check_table(text):
    """A Markdown table: a header, a separator and rows with as many cells."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert len(lines) >= 3 and set(lines[1]) <= set("|-")
    widths = {line.count("|") for line in lines}
    assert len(widths) == 1, text


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    done = run_suite(results)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return results


def test_quick_run_writes_every_result(quick_run):
    for name in QUICK:
        with open(quick_run / f"{name}.json") as fh:
            data = json.load(fh)
        env, rows = data["environment"], data["rows"]
        assert env["cpu_count"] >= 1 and "threads_env" in env and "blas" in env
        assert rows and all(row.keys() == rows[0].keys() for row in rows)
        check_table((quick_run / f"{name}.md").read_text())
    assert (quick_run / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = json.loads((quick_run / "run_all.json").read_text())
    assert [b["name"] for b in run["benchmarks"]] == QUICK
    assert all(b["status"] == "ok" for b in run["benchmarks"])


def test_quick_run_summary(quick_run):
    summary = (quick_run / "summary.md").read_text()
    targets = summary.split("## Targets")[1].split("\n## ")[0]
    check_table(targets)
    for label in ("(a)", "(b)", "(c)", "(h)", "(i)", "(j)"):
        assert f"| {label} " in targets
    for name in ("conv", "unet", "pca"):  # not part of a quick run
        assert f"| {name} | - | see issue 8 | not run | not measured |" in targets
    assert "load average" in summary and "thread pools (threadpoolctl)" in summary
    kernel = json.loads((quick_run / "dense.json").read_text())["environment"]["blas_kernel"]
    assert kernel != "unknown"  # numpy runs on OpenBLAS here
    assert f"OpenBLAS kernel (threadpoolctl's architecture): {kernel}" in summary
    for name in QUICK:
        assert f"\n## {name}\n" in summary


def test_runs_without_torch(tmp_path):
    """With torch unimportable the suite still runs and says which comparisons it skipped."""
    hidden = tmp_path / "hide"
    (hidden / "torch").mkdir(parents=True)
    (hidden / "torch" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(hidden), *filter(None, [os.environ.get("PYTHONPATH")])])}
    results = tmp_path / "results"
    done = run_suite(results, "--only", "dense", "fit", env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    dense = json.loads((results / "dense.json").read_text())
    assert "torch" in dense["environment"]["skipped"]
    assert all(row["ratio_to_torch"] == "n/a" for row in dense["rows"])
    summary = (results / "summary.md").read_text()
    assert "not compared: no torch" in summary
    assert "dense: torch" in summary and "fit: torch" in summary


def test_verdict_says_by_how_much_a_target_is_missed():
    assert run_all.verdict(0.7, 0.75) == "met"
    assert run_all.verdict(0.75, 0.75) == "met"
    assert run_all.verdict(0.9, 0.75) == "**missed** by 20%"
    assert run_all.verdict(0.502, 0.5) == "**missed** by 0.4%"


def test_summary_marks_missing_and_earlier_results(tmp_path):
    """Files this run did not write are labelled with their date; absent ones as not run."""
    rows = [{"start": "warm", "runs": 3, "median_process_s": 2.5, "median_import_s": 1.0,
             "median_fit_s": 0.5, "max_process_s": 2.6}]
    (tmp_path / "startup.json").write_text(json.dumps(
        {"environment": {"cpu_count": 2, "skipped": []}, "rows": rows}))
    run = {"started": "now", "seconds": 1.0, "quick": False, "threads": None,
           "load_average_before": (1.0, 1.0, 1.0), "load_average_after": (1.0, 1.0, 1.0),
           "benchmarks": []}
    summary = open(run_all.write_summary(str(tmp_path), run)).read()
    assert "| (h) warm start" in summary
    assert "2.50 s" in summary and "**missed** by 25%" in summary and "earlier run" in summary
    assert "| dense | - | see issue 8 | not run | not measured |" in summary
    assert ("| (h) warm start: fresh process, import npae, fit a small model once "
            "| unknown (no OpenBLAS variable set) | < 2 s |") in summary  # no threadpoolctl facts


def test_openblas_unset_runs_a_second_child_without_the_variables(tmp_path):
    """--openblas-unset: the child sees neither variable, the runner's own environment keeps
    them, and the summary gives each target once per kernel, naming the kernel."""
    env = {**os.environ, "OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512"}
    results = tmp_path / "results"
    done = run_suite(results, "--only", "dense", "--openblas-unset", env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    as_set = json.loads((results / "dense.json").read_text())["environment"]
    unset = json.loads((results / "openblas-unset" / "dense.json").read_text())["environment"]
    assert as_set["threads_env"]["OPENBLAS_CORETYPE"] == "Haswell"
    assert as_set["threads_env"]["OPENBLAS_L2_SIZE"] == "512"
    assert unset["threads_env"]["OPENBLAS_CORETYPE"] is None
    assert unset["threads_env"]["OPENBLAS_L2_SIZE"] is None
    assert as_set["blas_kernel"] == "Haswell"  # forced by the variable
    run = json.loads((results / "run_all.json").read_text())
    assert [(b["name"], b["openblas_unset"]) for b in run["benchmarks"]] == [
        ("dense", False), ("dense", True)]
    summary = (results / "summary.md").read_text()
    check_table(summary.split("## Targets")[1].split("\n## ")[0])
    rows = [line for line in summary.splitlines() if line.startswith("| (a) dense AE step")]
    assert len(rows) == 4  # two dtypes, each with the variables as set and unset
    assert "| Haswell (OPENBLAS_CORETYPE=Haswell, OPENBLAS_L2_SIZE=512) |" in rows[0]
    assert (f"| {unset['blas_kernel']} (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset) |"
            in rows[1])
    assert f"\n## dense, OpenBLAS {unset['blas_kernel']} (OPENBLAS_CORETYPE" in summary
