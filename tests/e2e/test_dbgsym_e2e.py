"""recipes/hello-ssl with `dbgsym = true`: a second `-dbgsym` deb carrying the debug info by build-id.

Oracles: `dpkg-deb` reads both debs, binutils' readelf shows the sections, lintian finds no error.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from debforge.dists import Target
from debforge.elf import build_id
from debforge.pipeline import package
from debforge.recipe import load_recipe
from debforge.report import NullReporter
from debforge.run import run
from debforge.session import Session
from tests.conftest import require_docker, require_tool

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_hello_ssl_dbgsym_carries_debug_info_by_build_id(
    e2e_session: Session, bookworm_arm64: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_docker()
    require_tool("dpkg-deb")
    readelf = require_tool("aarch64-linux-gnu-readelf")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1704067200")
    recipe = load_recipe(ROOT / "recipes/hello-ssl", arch="arm64", reporter=NullReporter())
    recipe = dataclasses.replace(recipe, build=dataclasses.replace(recipe.build, dbgsym=True))
    out = tmp_path / "out"
    result = package(e2e_session, recipe, bookworm_arm64, out=out)

    assert result.dbgsym is not None
    assert sorted(p.name for p in out.glob("*.deb")) == sorted(
        [result.package.path.name, f"{recipe.name}-dbgsym_{recipe.deb_version}_arm64.deb"]
    )
    run(["dpkg-deb", "-x", result.package.path, tmp_path / "main"])
    binary = tmp_path / "main/usr/bin/hello-ssl"
    ident = build_id(binary)
    assert ident is not None

    info = run(["dpkg-deb", "--field", result.dbgsym.path]).text
    assert "Auto-Built-Package: debug-symbols" in info
    assert f"Build-Ids: {ident}\n" in info
    assert f"Depends: {recipe.name} (= {recipe.deb_version})" in info
    assert "Section: debug" in info

    dbg = tmp_path / "dbg"
    run(["dpkg-deb", "-x", result.dbgsym.path, dbg])
    debug = dbg / f"usr/lib/debug/.build-id/{ident[:2]}/{ident[2:]}.debug"
    assert build_id(debug) == ident
    assert ".debug_info" in run([readelf, "-S", "-W", debug]).text

    sections = run([readelf, "-S", "-W", binary]).text
    assert ".gnu_debuglink" in sections and ".debug_info" not in sections
    assert f"{ident[2:]}.debug" in run([readelf, "--string-dump=.gnu_debuglink", binary]).text

    assert result.to_json()["dbgsym"]["build_ids"] == [ident]
    lintian = require_tool("lintian")
    done = run([lintian, "--no-cfg", "--allow-root", result.dbgsym.path], check=False)
    assert [line for line in done.text.splitlines() if line.startswith("E:")] == []
