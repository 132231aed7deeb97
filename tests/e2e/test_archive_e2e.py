"""The real Debian archive: debforge's candidate equals what the archive's own index lists."""

from __future__ import annotations

import json
import lzma
import subprocess
import sys

import pytest
import requests
from debian.debian_support import Version

from debforge.archive import fetch_contents, fetch_index
from debforge.archive.index import PackageIndex
from debforge.cache import Cache
from debforge.dists import make_target
from debforge.session import Session

pytestmark = pytest.mark.e2e
PACKAGES_URLS = [
    "http://deb.debian.org/debian/dists/bookworm/main/binary-arm64/Packages.xz",
    "http://deb.debian.org/debian/dists/bookworm-updates/main/binary-arm64/Packages.xz",
    "http://deb.debian.org/debian-security/dists/bookworm-security/main/binary-arm64/Packages.xz",
]


@pytest.fixture(scope="session")
def bookworm_index(e2e_session: Session) -> PackageIndex:
    return fetch_index(e2e_session, make_target("bookworm", "arm64"))


def newest_in_archive(name: str) -> tuple[str, str]:
    """(version, SHA256) of the newest `name` in the archive's Packages files, read naively."""
    best: tuple[Version, str] | None = None
    for url in PACKAGES_URLS:
        response = requests.get(url, timeout=120)
        response.raise_for_status()
        for stanza in lzma.decompress(response.content).decode().split("\n\n"):
            fields = dict(
                line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " "
            )
            if fields.get("Package") == name and (best is None or Version(fields["Version"]) > best[0]):
                best = (Version(fields["Version"]), fields["SHA256"])
    assert best is not None
    return str(best[0]), best[1]


def test_libssl3_candidate_matches_the_archive(bookworm_index: PackageIndex) -> None:
    record = bookworm_index.candidate("libssl3")
    assert record is not None
    assert (record.version, record.sha256) == newest_in_archive("libssl3")
    assert record.url.endswith(f"/{record.filename}")
    assert len(bookworm_index.packages) > 60_000


def test_debforge_show_json_agrees(bookworm_index: PackageIndex, e2e_cache: Cache) -> None:
    record = bookworm_index.candidate("libssl3")
    assert record is not None
    argv = [sys.executable, "-m", "debforge", "show", "libssl3", "--dist", "bookworm", "--arch", "arm64",
            "--cache-dir", str(e2e_cache.root), "--json"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)
    doc = json.loads(done.stdout)
    assert (doc["version"], doc["sha256"], doc["url"]) == (record.version, record.sha256, record.url)


def test_contents_finds_the_package_of_a_soname(e2e_session: Session) -> None:
    contents = fetch_contents(e2e_session, make_target("bookworm", "arm64"))
    assert contents.packages_for("/usr/lib/aarch64-linux-gnu/libssl.so.3") == ("libssl3",)
    assert contents.packages_for("usr/lib/aarch64-linux-gnu/pkgconfig/openssl.pc") == ("libssl-dev",)
    assert contents.packages_for("/usr/lib/aarch64-linux-gnu/libc.so.6") == ("libc6",)  # ships /lib/...


@pytest.mark.parametrize(("dist", "arch"), [("bookworm", "amd64"), ("trixie", "arm64"), ("trixie", "amd64")])
def test_show_on_other_dists_and_arches(dist: str, arch: str, e2e_cache: Cache) -> None:
    argv = [sys.executable, "-m", "debforge", "show", "libc6", "--dist", dist, "--arch", arch,
            "--cache-dir", str(e2e_cache.root), "--json"]  # fmt: skip
    doc = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True, timeout=300).stdout)
    assert doc["arch"] == arch
    assert doc["url"].startswith("http://deb.debian.org/debian") and doc["url"].endswith(f"_{arch}.deb")
    assert len(doc["sha256"]) == 64
