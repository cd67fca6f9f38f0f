"""The 8x8 handwritten digits bundled with scikit-learn, offline, scaled to [0, 1]."""

import numpy as np
import sklearn.datasets


def load_digits(return_images=False):
    """scikit-learn's bundled 8x8 handwritten digits, scaled to [0, 1].

    1,797 grey-level images of the digits 0-9 (16 grey levels, divided by 16
    here). Shipped inside scikit-learn: no download, always available.

    Parameters
    ----------
    return_images : bool, default=False
        False: ``X`` has shape (1797, 64). True: (1797, 1, 8, 8), NCHW.

    Returns
    -------
    X : ndarray of float64, values in [0, 1]
    y : ndarray of int64, shape (1797,), the digit shown
    image_shape : tuple, (1, 8, 8)

    Examples
    --------
    >>> X, y, image_shape = load_digits()
    >>> X.shape, X.dtype, float(X.max()), image_shape
    ((1797, 64), dtype('float64'), 1.0, (1, 8, 8))
    """
    digits = sklearn.datasets.load_digits()
    image_shape = (1, 8, 8)
    X = digits.data / 16.0
    if return_images:
        X = X.reshape(-1, *image_shape)
    return X, digits.target.astype(np.int64), image_shape
