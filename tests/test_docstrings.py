"""Everything bound from Rust documents itself at runtime (issue 10): ``help()`` on a
function, class, method or property of ``lattice._lattice`` shows the docstring of its
stub, exactly. The stub (``_lattice.pyi``) is what type checkers and editors read; the
Rust doc comments are what Python sees; this keeps the two one text."""

from __future__ import annotations

import ast
import doctest
import inspect
from pathlib import Path

import pytest

import lattice
from lattice import _lattice

STUB = Path(_lattice.__file__).with_name("_lattice.pyi")
if not STUB.exists():  # an installed wheel keeps the stub beside the package
    STUB = Path(lattice.__file__).with_name("_lattice.pyi")


def _documented() -> dict[str, str]:
    """Qualified name → docstring, for everything the stub documents."""
    out: dict[str, str] = {}
    for node in ast.parse(STUB.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            doc = ast.get_docstring(node)
            if doc:
                out[node.name] = doc
        if isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef) and (doc := ast.get_docstring(sub)):
                    out[f"{node.name}.{sub.name}"] = doc
    return out


DOCUMENTED = _documented()


def _runtime(name: str) -> object:
    obj: object = _lattice
    for part in name.split("."):
        owner = obj
        obj = (
            inspect.getattr_static(owner, part) if isinstance(owner, type) else getattr(owner, part)
        )
    return obj


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_the_runtime_docstring_is_the_stubs(name: str) -> None:
    obj = _runtime(name)
    if isinstance(obj, staticmethod | classmethod):
        obj = obj.__func__
    assert inspect.cleandoc(obj.__doc__ or "") == DOCUMENTED[name]


def test_every_public_binding_is_documented() -> None:
    missing = []
    for name, obj in vars(_lattice).items():
        if name.startswith("_") or not (inspect.isclass(obj) or callable(obj)):
            continue
        if name not in DOCUMENTED:
            missing.append(name)
        if inspect.isclass(obj):
            missing += [
                f"{name}.{attr}"
                for attr in vars(obj)
                if not attr.startswith("_") and f"{name}.{attr}" not in DOCUMENTED
            ]
    assert not missing, f"undocumented: {missing}"


def test_help_shows_the_arguments_and_the_text() -> None:
    text = inspect.getdoc(lattice.Entry.create) or ""
    assert "``lamport`` its Lamport" in text and ">>> sk = SigningKey.generate()" in text
    assert "signing_key, *, swarm, seq, lamport" in str(inspect.signature(lattice.Entry.create))
    assert "Arguments:" in (inspect.getdoc(lattice.Replica) or "")


def test_the_examples_in_the_runtime_docstrings_run() -> None:
    """``--doctest-modules`` reads only ``.py`` files: the examples that now live in the
    Rust doc comments run here, in the extension module's namespace."""
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    examples = 0
    for name, doc in sorted(DOCUMENTED.items()):
        test = parser.get_doctest(doc, dict(vars(_lattice)), name, str(STUB), 0)
        examples += len(test.examples)
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert examples > 20 and result.failed == 0, f"{result.failed} examples failed"
