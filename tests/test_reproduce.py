"""npae.reproduce and ``npae reproduce``: quick runs of the three reproductions, in process and
through the command line, their fields, their errors; nothing is downloaded."""

import json
import os
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest

from npae import datasets, reproduce


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "npae.cli", "reproduce", *args],
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def quick_results():
    return {name: reproduce.run(name, quick=True) for name in reproduce.names()}


def test_the_three_reproductions_are_listed():
    assert reproduce.names() == ["hinton2006", "kingma2014", "vincent2010"]


@pytest.mark.parametrize("name", ["hinton2006", "kingma2014", "vincent2010"])
def test_a_quick_run_has_every_field(quick_results, name):
    result = quick_results[name]
    record = result.to_dict()
    assert set(record) == {"name", "title", "dataset", "quick", "rows", "protocol",
                           "differences", "seconds"}
    assert record["name"] == name and record["dataset"] == "mnist-sample" and record["quick"]
    assert "300 training and 100 test images" in record["protocol"]
    assert len(record["differences"]) >= 2
    assert 0 < record["seconds"] < 120
    for row in record["rows"]:
        assert set(row) == {"measure", "paper", "ours", "unit"}
        assert np.isfinite(row["ours"])
    assert any(row["paper"] is not None for row in record["rows"])
    json.dumps(record)
    assert result.figure.axes
    table = result.table()
    assert table.startswith(f"{name}: ") and "quick mode: not comparable" in table
    assert all(row["measure"] in table for row in record["rows"])


def test_hinton2006_measures_squared_error_per_image(quick_results):
    deep, pca = (row["ours"] for row in quick_results["hinton2006"].rows)
    assert [row["paper"] for row in quick_results["hinton2006"].rows] == [3.00, 13.87]
    # PCA-30 of MNIST: about 14 pixels^2 per image; the total is about 100 (blank would be)
    assert 10 < pca < 20
    assert 0 < deep < 110


def test_kingma2014_importance_sampling_tightens_the_bound(quick_results):
    negative_elbo, negative_log_likelihood = (row["ours"]
                                              for row in quick_results["kingma2014"].rows)
    assert 0 < negative_log_likelihood < negative_elbo < 784 * np.log(2) + 50


def test_vincent2010_probe_accuracies_beat_chance(quick_results):
    rows = quick_results["vincent2010"].rows
    assert [row["measure"].split(" on ")[1] for row in rows] == [
        "raw pixels (784)", "PCA codes (100)", "denoising AE codes (100)"]
    assert all(30 < row["ours"] <= 100 for row in rows)


def test_quick_runs_are_reproducible():
    first, second = (reproduce.run("kingma2014", quick=True, random_state=3) for _ in range(2))
    assert first.rows == second.rows


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown reproduction 'hinton'; choose from "
                                         "hinton2006, kingma2014, vincent2010"):
        reproduce.run("hinton")
    with pytest.raises(ValueError, match="unknown dataset 'digits'"):
        reproduce.run("hinton2006", dataset="digits")


def test_missing_full_mnist_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("NPAE_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="full MNIST is not in the npae data home.*"
                                                "load_mnist\\(download=True\\)"):
        reproduce.run("hinton2006", dataset="mnist", quick=True)
    assert not any(tmp_path.iterdir())


def _write_fake_mnist(folder, rng):
    folder.mkdir(parents=True)
    for split, n in (("train", 320), ("t10k", 110)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        datasets.write_idx(folder / f"{split}-images-idx3-ubyte.gz", images)
        datasets.write_idx(folder / f"{split}-labels-idx1-ubyte.gz",
                           np.arange(n, dtype=np.uint8) % 10)


def test_full_mnist_is_read_from_the_data_home(tmp_path, monkeypatch):
    _write_fake_mnist(tmp_path / "mnist", np.random.default_rng(0))
    monkeypatch.setenv("NPAE_DATA", str(tmp_path))
    X_train, X_test, y_train, y_test = reproduce.load_data("mnist")
    assert X_train.shape == (320, 784) and X_test.shape == (110, 784)
    result = reproduce.run("vincent2010", dataset="mnist", quick=True)
    assert result.dataset == "mnist" and "300 training and 100 test images" in result.protocol


def test_cli_list_names_the_three():
    result = run_cli("--list")
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == reproduce.names()


def test_cli_quick_run_prints_the_table_and_writes_figure_and_results(tmp_path):
    result = run_cli("hinton2006", "--quick", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "paper" in result.stdout and "13.87" in result.stdout and "3.00" in result.stdout
    assert (tmp_path / "hinton2006.png").stat().st_size > 1000
    record = json.loads((tmp_path / "hinton2006.json").read_text())
    assert record["name"] == "hinton2006" and record["quick"] is True
    assert len(record["rows"]) == 2
    assert (tmp_path / "hinton2006.txt").read_text().startswith("hinton2006: ")


@pytest.mark.parametrize("args, message", [
    (("rifai",), "unknown reproduction 'rifai'; choose from hinton2006, kingma2014, vincent2010"),
    ((), "name a reproduction (hinton2006, kingma2014, vincent2010) or give --list"),
    (("hinton2006", "--dataset", "digits"), "unknown dataset 'digits'"),
])
def test_cli_mistakes_are_one_line_errors(args, message, tmp_path):
    result = run_cli(*args, "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_missing_full_mnist_is_a_clear_error_and_downloads_nothing(tmp_path):
    env = {**os.environ, "NPAE_DATA": str(tmp_path / "data")}
    result = run_cli("kingma2014", "--dataset", "mnist", "--quick", "--out",
                     str(tmp_path / "out"), env=env)
    assert result.returncode == 2
    assert "full MNIST is not in the npae data home" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*ubyte*"))
