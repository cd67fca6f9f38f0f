"""Numba-compiled loops for the hot spots of the layers: plain functions on arrays.

One module per family (``activations``, ``im2col``, ``pool``, ``upsample``,
``optim``), each kernel with a readable NumPy twin of the same signature
beside the code that calls it; ``npae.backend`` pairs them (one
``KernelTable`` per family) and imports a module here only when its table
first runs on the ``"numba"`` backend, so nothing else in npae imports
these modules or Numba. ``tests/kernels`` checks that kernels and twins
agree. Kernels are compiled on first use for the dtype they meet (float32
or float64), about 0.2-0.6 s of CPU each, and cached on disk
(``cache=True``), so later processes load them in well under a second. They
run serially (``parallel=True`` multiplied the compile time by about five,
and the serial loops already beat PyTorch's two threads) and none uses
``fastmath``.
"""
