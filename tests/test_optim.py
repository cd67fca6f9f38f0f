"""Optimizers against the update rules of torch.optim.SGD and torch.optim.Adam.

The reference functions below transcribe the pseudo-code of the PyTorch
documentation (dampening = 0, maximize = False, amsgrad = False) one step at
a time; npae's in-place, fused implementation must agree with them. When
PyTorch is installed the same runs are also compared with torch itself.
"""

import numpy as np
import pytest

from npae.optim import SGD, Adam, make_optimizer

N_STEPS = 7


def sgd_reference(p, grad_fn, steps, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    p = p.copy()
    b = None
    for _ in range(steps):
        g = grad_fn(p)
        if weight_decay != 0:
            g = g + weight_decay * p
        if momentum != 0:
            b = g.copy() if b is None else momentum * b + g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
    return p


def adam_reference(p, grad_fn, steps, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    p = p.copy()
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t in range(1, steps + 1):
        g = grad_fn(p)
        if weight_decay != 0:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def problem(seed=0):
    """Two parameter arrays and a gradient that depends on them (a quadratic plus noise)."""
    rng = np.random.default_rng(seed)
    p0 = [rng.normal(size=(4, 3)), rng.normal(size=(3,))]
    A = [rng.normal(size=(4, 3)), rng.normal(size=(3,))]
    noise = [[rng.normal(size=a.shape) for a in A] for _ in range(N_STEPS)]

    def grad_fn(i, t):
        return lambda p: A[i] * p + np.sin(p) + noise[t][i]

    return p0, grad_fn


def run_npae(cls, p0, grad_fn, steps, **kwargs):
    params = [p.copy() for p in p0]
    grads = [np.zeros_like(p) for p in p0]
    opt = cls(params, grads, **kwargs)
    for t in range(steps):
        for i, (p, g) in enumerate(zip(params, grads)):
            g[...] = grad_fn(i, t)(p)
        opt.step()
    return params


def run_reference(reference, p0, grad_fn, steps, **kwargs):
    # The reference steps one array at a time; its gradient at step t uses step t's noise.
    out = []
    for i, p in enumerate(p0):
        counter = iter(range(steps))
        out.append(reference(p, lambda q, i=i, c=counter: grad_fn(i, next(c))(q), steps, **kwargs))
    return out


SGD_CASES = [
    {"lr": 0.1},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"lr": 0.1, "weight_decay": 0.01},
    {"lr": 0.05, "momentum": 0.5, "nesterov": True, "weight_decay": 0.1},
]
ADAM_CASES = [
    {"lr": 0.01},
    {"lr": 0.1, "beta1": 0.5, "beta2": 0.9, "eps": 1e-6},
    {"lr": 0.01, "weight_decay": 0.1},
]


@pytest.mark.parametrize("kwargs", SGD_CASES)
def test_sgd_matches_reference(kwargs):
    p0, grad_fn = problem()
    ours = run_npae(SGD, p0, grad_fn, N_STEPS, **kwargs)
    ref = run_reference(sgd_reference, p0, grad_fn, N_STEPS, **kwargs)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert not np.allclose(ours[0], p0[0])


@pytest.mark.parametrize("kwargs", ADAM_CASES)
def test_adam_matches_reference(kwargs):
    p0, grad_fn = problem()
    ours = run_npae(Adam, p0, grad_fn, N_STEPS, **kwargs)
    ref = run_reference(adam_reference, p0, grad_fn, N_STEPS, **kwargs)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert not np.allclose(ours[0], p0[0])


def test_first_adam_step_moves_every_entry_by_lr():
    """With bias correction the first step is lr * g / (|g| + eps): about lr for every entry."""
    p = np.zeros(5)
    g = np.array([1e-3, -2.0, 50.0, -1e-2, 3.0])
    Adam([p], [g], lr=0.1).step()
    np.testing.assert_allclose(p, -0.1 * np.sign(g), rtol=1e-5)


def _torch_run(torch, cls_name, p0, grad_fn, steps, **kwargs):
    names = {"beta1": None, "beta2": None}
    kw = {k: v for k, v in kwargs.items() if k not in names}
    if "beta1" in kwargs:
        kw["betas"] = (kwargs["beta1"], kwargs["beta2"])
    params = [torch.tensor(p.copy(), dtype=torch.float64, requires_grad=True) for p in p0]
    opt = getattr(torch.optim, cls_name)(params, **kw)
    for t in range(steps):
        for i, p in enumerate(params):
            p.grad = torch.from_numpy(grad_fn(i, t)(p.detach().numpy().copy()))
        opt.step()
    return [p.detach().numpy() for p in params]


ALL_CASES = [(SGD, k) for k in SGD_CASES] + [(Adam, k) for k in ADAM_CASES]


@pytest.mark.parametrize("cls, kwargs", ALL_CASES)
def test_matches_torch(cls, kwargs):
    torch = pytest.importorskip("torch")
    p0, grad_fn = problem(seed=1)
    ours = run_npae(cls, p0, grad_fn, N_STEPS, **kwargs)
    theirs = _torch_run(torch, cls.__name__, p0, grad_fn, N_STEPS, **kwargs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls, kwargs", [(SGD, SGD_CASES[-1]), (Adam, ADAM_CASES[-1])])
def test_updates_in_place_and_keeps_dtype(cls, kwargs):
    params = [np.ones((3, 2), dtype=np.float32), np.ones(2, dtype=np.float32)]
    grads = [np.full((3, 2), 0.5, dtype=np.float32), np.full(2, -0.5, dtype=np.float32)]
    ids = [id(p) for p in params]
    opt = cls(params, grads, **kwargs)
    opt.step()
    assert [id(p) for p in opt.params] == ids
    assert opt.params[0] is params[0]
    assert all(p.dtype == np.float32 for p in params)
    assert (params[0] < 1).all() and (params[1] > 1).all()
    np.testing.assert_array_equal(grads[0], 0.5)  # gradients are read, not changed


@pytest.mark.parametrize("cls, kwargs", [(SGD, SGD_CASES[2]), (Adam, ADAM_CASES[1])])
def test_state_dict_round_trip(cls, kwargs):
    p0, grad_fn = problem()
    params = [p.copy() for p in p0]
    grads = [np.zeros_like(p) for p in p0]
    opt = cls(params, grads, **kwargs)

    def step(opt, t):
        for i, (p, g) in enumerate(zip(opt.params, opt.grads)):
            g[...] = grad_fn(i, t)(p)
        opt.step()

    for t in range(3):
        step(opt, t)
    state = opt.state_dict()
    saved_params = [p.copy() for p in params]
    frozen = [a.copy() for a in state["arrays"]]
    step(opt, 3)  # the state_dict is a snapshot: later steps leave it alone
    for a, b in zip(state["arrays"], frozen):
        np.testing.assert_array_equal(a, b)
    # a fresh optimizer with the saved state continues exactly like the original
    other = cls([p.copy() for p in saved_params], [np.zeros_like(p) for p in p0], **kwargs)
    other.load_state_dict(state)
    step(other, 3)
    for t in range(4, N_STEPS):
        step(opt, t)
        step(other, t)
    for a, b in zip(opt.params, other.params):
        np.testing.assert_array_equal(a, b)
    # ... and without the state it does not
    fresh = cls([p.copy() for p in saved_params], [np.zeros_like(p) for p in p0], **kwargs)
    for t in range(3, N_STEPS):
        step(fresh, t)
    assert not np.allclose(fresh.params[0], opt.params[0])


def test_adam_state_dict_holds_step_count():
    p, g = np.zeros(2), np.ones(2)
    opt = Adam([p], [g])
    opt.step()
    opt.step()
    state = opt.state_dict()
    assert state["scalars"] == {"t": 2}
    other = Adam([np.zeros(2)], [np.ones(2)])
    other.load_state_dict(state)
    assert other.t == 2


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_load_state_dict_checks_count_and_shapes(cls):
    kwargs = {"momentum": 0.9} if cls is SGD else {}
    opt = cls([np.zeros((2, 3))], [np.zeros((2, 3))], **kwargs)
    state = opt.state_dict()
    wrong_shape = {"scalars": state["scalars"], "arrays": [np.zeros(3) for _ in state["arrays"]]}
    with pytest.raises(ValueError, match=r"array 0 expected shape \(2, 3\), got \(3,\)"):
        opt.load_state_dict(wrong_shape)
    too_many = {"scalars": state["scalars"], "arrays": state["arrays"] * 2}
    with pytest.raises(ValueError, match=f"expected {len(state['arrays'])} arrays, got"):
        opt.load_state_dict(too_many)


@pytest.mark.parametrize("make, error, message", [
    (lambda p, g: SGD(p, g, lr=0), ValueError, "lr must be > 0, got 0.0"),
    (lambda p, g: SGD(p, g, lr=-1), ValueError, "lr must be > 0, got -1.0"),
    (lambda p, g: SGD(p, g, lr=float("nan")), ValueError, "lr must be finite, got nan"),
    (lambda p, g: SGD(p, g, lr="0.1"), TypeError, "lr must be a number, got '0.1'"),
    (lambda p, g: SGD(p, g, momentum=-0.1), ValueError, "momentum must be >= 0"),
    (lambda p, g: SGD(p, g, momentum=1.5), ValueError, "momentum must be <= 1"),
    (lambda p, g: SGD(p, g, nesterov=True), ValueError, "nesterov=True needs momentum > 0"),
    (lambda p, g: SGD(p, g, weight_decay=-1), ValueError, "weight_decay must be >= 0"),
    (lambda p, g: Adam(p, g, beta1=1.0), ValueError, "beta1 must be < 1, got 1.0"),
    (lambda p, g: Adam(p, g, beta2=-0.5), ValueError, "beta2 must be >= 0, got -0.5"),
    (lambda p, g: Adam(p, g, eps=0), ValueError, "eps must be > 0, got 0.0"),
    (lambda p, g: Adam(p, g, weight_decay=-0.1), ValueError, "weight_decay must be >= 0"),
    (lambda p, g: Adam(p, g[:1]), ValueError, "expected as many grads as params, got 1 and 2"),
    (lambda p, g: Adam(p, g[::-1]), ValueError,
     r"param of shape \(2, 2\) has a grad of shape \(3,\)"),
    (lambda p, g: Adam([[1.0, 2.0]], [[0.0, 0.0]]), TypeError,
     "updates numpy arrays in place, got list"),
    (lambda p, g: make_optimizer("rmsprop", p, g, lr=0.1), ValueError,
     r"optimizer must be one of \['adam', 'sgd'\], got 'rmsprop'"),
])
def test_bad_hyperparameters(make, error, message):
    params = [np.zeros((2, 2)), np.zeros(3)]
    grads = [np.zeros((2, 2)), np.zeros(3)]
    with pytest.raises(error, match=message):
        make(params, grads)


def test_make_optimizer():
    p, g = [np.zeros(2)], [np.zeros(2)]
    opt = make_optimizer("sgd", p, g, lr=0.5, momentum=0.9)
    assert isinstance(opt, SGD) and opt.lr == 0.5 and opt.momentum == 0.9
    assert isinstance(make_optimizer("adam", p, g, lr=1e-3, weight_decay=0.1), Adam)
