"""`package` never asks the mirror for Contents-<arch> when the build sysroot knows every NEEDED soname.

The real mirror sits behind a small forwarding proxy on 127.0.0.1 that answers 404 to every
Contents request (the plain `.../Contents-arm64.gz` path, and the by-hash path of any Contents file
the InRelease files it forwarded list) and counts them. recipes/hello-ssl and recipes/multi-crate
are packaged for bookworm arm64 through it; the count must stay 0.

Why a fresh cache: Contents is stored by the SHA256 its Release lists, so with the shared e2e
cache, where earlier runs keep today's Contents-arm64, code that still read Contents on every run
would find it locally and never ask the proxy: no TTL makes a content-addressed blob stale, and
the test could not fail. The run therefore gets its own cache, with no index files and no Contents
in it (the proxy's URL also gives every suite a fresh InRelease state). Only the shared cache's
.debs are hard-linked in (immutable, keyed by the SHA256 of the Packages files) to spare the
mirror; the builder image is found in the engine by its content tag, as with any cache. The
builder container itself never talks to the Debian mirror: everything it needs is mounted from
trees the host side fetched (debforge/builder/rust.py), so the proxy sees every archive request.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from debforge.cache import Cache
from debforge.dists import make_target
from debforge.pipeline import package
from debforge.recipe import load_recipe
from debforge.report import NullReporter
from debforge.session import Session
from tests.conftest import require_docker
from tests.helpers.mirrorproxy import Proxy, serve_proxy

# Cold: crates and sysroots are unpacked again, and cargo builds both recipes from scratch.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2700)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    """The Contents-refusing proxy in front of the real mirror."""
    with serve_proxy() as state:
        yield state


@pytest.fixture
def fresh_cache(e2e_cache: Cache) -> Iterator[Cache]:
    """A cache without index files or Contents, holding hard links to the shared cache's .debs."""
    cache = Cache(e2e_cache.tempdir("contents-e2e-")).ensure()  # same filesystem: links work
    try:
        for blob in (e2e_cache.root / "blobs").glob("*/*"):
            with blob.open("rb") as fh:
                is_deb = fh.read(8) == b"!<arch>\n"
            if is_deb and not cache.has_blob(blob.name):
                cache.blob(blob.name).parent.mkdir(parents=True, exist_ok=True)
                cache.blob(blob.name).hardlink_to(blob)
        yield cache
    finally:
        shutil.rmtree(cache.root, ignore_errors=True)


@pytest.mark.parametrize("recipe_dir", ["hello-ssl", "multi-crate"])
def test_package_asks_for_no_contents_when_the_build_sysroot_knows_every_soname(
    recipe_dir: str, proxy: Proxy, fresh_cache: Cache, tmp_path: Path
) -> None:
    require_docker()
    target = make_target(
        "bookworm", "arm64", mirror=f"{proxy.url}/debian", security_mirror=f"{proxy.url}/debian-security"
    )
    recipe = load_recipe(ROOT / "recipes" / recipe_dir, arch="arm64", reporter=NullReporter())
    with Session(cache=fresh_cache) as session:
        result = package(session, recipe, target, out=tmp_path)
    assert result.package.path.is_file()
    assert "libc6 (>= " in result.depends  # computed from the runtime sysroot the proxy's .debs made
    # The proxy was really in the path: the indexes came through it (and it knew the Contents hashes).
    assert any(path.endswith("/InRelease") for path in proxy.served)
    assert any("/by-hash/SHA256/" in path or "/Packages" in path for path in proxy.served)  # Packages files
    assert proxy.contents_hashes
    assert proxy.refused == []
