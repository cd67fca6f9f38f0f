"""Tests of npae.models.base: every public method works on a fitted model, none is refused."""

import inspect

import numpy as np
import pytest
from sklearn import config_context
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from test_reliability import NAMES, fit_tiny, tiny_targets

from npae import LinearAutoencoder
from npae.io import estimator_classes
from npae.models.base import BaseAutoencoder, TrainedEstimator
from npae.optim import SGD


def public_methods(model):
    """Public methods the fitted ``model`` offers (scikit-learn hides some per model)."""
    return sorted(name for name in dir(model)
                  if not name.startswith("_") and inspect.isroutine(getattr(model, name, None)))


def valid_arguments(method, model, X, targets, path):
    """Arguments for ``method`` by parameter name; a required one not known here fails."""
    arguments = []
    for p in inspect.signature(method).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name == "X":
            arguments.append(X)
        elif p.name in ("y", "Y"):
            arguments.append(targets[0] if targets else None)
        elif p.name == "Z":
            arguments.append(model.transform(X))
        elif p.name == "n":
            arguments.append(3)
        elif p.name == "path":
            arguments.append(path)
        elif p.default is p.empty:
            raise LookupError(f"no valid value known for {method.__qualname__}'s {p.name!r}: "
                              "add one to valid_arguments")
    return arguments


@pytest.mark.parametrize("name", NAMES)
def test_no_public_method_raises_not_implemented_on_a_fitted_model(tmp_path, name):
    model, X = fit_tiny(name)
    targets = tiny_targets(name, X)
    path = tmp_path / "model.npz"
    model.save(path)  # so that load finds a file, whatever the order
    methods = public_methods(model)
    assert {"fit", "get_params", "save", "load"} <= set(methods)
    for method_name in methods:
        method = getattr(model, method_name)
        try:
            if method_name.startswith("set_") and method_name.endswith("_request"):
                with config_context(enable_metadata_routing=True):  # scikit-learn's routing
                    method()
            else:
                method(*valid_arguments(method, model, X, targets, path))
        except NotImplementedError as err:
            pytest.fail(f"{name}.{method_name} raised NotImplementedError: {err}")


def test_the_autoencoders_and_the_unet_share_the_trained_base():
    classes = estimator_classes()
    trained = {name for name, cls in classes.items() if issubclass(cls, TrainedEstimator)}
    autoencoders = {name for name, cls in classes.items() if issubclass(cls, BaseAutoencoder)}
    assert trained == set(NAMES) - {"PCA"} | {"ConditionalVAE"}
    assert autoencoders == trained - {"UNet"}
    for method in ("transform", "inverse_transform", "reconstruct"):
        assert not hasattr(classes["UNet"], method)
        assert all(hasattr(classes[name], method) for name in autoencoders)


def test_the_bases_are_abstract_and_not_loadable():
    for base in (TrainedEstimator, BaseAutoencoder):
        with pytest.raises(TypeError, match="abstract"):
            base()
        assert base.__name__ not in estimator_classes()


def test_the_training_settings_are_stored_once_by_the_base(rng):
    """Each estimator hands them to TrainedEstimator.__init__, which stores them as given."""
    settings = dict(optimizer="sgd", learning_rate=0.5, batch_size=3, weight_decay=0.25,
                    validation_fraction=0.5, early_stopping=True, patience=7, dtype="float32",
                    verbose=2, random_state=np.random.default_rng(0), momentum=0.9,
                    nesterov=True)
    for name, cls in estimator_classes().items():
        if issubclass(cls, TrainedEstimator):
            params = cls(**settings).get_params()
            assert {k: params[k] for k in settings} == settings, name


@pytest.mark.parametrize("name", sorted(set(NAMES) - {"PCA"}))
def test_sgd_trains_with_the_estimators_momentum_and_nesterov(name):
    model, _ = fit_tiny(name, optimizer="sgd", momentum=0.8, nesterov=True)
    optimizer = model._make_optimizer(model.network_)
    assert isinstance(optimizer, SGD)
    assert (optimizer.momentum, optimizer.nesterov) == (0.8, True)
    plain, _ = fit_tiny(name, optimizer="sgd")
    assert plain._make_optimizer(plain.network_).momentum == 0.0
    assert any(not np.array_equal(a, b)
               for a, b in zip(model.network_.params(), plain.network_.params()))


def test_momentum_speeds_up_plain_gradient_descent():
    X = np.random.default_rng(0).normal(size=(200, 10)) @ np.diag(np.linspace(0.2, 2, 10))
    kw = dict(n_components=3, solver="gd", optimizer="sgd", learning_rate=0.01, epochs=20,
              random_state=0)
    plain = LinearAutoencoder(**kw).fit(X)
    heavy = LinearAutoencoder(**kw, momentum=0.9).fit(X)
    nesterov = LinearAutoencoder(**kw, momentum=0.9, nesterov=True).fit(X)
    assert heavy.history_["loss"][-1] < 0.9 * plain.history_["loss"][-1]
    assert nesterov.history_["loss"][-1] < 0.9 * plain.history_["loss"][-1]
    assert nesterov.history_["loss"] != heavy.history_["loss"]


@pytest.mark.parametrize("params, error, message", [
    ({"momentum": 1.0}, ValueError, "LinearAutoencoder: momentum must be < 1, got 1.0"),
    ({"momentum": -0.1}, ValueError, "momentum must be >= 0, got -0.1"),
    ({"nesterov": True}, ValueError, "nesterov=True needs momentum > 0, got momentum=0"),
    ({"nesterov": "yes", "momentum": 0.5}, TypeError, "nesterov must be a bool, got 'yes'"),
])
def test_bad_momentum_settings(params, error, message):
    with pytest.raises(error, match=message):
        LinearAutoencoder(2, solver="gd", optimizer="sgd", **params).fit(np.eye(4))


@pytest.mark.parametrize("name", sorted(set(NAMES) - {"UNet"}))
def test_feature_names_out_and_pandas_output(name):
    pd = pytest.importorskip("pandas")
    model, X = fit_tiny(name)
    prefix = name.lower()
    k = model.transform(X).shape[1]
    names = model.get_feature_names_out()
    assert list(names) == [f"{prefix}{i}" for i in range(k)]
    if X.ndim == 2:
        pipe = make_pipeline(MinMaxScaler(), clone(model)).set_output(transform="pandas")
        frame = pipe.fit_transform(X)
        assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(names)
        np.testing.assert_allclose(frame.to_numpy(), pipe[-1].transform(pipe[0].transform(X)))
        assert pipe.predict(X).shape == (len(X),)  # the detector still works behind it
