"""The layer path is the path: every dense estimator trains through each layer's own backward.

A student who puts a breakpoint in ``Dense.backward`` or breaks ``Sigmoid``'s
backward must see it in training. These tests wrap the classes' methods (as a
breakpoint or a bug would change them) and fit the estimators with their
default settings, only fewer epochs, on a slice of the digits.
"""

import collections
import math

import numpy as np
import pytest

from npae import (
    VAE,
    Autoencoder,
    ContractiveAutoencoder,
    DenoisingAutoencoder,
    LinearAutoencoder,
    SparseAutoencoder,
    StackedAutoencoder,
)
from npae.datasets import load_digits
from npae.layers import ACTIVATIONS, Activation, Dense, Sigmoid

N_ROWS = 150
EPOCHS = 2

ESTIMATORS = {
    "Autoencoder": lambda: Autoencoder(epochs=EPOCHS, random_state=0),
    "LinearAutoencoder(gd)": lambda: LinearAutoencoder(8, solver="gd", epochs=EPOCHS,
                                                       random_state=0),
    "SparseAutoencoder(kl)": lambda: SparseAutoencoder(penalty="kl", epochs=EPOCHS,
                                                       random_state=0),
    "SparseAutoencoder(l1)": lambda: SparseAutoencoder(penalty="l1", epochs=EPOCHS,
                                                       random_state=0),
    "DenoisingAutoencoder": lambda: DenoisingAutoencoder(epochs=EPOCHS, random_state=0),
    "ContractiveAutoencoder": lambda: ContractiveAutoencoder(epochs=EPOCHS, random_state=0),
    "StackedAutoencoder": lambda: StackedAutoencoder(pretrain_epochs=1, finetune_epochs=EPOCHS,
                                                     random_state=0),
    "VAE(mlp)": lambda: VAE(epochs=EPOCHS, random_state=0),
}


@pytest.fixture(scope="module")
def digits():
    X, _, _ = load_digits()
    return X[:N_ROWS]


def activation_classes():
    """Every activation class ``get_activation`` builds, each once."""
    return sorted(set(ACTIVATIONS.values()), key=lambda cls: cls.__name__)


class CallCounter:
    """Count, per layer object, the calls of ``forward`` and ``backward`` on the given classes.

    Each method is replaced on the class itself (``monkeypatch.setattr``), so
    whatever runs a layer's pass, the count sees it.
    """

    def __init__(self, monkeypatch, classes):
        self.calls = collections.Counter()
        for cls in classes:
            for method in ("forward", "backward"):
                monkeypatch.setattr(cls, method, self._counting(method, getattr(cls, method)))

    def _counting(self, method, function):
        def counted(layer, *args, **kwargs):
            self.calls[method, id(layer)] += 1
            return function(layer, *args, **kwargs)

        return counted


def test_the_counted_classes_are_every_activation():
    classes = activation_classes()
    assert {"ReLU", "Sigmoid", "Tanh", "Identity"} <= {cls.__name__ for cls in classes}
    assert all(issubclass(cls, Activation) for cls in classes)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_default_fit_calls_each_layers_own_forward_and_backward_every_batch(name, digits,
                                                                            monkeypatch):
    counter = CallCounter(monkeypatch, [Dense, *activation_classes()])
    model = ESTIMATORS[name]().fit(digits)
    batches = EPOCHS * math.ceil(N_ROWS / model.batch_size)  # of the final (or only) training
    layers = [layer for layer in model.network_.layers if isinstance(layer, (Dense, Activation))]
    assert any(isinstance(layer, Dense) for layer in layers)
    for i, layer in enumerate(layers):
        assert counter.calls["backward", id(layer)] >= batches, (i, layer)
        assert counter.calls["forward", id(layer)] >= batches, (i, layer)


def test_the_counted_sparse_autoencoder_has_sigmoid_units(digits):
    """The next test breaks Sigmoid: the default SparseAutoencoder must be made of them."""
    model = SparseAutoencoder(epochs=1, random_state=0).fit(digits)
    names = [type(layer).__name__ for layer in model.network_.layers]
    assert names == ["Dense", "Sigmoid", "Dense", "Sigmoid"]


@pytest.mark.parametrize("broken_backward", [
    pytest.param(lambda backward: lambda layer, g: np.zeros_like(backward(layer, g)), id="zeros"),
    pytest.param(lambda backward: lambda layer, g: -backward(layer, g), id="sign-flipped"),
])
def test_breaking_sigmoid_backward_changes_what_a_sparse_autoencoder_learns(broken_backward,
                                                                            digits, monkeypatch):
    def fit():
        return SparseAutoencoder(epochs=3, random_state=0).fit(digits)

    sound = fit()
    again = fit()
    monkeypatch.setattr(Sigmoid, "backward", broken_backward(Sigmoid.backward))
    broken = fit()
    for (name, w_sound, _), (_, w_again, _), (_, w_broken, _) in zip(
            sound.network_.named_parameters(), again.network_.named_parameters(),
            broken.network_.named_parameters()):
        np.testing.assert_array_equal(w_sound, w_again)  # the same fit is bit-identical
        assert np.max(np.abs(w_sound - w_broken)) > 1e-3, name
