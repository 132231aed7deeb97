"""Import order (style.md): a module imports only modules before it; typer/rich only in cli/report."""

from __future__ import annotations

import ast
from pathlib import Path

ORDER = [
    "errors",
    "run",
    "report",
    "ahead",
    "cache",
    "dists",
    "engines",
    "session",
    "recipe",
    "archive",
    "resolve",
    "elf",  # reads and patches ELF files; only errors, run and dists below it
    "rootfs",
    "container",
    "shlibdeps",
    "builder",
    "deb",
    "testinstall",
    "repo",
    "doctor",
    "pipeline",
    "cli",
]
SAME_RANK = {"run": "report"}  # run and report sit side by side after errors
PACKAGE = Path(__file__).resolve().parent.parent / "debforge"


def _stage(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "debforge" or len(parts) < 2:
        return None
    return parts[1]


def _rank(stage: str) -> int:
    return ORDER.index(SAME_RANK.get(stage, stage))


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        stage = rel.parts[0].removesuffix(".py")
        if stage in ORDER:
            out.append((stage, path))
    return out


def test_every_stage_module_is_ranked() -> None:
    unknown = (
        {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in PACKAGE.rglob("*.py")}
        - set(ORDER)
        - {"__init__", "__main__"}
    )
    assert not unknown, f"modules missing from the import order: {unknown}"


def test_imports_follow_the_order() -> None:
    bad = []
    for stage, path in _modules():
        for module in _imports(path):
            other = _stage(module)
            if other is None or other == stage or other in ("__init__",):
                continue
            if other not in ORDER or _rank(other) > _rank(stage):
                bad.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not bad, "\n".join(bad)


def test_only_cli_and_report_use_typer_or_rich() -> None:
    bad = []
    for stage, path in _modules():
        if stage in ("cli", "report"):
            continue
        for module in _imports(path):
            if module.split(".")[0] in ("typer", "rich"):
                bad.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not bad, "\n".join(bad)
