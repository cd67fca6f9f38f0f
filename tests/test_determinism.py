"""One random_state, one model: fits are bit-identical run after run, for every estimator."""

import numpy as np
import pytest
from test_reliability import NAMES, fit_tiny, outputs

STOCHASTIC = sorted(set(NAMES) - {"PCA"})  # PCA's closed form has no randomness


def everything(model):
    """Every array a fitted model holds (attributes and weights) and its history."""
    arrays = {k: v for k, v in vars(model).items()
              if k.endswith("_") and not k.startswith("_") and isinstance(v, np.ndarray)}
    if hasattr(model, "network_"):
        arrays.update({f"net/{k}": v for k, v in model.network_.state_dict().items()})
    return arrays, getattr(model, "history_", None)


def assert_identical(a, b, X):
    (arrays_a, history_a), (arrays_b, history_b) = everything(a), everything(b)
    assert arrays_a.keys() == arrays_b.keys() and arrays_a
    for key in arrays_a:
        np.testing.assert_array_equal(arrays_a[key], arrays_b[key], err_msg=key)
    assert history_a == history_b
    out_a, out_b = outputs(a, X), outputs(b, X)
    for method in out_a:
        np.testing.assert_array_equal(out_a[method], out_b[method], err_msg=method)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_the_same_random_state_gives_bit_identical_models(name, dtype):
    params = {} if name == "PCA" else {"validation_fraction": 0.2}
    first, X = fit_tiny(name, dtype, **params)
    second, _ = fit_tiny(name, dtype, **params)
    assert_identical(first, second, X)


@pytest.mark.parametrize("name", STOCHASTIC)
def test_another_random_state_gives_another_model(name):
    """The test above could fail: the seed does reach the model."""
    first, _ = fit_tiny(name, random_state=0)
    second, _ = fit_tiny(name, random_state=1)
    assert not all(np.array_equal(p, q) for p, q in zip(first.network_.params(),
                                                       second.network_.params()))


@pytest.mark.parametrize("name", STOCHASTIC)
def test_a_generator_as_random_state_is_as_good_as_its_seed(name):
    first, X = fit_tiny(name, random_state=np.random.default_rng(3))
    second, _ = fit_tiny(name, random_state=3)
    assert_identical(first, second, X)


def test_refitting_one_estimator_repeats_itself():
    model, X = fit_tiny("DenoisingAutoencoder")
    before = everything(model)[0]
    model.fit(X)
    after = everything(model)[0]
    for key in before:
        np.testing.assert_array_equal(before[key], after[key], err_msg=key)


def test_vae_sampling_is_reproducible():
    a, _ = fit_tiny("VAE")
    b, _ = fit_tiny("VAE")
    np.testing.assert_array_equal(a.sample(5), b.sample(5))
    np.testing.assert_array_equal(a.sample(3, random_state=7), b.sample(3, random_state=7))
    np.testing.assert_array_equal(a.elbo(a.sample(3, random_state=1), random_state=2),
                                  b.elbo(b.sample(3, random_state=1), random_state=2))
