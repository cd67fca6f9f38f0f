"""Split a kernel's (n, c) planes between two threads.

Numba's own ``parallel=True`` multiplied compile times by about six; a
kernel compiled with ``nogil=True`` instead runs in a plain Python thread
while the calling thread does the other half of the planes. Only kernels
with enough work per call use it (the start-up of a thread costs about
50 microseconds); the planes are independent, so the result is the same
whichever way they are split. ``NPAE_NUM_THREADS=1`` turns it off.
"""

import os
import threading

#: Calls with fewer elements than this run in the calling thread alone.
MIN_ELEMENTS = 1 << 17


def _cores():
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, int(os.environ.get("NPAE_NUM_THREADS", available)))


CORES = _cores()


def over_planes(kernel, n_planes, elements, *args):
    """Run ``kernel(start, stop, *args)`` over planes ``[0, n_planes)``, halves in two threads.

    ``elements`` (the size of the work) decides whether a second thread pays.
    The kernel must release the GIL (``nogil=True``) and write disjoint planes.
    """
    if CORES < 2 or n_planes < 2 or elements < MIN_ELEMENTS:
        kernel(0, n_planes, *args)
        return
    middle = n_planes // 2
    errors = []

    def second_half():
        try:
            kernel(middle, n_planes, *args)
        except BaseException as error:  # re-raised in the caller
            errors.append(error)

    helper = threading.Thread(target=second_half, name="npae-kernel", daemon=True)
    helper.start()
    try:
        kernel(0, middle, *args)
    finally:
        helper.join()
    if errors:
        raise errors[0]
