"""Shared end-to-end fixtures: one package cache, one Session and ONE runtime image per test session.

The test-install and repo tests reuse `runtime_image` (bookworm arm64, apt lists pre-filled):
building it costs a configure step under QEMU, so it is built once and reused by content tag
across sessions too (a second session finds the image in the engine and skips the build).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from debforge.cache import Cache
from debforge.container import Image, build_image
from debforge.dists import Target, make_target
from debforge.report import NullReporter
from debforge.session import Session
from tests.conftest import require_docker


@pytest.fixture(scope="session")
def e2e_cache() -> Cache:
    """The package cache shared by every e2e test (DEBFORGE_TEST_CACHE, as the Makefile sets it)."""
    default = Path(__file__).resolve().parents[2] / ".cache" / "test"
    root = os.environ.get("DEBFORGE_TEST_CACHE") or str(default)
    return Cache(Path(root)).ensure()


@pytest.fixture(scope="session")
def e2e_session(e2e_cache: Cache) -> Iterator[Session]:
    """One quiet Session over the shared cache, closed (Docker client, workspace) at the end."""
    with Session(cache=e2e_cache, reporter=NullReporter()) as session:
        yield session


@pytest.fixture(scope="session")
def bookworm_arm64() -> Target:
    """The first-class target."""
    return make_target("bookworm", "arm64")


@pytest.fixture(scope="session")
def runtime_image(e2e_session: Session, bookworm_arm64: Target) -> Image:
    """The bookworm arm64 runtime image (debforge image --dist bookworm --arch arm64), built once."""
    require_docker()
    return build_image(e2e_session, bookworm_arm64)


@pytest.fixture(scope="session")
def hello_ssl_deb(
    e2e_session: Session, bookworm_arm64: Target, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """recipes/hello-ssl packaged for bookworm arm64 (cross-built in the builder image), once per session."""
    from debforge.pipeline import package
    from debforge.recipe import load_recipe

    require_docker()
    recipe = load_recipe(Path(__file__).resolve().parents[2] / "recipes" / "hello-ssl", arch="arm64",
                         reporter=NullReporter())  # fmt: skip
    out = tmp_path_factory.mktemp("hello-ssl-deb")
    return package(e2e_session, recipe, bookworm_arm64, out=out).package.path
