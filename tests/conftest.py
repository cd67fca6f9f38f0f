import os

os.environ.setdefault("MPLBACKEND", "Agg")  # tests draw figures without a display
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # also for the CLI and notebook children

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from threadpoolctl import threadpool_limits

# Tests time nothing; one BLAS thread spares the small products of the tests
# the thread start-up and spinning that make them slow on a busy 2-core machine.
threadpool_limits(limits=1, user_api="blas")

settings.register_profile(
    "npae", max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "npae"))


@pytest.fixture
def rng():
    return np.random.default_rng(0)
