"""The backend switch: set/use/get, pinned objects, the kernel tables, NumPy-only mode."""

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import npae
import npae.kernels
from npae import backend
from npae.layers import (
    AvgPool2D,
    Conv2D,
    ConvTranspose2D,
    LeakyReLU,
    MaxPool2D,
    ReLU,
    Sigmoid,
    Tanh,
    Upsample2D,
)
from npae.layers.activations import ACTIVATION_KERNELS
from npae.layers.conv import IM2COL_KERNELS
from npae.layers.pool import POOL_KERNELS
from npae.layers.upsample import UPSAMPLE_KERNELS
from npae.optim import OPTIM_KERNELS, SGD, Adam

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def numba_backend():
    """Every test starts and ends on the default backend, whatever it changes."""
    assert npae.get_backend() == "numba"
    yield
    npae.set_backend("numba")


# -- set, use, get ----------------------------------------------------------------------

def test_public_names():
    assert npae.BACKENDS == ("numba", "numpy")
    for name in ("BACKENDS", "get_backend", "set_backend", "use_backend"):
        assert name in npae.__all__ and getattr(npae, name) is getattr(backend, name)


def test_set_backend_switches_until_set_again():
    npae.set_backend("numpy")
    assert npae.get_backend() == "numpy"
    npae.set_backend("numba")
    assert npae.get_backend() == "numba"


def test_use_backend_restores_the_previous_backend():
    with npae.use_backend("numpy") as name:
        assert name == "numpy" and npae.get_backend() == "numpy"
        with npae.use_backend("numba"):
            assert npae.get_backend() == "numba"
        assert npae.get_backend() == "numpy"
    assert npae.get_backend() == "numba"
    npae.set_backend("numpy")
    with npae.use_backend("numba"):
        assert npae.get_backend() == "numba"
    assert npae.get_backend() == "numpy"


def test_use_backend_restores_on_error():
    with pytest.raises(KeyError, match="inside"), npae.use_backend("numpy"):
        raise KeyError("inside")
    assert npae.get_backend() == "numba"


@pytest.mark.parametrize("bad", ["gpu", "NumPy", "", None, 1, ("numpy",)])
def test_bad_names_list_the_backends(bad):
    message = f"backend must be one of 'numba', 'numpy', got {bad!r}"
    with pytest.raises(ValueError, match=f"^set_backend: {message}$".replace("(", r"\(")
                       .replace(")", r"\)")):
        npae.set_backend(bad)
    with pytest.raises(ValueError, match="backend must be one of 'numba', 'numpy'"), \
            npae.use_backend(bad):
        pass  # never reached: use_backend fails on entering
    assert npae.get_backend() == "numba"


@pytest.mark.parametrize("make", [
    lambda b: Conv2D(1, 1, 1, backend=b), lambda b: ConvTranspose2D(1, 1, 1, backend=b),
    lambda b: MaxPool2D(backend=b), lambda b: Upsample2D(backend=b), lambda b: ReLU(backend=b),
    lambda b: Adam([np.zeros(1)], [np.zeros(1)], backend=b),
])
def test_layers_and_optimizers_refuse_a_bad_backend(make):
    with pytest.raises(ValueError, match="backend must be one of 'numba', 'numpy', got 'cuda'"):
        make("cuda")


# -- the tables -------------------------------------------------------------------------

TABLES = [ACTIVATION_KERNELS, IM2COL_KERNELS, POOL_KERNELS, UPSAMPLE_KERNELS, OPTIM_KERNELS]


def test_every_kernel_module_has_one_table_and_every_kernel_a_twin():
    assert len(backend.TABLES) == len(TABLES) and all(t in backend.TABLES for t in TABLES)
    modules = {f"npae.kernels.{m.name}" for m in pkgutil.iter_modules(npae.kernels.__path__)}
    assert {table.module for table in TABLES} == modules
    for table in TABLES:
        module = importlib.import_module(table.module)
        kernels = {name for name, f in vars(module).items()
                   if not name.startswith("_") and getattr(f, "__module__", "") == table.module}
        assert kernels == set(vars(table.numpy)), table.module
        for name, twin in vars(table.numpy).items():
            kernel = getattr(table("numba"), name)
            assert kernel is getattr(module, name)
            assert (inspect.signature(twin).parameters.keys()
                    == inspect.signature(kernel.py_func).parameters.keys()), name


def test_tables_resolve_by_the_switch_or_the_pin():
    for table in TABLES:
        assert table() is table("numba") is not table.numpy
        assert table("numpy") is table.numpy
        with npae.use_backend("numpy"):
            assert table() is table.numpy
            assert table("numba") is not table.numpy


class Spy:
    """Replaces one function of a table namespace and counts its calls."""

    def __init__(self, monkeypatch, namespace, name):
        self.calls, self.function = 0, getattr(namespace, name)
        monkeypatch.setattr(namespace, name, self)

    def __call__(self, *args):
        self.calls += 1
        return self.function(*args)


def run_relu(layer):
    layer.forward(np.linspace(-1, 1, 6).reshape(2, 3))
    layer.backward(np.ones((2, 3)))


def run_images(layer):
    y = layer.forward(np.linspace(-1, 1, 32).reshape(2, 1, 4, 4))
    layer.backward(np.ones_like(y))


def run_step(opt):
    opt.step()


# (build with a backend, run, table, a function the run calls)
FAMILIES = [
    (lambda b: ReLU(backend=b), run_relu, ACTIVATION_KERNELS, "relu_backward"),
    (lambda b: Conv2D(1, 2, 3, padding=1, backend=b), run_images, IM2COL_KERNELS, "im2col"),
    (lambda b: ConvTranspose2D(1, 2, 2, stride=2, backend=b), run_images, IM2COL_KERNELS,
     "col2im"),
    (lambda b: MaxPool2D(2, backend=b), run_images, POOL_KERNELS, "max_pool_backward"),
    (lambda b: AvgPool2D(2, backend=b), run_images, POOL_KERNELS, "avg_pool_forward"),
    (lambda b: Upsample2D(2, "bilinear", backend=b), run_images, UPSAMPLE_KERNELS,
     "bilinear_backward"),
    (lambda b: Adam([np.ones(3)], [np.ones(3)], backend=b), run_step, OPTIM_KERNELS,
     "adam_update"),
    (lambda b: SGD([np.ones(3)], [np.ones(3)], momentum=0.9, backend=b), run_step,
     OPTIM_KERNELS, "sgd_update"),
]


@pytest.mark.parametrize("make, run, table, name", FAMILIES)
def test_pinned_objects_ignore_the_switch(make, run, table, name, monkeypatch):
    fast = Spy(monkeypatch, table("numba"), name)
    twin = Spy(monkeypatch, table.numpy, name)
    follows, numba_pinned, numpy_pinned = make(None), make("numba"), make("numpy")
    for switch in ("numba", "numpy"):
        with npae.use_backend(switch):
            for obj in (follows, numba_pinned, numpy_pinned):
                run(obj)
    # follows: one run each; pinned: both runs on their own backend
    assert (fast.calls, twin.calls) == (3, 3)
    fast.calls = twin.calls = 0
    with npae.use_backend("numpy"):
        run(numba_pinned)
    assert (fast.calls, twin.calls) == (1, 0)


@pytest.mark.parametrize("cls", [Conv2D, ConvTranspose2D])
def test_config_holds_the_backend_only_when_pinned(cls):
    assert "backend" not in cls(1, 2, 3).get_config()
    assert "backend" not in repr(MaxPool2D()) and "backend" not in repr(Upsample2D())
    pinned = cls(1, 2, 3, backend="numpy")
    assert pinned.get_config()["backend"] == "numpy"
    assert cls(**pinned.get_config()).backend == "numpy"
    assert cls(**{**cls(1, 2, 3).get_config(), "backend": "numba"}).backend == "numba"


def test_a_model_file_from_before_the_switch_loads(tmp_path):
    """Older files saved ``"backend": "numba"`` in every image layer's config."""
    X = np.random.default_rng(0).random((8, 1, 8, 8))
    model = npae.ConvAutoencoder(channels=(2,), code_size=3, epochs=1, batch_size=4,
                                 dtype="float64", random_state=0).fit(X)
    pinned = [layer for layer in model.network_.layers if hasattr(layer, "backend")]
    assert any(isinstance(layer, Conv2D) for layer in pinned)
    for layer in pinned:
        layer.backend = "numba"  # as every image layer was built before the switch
    assert all(layer.get_config()["backend"] == "numba" for layer in pinned)
    model.save(tmp_path / "old.npz")
    loaded = npae.load(tmp_path / "old.npz")
    assert all(getattr(layer, "backend", None) is None for layer in loaded.network_.layers)
    np.testing.assert_array_equal(loaded.reconstruct(X), model.reconstruct(X))


# -- the same fit on both backends ------------------------------------------------------

DENSE = {"epochs": 3, "batch_size": 8, "dtype": "float64", "random_state": 0}
IMAGES = {"epochs": 2, "batch_size": 4, "dtype": "float64", "random_state": 0}
ESTIMATORS = {
    "Autoencoder": lambda: npae.Autoencoder((6,), 3, activation="tanh", **DENSE),
    "LinearAutoencoder gd": lambda: npae.LinearAutoencoder(2, solver="gd", **DENSE),
    "SparseAutoencoder kl": lambda: npae.SparseAutoencoder((6,), 4, penalty="kl", **DENSE),
    "SparseAutoencoder l1": lambda: npae.SparseAutoencoder((6,), 4, penalty="l1",
                                                           activation="relu", **DENSE),
    "DenoisingAutoencoder": lambda: npae.DenoisingAutoencoder((6,), 3, activation="leaky_relu",
                                                              **DENSE),
    "ContractiveAutoencoder": lambda: npae.ContractiveAutoencoder((6,), 3, **DENSE),
    "StackedAutoencoder": lambda: npae.StackedAutoencoder(
        (12, 6, 3), pretrain_epochs=2, finetune_epochs=2, batch_size=8, dtype="float64",
        random_state=0),
    "VAE mlp": lambda: npae.VAE((6,), 2, **DENSE),
    "VAE conv": lambda: npae.VAE((6,), 2, architecture="conv", channels=(2, 3), **IMAGES),
    "ConvAutoencoder upsample": lambda: npae.ConvAutoencoder((2, 3), 4, decoder="upsample",
                                                             **IMAGES),
    "ConvAutoencoder transposed": lambda: npae.ConvAutoencoder((2, 3), 4, decoder="transposed",
                                                               **IMAGES),
    "UNet": lambda: npae.UNet(1, 1, depth=1, base_channels=2, **IMAGES),
}


def data(name):
    rng = np.random.default_rng(1)
    if name.startswith(("VAE conv", "Conv")):
        return (rng.random((8, 1, 8, 8)),)
    if name == "UNet":
        X = rng.random((8, 1, 8, 8))
        return X, (X > 0.5).astype(np.float64)
    return (rng.random((24, 12)),)


def fitted_weights(name, backend_name):
    with npae.use_backend(backend_name):
        model = ESTIMATORS[name]().fit(*data(name))
    return model.network_.state_dict()


@pytest.mark.parametrize("name", ESTIMATORS)
def test_a_whole_fit_gives_the_same_weights_on_both_backends(name):
    fast, twin = fitted_weights(name, "numba"), fitted_weights(name, "numpy")
    assert fast.keys() == twin.keys() and fast
    for key in fast:
        assert fast[key].dtype == np.float64
        np.testing.assert_allclose(twin[key], fast[key], rtol=1e-9, atol=1e-12, err_msg=key)


# -- without Numba ----------------------------------------------------------------------

def run_python(code, tmp_path, prelude=""):
    """Run ``code`` in a fresh interpreter importing this npae; returns the completed process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), ROOT])}
    script = textwrap.dedent(prelude) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=300)


def test_import_npae_imports_no_kernels_and_no_numba(tmp_path):
    done = run_python("""
        import sys
        import npae
        loaded = [m for m in sys.modules if m.split(".")[0] == "numba"
                  or m.startswith("npae.kernels")]
        assert loaded == [], loaded
        assert npae.get_backend() == "numba"
    """, tmp_path)
    assert done.returncode == 0, done.stderr


WITHOUT_NUMBA = """
    import sys
    import warnings

    import numpy as np

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import npae
    notes = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(notes) == 1 and "\\n" not in notes[0], notes
    assert "Numba cannot be imported" in notes[0] and "pip install numba" in notes[0]
    assert npae.get_backend() == "numpy"

    rng = np.random.default_rng(0)
    X = rng.random((16, 10))
    npae.Autoencoder((6,), 2, epochs=2, batch_size=8, random_state=0).fit(X)
    images = rng.random((8, 1, 8, 8))
    npae.ConvAutoencoder((2,), 3, epochs=1, batch_size=4, random_state=0).fit(images)
    npae.UNet(1, 1, depth=1, base_channels=2, epochs=1, batch_size=4,
              random_state=0).fit(images, (images > 0.5).astype(float))
    for opt in (npae.optim.Adam, npae.optim.SGD):
        p = np.ones(3)
        opt([p], [np.full(3, 0.5)], lr=0.1).step()
        assert (p < 1).all()
    try:
        npae.set_backend("numba")
    except ImportError as err:
        assert "numba" in str(err) and "pip install numba" in str(err), err
    else:
        raise AssertionError("set_backend('numba') ran without Numba")
    relu = npae.layers.ReLU(backend="numba")
    relu.forward(np.ones((1, 2)))
    try:
        relu.backward(np.ones((1, 2)))
    except ImportError as err:
        assert "pip install numba" in str(err)
    else:
        raise AssertionError("a layer pinned to numba ran without Numba")
    assert npae.get_backend() == "numpy"
    assert not [m for m in sys.modules if m.startswith("npae.kernels")]
    print("ok")
"""


def test_npae_runs_where_numba_cannot_be_found(tmp_path):
    """As in JupyterLite: ``import numba`` fails, npae runs its twins and says so once."""
    done = run_python(WITHOUT_NUMBA, tmp_path, prelude="""
        import sys
        sys.modules["numba"] = None  # import numba raises ModuleNotFoundError
    """)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr


def test_npae_runs_where_numba_is_found_but_broken(tmp_path):
    """A Numba that fails on import (e.g. too new a NumPy): the first kernel call falls back."""
    broken = tmp_path / "numba"
    broken.mkdir()
    (broken / "__init__.py").write_text('raise ImportError("Numba needs NumPy 1.0")\n')
    done = run_python("""
        import warnings

        import numpy as np

        import npae
        assert npae.get_backend() == "numba"  # found, not imported yet
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            relu = npae.layers.ReLU()
            relu.forward(np.ones((1, 2)))
            relu.backward(np.ones((1, 2)))
        assert [w.category for w in caught] == [RuntimeWarning], caught
        assert npae.get_backend() == "numpy"
        try:
            npae.set_backend("numba")
        except ImportError as err:
            assert "Numba needs NumPy 1.0" in str(err)
        else:
            raise AssertionError("set_backend('numba') ran with a broken Numba")
        print("ok")
    """, tmp_path)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr


def test_models_are_fitted_the_same_with_numba_missing(tmp_path):
    """The same Autoencoder weights without Numba as here on the twins."""
    done = run_python("""
        import numpy as np
        import npae
        X = np.random.default_rng(0).random((16, 10))
        model = npae.Autoencoder((6,), 2, epochs=2, batch_size=8, dtype="float64",
                                 random_state=0).fit(X)
        np.save("weights.npy", model.network_.state_dict()["0.W"])
    """.replace("weights.npy", str(tmp_path / "weights.npy")), tmp_path, prelude="""
        import sys
        sys.modules["numba"] = None
    """)
    assert done.returncode == 0, done.stderr
    X = np.random.default_rng(0).random((16, 10))
    with npae.use_backend("numpy"):
        model = npae.Autoencoder((6,), 2, epochs=2, batch_size=8, dtype="float64",
                                 random_state=0).fit(X)
    np.testing.assert_array_equal(np.load(tmp_path / "weights.npy"),
                                  model.network_.state_dict()["0.W"])


def test_activation_backward_on_both_backends_is_the_rule():
    """dx = g f'(x) by the layer's derivative, for every activation with a kernel."""
    x = np.linspace(-2, 2, 12).reshape(3, 4)
    g = np.cos(x)
    for cls in (ReLU, LeakyReLU, Sigmoid, Tanh):
        for name in npae.BACKENDS:
            layer = cls(backend=name)
            layer.forward(x)
            np.testing.assert_allclose(layer.backward(g), g * layer.derivative(x), rtol=1e-14)


def test_sgd_pinned_to_numpy_steps_like_numba():
    p_fast, p_twin = np.linspace(-1, 1, 5), np.linspace(-1, 1, 5)
    g = np.sin(np.arange(5.0))
    fast = SGD([p_fast], [g], lr=0.1, momentum=0.9, nesterov=True, backend="numba")
    twin = SGD([p_twin], [g.copy()], lr=0.1, momentum=0.9, nesterov=True, backend="numpy")
    for _ in range(3):
        fast.step()
        twin.step()
    np.testing.assert_allclose(p_twin, p_fast, rtol=1e-15)
