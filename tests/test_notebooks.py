"""Execute every teaching notebook headless, so none can rot; every notebook has graded
"your turn" exercises.

``NPAE_QUICK=1`` tells the notebooks to use fewer epochs and samples; a
reader running them by hand gets the full run.
"""

import ast
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

from npae import exercises

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("[0-9]*.ipynb"))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 1


def _is_stub(node):
    """A function whose body (after its docstring) is only ``raise NotImplementedError``."""
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    return (len(body) == 1 and isinstance(body[0], ast.Raise)
            and ast.unparse(body[0].exc).startswith("NotImplementedError"))


def _checks(tree):
    """``(exercise name, function name)`` of every ``npae.exercises.check("name", fn)`` call."""
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "check"
                and ast.unparse(node.func.value) in ("npae.exercises", "exercises")):
            name, function = node.args[:2]
            found.append((ast.literal_eval(name), ast.unparse(function)))
    return found


def your_turn_exercises(nb):
    """The graded exercises of a notebook: ``[(exercise name, stub name)]``, each a check of a
    function that an earlier code cell defines as a stub raising NotImplementedError."""
    stubs, graded = set(), []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        graded += [(name, fn) for name, fn in _checks(tree) if fn in stubs]
        stubs |= {node.name for node in ast.walk(tree)
                  if isinstance(node, ast.FunctionDef) and _is_stub(node)}
    return graded


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_has_your_turn_exercises(path):
    """A stub raising NotImplementedError, then a check cell grading it, for an exercise of
    npae.exercises; and a markdown cell pointing to the solution."""
    nb = nbformat.read(path, as_version=4)
    graded = your_turn_exercises(nb)
    assert graded, f"{path.name} has no your-turn exercise (a stub, then exercises.check)"
    for name, _ in graded:
        assert name in exercises.names(), f"{path.name} grades an unknown exercise {name!r}"
        assert any(f'solution("{name}")' in cell.source for cell in nb.cells
                   if cell.cell_type == "markdown"), f"{path.name}: where is {name}'s solution?"


def test_every_exercise_is_in_a_notebook():
    used = {name for path in NOTEBOOKS
            for name, _ in your_turn_exercises(nbformat.read(path, as_version=4))}
    assert used == set(exercises.names())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("NPAE_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    stored = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not stored, f"{path.name} is stored with outputs; clear them"
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for cell in nb.cells if cell.cell_type == "code"
              for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    # every your-turn check ran and graded its stub as not attempted
    graded = [cell for cell in nb.cells if cell.cell_type == "code" and _checks(ast.parse(
        cell.source))]
    assert graded
    for cell in graded:
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert "not attempted yet" in text, cell.source
