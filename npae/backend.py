"""The one switch between the Numba kernels and their NumPy twins.

Every hot loop of npae exists twice: a Numba-compiled kernel in
``npae.kernels.<family>`` and a readable NumPy twin, with the same
signature and results, beside the layer or optimizer that calls it.
``set_backend("numba" | "numpy")`` and ``with use_backend(name):`` choose
which of the two runs, for every layer and optimizer at once; tests keep
the two equal.

One pattern serves every family (activations, conv's im2col, pool,
upsample, optimizers). The family declares ONE table, the name of its
kernel module beside a dict of its twins, and at each call asks the table
for the functions of the backend in force. ``npae.layers.pool`` reads::

    POOL_KERNELS = KernelTable("npae.kernels.pool", {
        "max_pool_forward": _max_pool_forward_numpy,
        "max_pool_backward": _max_pool_backward_numpy,
        ...
    })

    class MaxPool2D(_Pool2D):
        def forward(self, x, training=True):
            ...
            y, argmax = POOL_KERNELS(self.backend).max_pool_forward(x, *self._window())

``self.backend`` is None unless the layer was built with ``backend=`` (a
pinned layer, for tests): None follows the switch, a name overrides it.

>>> import numpy as np
>>> import npae
>>> from npae.layers.pool import POOL_KERNELS
>>> x = np.arange(4.0).reshape(1, 1, 2, 2)
>>> with npae.use_backend("numpy"):
...     POOL_KERNELS().avg_pool_forward(x, 2, 2, 2, 2, 0, 0)  # the twin runs
array([[[[1.5]]]])

The tables are ``ACTIVATION_KERNELS`` (``npae.layers.activations``),
``IM2COL_KERNELS`` (``npae.layers.conv``), ``POOL_KERNELS``
(``npae.layers.pool``), ``UPSAMPLE_KERNELS`` (``npae.layers.upsample``) and
``OPTIM_KERNELS`` (``npae.optim``); ``TABLES`` lists them. Losses and
regularizers have no kernels (they are NumPy expressions throughout), so the
switch covers them trivially.

A kernel module is imported the first time its table resolves to
``"numba"``, so ``import npae`` never imports Numba. Where Numba cannot be
found (a browser notebook such as JupyterLite), the switch starts at
``"numpy"`` with a one-line ``RuntimeWarning``; where it is found but its
import fails (e.g. a NumPy it does not support yet), the first kernel call
gives the same warning and switches to ``"numpy"``. ``set_backend("numba")``
then raises ``ImportError``.
"""

import contextlib
import importlib
import importlib.util
import types
import warnings

BACKENDS = ("numba", "numpy")

NO_NUMBA = ("npae: Numba cannot be imported, so the NumPy twins of the kernels run "
            "(same results, slower); `pip install numba` for the compiled kernels")

#: Every ``KernelTable``, in the order the families declared them.
TABLES = []


def _numba_found():
    """Whether ``import numba`` can find the package (without importing it)."""
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):  # ValueError: sys.modules["numba"] is None
        return False


def _run_numpy_twins():
    """Switch to the twins for want of Numba, and say so once."""
    _current["backend"] = "numpy"
    warnings.warn(NO_NUMBA, RuntimeWarning, stacklevel=3)


_current = {"backend": "numba"}
if not _numba_found():
    _run_numpy_twins()


def check_backend(backend, owner, allow_none=True):
    """One of ``BACKENDS``, or None (follow the global switch); a clear ValueError otherwise."""
    if backend is None and allow_none:
        return None
    if not isinstance(backend, str) or backend not in BACKENDS:
        names = ", ".join(repr(b) for b in BACKENDS)
        raise ValueError(f"{owner}: backend must be one of {names}, got {backend!r}")
    return backend


def pinned_config(backend):
    """A layer's ``get_config`` entry for its backend: saved only when pinned."""
    return {} if backend is None else {"backend": backend}


def get_backend():
    """The backend in force: ``"numba"`` or ``"numpy"``."""
    return _current["backend"]


def set_backend(name):
    """Run every layer and optimizer that is not pinned on backend ``name`` from now on.

    Parameters
    ----------
    name : {"numba", "numpy"}

    Raises
    ------
    ValueError
        If ``name`` is not one of ``BACKENDS``.
    ImportError
        If ``name`` is ``"numba"`` and Numba cannot be imported.
    """
    check_backend(name, "set_backend", allow_none=False)
    if name == "numba":
        _import_numba()
    _current["backend"] = name


@contextlib.contextmanager
def use_backend(name):
    """Run the ``with`` block on backend ``name``; the previous one returns on exit, even on error.

    >>> import npae
    >>> with npae.use_backend("numpy"):
    ...     npae.get_backend()
    'numpy'
    """
    previous = get_backend()
    set_backend(name)
    try:
        yield name
    finally:
        _current["backend"] = previous


def _import_numba():
    """Import numba, or raise an ImportError that names the missing package."""
    try:
        importlib.import_module("numba")
    except ImportError as err:
        raise ImportError(
            f"the 'numba' backend needs the package numba, which cannot be imported ({err}); "
            "install it (`pip install numba`) or use npae.set_backend('numpy')",
            name="numba",
        ) from err


class KernelTable:
    """One family's kernels: the Numba module paired with the NumPy twins.

    Parameters
    ----------
    module : str
        The kernel module, e.g. ``"npae.kernels.pool"``. It must define a
        function of every name in ``twins``.
    twins : dict of str to callable
        The NumPy twin of each kernel, under the kernel's name, with the
        kernel's signature and results.

    Notes
    -----
    Calling the table with a backend name, or None for the global switch,
    returns a namespace of the functions to run (see the module docstring).
    """

    def __init__(self, module, twins):
        self.module = module
        self.numpy = types.SimpleNamespace(**twins)
        self._numba = None
        TABLES.append(self)

    def __call__(self, backend=None):
        if (backend or _current["backend"]) == "numpy":
            return self.numpy
        return self._numba or self._load(pinned=backend is not None)

    def _load(self, pinned):
        """The kernels of ``module`` under the twins' names, imported now (once).

        If Numba's import fails and the caller follows the switch, the switch
        moves to the twins (see the module docstring) and they are returned.
        """
        try:
            _import_numba()
        except ImportError:
            if pinned:
                raise
            _run_numpy_twins()
            return self.numpy
        kernels = importlib.import_module(self.module)
        missing = [name for name in vars(self.numpy) if not hasattr(kernels, name)]
        if missing:
            raise AttributeError(f"{self.module} has no kernel {missing[0]!r} for its NumPy twin")
        self._numba = types.SimpleNamespace(
            **{name: getattr(kernels, name) for name in vars(self.numpy)})
        return self._numba
