"""debforge from a wheel: build it, install it in a fresh venv outside the checkout, package hello-ssl.

images/ lives at the top of the repository; the wheel must carry it (debforge/images, see
pyproject.toml), or the installed debforge cannot build the builder image. The index, sysroot and
image caches are shared with the other e2e tests through $DEBFORGE_TEST_CACHE, and the images are
found in the engine by content tag, so the run reuses them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from debforge.cache import Cache
from tests.conftest import require_docker, require_tool

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EPOCH = "1704067200"  # 2024-01-01


def _run(argv: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=1500
    )
    assert done.returncode == 0, f"{argv[:3]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _build_wheel(tmp_path: Path) -> Path:
    # Build from a copy: an in-tree setuptools build would leave build/ in the checkout.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "images", source / "images", ignore=ignore)
    shutil.copytree(ROOT / "debforge", source / "debforge", symlinks=True, ignore=ignore)
    assert (source / "debforge/images").is_symlink()
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "wheel", source],
        cwd=tmp_path,
    )
    (wheel,) = (tmp_path / "wheel").glob("debforge-*.whl")
    return wheel


def test_wheel_installs_and_packages_hello_ssl(e2e_cache: Cache, tmp_path: Path) -> None:
    require_docker()
    dpkg_deb = require_tool("dpkg-deb")
    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert {"debforge/images/runtime/image.toml", "debforge/images/builder/image.toml"} <= set(names)

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=tmp_path)
    _run([venv / "bin/python", "-m", "pip", "install", "-q", wheel], cwd=tmp_path)  # deps from the index
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(DEBFORGE_CACHE=str(e2e_cache.root), SOURCE_DATE_EPOCH=EPOCH)
    where = _run([venv / "bin/python", "-c", "from debforge.container import image; print(image.IMAGES_DIR)"],
                 cwd=tmp_path, env=env)  # fmt: skip
    images = Path(where.strip())  # the wheel's copy, not the checkout's
    assert images.is_relative_to(venv) and not images.is_symlink(), images
    assert (images / "builder/image.toml").is_file()

    recipe = tmp_path / "hello-ssl"
    shutil.copytree(ROOT / "recipes/hello-ssl", recipe, ignore=shutil.ignore_patterns("target"))
    out = tmp_path / "out"
    _run([venv / "bin/debforge", "package", recipe, "--dist", "bookworm", "--arch", "arm64", "--out", out],
         cwd=tmp_path, env=env)  # fmt: skip

    (deb,) = out.glob("*.deb")
    assert deb.name == "hello-ssl_0.1.0-1_arm64.deb"
    fields = _run([dpkg_deb, "--field", deb, "Package", "Architecture"], cwd=tmp_path)
    assert fields.splitlines() == ["Package: hello-ssl", "Architecture: arm64"]
