"""Bad input, fuzzed: every public estimator and layer answers with a clear error.

Whatever arrives (wrong ndim or feature count, NaN or inf, empty arrays,
object, string or complex data, ragged lists, negative or zero sizes and
rates), the answer is a ``ValueError`` or ``TypeError`` whose message names
what was expected and what was received: never another exception, a crash,
or silent NaN output. What is accepted is accepted consistently: estimators
convert lists and integer or boolean arrays exactly as ``np.asarray(X,
dtype=float64)`` would; layers, the building blocks, take only arrays of
their own dtype and say so.
"""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_reliability import IMAGE_MODELS, NAMES, TINY, make_tiny, outputs, tiny_targets

from npae import layers
from npae.io import estimator_classes

FAST = settings(max_examples=12, deadline=None)

# A message names what was expected and what arrived.
EXPECTED = re.compile(r"expect|must|need|should|not supported|requires?", re.IGNORECASE)
RECEIVED = re.compile(r"\bgot\b|\bhas\b|received|, not ", re.IGNORECASE)


def assert_clear(error):
    message = str(error)
    assert EXPECTED.search(message) and RECEIVED.search(message), message


def one_epoch(name):
    """TINY[name] trained for a single epoch."""
    params = dict(TINY[name])
    for key in ("epochs", "finetune_epochs", "pretrain_epochs"):
        if key in params:
            params[key] = 1
    return params


def good_shape(name, n=6):
    return (n, 1, 8, 8) if name in IMAGE_MODELS else (n, 6)


def fit(name, X, **params):
    model = make_tiny(name, **{**one_epoch(name), **params})
    targets = tiny_targets(name, np.zeros(good_shape(name, len(X)))) if name == "UNet" else ()
    return model.fit(X, *targets)


# -- bad data ---------------------------------------------------------------------------------

def values(shape):
    return st.builds(lambda seed: np.random.default_rng(seed).uniform(size=shape),
                     st.integers(0, 2**16))


KINDS = ["ndim", "nonfinite", "empty", "object", "string", "complex", "ragged"]


@st.composite
def bad_data(draw, name, kinds=tuple(KINDS)):
    """(X, a regex the message must match) for data no estimator should take."""
    shape = good_shape(name)
    kind = draw(st.sampled_from(kinds))
    X = draw(values(shape))
    if kind == "ndim":
        ndim = draw(st.sampled_from([d for d in (1, 2, 3, 5) if d != len(shape)]))
        reshaped = X.reshape(-1) if ndim == 1 else X.reshape(shape[0], -1, *[1] * (ndim - 2))
        return reshaped, r"\d-d|\(N, C, H, W\)"
    if kind == "nonfinite":
        flat = X.reshape(-1)
        where = draw(st.lists(st.integers(0, flat.size - 1), min_size=1, max_size=4))
        flat[where] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return X, "finite"
    if kind == "empty":
        axis = draw(st.integers(0, len(shape) - 1))
        return np.take(X, [], axis=axis), "at least|minimum"
    if kind == "object":
        X = X.astype(object)
        X.flat[draw(st.integers(0, X.size - 1))] = draw(st.sampled_from(["a", None, {}, "1,5"]))
        return X, "numeric|finite"  # None becomes NaN, as in scikit-learn
    if kind == "string":
        return X.astype(str), "numeric"
    if kind == "complex":
        return X + 1j * draw(st.floats(0.5, 2)), "[Cc]omplex"
    rows = X.reshape(shape[0], -1).tolist()
    rows[draw(st.integers(0, len(rows) - 1))].pop()
    return rows, "rectangular"


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(data=st.data())
def test_bad_training_data_is_refused_clearly(name, data):
    X, hint = data.draw(bad_data(name))
    with pytest.raises((ValueError, TypeError)) as info:
        fit(name, X)
    assert_clear(info.value)
    assert re.search(hint, str(info.value))


@pytest.fixture(scope="module")
def fitted():
    """One fitted tiny model per estimator."""
    rng = np.random.default_rng(0)
    return {name: fit(name, rng.uniform(size=good_shape(name))) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(data=st.data())
def test_bad_data_after_fit_is_refused_clearly(fitted, name, data):
    model = fitted[name]
    method = data.draw(st.sampled_from(sorted(set(outputs(model, np.zeros(good_shape(name))))
                                              - {"inverse_transform"})))
    X, hint = data.draw(bad_data(name, [k for k in KINDS if k != "empty"]))
    with pytest.raises((ValueError, TypeError)) as info:
        getattr(model, method)(X)
    assert_clear(info.value)
    assert re.search(hint, str(info.value))


@pytest.mark.parametrize("name, axis", [(name, axis) for name in NAMES for axis in (0, 1)])
def test_empty_data_after_fit_is_refused_clearly(fitted, name, axis):
    X = np.take(np.zeros(good_shape(name)), [], axis=axis)
    for method in sorted(set(outputs(fitted[name], np.zeros(good_shape(name))))
                         - {"inverse_transform"}) + ["score"]:
        args = tiny_targets(name, X) if method == "score" else ()
        with pytest.raises(ValueError, match="at least|minimum") as info:
            getattr(fitted[name], method)(X, *args)
        assert_clear(info.value)


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(data=st.data())
def test_a_wrong_feature_count_after_fit_names_both_counts(fitted, name, data):
    model = fitted[name]
    shape = list(good_shape(name))
    axis = data.draw(st.integers(1, len(shape) - 1))
    expected = shape[axis]
    shape[axis] = data.draw(st.integers(1, 12).filter(lambda s: s != expected))
    method = data.draw(st.sampled_from(sorted(set(outputs(model, np.zeros(good_shape(name))))
                                              - {"inverse_transform"})))
    with pytest.raises(ValueError) as info:
        getattr(model, method)(np.zeros(shape))
    assert_clear(info.value)
    message = str(info.value)
    assert str(expected) in message and str(shape[axis]) in message


@pytest.mark.parametrize("name", sorted(set(NAMES) - {"UNet"}))
@FAST
@given(data=st.data())
def test_a_wrong_code_width_for_inverse_transform_names_both(fitted, name, data):
    model = fitted[name]
    width = model.transform(np.zeros(good_shape(name))).shape[1]
    wrong = data.draw(st.integers(1, 9).filter(lambda w: w != width))
    with pytest.raises(ValueError) as info:
        model.inverse_transform(np.zeros((3, wrong)))
    assert_clear(info.value)
    assert str(width) in str(info.value) and str(wrong) in str(info.value)


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(kind=st.sampled_from(["int64", "int8", "uint8", "bool", "list"]), seed=st.integers(0, 99))
def test_integer_boolean_and_list_data_are_converted_like_floats(name, kind, seed):
    X = np.random.default_rng(seed).integers(0, 2, size=good_shape(name))
    same = X.tolist() if kind == "list" else X.astype(kind)
    a, b = fit(name, same), fit(name, X.astype(np.float64))
    for (key, out), (_, reference) in zip(sorted(outputs(a, same).items()),
                                          sorted(outputs(b, X.astype(np.float64)).items())):
        assert np.isfinite(out).all(), key
        np.testing.assert_array_equal(out, reference, err_msg=key)


# -- bad hyperparameters ------------------------------------------------------------------------

# Where 0 is a meaningful setting; any other number must be positive.
ZERO_IS_VALID = {"epochs", "pretrain_epochs", "finetune_epochs", "weight_decay",
                 "validation_fraction", "beta", "lam", "noise_level", "padding", "verbose",
                 "random_state", "momentum", "tol", "kl_warmup", "free_bits"}


def numeric_params(name):
    params = estimator_classes()[name]().get_params()
    return sorted(k for k, v in params.items()
                  if isinstance(v, (int, float, tuple)) and not isinstance(v, bool)
                  or k in ("dtype", "random_state", "n_components"))


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(data=st.data())
def test_negative_zero_and_absurd_hyperparameters_are_refused_at_fit(name, data):
    param = data.draw(st.sampled_from(numeric_params(name)))
    default = estimator_classes()[name]().get_params()[param]
    bad = [-1, -0.5, -1e9, float("nan"), float("inf"), "many", [object()]]
    if param not in ZERO_IS_VALID:
        bad += [0, 0.0]
    if isinstance(default, tuple):
        bad += [(0,), (-3,), (2, -1), (2.5,), "64"]
    value = data.draw(st.sampled_from(bad))
    model = make_tiny(name, **{**one_epoch(name), param: value})
    assert model.get_params()[param] is value  # __init__ only stores
    X = np.random.default_rng(0).uniform(size=good_shape(name))
    with pytest.raises((ValueError, TypeError)) as info:
        model.fit(X, *tiny_targets(name, X))
    assert_clear(info.value)
    assert param in str(info.value)


@pytest.mark.parametrize("name", sorted(set(NAMES) - {"PCA"}))
@pytest.mark.parametrize("value", [True, 1.5, "0", -2])
def test_random_state_must_be_a_seed(name, value):
    X = np.random.default_rng(0).uniform(size=good_shape(name))
    with pytest.raises((ValueError, TypeError), match=r"random_state must be .*got"):
        make_tiny(name, random_state=value).fit(X, *tiny_targets(name, X))


# -- layers -----------------------------------------------------------------------------------

# name: (constructor, per-example input shape)
LAYERS = {
    "Dense": (lambda dtype: layers.Dense(3, 2, dtype=dtype, rng=0), (3,)),
    "TiedDense": (lambda dtype: layers.TiedDense(layers.Dense(2, 3, dtype=dtype, rng=0),
                                                 dtype=dtype), (3,)),
    "ReLU": (lambda dtype: layers.ReLU(dtype=dtype), (3,)),
    "LeakyReLU": (lambda dtype: layers.LeakyReLU(0.1, dtype=dtype), (3,)),
    "Sigmoid": (lambda dtype: layers.Sigmoid(dtype=dtype), (3,)),
    "Tanh": (lambda dtype: layers.Tanh(dtype=dtype), (3,)),
    "Softplus": (lambda dtype: layers.Softplus(dtype=dtype), (3,)),
    "Identity": (lambda dtype: layers.Identity(dtype=dtype), (3,)),
    "Flatten": (lambda dtype: layers.Flatten(dtype=dtype), (1, 4, 4)),
    "Reshape": (lambda dtype: layers.Reshape((1, 4, 4), dtype=dtype), (16,)),
    "Conv2D": (lambda dtype: layers.Conv2D(1, 2, 3, padding=1, dtype=dtype, rng=0), (1, 5, 5)),
    "ConvTranspose2D": (lambda dtype: layers.ConvTranspose2D(1, 2, 2, stride=2, dtype=dtype,
                                                             rng=0), (1, 5, 5)),
    "MaxPool2D": (lambda dtype: layers.MaxPool2D(2, dtype=dtype), (1, 4, 4)),
    "AvgPool2D": (lambda dtype: layers.AvgPool2D(2, dtype=dtype), (1, 4, 4)),
    "Upsample2D": (lambda dtype: layers.Upsample2D(2, dtype=dtype), (1, 4, 4)),
    "Crop2D": (lambda dtype: layers.Crop2D(2, dtype=dtype), (1, 4, 4)),
}
# Layers whose forward fixes the per-example shape (the others take any size).
SHAPED = {"Dense": 0, "TiedDense": 0, "Reshape": 0, "Conv2D": 0, "ConvTranspose2D": 0}


def test_every_public_layer_is_fuzzed():
    public = {name for name in layers.__all__ if isinstance(getattr(layers, name), type)
              and issubclass(getattr(layers, name), layers.Layer)}
    assert public - {"Layer", "Activation", "Concat"} == set(LAYERS)


@st.composite
def bad_layer_input(draw, name, dtype):
    """(x, what must appear in the message) for input no layer should take."""
    shape = (draw(st.integers(1, 3)), *LAYERS[name][1])
    x = np.random.default_rng(draw(st.integers(0, 99))).uniform(size=shape).astype(dtype)
    kinds = ["ndim", "nonfinite", "empty", "object", "string", "complex", "integer",
             "other float", "list"]
    if name in SHAPED:
        kinds.append("size")
    kind = draw(st.sampled_from(kinds))
    if kind == "ndim":
        return (x.reshape(-1) if x.ndim > 1 else x[:, None, None]), "got"
    if kind == "nonfinite":
        x.flat[draw(st.integers(0, x.size - 1))] = draw(st.sampled_from([np.nan, np.inf]))
        return x, "finite"
    if kind == "empty":
        return x[:0], "non-empty"
    if kind == "object":
        return x.astype(object), "dtype"
    if kind == "string":
        return x.astype(str), "dtype"
    if kind == "complex":
        return x.astype(complex), "dtype"
    if kind == "integer":
        return (x * 10).astype(draw(st.sampled_from(["int64", "int32", "uint8"]))), "dtype"
    if kind == "other float":
        return x.astype(np.float32 if dtype == "float64" else np.float64), "dtype"
    if kind == "list":
        return x.tolist(), "numpy array"
    axis = 1 + SHAPED[name]
    sizes = list(x.shape)
    sizes[axis] = draw(st.integers(1, 20).filter(lambda s: s != x.shape[axis]))
    return np.zeros(sizes, dtype=dtype), str(x.shape[axis])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(LAYERS))
@FAST
@given(data=st.data())
def test_bad_layer_input_is_refused_clearly(name, dtype, data):
    layer = LAYERS[name][0](dtype)
    x, hint = data.draw(bad_layer_input(name, dtype))
    with pytest.raises((ValueError, TypeError)) as info:
        layer.forward(x)
    assert_clear(info.value)
    assert hint in str(info.value)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_good_layer_input_gives_finite_output(name):
    for dtype in ("float64", "float32"):
        make, shape = LAYERS[name]
        layer = make(dtype)
        x = np.random.default_rng(0).uniform(-1, 1, size=(2, *shape)).astype(dtype)
        y = layer.forward(x)
        assert y.dtype == dtype and np.isfinite(y).all()
        assert np.isfinite(layer.backward(np.ones_like(y))).all()


# constructor: the sizes and rates it takes
LAYER_SIZES = {
    "Dense": (lambda **k: layers.Dense(**{"in_features": 3, "out_features": 2, **k}),
              ["in_features", "out_features"]),
    "Conv2D": (lambda **k: layers.Conv2D(**{"in_channels": 1, "out_channels": 2,
                                            "kernel_size": 3, **k}),
               ["in_channels", "out_channels", "kernel_size", "stride"]),
    "ConvTranspose2D": (lambda **k: layers.ConvTranspose2D(**{"in_channels": 1, "out_channels": 2,
                                                              "kernel_size": 2, **k}),
                        ["in_channels", "out_channels", "kernel_size", "stride"]),
    "MaxPool2D": (lambda **k: layers.MaxPool2D(**{"kernel_size": 2, **k}),
                  ["kernel_size", "stride"]),
    "AvgPool2D": (lambda **k: layers.AvgPool2D(**{"kernel_size": 2, **k}),
                  ["kernel_size", "stride"]),
    "Upsample2D": (lambda **k: layers.Upsample2D(**{"scale": 2, **k}), ["scale"]),
    "Crop2D": (lambda **k: layers.Crop2D(**{"target_size": 2, **k}), ["target_size"]),
    "Reshape": (lambda **k: layers.Reshape(**{"shape": (4,), **k}), ["shape"]),
    "LeakyReLU": (lambda **k: layers.LeakyReLU(**{"alpha": 0.1, **k}), ["alpha"]),
}


@pytest.mark.parametrize("name", sorted(LAYER_SIZES))
@FAST
@given(data=st.data())
def test_negative_and_zero_layer_sizes_are_refused_clearly(name, data):
    make, params = LAYER_SIZES[name]
    param = data.draw(st.sampled_from(params))
    bad = [-1, -7, "3", float("nan"), [object()]]
    if param != "stride":  # None: the kernel size
        bad.append(None)
    if param != "alpha":  # a leaky slope of 0 is plain ReLU
        bad += [0, 2.5, (0, 2), (2, -1)]
    with pytest.raises((ValueError, TypeError)) as info:
        make(**{param: data.draw(st.sampled_from(bad))})
    assert_clear(info.value)
    assert param in str(info.value) or "shape" in str(info.value)


@pytest.mark.parametrize("dtype", ["int32", "float16", "complex128", "bogus", object])
def test_a_layer_dtype_must_be_float32_or_float64(dtype):
    with pytest.raises((ValueError, TypeError), match="expected dtype float32 or float64, got"):
        layers.Dense(2, 2, dtype=dtype)
