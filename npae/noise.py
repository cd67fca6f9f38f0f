"""Input corruption for denoising autoencoders: x_tilde ~ q(x_tilde | x).

Each function returns a corrupted copy and never modifies its input. Float
arrays keep their dtype (float32 stays float32); integer and boolean input is
corrupted as float64. ``random_state`` is an int seed, a
``numpy.random.Generator`` (shared, so successive calls differ) or None.
"""

import numpy as np

from npae._validation import check_choice, check_number
from npae.utils import as_generator

NOISES = ("gaussian", "masking", "salt_pepper")


def _as_float(x, owner):
    """A float view of ``x``: its own dtype if floating, else float64."""
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{owner} expected a real numeric array, got dtype {x.dtype}")
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _random_mask(rng, shape, fraction):
    """Boolean array, each entry True independently with probability ``fraction``."""
    return rng.random(shape) < fraction


def gaussian(x, std, random_state=None):
    """Additive isotropic Gaussian noise: ``x_tilde = x + std * eps``, eps ~ N(0, I).

    Parameters
    ----------
    x : array-like of any shape
    std : float >= 0
        Standard deviation of the noise.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    ndarray, same shape as ``x``; float dtype preserved.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((2, 3), dtype=np.float32)
    >>> gaussian(x, 0.1, random_state=0).dtype
    dtype('float32')
    """
    std = check_number(std, "std", "gaussian", low=0.0)
    x = _as_float(x, "gaussian")
    rng = as_generator(random_state)
    eps = rng.standard_normal(x.shape).astype(x.dtype, copy=False)
    return x + x.dtype.type(std) * eps


def masking(x, fraction, random_state=None):
    """Masking noise: ``x_tilde = x * (1 - m)``, each entry of m ~ Bernoulli(fraction).

    On average ``fraction`` of the entries are set to zero, each independently.

    Parameters
    ----------
    x : array-like of any shape
    fraction : float in [0, 1]
        Probability that an entry is zeroed.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    ndarray, same shape as ``x``; float dtype preserved.

    Examples
    --------
    >>> import numpy as np
    >>> masking(np.ones(6), 0.5, random_state=0)
    array([1., 0., 0., 0., 1., 1.])
    """
    fraction = check_number(fraction, "fraction", "masking", low=0.0, high=1.0)
    x = _as_float(x, "masking")
    mask = _random_mask(as_generator(random_state), x.shape, fraction)
    return np.where(mask, x.dtype.type(0), x)


def salt_and_pepper(x, fraction, random_state=None, low=0.0, high=1.0):
    """Salt-and-pepper noise: a random ``fraction`` of entries set to ``low`` or ``high``.

    Each entry is hit independently with probability ``fraction``; a hit
    entry becomes ``low`` or ``high`` with equal chance.

    Parameters
    ----------
    x : array-like of any shape
    fraction : float in [0, 1]
        Probability that an entry is replaced.
    random_state : int, numpy.random.Generator or None
    low, high : float
        The "pepper" and "salt" values (the data range, [0, 1] by default).

    Returns
    -------
    ndarray, same shape as ``x``; float dtype preserved.

    Examples
    --------
    >>> import numpy as np
    >>> salt_and_pepper(np.full(6, 0.5), 0.5, random_state=0)
    array([0.5, 0. , 0. , 0. , 0.5, 0.5])
    """
    fraction = check_number(fraction, "fraction", "salt_and_pepper", low=0.0, high=1.0)
    low = check_number(low, "low", "salt_and_pepper")
    high = check_number(high, "high", "salt_and_pepper")
    x = _as_float(x, "salt_and_pepper")
    rng = as_generator(random_state)
    hit = _random_mask(rng, x.shape, fraction)
    salt = rng.random(x.shape) < 0.5
    replacement = np.where(salt, x.dtype.type(high), x.dtype.type(low))
    return np.where(hit, replacement, x)


def corrupt(x, kind, level, random_state=None):
    """Apply the noise named ``kind`` at ``level`` (std or fraction).

    Parameters
    ----------
    x : array-like of any shape
    kind : {"gaussian", "masking", "salt_pepper"}
        One of ``NOISES``.
    level : float
        ``std`` for "gaussian", ``fraction`` for the others.
    random_state : int, numpy.random.Generator or None

    Examples
    --------
    >>> import numpy as np
    >>> corrupt(np.ones(4), "masking", 0.0, random_state=0)
    array([1., 1., 1., 1.])
    """
    check_choice(kind, "kind", "corrupt", NOISES)
    noise = {"gaussian": gaussian, "masking": masking, "salt_pepper": salt_and_pepper}[kind]
    return noise(x, level, random_state=random_state)
