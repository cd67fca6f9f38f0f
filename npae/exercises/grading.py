"""Grading a learner's function: run it on seeded cases, compare, and say what is wrong.

An answer is graded twice on every case: against the reference solution
(tolerance 1e-7 in the relative error of ``npae.gradcheck``) and, where
the answer is a gradient, against central differences of the scalar it is
the gradient of (tolerance 1e-6). Central differences are skipped on cases
built to sit on a kink (ReLU at 0, ties in max pooling), where they mean
nothing; those cases test the convention the docstring states.

A wrong answer is explained: which output, its shape, the worst entry
(index, expected, received), the relative error and the tolerance, and a
hint when the error has a recognisable pattern: a known mistake of the
exercise, zeros, a transpose, another output in its place, or a constant
factor such as 2, -1, the batch size or the number of entries.
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from npae.gradcheck import numerical_gradient, relative_error

REFERENCE_TOL = 1e-7
NUMERIC_TOL = 1e-6


def random_sizes(rng, count, low=1, high=6):
    """``count`` sizes drawn from [low, high]: the seeded random shape every exercise adds
    to its fixed ones (which are chosen for odd sizes, a batch of one, and sizes that tell
    the batch size from the number of entries in the hints)."""
    return tuple(int(size) for size in rng.integers(low, high + 1, size=count))


@dataclass
class Case:
    """One set of inputs: ``values`` by argument name (plus any inputs of the
    forward pass that the learner's function does not take); ``smooth`` False
    skips central differences (the case sits on a kink)."""

    values: dict
    smooth: bool = True


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer, written with the learner's signature, and its hint."""

    hint: str
    function: Callable


@dataclass(frozen=True)
class Exercise:
    """An exercise: its reference, how to draw cases, and how to check a gradient.

    ``objective(values)`` is the scalar whose gradient the outputs are, read
    from ``values`` in place; ``wrt`` maps each output to the input it
    differentiates. ``batch_arg`` names the input whose first axis is the
    batch size N of the factor hints. ``diagnose(output, expected,
    received)`` may return an exercise's own hint.
    """

    name: str
    solution: Callable
    args: tuple
    outputs: tuple
    cases: Callable
    objective: Callable = None
    wrt: dict = field(default_factory=dict)
    mistakes: tuple = ()
    batch_arg: str = None
    diagnose: Callable = None


@dataclass(frozen=True)
class CheckResult:
    """The grade of one exercise: ``passed`` and a ``message`` saying why.

    Its truth value is ``passed``, so ``assert check(name, fn)`` works.
    """

    name: str
    passed: bool
    message: str

    def __bool__(self):
        return self.passed

    def __str__(self):
        return self.message

    def __repr__(self):
        return f"CheckResult(name={self.name!r}, passed={self.passed})\n{self.message}"

    def _repr_pretty_(self, p, cycle):
        p.text(self.message)


# -- running the learner's function --------------------------------------------------
def _copy(value):
    return value.copy() if isinstance(value, np.ndarray) else value


def _call(exercise, function, case):
    return function(*(_copy(case.values[arg]) for arg in exercise.args))


def _describe_case(exercise, case, index, count):
    parts = []
    for arg in exercise.args:
        value = case.values[arg]
        parts.append(f"{arg} {value.shape}" if isinstance(value, np.ndarray)
                     else f"{arg}={value!r}")
    return f"case {index} of {count}: {', '.join(parts)}"


class _BadOutput(Exception):
    """The learner's return value has the wrong structure (message says how)."""


def _as_outputs(exercise, returned):
    """The returned value as ``{output: float64 array}``, or _BadOutput."""
    names = exercise.outputs
    if returned is None:
        raise _BadOutput("your function returned None: a missing `return`?")
    if len(names) == 1:
        returned = (returned,)
    elif not isinstance(returned, (tuple, list)) or len(returned) != len(names):
        count = len(returned) if isinstance(returned, (tuple, list)) else 1
        raise _BadOutput(f"expected {len(names)} outputs ({', '.join(names)}), received "
                         f"{count} ({type(returned).__name__})")
    outputs = {}
    for name, value in zip(names, returned):
        try:
            outputs[name] = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise _BadOutput(f"output {name} is not an array of numbers: received "
                             f"{type(value).__name__}") from None
    return outputs


# -- hints ---------------------------------------------------------------------------
def _batch_size(exercise, case):
    value = case.values[exercise.batch_arg or exercise.args[0]]
    return int(np.shape(value)[0]) if np.ndim(value) else 1


def _factor_candidates(n, m):
    """[(factor, hint)] for received = factor * expected: sign, 2, batch size N, entries M."""
    signs = [(1.0, None), (-1.0, "sign flipped?")]
    twos = [(1.0, None), (0.5, "missing factor 2?"), (2.0, "extra factor 2?")]
    counts = [(1.0, None)]
    if n > 2:
        counts += [(n, f"missing batch mean (divide by N = {n})?"),
                   (1.0 / n, f"divided by the batch size N = {n} where no mean belongs?")]
    if m > 2 and m != n:
        counts += [(m, f"missing mean over all {m} entries?"),
                   (1.0 / m, f"divided by the number of entries ({m}) where no mean belongs?")]
    candidates = []
    for (s, s_hint), (t, t_hint), (c, c_hint) in itertools.product(signs, twos, counts):
        hints = [h for h in (s_hint, t_hint, c_hint) if h]
        if hints:
            candidates.append((s * t * c, hints))
    # One mistake explains more often than two: when factors coincide (2 N / 2 = N),
    # the simpler reading wins.
    return [(factor, " ".join(hints)) for factor, hints in
            sorted(candidates, key=lambda candidate: len(candidate[1]))]


def _factor_hint(expected, received, n):
    """The hint of a constant factor between received and expected, if there is one."""
    scale = float(np.vdot(expected, expected))
    if scale == 0:
        return None
    factor = float(np.vdot(expected, received)) / scale
    if relative_error(received, factor * expected) > 1e-6 or abs(factor - 1) < 1e-6:
        return None
    for candidate, hint in _factor_candidates(n, expected.size):
        if abs(factor - candidate) <= 1e-6 * abs(candidate):
            return f"{hint} (yours is {factor:.6g} x the expected)"
    return f"yours is {factor:.6g} x the expected everywhere: a wrong constant factor?"


def _close(a, b):
    return a.shape == b.shape and relative_error(a, b) < REFERENCE_TOL


def _hint(exercise, case, name, expected, received):
    """The most specific hint for a wrong output, or None."""
    exp, rec = expected[name], received[name]
    for mistake in exercise.mistakes:
        wrong = _as_outputs(exercise, _call(exercise, mistake.function, case))[name]
        if _close(rec, wrong) and not _close(wrong, exp):
            return mistake.hint
    if rec.shape == exp.shape and exp.any() and not rec.any():
        return "returns zeros"
    if not np.all(np.isfinite(rec)):
        return "contains NaN or inf"
    if exp.ndim == 2 and _close(rec, exp.T):
        return "transposed?"
    for other in exercise.outputs:
        if other != name and _close(rec, expected[other]):
            return (f"this is {other}: outputs in the wrong order? return "
                    f"({', '.join(exercise.outputs)})")
    if exercise.diagnose is not None:
        hint = exercise.diagnose(name, exp, rec)
        if hint:
            return hint
    if rec.shape != exp.shape:
        if rec.size == exp.size:
            return "same number of entries in another layout: check the order of the axes"
        return None
    return _factor_hint(exp, rec, _batch_size(exercise, case))


# -- comparing -----------------------------------------------------------------------
def _worst(expected, received):
    """Index and values of the entry where received is furthest from expected."""
    index = np.unravel_index(np.argmax(np.abs(expected - received)), expected.shape)
    index = tuple(int(i) for i in index)
    return index, float(expected[index]), float(received[index])


def _difference(name, expected, received, tol, against="expected"):
    """Lines describing how ``received`` misses ``expected``, or None if it does not."""
    if received.shape != expected.shape:
        return [f"output {name}: expected shape {expected.shape}, received {received.shape}"]
    error = relative_error(received, expected)
    if error < tol:
        return None
    index, want, got = _worst(expected, received)
    return [f"output {name} {expected.shape}: worst entry {list(index)}: {against} "
            f"{want:.6g}, received {got:.6g}",
            f"relative error {error:.1e} > tolerance {tol:.0e}"]


def _numeric_gradients(exercise, case):
    """Central differences of the exercise's objective for every output it covers."""
    values = {k: (v.astype(np.float64) if isinstance(v, np.ndarray) else v)
              for k, v in case.values.items()}
    return {name: numerical_gradient(lambda: exercise.objective(values), values[arg])
            for name, arg in exercise.wrt.items()}


def _objective_text(exercise):
    return (exercise.objective.__doc__ or "the forward pass").strip().splitlines()[0]


def _numeric_line(exercise, numeric, received):
    """What central differences say of a wrong answer, independently of the reference."""
    error = relative_error(received, numeric)
    verdict = "disagrees with them too" if error >= NUMERIC_TOL else "agrees with them"
    return (f"central differences of {_objective_text(exercise)}: yours {verdict} "
            f"(relative error {error:.1e})")


def _explain(exercise, case, expected, received, numeric):
    """Lines explaining the first wrong output of one case, or None if all are right."""
    for output in exercise.outputs:
        lines = _difference(output, expected[output], received[output], REFERENCE_TOL)
        if lines is None and output in numeric:
            lines = _difference(output, numeric[output], received[output], NUMERIC_TOL,
                                against="central differences")
            if lines is not None:
                return [*lines, "yours agrees with the reference solution, which central "
                        "differences contradict here: please report this case"]
        if lines is None:
            continue
        if output in numeric and received[output].shape == numeric[output].shape:
            lines.append(_numeric_line(exercise, numeric[output], received[output]))
        hint = _hint(exercise, case, output, expected, received)
        if hint:
            lines.append(f"hint: {hint}")
        return lines
    return None


def grade(exercise, function, seed=0):
    """Run ``function`` on the exercise's cases; a CheckResult, never an exception."""
    name = exercise.name
    cases = exercise.cases(np.random.default_rng(seed))
    reference_errors, numeric_errors = [0.0], [0.0]
    for index, case in enumerate(cases, 1):
        where = _describe_case(exercise, case, index, len(cases))
        try:
            received = _as_outputs(exercise, _call(exercise, function, case))
        except NotImplementedError:
            return CheckResult(name, False, f"{name}: not attempted yet")
        except _BadOutput as exc:
            return CheckResult(name, False, f"{name}: not passed\n{where}\n{exc}")
        except Exception as exc:  # the learner's error is reported, not raised
            return CheckResult(name, False, f"{name}: not passed\n{where}\nyour function "
                               f"raised {type(exc).__name__}: {exc}")
        expected = _as_outputs(exercise, _call(exercise, exercise.solution, case))
        numeric = (_numeric_gradients(exercise, case)
                   if case.smooth and exercise.objective is not None else {})
        lines = _explain(exercise, case, expected, received, numeric)
        if lines is not None:
            return CheckResult(name, False, "\n".join([f"{name}: not passed", where, *lines]))
        reference_errors += [relative_error(received[k], expected[k]) for k in expected]
        numeric_errors += [relative_error(received[k], numeric[k]) for k in numeric]
    numeric_text = (f" and {max(numeric_errors):.1e} against central differences"
                    if exercise.objective is not None else "")
    return CheckResult(name, True, f"{name}: passed ({len(cases)} cases; largest relative "
                       f"error {max(reference_errors):.1e} against the reference{numeric_text})")
