"""Every module with doctest examples has them collected by `pytest --doctest-modules` (`make test`).

A module can hold examples that never run: a directory pytest skips by name (`build/` is in its
default norecursedirs, which is how debforge/build's examples went unrun), a module that fails to
import, or a path left out of testpaths. This test fails for each of those.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "debforge"
_EXAMPLE = re.compile(r"^\s*>>> ", re.MULTILINE)


def _modules_with_examples() -> list[str]:
    return sorted(
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "__pycache__" not in path.parts and _EXAMPLE.search(path.read_text(encoding="utf-8"))
    )


def _collected_modules() -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "--doctest-modules",
         "-p", "no:cacheprovider", "debforge"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, f"doctest collection failed:\n{done.stdout}\n{done.stderr}"
    return {line.split("::", 1)[0] for line in done.stdout.splitlines() if "::" in line}


def test_every_module_with_examples_has_its_doctests_collected() -> None:
    modules = _modules_with_examples()
    assert "debforge/builder/cargo.py" in modules  # skipped while it lived under debforge/build/
    collected = _collected_modules()
    assert [module for module in modules if module not in collected] == []


def test_the_default_test_run_includes_the_package_doctests() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "debforge" in config["testpaths"]
    makefile = (ROOT / "Makefile").read_text()
    test_recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert test_recipe is not None
    assert "--doctest-modules" in test_recipe.group(1)
