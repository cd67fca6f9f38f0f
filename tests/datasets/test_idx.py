"""npae.datasets.idx: parsing, reading and writing IDX files."""

import doctest
import gzip
import tracemalloc

import numpy as np
import pytest
from fake_mnist import idx_bytes

import npae.datasets.idx
from npae.datasets import (
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    IDXFormatError,
    parse_idx,
    read_idx,
    write_idx,
)


def test_docstring_examples_run():
    result = doctest.testmod(npae.datasets.idx)
    assert result.attempted > 0 and result.failed == 0


def test_write_idx_read_idx_round_trip(tmp_path, rng):
    array = rng.integers(0, 256, size=(3, 4, 5), dtype=np.uint8)
    for name in ("a-idx3-ubyte", "a-idx3-ubyte.gz"):
        write_idx(tmp_path / name, array)
        np.testing.assert_array_equal(read_idx(tmp_path / name, IDX_IMAGES_MAGIC), array)
    with pytest.raises(TypeError, match="uint8 array, got dtype float64"):
        write_idx(tmp_path / "b", array / 2)


def test_non_byte_idx_rejected():
    floats = np.zeros((2, 2), dtype=">f4")
    with pytest.raises(IDXFormatError, match=r"got 3330 \(float32, 2-d\)"):
        parse_idx(idx_bytes(floats, magic=0x0D02), "f")
    with pytest.raises(IDXFormatError, match="expected magic number 2049"):
        parse_idx(idx_bytes(floats, magic=0x0D02), "f", IDX_LABELS_MAGIC)


@pytest.mark.parametrize("shape", [(0,), (0, 28, 28), (5, 0, 28), ()])
@pytest.mark.parametrize("gz", [False, True])
def test_zero_items_or_a_zero_dimension_is_a_clear_error(tmp_path, shape, gz):
    path = tmp_path / ("x-idx-ubyte.gz" if gz else "x-idx-ubyte")
    write_idx(path, np.zeros(shape, dtype=np.uint8))
    with pytest.raises(IDXFormatError, match=r"at least one item .* got shape"):
        read_idx(path)


def test_a_gzipped_file_declaring_too_much_is_refused_before_decompressing(tmp_path):
    """4 GiB of declared zeros, 4 MiB of them really there: refused after the header."""
    path = tmp_path / "bomb-idx3-ubyte.gz"
    header = (0x0803).to_bytes(4, "big") + b"".join(
        d.to_bytes(4, "big") for d in (65536, 256, 256))
    with gzip.open(path, "wb") as fh:
        fh.write(header + bytes(4 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(IDXFormatError, match=r"4294967312 bytes, more than the \d+ bytes"):
            read_idx(path)
        assert tracemalloc.get_traced_memory()[1] < 1 << 20
    finally:
        tracemalloc.stop()


def test_a_gzipped_file_with_trailing_data_is_refused(tmp_path):
    path = tmp_path / "x-idx1-ubyte.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(idx_bytes(np.arange(3, dtype=np.uint8), magic=IDX_LABELS_MAGIC) + b"extra")
    with pytest.raises(IDXFormatError, match="trailing data"):
        read_idx(path)
