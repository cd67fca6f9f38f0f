"""Sequential: a list of layers run forward in order and backward in reverse.

A small multilayer perceptron (Dense layers and their activations, every
matrix product at most ``SMALL_PRODUCT`` multiply-adds) runs forward and
backward in one call each to the loops of ``npae.kernels.dense``: there
Python's per-layer overhead costs more than the arithmetic (a 64-64-8-64-64
training step at batch 64 takes a fifth less time). The loops leave every
layer's cache and gradients as the layer-by-layer path does, up to rounding
(tests keep the two equal), so the layer protocol holds either way;
``Sequential(layers, backend="numpy")`` always goes layer by layer.
"""

import numpy as np

from npae._validation import check_choice, check_sizes
from npae.kernels import dense as kernels
from npae.layers.activations import Identity, LeakyReLU, ReLU, Sigmoid, Tanh, get_activation
from npae.layers.base import Layer
from npae.layers.dense import Dense
from npae.layers.initializers import init_for
from npae.utils import as_generator


class Sequential:
    """Compose layers: ``y = f_L(... f_2(f_1(x)))``.

    Backward applies the chain rule in reverse: each layer receives dL/dy
    from the layer after it and hands dL/dx to the layer before it.

    Parameters
    ----------
    layers : list of Layer
    backend : {"numba", "numpy"}, default "numba"
        "numba" runs a small MLP in one compiled call each way (see the
        module docstring); "numpy" always runs the layers one by one.

    Examples
    --------
    >>> import numpy as np
    >>> from npae.layers import Dense, ReLU
    >>> net = Sequential([Dense(4, 3, rng=0), ReLU(), Dense(3, 4, rng=1)])
    >>> net.forward(np.ones((2, 4))).shape
    (2, 4)
    """

    def __init__(self, layers, backend="numba"):
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential expected Layer instances, got {type(layer).__name__} at {i}"
                )
        self.layers = layers
        self.backend = check_choice(backend, "backend", "Sequential", ("numba", "numpy"))

    def forward(self, x, training=True):
        """Run every layer forward; ``training=False`` keeps no caches."""
        loops = self._loops(x)
        if loops is not None:
            return loops.forward(x, training)
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    __call__ = forward

    def backward(self, grad_out, input_grad=True):
        """Run every layer backward; returns dL/dx of the network input.

        With ``input_grad=False`` the caller needs only the parameters'
        gradients and gets None: a first layer that is a ``Dense`` (not a
        subclass, whose ``backward`` may not take the argument) then skips
        its dL/dx, one of its three matrix products.
        """
        loops = self._loops(self.layers[0]._cache if self.layers else None)
        caches = None if loops is None else loops.caches(grad_out)
        if caches is not None:
            return loops.backward(caches, grad_out, input_grad)
        for layer in reversed(self.layers[1:]):
            grad_out = layer.backward(grad_out)
        if not self.layers:
            return grad_out if input_grad else None
        first = self.layers[0]
        if not input_grad and type(first) is Dense:
            return first.backward(grad_out, input_grad=False)
        grad_in = first.backward(grad_out)
        return grad_in if input_grad else None

    def zero_grad(self):
        for layer in self.layers:
            layer.zero_grad()

    def _loops(self, x):
        """The one-call loops for a batch like ``x``, or None (see the module docstring)."""
        if getattr(self, "backend", "numba") == "numpy":
            return None
        plan = getattr(self, "_plan", None)
        if plan is None or plan.layers != tuple(self.layers):
            plan = self._plan = _MLPLoops.plan(self.layers)
        return plan if plan.takes(x) else None

    def named_parameters(self):
        """Yield ``(name, param, grad)`` for every trainable array, e.g. ``"0.W"``."""
        for i, layer in enumerate(self.layers):
            if not layer.trainable:
                continue
            for key, param in layer.params.items():
                yield f"{i}.{key}", param, layer.grads[key]

    def params(self):
        """List of trainable parameter arrays (updated in place by optimizers)."""
        return [p for _, p, _ in self.named_parameters()]

    def grads(self):
        """List of gradient arrays, in the order of ``params()``."""
        return [g for _, _, g in self.named_parameters()]

    def state_dict(self):
        """Copies of all parameters by name (trainable or not)."""
        return {f"{i}.{k}": p.copy() for i, layer in enumerate(self.layers)
                for k, p in layer.params.items()}

    def load_state_dict(self, state):
        """Copy arrays from ``state`` into the parameters, checking shapes.

        Everything is checked before anything is copied, so a bad ``state``
        leaves the network as it was.
        """
        pairs = []
        for i, layer in enumerate(self.layers):
            for key, param in layer.params.items():
                name = f"{i}.{key}"
                if name not in state:
                    raise KeyError(f"state has no array {name!r}")
                value = np.asarray(state[name])
                if value.shape != param.shape:
                    raise ValueError(
                        f"array {name!r}: expected shape {param.shape}, got {value.shape}"
                    )
                pairs.append((param, value))
        for param, value in pairs:
            param[...] = value

    @property
    def n_params(self):
        return sum(p.size for layer in self.layers for p in layer.params.values())

    def summary(self, input_shape, file=None):
        """Print (and return) each layer's output shape and parameter count.

        ``input_shape`` is the per-example shape, e.g. ``(64,)`` or ``(1, 28, 28)``.
        """
        first, rows = self._summary_rows(tuple(input_shape))
        rows = [("input", str(tuple(input_shape)), ""), *rows]
        width = max(len(r[0]) for r in rows)
        lines = [f"{first:<{width}}  {'output shape':<16} {'params':>8}"]
        lines += [f"{a:<{width}}  {b:<16} {c:>8}" for a, b, c in rows]
        lines.append(f"total parameters: {self.n_params}")
        text = "\n".join(lines)
        print(text, file=file)
        return text

    def _summary_rows(self, shape):
        """The first column's title and a row ``(name, output shape, params)`` per layer."""
        rows = []
        for i, layer in enumerate(self.layers):
            shape = layer.output_shape(shape)
            count = sum(p.size for p in layer.params.values())
            rows.append((f"{i}: {layer.name}", str(shape), str(count) if count else "-"))
        return "layer", rows

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, index):
        return self.layers[index]

    def __repr__(self):
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential([\n  {inner}\n])"



def mlp(sizes, activation="relu", final_activation=None, dtype="float64", rng=None):
    """Dense layers ``sizes[0] -> sizes[1] -> ...`` with activations between.

    Each Dense is initialized for the activation after it (He for ReLU,
    Glorot otherwise); ``final_activation`` follows the last Dense
    (``None`` or ``"identity"`` for none).

    >>> mlp([64, 32, 8], "relu").forward(np.zeros((2, 64))).shape
    (2, 8)
    """
    sizes = check_sizes(sizes, "sizes", "mlp")
    if len(sizes) < 2:
        raise ValueError(f"mlp: sizes needs an input and an output width, got {list(sizes)}")
    rng = as_generator(rng)
    layers = []
    n_dense = len(sizes) - 1
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        act = activation if i < n_dense - 1 else final_activation
        layers.append(Dense(fan_in, fan_out, init=init_for(act), dtype=dtype, rng=rng))
        if act not in (None, "identity", "linear"):
            layers.append(get_activation(act, dtype=dtype))
    return Sequential(layers)


# -- small MLPs in one call ---------------------------------------------------------

#: Largest m * n * k of a matrix product on the one-call path. OpenBLAS runs
#: products up to 4 * 65536 multiply-adds on one thread; there the time goes
#: to Python, not to the arithmetic.
SMALL_PRODUCT = 2**18

#: The activations the loops know, by exact class (a subclass may change the math).
_KINDS = {Identity: kernels.IDENTITY, ReLU: kernels.RELU, LeakyReLU: kernels.LEAKY_RELU,
          Sigmoid: kernels.SIGMOID, Tanh: kernels.TANH}


def _fits_loops(array, dtype):
    """A writable C-contiguous 2-d array of ``dtype``: what the compiled loops take."""
    return (isinstance(array, np.ndarray) and array.ndim == 2 and array.dtype == dtype
            and array.flags.c_contiguous and array.flags.writeable)


class _MLPLoops:
    """A chain of Dense layers and activations run by ``kernels.mlp_forward`` / ``mlp_backward``.

    ``blocks`` pairs each Dense with the activation after it (or None);
    ``plan(layers)`` returns a plan whose ``blocks`` is None when the
    layers are not such a chain: Dense layers, each followed by at most one
    ReLU, LeakyReLU, Sigmoid, Tanh or Identity (a NumPy-backed one
    excepted), all of one dtype.
    """

    def __init__(self, layers, blocks):
        self.layers, self.blocks = tuple(layers), blocks
        if blocks is None:
            return
        self.dtype = blocks[0][0].dtype
        self.denses = [dense for dense, _ in blocks]
        self.largest = max(d.in_features * d.out_features for d in self.denses)
        self.kinds = tuple(kernels.NONE if act is None else _KINDS[type(act)]
                           for _, act in blocks)
        self.alphas = tuple(float(getattr(act, "alpha", 0.0)) for _, act in blocks)
        # Who reads pre[l] and checks it is finite: the activation, or the next Dense.
        self.readers = [act or below for (_, act), below in zip(blocks, self.denses[1:] + [None])]
        self.check = tuple(reader is not None for reader in self.readers)

    @classmethod
    def plan(cls, layers):
        if not layers or type(layers[0]) is not Dense:
            return cls(layers, None)
        blocks = []
        for layer in layers:
            if layer.dtype != layers[0].dtype:
                return cls(layers, None)
            if type(layer) is Dense:
                blocks.append((layer, None))
            elif type(layer) in _KINDS and blocks[-1][1] is None and layer.backend == "numba":
                blocks[-1] = (blocks[-1][0], layer)
            else:
                return cls(layers, None)
        return cls(layers, blocks)

    def takes(self, x):
        """Whether the loops run a batch like ``x``: a chain, small products, arrays they take."""
        return (self.blocks is not None and _fits_loops(x, self.dtype)
                and x.shape[0] * self.largest <= SMALL_PRODUCT
                and all(_fits_loops(d.params["W"], self.dtype) for d in self.denses))

    def forward(self, x, training):
        """``Sequential.forward``: the same output, input checks and caches."""
        first = self.denses[0]
        first._check_input(x, 2, (first.in_features,))
        pre = tuple(np.empty((x.shape[0], d.out_features), dtype=self.dtype)
                    for d in self.denses)
        post = tuple(z if act is None else np.empty_like(z)
                     for z, (_, act) in zip(pre, self.blocks))
        bad = kernels.mlp_forward(x, tuple(d.params["W"] for d in self.denses),
                                  tuple(d.params["b"] for d in self.denses), self.kinds,
                                  self.alphas, pre, post, self.check)
        if bad >= 0:
            self.readers[bad]._check_input(pre[bad], 2)  # raises the error that layer raises
        if training:
            h = x
            for (dense, act), z, y in zip(self.blocks, pre, post):
                dense._cache = h
                if act is not None:
                    act._cache = (z, y)
                h = y
        return post[-1]

    def caches(self, grad_out):
        """Each layer's input, pre-activation and output from its cache, or None.

        None (take the layer-by-layer path, which raises the right error) if a
        cache is missing or an array is not one the loops take.
        """
        inputs, pre, post = [], [], []
        for dense, act in self.blocks:
            h = dense._cache
            z, y = (h, h) if act is None else (act._cache or (None, None))  # h: unread
            for array, cache in zip((h, z, y), (inputs, pre, post)):
                if not _fits_loops(array, self.dtype):
                    return None
                cache.append(array)
        if not _fits_loops(grad_out, self.dtype):
            return None
        return tuple(inputs), tuple(pre), tuple(post)

    def backward(self, caches, grad_out, input_grad):
        """``Sequential.backward``: the same gradients; dL/dx, or None without ``input_grad``."""
        inputs, pre, post = caches
        last_dense, last_act = self.blocks[-1]
        (last_act or last_dense)._check_grad(grad_out,
                                             (inputs[0].shape[0], last_dense.out_features))
        dx = kernels.mlp_backward(grad_out, inputs, tuple(d.params["W"] for d in self.denses),
                                  self.kinds, self.alphas, pre, post,
                                  tuple(d.grads["W"] for d in self.denses),
                                  tuple(d.grads["b"] for d in self.denses), input_grad)
        return dx if input_grad else None
