"""Networks of layers: the shared base, ``Sequential`` and the Dense-block builder and parser.

``Network`` holds what every network shares: its list of layers, their
parameters and gradients by name, saved state, parameter counts and a
summary. ``Sequential`` runs its layers forward in order and backward in
reverse, each through the layer's own ``forward`` and ``backward`` (the
U-Net graph in ``npae.models.unet`` is the other network). ``mlp`` builds
"Dense + activation" blocks and ``dense_blocks`` finds them again.
"""

import numpy as np

from npae._validation import check_sizes
from npae.layers.activations import Activation, get_activation
from npae.layers.base import Layer
from npae.layers.dense import Dense
from npae.layers.initializers import init_for
from npae.utils import as_generator


class Network:
    """Base of the networks: parameters, gradients and state of a list of layers.

    A subclass sets ``self.layers``, every layer (or graph node) once in a
    fixed order, and writes ``forward``, ``backward``, ``output_shape`` and
    ``_summary_rows``. A parameter is named ``"<index>.<key>"`` (``"0.W"``)
    by its layer's position in ``layers``; ``state_dict``, the optimizers
    (through ``params()`` and ``grads()``) and ``npae.save`` use these names
    and that order.
    """

    layers = ()

    def forward(self, x, training=True):
        """The network's output for the batch ``x``; ``training=False`` keeps no caches."""
        raise NotImplementedError

    def backward(self, grad_out):
        """Given dL/d(output), add dL/dparams into the layers' grads and return dL/dx."""
        raise NotImplementedError

    def output_shape(self, input_shape):
        """Per-example output shape for a per-example ``input_shape``."""
        raise NotImplementedError

    def __call__(self, x, training=True):
        return self.forward(x, training=training)

    def forward_in_batches(self, x, batch_size):
        """``forward(x, training=False)``, ``batch_size`` rows at a time.

        Inference keeps no caches and each row's output comes from that row
        alone, so splitting the rows changes nothing but the memory the
        layers' temporaries take: a convolution's unfolded columns grow with
        the rows it is given (4.5 GB for 10,000 28x28 images at once). ``x``
        may also be streamed rows (``npae.streaming.Rows``): each slice of
        them is read and converted as it is taken.
        """
        if len(x) <= batch_size:
            return self.forward(np.asarray(x), training=False)
        return np.concatenate([self.forward(x[start:start + batch_size], training=False)
                               for start in range(0, len(x), batch_size)])

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

    def zero_grad(self):
        """Reset every layer's gradients to zero, in place."""
        for layer in self.layers:
            for g in layer.grads.values():
                g.fill(0)

    def state_dict(self):
        """Copies of all parameters by name (trainable or not)."""
        return {f"{i}.{k}": p.copy() for i, layer in enumerate(self.layers)
                for k, p in layer.params.items()}

    def load_state_dict(self, state):
        """Copy arrays from ``state`` into the parameters, checking names and shapes.

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
        """Number of parameter entries (trainable or not)."""
        return sum(p.size for layer in self.layers for p in layer.params.values())

    def summary(self, input_shape, file=None):
        """Print (and return) a table of output shapes and parameter counts.

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
        """The first column's title and a row ``(name, output shape, params)`` per entry."""
        raise NotImplementedError


class Sequential(Network):
    """Compose layers: ``y = f_L(...(f_2(f_1(x))))``.

    ``forward`` calls each layer's ``forward`` in order; ``backward`` applies
    the chain rule in reverse, calling each layer's ``backward`` with dL/dy
    from the layer after it and handing the dL/dx it returns to the layer
    before it.

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

    def backward(self, grad_out, input_grad=True):
        """Run every layer backward; returns dL/dx of the network input.

        With ``input_grad=False`` the caller needs only the parameters'
        gradients and gets None; a first layer that is a ``Dense`` then
        skips its dL/dx, one of its three matrix products
        (``Dense.backward(grad_out, input_grad=False)``).
        """
        lean = not input_grad and bool(self.layers) and isinstance(self.layers[0], Dense)
        for layer in reversed(self.layers[1:] if lean else self.layers):
            grad_out = layer.backward(grad_out)
        if lean:
            return self.layers[0].backward(grad_out, input_grad=False)
        return grad_out if input_grad else None

    def output_shape(self, input_shape):
        """Per-example output shape: each layer's ``output_shape`` in turn."""
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return tuple(shape)

    def _summary_rows(self, shape):
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


# -- "Dense + activation" blocks ---------------------------------------------------------

def mlp(sizes, activation="relu", final_activation=None, dtype="float64", rng=None):
    """Dense layers ``sizes[0] -> sizes[1] -> ...`` with activations between.

    Each Dense is initialized for the activation after it (He for ReLU,
    Glorot otherwise); ``final_activation`` follows the last Dense
    (``None`` or ``"identity"`` for none). ``dense_blocks`` finds the blocks again.

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


def dense_blocks(network):
    """Split an MLP into ``(dense, activation)`` pairs, ``activation`` None where none follows.

    ``network`` is a ``Sequential`` (or list of layers) made only of ``Dense``
    layers, each followed by at most one elementwise ``Activation``, as
    ``mlp`` builds them.

    >>> [(d.out_features, type(a).__name__) for d, a in dense_blocks(mlp([4, 3, 2], "tanh"))]
    [(3, 'Tanh'), (2, 'NoneType')]
    """
    layers = list(getattr(network, "layers", network))
    blocks = []
    for i, layer in enumerate(layers):
        if isinstance(layer, Dense):
            blocks.append((layer, None))
        elif isinstance(layer, Activation) and i > 0 and isinstance(layers[i - 1], Dense):
            blocks[-1] = (blocks[-1][0], layer)
        else:
            raise TypeError(
                "dense_blocks expected Dense layers each followed by at most one activation, "
                f"got {layer.name} at position {i}"
            )
    if not blocks:
        raise ValueError("dense_blocks expected at least one Dense layer, got none")
    return blocks
