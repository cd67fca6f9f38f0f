"""npae.datasets as a package: the public names it had as one module, one job per submodule."""

import importlib
import pkgutil

import pytest

import npae.datasets
import npae.io

# The public names of npae/datasets.py before it became a package, each with
# the module that now defines it, and the names added since (the MNIST sample).
HOMES = {
    "load_digits": "npae.datasets.digits",
    "train_test_split": "npae.datasets.splits",
    "SHAPE_KINDS": "npae.datasets.shapes",
    "make_shapes": "npae.datasets.shapes",
    "IDXFormatError": "npae.datasets.idx",
    "IDX_IMAGES_MAGIC": "npae.datasets.idx",
    "IDX_LABELS_MAGIC": "npae.datasets.idx",
    "parse_idx": "npae.datasets.idx",
    "read_idx": "npae.datasets.idx",
    "write_idx": "npae.datasets.idx",
    "DownloadError": "npae.datasets.download",
    "RETRY_BACKOFF": "npae.datasets.download",
    "get_data_home": "npae.datasets.download",
    "MNIST_SHA256": "npae.datasets.mnist",
    "MNIST_URLS": "npae.datasets.mnist",
    "load_mnist": "npae.datasets.mnist",
    "load_mnist_sample": "npae.datasets.mnist_sample",
    "ChecksumError": "npae.io",
}
SUBMODULES = {"digits", "download", "idx", "mnist", "mnist_sample", "shapes", "splits"}


def test_public_names_unchanged():
    assert set(npae.datasets.__all__) == set(HOMES)
    public = {name for name in vars(npae.datasets) if not name.startswith("_")}
    assert public == set(HOMES) | SUBMODULES
    assert {info.name for info in pkgutil.iter_modules(npae.datasets.__path__)} == SUBMODULES


@pytest.mark.parametrize(("name", "home"), sorted(HOMES.items()))
def test_each_name_is_reexported_from_its_home(name, home):
    assert getattr(npae.datasets, name) is getattr(importlib.import_module(home), name)


def test_checksum_error_is_the_one_from_io():
    assert issubclass(npae.datasets.ChecksumError, npae.io.ModelFileError)


@pytest.mark.parametrize("name", ["", *sorted(f".{sub}" for sub in SUBMODULES)])
def test_each_module_states_its_job(name):
    doc = importlib.import_module("npae.datasets" + name).__doc__
    assert doc and doc.strip().splitlines()[0].endswith("."), f"npae.datasets{name}: no summary"
