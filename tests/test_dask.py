"""Tests of the Dask road: PCA's statistics as Dask tasks on a cluster, streaming, dask-ml."""

import subprocess
import sys

import numpy as np
import pytest

import npae
from npae.streaming import ScaledArray

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

AE = dict(hidden_sizes=(5,), code_size=2, epochs=2, batch_size=16, random_state=0)


@pytest.fixture(scope="module")
def client():
    """Two worker processes on 127.0.0.1: what a cluster of two machines would do, in one."""
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def data(n=400, d=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * np.geomspace(3, 0.3, d) + 1.0


def test_pca_on_the_cluster_equals_pca_in_memory(client):
    X = data()
    dX = da.from_array(X, chunks=(57, 10))
    with distributed.get_task_stream(client) as tasks:
        on_cluster = npae.PCA(3).fit(dX)
    in_memory = npae.PCA(3).fit(X)
    for name in ("components_", "mean_", "explained_variance_", "singular_values_",
                 "explained_variance_ratio_"):
        np.testing.assert_allclose(getattr(on_cluster, name), getattr(in_memory, name),
                                   rtol=1e-12, atol=1e-12, err_msg=name)
    assert on_cluster.offset_ == pytest.approx(in_memory.offset_, rel=1e-10)
    np.testing.assert_allclose(on_cluster.score_samples(dX), in_memory.score_samples(X),
                               rtol=1e-10)
    # each chunk's statistics was a Dask task, run on the workers
    keys = [str(task["key"]) for task in tasks.data]
    assert sum("block_statistics" in key for key in keys) == 8  # ceil(400 / 57) chunks
    assert len({task["worker"] for task in tasks.data}) == 2


def test_pca_partial_fit_takes_dask_arrays(client):
    X = data()
    pca = npae.PCA(3).partial_fit(da.from_array(X[:150], chunks=50))
    pca.partial_fit(da.from_array(X[150:], chunks=100))
    full = npae.PCA(3).fit(X)
    signs = np.sign(np.sum(pca.components_ * full.components_, axis=1))[:, None]
    np.testing.assert_allclose(pca.components_ * signs, full.components_, atol=1e-8)


def test_a_minibatch_estimator_streams_a_dask_array_bit_for_bit(client):
    images = np.random.default_rng(0).integers(0, 256, size=(64, 10), dtype=np.uint8)
    streamed = npae.Autoencoder(**AE).fit(ScaledArray(da.from_array(images, chunks=20), 1 / 255))
    in_memory = npae.Autoencoder(**AE).fit(images * (1 / 255))
    for a, b in zip(streamed.network_.params(), in_memory.network_.params()):
        np.testing.assert_array_equal(a, b)
    assert streamed.offset_ == in_memory.offset_
    plain = npae.Autoencoder(**AE).fit(da.from_array(images * (1 / 255), chunks=20))
    for a, b in zip(plain.network_.params(), in_memory.network_.params()):
        np.testing.assert_array_equal(a, b)


def test_dask_ml_incremental_calls_partial_fit_per_block(client):
    from dask_ml.wrappers import Incremental

    X = data(n=120, d=6)
    dX = da.from_array(X, chunks=40)
    wrapped = Incremental(npae.Autoencoder(hidden_sizes=(4,), code_size=2, batch_size=16,
                                           random_state=0), shuffle_blocks=False)
    wrapped.fit(dX)
    model = wrapped.estimator_
    assert model.n_iter_ == 3  # one pass per block
    expected = npae.Autoencoder(hidden_sizes=(4,), code_size=2, batch_size=16, random_state=0)
    for start in range(0, 120, 40):
        expected.partial_fit(X[start:start + 40])
    for a, b in zip(model.network_.params(), expected.network_.params()):
        np.testing.assert_array_equal(a, b)
    pca = Incremental(npae.PCA(2), shuffle_blocks=False).fit(dX).estimator_
    np.testing.assert_allclose(np.abs(pca.components_), np.abs(npae.PCA(2).fit(X).components_),
                               atol=1e-8)


def test_grid_search_under_joblibs_dask_backend(client):
    from sklearn.model_selection import GridSearchCV

    X = data(n=120, d=6)
    grid = {"code_size": [1, 3]}
    params = dict(hidden_sizes=(4,), epochs=3, random_state=0)
    with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        on_cluster = GridSearchCV(npae.Autoencoder(**params), grid, cv=2, n_jobs=-1).fit(X)
    local = GridSearchCV(npae.Autoencoder(**params), grid, cv=2).fit(X)
    assert len(tasks.data) >= 1  # the four fits ran on the workers
    np.testing.assert_array_equal(on_cluster.cv_results_["mean_test_score"],
                                  local.cv_results_["mean_test_score"])
    assert on_cluster.best_params_ == local.best_params_


def test_without_dask_the_error_names_the_extra():
    code = """
import sys
sys.modules["dask"] = None
sys.modules["dask.array"] = None
import numpy as np
import npae
from npae.streaming import require_dask
npae.PCA(1).fit(np.random.default_rng(0).normal(size=(20, 3)))  # no Dask needed
try:
    require_dask("PCA on a Dask array")
except ImportError as err:
    print(err)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert "PCA on a Dask array needs Dask: pip install 'npae[dask]'" in result.stdout
