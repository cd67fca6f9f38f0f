"""Optimizers: update parameter arrays in place from their gradients.

An optimizer holds two aligned lists, ``params`` and ``grads`` (as
``Sequential.params()`` and ``Sequential.grads()`` give them), and
``step()`` moves every parameter against its gradient, in place.

Each update rule is a function of flat arrays and scalars, in two
implementations that tests keep equal, paired in ``OPTIM_KERNELS`` (see
``npae.backend``): a loop from ``npae.kernels.optim`` that reads and writes
every entry once (about 7 times faster for Adam), and its NumPy twin below,
the rule as a few vectorized passes. The loop needs C-contiguous arrays; a
parameter that is not (its flat view would be a copy, and updates to the
copy would be lost) is always updated by the twin, in place.
"""

import math

import numpy as np

from npae._validation import check_number
from npae.backend import KernelTable, check_backend


# -- NumPy twins of the kernels: arrays updated in place -------------------------------
def _adam_update_numpy(param, grad, m, v, beta1, beta2, step_size, eps_hat, weight_decay):
    """One Adam step with both bias corrections folded into ``step_size`` and ``eps_hat``."""
    g = grad + weight_decay * param if weight_decay else grad
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * (g * g)
    param -= step_size * (m / (np.sqrt(v) + eps_hat))


def _sgd_update_numpy(param, grad, velocity, lr, momentum, weight_decay, nesterov):
    """One SGD step: ``velocity <- momentum velocity + g``, then ``param -= lr g`` or ``lr v``."""
    g = grad + weight_decay * param if weight_decay else grad
    if momentum:
        velocity *= momentum
        velocity += g
        g = g + momentum * velocity if nesterov else velocity
    param -= lr * g


OPTIM_KERNELS = KernelTable("npae.kernels.optim", {
    "adam_update": _adam_update_numpy,
    "sgd_update": _sgd_update_numpy,
})


class Optimizer:
    """Base: aligned ``params`` / ``grads`` lists, a learning rate and a backend.

    ``backend`` None (the default) follows ``npae.set_backend``; a name pins
    the optimizer to the kernels (``"numba"``) or their twins (``"numpy"``).
    """

    def __init__(self, params, grads, lr, backend=None):
        self.params = list(params)
        self.grads = list(grads)
        if len(self.params) != len(self.grads):
            raise ValueError(
                f"{type(self).__name__} expected as many grads as params, "
                f"got {len(self.grads)} and {len(self.params)}"
            )
        for i, (p, g) in enumerate(zip(self.params, self.grads)):
            if not isinstance(p, np.ndarray) or not isinstance(g, np.ndarray):
                raise TypeError(
                    f"{type(self).__name__} updates numpy arrays in place, got "
                    f"{type(p).__name__} and {type(g).__name__} at {i}"
                )
            if p.shape != g.shape:
                raise ValueError(f"param of shape {p.shape} has a grad of shape {g.shape}")
        self.lr = check_number(lr, "lr", type(self).__name__, low=0, low_open=True)
        self.backend = check_backend(backend, type(self).__name__)

    def _flat_arrays(self, *state):
        """Per parameter: flat views of it, its gradient and its ``state`` arrays, or None.

        None when an array is not C-contiguous: its flat view would be a
        copy, so the NumPy twin updates the arrays as they are.
        """
        views = []
        for arrays in zip(self.params, self.grads, *state):
            contiguous = all(a.flags.c_contiguous for a in arrays)
            views.append(tuple(a.reshape(-1) for a in arrays) if contiguous else None)
        return views

    def _update(self, rule, state, *scalars):
        """Apply the update ``rule`` (a name in ``OPTIM_KERNELS``) to every parameter."""
        kernel = getattr(OPTIM_KERNELS(self.backend), rule)
        twin = getattr(OPTIM_KERNELS.numpy, rule)
        for arrays, flat in zip(zip(self.params, self.grads, *state), self._flat):
            if flat is None:
                twin(*arrays, *scalars)
            else:
                kernel(*flat, *scalars)

    def step(self):
        raise NotImplementedError

    def _state_arrays(self):
        """The live state arrays (momentum buffers, moments), in a fixed order."""
        return []

    def state_dict(self):
        """A snapshot of the optimizer's state: JSON-able scalars and copies of its arrays."""
        return {"scalars": {}, "arrays": [a.copy() for a in self._state_arrays()]}

    def load_state_dict(self, state):
        """Copy a ``state_dict()`` back into the state, checking count and shapes."""
        owner = type(self).__name__
        mine, theirs = self._state_arrays(), list(state["arrays"])
        if len(mine) != len(theirs):
            raise ValueError(
                f"{owner}.load_state_dict expected {len(mine)} arrays, got {len(theirs)}"
            )
        for i, (a, b) in enumerate(zip(mine, theirs)):
            if np.shape(b) != a.shape:
                raise ValueError(
                    f"{owner}.load_state_dict: array {i} expected shape {a.shape}, "
                    f"got {np.shape(b)}"
                )
        for a, b in zip(mine, theirs):
            a[...] = b


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, Nesterov and weight decay.

    With g = grad + weight_decay * p and velocity v (zero at start):

        v <- momentum * v + g
        p <- p - lr * (g + momentum * v)    (nesterov)
        p <- p - lr * v                     (otherwise)

    which is what ``torch.optim.SGD`` computes.
    """

    def __init__(self, params, grads, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0,
                 backend=None):
        super().__init__(params, grads, lr, backend)
        self.momentum = check_number(momentum, "momentum", "SGD", low=0, high=1)
        self.weight_decay = check_number(weight_decay, "weight_decay", "SGD", low=0)
        if nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        self.nesterov = bool(nesterov)
        self.velocity = [np.zeros_like(p) for p in self.params]
        self._flat = self._flat_arrays(self.velocity)

    def step(self):
        self._update("sgd_update", [self.velocity], float(self.lr), self.momentum,
                     self.weight_decay, self.nesterov)

    def _state_arrays(self):
        return self.velocity


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) with optional L2 weight decay.

    With g = grad + weight_decay * p and step count t:

        m <- b1 m + (1 - b1) g,          v <- b2 v + (1 - b2) g^2
        p <- p - lr * m_hat / (sqrt(v_hat) + eps),
        m_hat = m / (1 - b1^t),          v_hat = v / (1 - b2^t)

    as ``torch.optim.Adam`` computes it.
    """

    def __init__(self, params, grads, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8,
                 weight_decay=0.0, backend=None):
        super().__init__(params, grads, lr, backend)
        # beta = 1 would divide by 1 - beta^t = 0 in the bias correction.
        self.beta1 = check_number(beta1, "beta1", "Adam", low=0, high=1, high_open=True)
        self.beta2 = check_number(beta2, "beta2", "Adam", low=0, high=1, high_open=True)
        self.eps = check_number(eps, "eps", "Adam", low=0, low_open=True)
        self.weight_decay = check_number(weight_decay, "weight_decay", "Adam", low=0)
        self.t = 0
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self._flat = self._flat_arrays(self.m, self.v)

    def step(self):
        self.t += 1
        b1, b2, wd = self.beta1, self.beta2, self.weight_decay
        # Fold both bias corrections into one step size.
        step_size = self.lr * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        eps_hat = self.eps * math.sqrt(1 - b2**self.t)
        self._update("adam_update", [self.m, self.v], b1, b2, step_size, eps_hat, wd)

    def _state_arrays(self):
        return self.m + self.v

    def state_dict(self):
        state = super().state_dict()
        state["scalars"]["t"] = self.t
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.t = int(state["scalars"]["t"])


OPTIMIZERS = {"adam": Adam, "sgd": SGD}


def make_optimizer(name, params, grads, lr, **kwargs):
    """Build an optimizer by name (``"adam"`` or ``"sgd"``)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    return OPTIMIZERS[name](params, grads, lr=lr, **kwargs)
