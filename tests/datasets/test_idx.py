"""npae.datasets.idx: parsing, reading and writing IDX files."""

import doctest

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
