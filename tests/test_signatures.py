"""No function outside the CLI takes more than 7 parameters (issue 13): a longer list is a missing type.

The stages take one Session instead of the cache/reporter/net/offline chains; what still grows past
seven belongs in a frozen dataclass. typer commands (debforge/cli/) declare one parameter per
option, so they are exempt. An ast walk, no import: a module that does not import still counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "debforge"
LIMIT = 7
EXEMPT = ("cli",)


def parameter_count(node: ast.FunctionDef | ast.AsyncFunctionDef, *, method: bool) -> int:
    """Every parameter, *args and **kwargs included, without a method's self or cls."""
    args = node.args
    named = [*args.posonlyargs, *args.args]
    if method and named and named[0].arg in ("self", "cls"):
        named = named[1:]
    return len(named) + len(args.kwonlyargs) + (args.vararg is not None) + (args.kwarg is not None)


def functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, bool]]:
    """(qualified name, node, is a method) of every function and method, nested ones included."""
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, bool]] = []

    def visit(node: ast.AST, prefix: str, in_class: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append((f"{prefix}{child.name}", child, in_class))
                visit(child, f"{prefix}{child.name}.", in_class=False)
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.", in_class=True)
            else:
                visit(child, prefix, in_class)

    visit(tree, "", in_class=False)
    return found


def offenders(root: Path) -> list[str]:
    """`path:line name (N parameters)` for each function over the limit under `root`."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in EXEMPT:
            continue
        for name, node, method in functions(ast.parse(path.read_text(), filename=str(path))):
            count = parameter_count(node, method=method)
            if count > LIMIT:
                bad.append(f"debforge/{rel}:{node.lineno} {name} ({count} parameters)")
    return bad


def test_no_function_outside_the_cli_takes_more_than_seven_parameters() -> None:
    bad = offenders(PACKAGE)
    assert not bad, "more than 7 parameters (bundle them in a frozen dataclass):\n" + "\n".join(bad)


def test_the_count_sees_every_kind_of_parameter(tmp_path: Path) -> None:
    (tmp_path / "cli").mkdir()
    (tmp_path / "cli" / "x.py").write_text("def command(a, b, c, d, e, f, g, h, i): pass\n")
    (tmp_path / "m.py").write_text(
        "def ok(a, /, b, *c, d, **e): pass\n"
        "def wide(a, /, b, *c, d, e, f, g, **h): pass\n"
        "class K:\n"
        "    def method(self, a, b, c, d, e, f, g): pass\n"
        "    def over(self, a, b, c, d, e, f, g, h): pass\n"
        "def outer():\n"
        "    def inner(self, a, b, c, d, e, f, g): pass\n"
    )
    assert offenders(tmp_path) == [
        "debforge/m.py:2 wide (8 parameters)",
        "debforge/m.py:5 K.over (8 parameters)",
        "debforge/m.py:7 outer.inner (8 parameters)",  # not a method: its `self` counts
    ]
