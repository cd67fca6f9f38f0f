"""Graded exercises: write a backward pass or a gradient yourself, and have it checked.

``names()`` lists the exercises, ``describe(name)`` gives the statement
(the signature to write, the shapes and the math, in npae's conventions),
``check(name, fn)`` grades your function and ``solution(name)`` returns the
reference, short readable NumPy whose docstring is that statement.

``check`` runs your function on several seeded random cases in float64
(odd sizes, a batch of one, ties in max pooling, strides and padding in
col2im), compares every output with the reference and, where the answer is
a gradient, with central differences of the function it is the gradient
of. It never raises on your behalf: it returns a ``CheckResult`` with
``passed`` and a ``message`` that says which output is wrong, where, by how
much, and what the error looks like (a missing factor 2, a missing batch
mean, a transpose, zeros, a known mistake). A function whose body raises
``NotImplementedError`` is "not attempted yet", so a notebook of stubs runs
top to bottom.

Examples
--------
>>> from npae import exercises
>>> def relu_backward(grad_out, x):
...     raise NotImplementedError
>>> exercises.check("relu_backward", relu_backward).message
'relu_backward: not attempted yet'
>>> exercises.check("relu_backward", exercises.solution("relu_backward")).passed
True
"""

import inspect

from npae.exercises import anomaly, images, layers, losses, models, pca, regularizers, vae
from npae.exercises.grading import CheckResult, grade

_EXERCISES = {exercise.name: exercise
              for module in (layers, losses, regularizers, vae, images, pca, anomaly, models)
              for exercise in module.EXERCISES}


def names():
    """The names of all exercises, sorted."""
    return sorted(_EXERCISES)


def _exercise(name):
    if name not in _EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; the exercises are: {', '.join(names())}")
    return _EXERCISES[name]


def solution(name):
    """The reference solution of exercise ``name`` (its docstring is the statement)."""
    return _exercise(name).solution


def describe(name):
    """The statement of exercise ``name``: the signature to write, shapes and math."""
    return inspect.getdoc(_exercise(name).solution)


def check(name, fn, seed=0):
    """Grade ``fn`` on exercise ``name``.

    Parameters
    ----------
    name : str
        One of ``names()``.
    fn : callable
        Your function, with the signature ``describe(name)`` gives.
    seed : int, default 0
        Seeds the random cases (the same seed gives the same cases).

    Returns
    -------
    CheckResult
        ``passed`` (bool) and ``message`` (str); printing it shows the message.
    """
    exercise = _exercise(name)
    if not callable(fn):
        raise TypeError(f"check expected a function for {name!r}, got {type(fn).__name__}")
    return grade(exercise, fn, seed)


__all__ = ["CheckResult", "check", "describe", "names", "solution"]
