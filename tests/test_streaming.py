"""Tests of npae.streaming: fit converts and checks one batch at a time, with the same results."""

import numpy as np
import pytest
from test_reliability import NAMES, make_tiny, same_arrays, tiny_data, tiny_targets, weights

import npae
from npae.streaming import BLOCK_BYTES, Rows, ScaledArray, as_rows

TRAINED = sorted(set(NAMES) - {"PCA"})


def memmap_of(tmp_path, X, name="x.npy"):
    np.save(tmp_path / name, X)
    return np.load(tmp_path / name, mmap_mode="r")


def fitted(name, X, **params):
    X_in = tiny_data(name, n=len(X)) if X is None else X
    return make_tiny(name, **params).fit(X_in, *tiny_targets(name, np.asarray(X_in)))


@pytest.mark.parametrize("name", TRAINED)
@pytest.mark.parametrize("params", [{}, {"validation_fraction": 0.25, "early_stopping": True}])
def test_streamed_rows_train_bit_for_bit_like_the_array(tmp_path, name, params):
    """A wrapped array (not an ndarray) and a memory map give the plain array's weights exactly."""
    X = tiny_data(name, n=24)
    plain = fitted(name, X, **params)
    wrapped = fitted(name, ScaledArray(X, 1.0), **params)
    mapped = fitted(name, memmap_of(tmp_path, X), **params)
    for model in (wrapped, mapped):
        assert same_arrays(weights(model), weights(plain))
        assert model.history_ == plain.history_
        if name != "UNet":
            assert model.offset_ == plain.offset_


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_uint8_memmap_with_scale_equals_the_scaled_array_in_memory(tmp_path, dtype):
    images = np.random.default_rng(0).integers(0, 256, size=(40, 12), dtype=np.uint8)
    mapped = memmap_of(tmp_path, images)
    in_memory = images.astype(dtype) * np.asarray(1 / 255, dtype=dtype)
    params = dict(hidden_sizes=(5,), code_size=2, epochs=2, batch_size=8, random_state=0)
    a = npae.Autoencoder(**params).fit(in_memory)
    b = npae.Autoencoder(**params).fit(ScaledArray(mapped, 1 / 255, dtype=dtype))
    assert b.dtype_ == np.dtype(dtype)
    assert same_arrays(weights(a), weights(b))
    np.testing.assert_array_equal(a.score_samples(in_memory), b.score_samples(in_memory))


def test_a_large_integer_array_is_converted_a_batch_at_a_time():
    n = BLOCK_BYTES // 6 + 8  # more than one block of float64 rows of 6 features
    X = np.random.default_rng(0).integers(0, 3, size=(n, 6), dtype=np.int8)
    rows = as_rows(X, "test")
    assert isinstance(rows, Rows) and rows.dtype == np.float64 and rows.shape == X.shape
    np.testing.assert_array_equal(rows[np.array([5, 1, n - 1])], X[[5, 1, n - 1]])
    assert sum(len(b) for b in rows.blocks()) == n and rows.block_rows < n


def test_rows_of_a_memmap_come_back_in_the_order_asked(tmp_path):
    X = np.arange(60, dtype=np.float32).reshape(20, 3)
    rows = as_rows(memmap_of(tmp_path, X), "test")
    index = np.array([7, 2, 19, 2, 0])
    np.testing.assert_array_equal(rows[index], X[index])
    np.testing.assert_array_equal(rows.subset(np.array([3, 1]))[np.array([1, 0])], X[[1, 3]])


def test_nan_in_a_streamed_batch_is_named_with_its_row(tmp_path):
    X = np.random.default_rng(0).uniform(size=(30, 4))
    X[17, 2] = np.nan
    model = npae.Autoencoder(hidden_sizes=(3,), code_size=2, epochs=1, batch_size=30,
                             random_state=0)
    with pytest.raises(ValueError, match="expected finite input, got NaN or inf in row 17"):
        model.fit(memmap_of(tmp_path, X))


@pytest.mark.parametrize("bad, error, message", [
    (np.zeros((4, 3), dtype=np.complex128), TypeError, "real numeric array"),
    (np.zeros((4,)), ValueError, r"expected a 2-d array, got shape \(4,\)"),
    (np.zeros((0, 3)), ValueError, "at least one sample"),
])
def test_a_streamed_input_is_checked_for_shape_and_dtype_before_training(tmp_path, bad, error,
                                                                          message):
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(error, match=message):
        npae.Autoencoder(epochs=1).fit(np.load(tmp_path / "bad.npy", mmap_mode="r"))


def test_a_memmap_of_other_features_is_refused_by_partial_fit(tmp_path):
    model = npae.Autoencoder(hidden_sizes=(3,), code_size=2, epochs=1, random_state=0)
    model.fit(tiny_data("Autoencoder", n=12))
    with pytest.raises(ValueError, match="X has 5 features, but Autoencoder is expecting 6"):
        model.partial_fit(memmap_of(tmp_path, np.zeros((8, 5))))


def test_scaled_array_refuses_what_it_cannot_scale():
    with pytest.raises(TypeError, match="scale must be a finite number"):
        ScaledArray(np.zeros((2, 2)), "1/255")
    with pytest.raises(TypeError, match="expected an array"):
        ScaledArray([[1, 2]], 0.5)
    with pytest.raises(TypeError, match="real or integer array, got dtype <U1"):
        ScaledArray(np.array([["a"]]), 0.5)


@pytest.mark.parametrize("k", [2, None])
def test_pca_on_a_uint8_memmap_read_in_blocks_equals_pca_in_memory(tmp_path, monkeypatch, k):
    monkeypatch.setattr("npae.streaming.BLOCK_BYTES", 8 * 12 * 50)  # 50 rows a block
    images = np.random.default_rng(0).integers(0, 256, size=(333, 12), dtype=np.uint8)
    mapped = ScaledArray(memmap_of(tmp_path, images), 1 / 255)
    in_memory = images * (1 / 255)
    streamed, full = npae.PCA(k).fit(mapped), npae.PCA(k, solver="covariance_eigh").fit(in_memory)
    for name in ("components_", "mean_", "explained_variance_", "scatter_"):
        np.testing.assert_allclose(getattr(streamed, name), getattr(full, name), rtol=0,
                                   atol=1e-12, err_msg=name)
    # k=None keeps every axis: the residuals are round-off, hence the absolute tolerance
    assert streamed.offset_ == pytest.approx(full.offset_, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(streamed.score_samples(mapped), full.score_samples(in_memory),
                               rtol=1e-10, atol=1e-12)


# -- the command line takes a .npy file, memory-mapped -------------------------------------

def _cli(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "npae.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_npae_train_and_compare_read_a_uint8_npy_file(tmp_path):
    from npae.datasets import load_digits

    X, _, _ = load_digits()
    np.save(tmp_path / "digits.npy", np.round(X * 255).astype(np.uint8))  # (1797, 64)
    path = str(tmp_path / "digits.npy")
    trained = _cli("train", "autoencoder", "--dataset", path, "--epochs", "2",
                   "--out", str(tmp_path / "t"))
    assert trained.returncode == 0, trained.stderr
    model = npae.load(tmp_path / "t" / "autoencoder.npz")
    assert model.n_features_in_ == 64 and model.n_iter_ == 2
    compared = _cli("compare", "--dataset", path, "--code-sizes", "2", "--epochs", "2",
                    "--models", "pca,autoencoder", "--out", str(tmp_path / "c"))
    assert compared.returncode == 0, compared.stderr
    assert "1437 train / 360 test rows of 64 features" in compared.stdout
    refused = _cli("detect", "pca", "--dataset", path, "--out", str(tmp_path / "d"))
    assert refused.returncode != 0 and "needs a labelled dataset" in refused.stderr
    assert "Traceback" not in refused.stderr


def _rss_file_kb():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("RssFile"))


def test_a_pass_over_a_memmap_keeps_few_of_its_pages_resident(tmp_path):
    """Reading a 48 MB uint8 file (ScaledArray) adds far less than 48 MB to this process."""
    import os

    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs Linux's /proc/self/status")
    np.save(tmp_path / "big.npy", np.ones((48 * 1024, 1024), dtype=np.uint8))
    rows = as_rows(ScaledArray(np.load(tmp_path / "big.npy", mmap_mode="r"), 1 / 255,
                               dtype="float32"), "test")
    before, most = _rss_file_kb(), 0
    for block in rows.blocks():
        most = max(most, _rss_file_kb() - before)
        assert block.dtype == np.float32
    assert most < 16 * 1024  # about one block's pages at a time
    before, most = _rss_file_kb(), 0
    for _ in range(4):  # shuffled batches touch pages all over the file
        for index in np.array_split(np.random.default_rng(0).permutation(len(rows)), 400):
            rows[index]
            most = max(most, _rss_file_kb() - before)
    assert most < 24 * 1024


def test_a_checkpointed_fit_on_a_memmap_resumes_bit_for_bit(tmp_path):
    from npae.train import Callback

    class StopAfter(Callback):
        def on_epoch_end(self, trainer, logs):
            if logs["epoch"] == 2:
                raise KeyboardInterrupt

    X = memmap_of(tmp_path, tiny_data("Autoencoder", n=24))
    whole = make_tiny("Autoencoder", epochs=4).fit(X)
    with pytest.raises(KeyboardInterrupt):
        make_tiny("Autoencoder", epochs=4).fit(X, callbacks=[StopAfter()],
                                                checkpoint=tmp_path / "c.npz")
    resumed = make_tiny("Autoencoder", epochs=4).fit(X, checkpoint=tmp_path / "c.npz",
                                                     resume=True)
    assert same_arrays(weights(resumed), weights(whole))


# -- inference reads streamed input a block at a time too ---------------------------------------

INFERENCE = ("transform", "reconstruct", "score", "score_samples", "decision_function",
             "predict", "reconstruction_error_map")


@pytest.mark.parametrize("name", sorted(set(NAMES) - {"UNet"}))
def test_inference_on_a_memmap_equals_the_array(tmp_path, name):
    X = tiny_data(name, n=24)
    model, mapped = fitted(name, X), memmap_of(tmp_path, X)
    methods = [m for m in INFERENCE if hasattr(model, m)]
    assert {"transform", "score", "score_samples", "predict"} <= set(methods)
    for method in methods:
        np.testing.assert_allclose(getattr(model, method)(mapped), getattr(model, method)(X),
                                   rtol=1e-12, atol=0, err_msg=method)


def test_unet_inference_on_a_memmap_equals_the_array(tmp_path):
    X = tiny_data("UNet", n=12)
    model, mapped = fitted("UNet", X), memmap_of(tmp_path, X)
    for method in ("predict", "predict_proba", "decision_function"):
        np.testing.assert_array_equal(getattr(model, method)(mapped), getattr(model, method)(X))


def test_inference_on_a_large_memmap_reads_it_a_block_at_a_time(tmp_path):
    """transform, score_samples, predict and score of 262,144 uint8 rows: the rows as float64
    would take 128 MB, and no call may hold half of that at once."""
    import tracemalloc

    n, width = 16 * BLOCK_BYTES // (8 * 64), 64
    images = np.random.default_rng(0).integers(0, 256, size=(n, width), dtype=np.uint8)
    rows = ScaledArray(memmap_of(tmp_path, images), 1 / 255)
    model = npae.Autoencoder(hidden_sizes=(8,), code_size=4, epochs=1, batch_size=256,
                             random_state=0).fit(images[:512] / 255)
    whole = n * width * 8
    tracemalloc.start()
    try:
        results = {method: getattr(model, method)(rows)
                   for method in ("transform", "score_samples", "predict", "score")}
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < whole / 2, f"peak {peak / 2**20:.0f} MB against {whole / 2**20:.0f} MB"
    in_memory = images[:: n // 64] / 255  # a sample of the rows, converted the usual way
    np.testing.assert_allclose(results["transform"][:: n // 64], model.transform(in_memory),
                               rtol=1e-12)
    np.testing.assert_allclose(results["score_samples"][:: n // 64],
                               model.score_samples(in_memory), rtol=1e-12)
    assert results["predict"].shape == (n,)
    assert results["score"] == pytest.approx(np.mean(results["score_samples"]), rel=1e-9)
