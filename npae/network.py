"""Sequential: a list of layers run forward in order and backward in reverse."""

import numpy as np

from npae._validation import check_sizes
from npae.layers.activations import get_activation
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

    Examples
    --------
    >>> import numpy as np
    >>> from npae.layers import Dense, ReLU
    >>> net = Sequential([Dense(4, 3, rng=0), ReLU(), Dense(3, 4, rng=1)])
    >>> net.forward(np.ones((2, 4))).shape
    (2, 4)
    """

    def __init__(self, layers):
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential expected Layer instances, got {type(layer).__name__} at {i}"
                )
        self.layers = layers

    def forward(self, x, training=True):
        """Run every layer forward; ``training=False`` keeps no caches."""
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
