"""Release parsing (unit) and InRelease signature checks with real gpg/gpgv (integration)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from debforge.archive.release import parse_date, parse_release, verify_inrelease
from debforge.errors import SignatureError
from tests.conftest import require_tool
from tests.helpers.aptrepo import GpgKey, _tamper, _unsign, build_repo, make_key

RELEASE = """\
Origin: Debian
Label: Debian-Security
Suite: stable-security
Codename: bookworm-security
Date: Sat, 21 Nov 2026 08:00:00 UTC
Valid-Until: Sat, 28 Nov 2026 08:00:00 UTC
Acquire-By-Hash: yes
Architectures: amd64 arm64
Components: updates/main
MD5Sum:
 0123456789abcdef0123456789abcdef  1234 main/binary-arm64/Packages.xz
SHA256:
 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855        0 main/binary-arm64/Packages
 2ddb1737692e8c45c53e8d57c0ce4cd21c78c5703b830c3226b1423566a06c00  8689464 main/binary-arm64/Packages.xz
"""


def test_parse_release_reads_sha256_entries_only() -> None:
    release = parse_release(RELEASE)
    assert (release.suite, release.codename, release.acquire_by_hash) == (
        "stable-security", "bookworm-security", True
    )  # fmt: skip
    assert release.valid_until == dt.datetime(2026, 11, 28, 8, tzinfo=dt.UTC)
    assert set(release.files) == {"main/binary-arm64/Packages", "main/binary-arm64/Packages.xz"}
    entry = release.entry("main/binary-arm64/Packages.xz", "main/binary-arm64/Packages.gz")
    assert entry is not None
    assert (entry.size, entry.sha256[:8]) == (8689464, "2ddb1737")
    assert release.entry("main/binary-amd64/Packages.xz") is None


def test_valid_until() -> None:
    assert parse_release(RELEASE).valid_until == dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC)
    assert parse_release(RELEASE.replace("Valid-Until", "X-Valid-Until")).valid_until is None
    assert parse_date("not a date") is None


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GpgKey]:
    require_tool("gpg")
    require_tool("gpgv")
    made = make_key(tmp_path_factory.mktemp("key"))
    yield made
    made.close()


@pytest.fixture(scope="module")
def inrelease(key: GpgKey, tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("dpkg-deb")
    repo = build_repo(tmp_path_factory.mktemp("repo"), [{"Package": "a"}], key=key, suites=["bookworm"])
    return repo.dists("bookworm") / "InRelease"


@pytest.mark.integration
def test_gpgv_returns_only_the_signed_text(key: GpgKey, inrelease: Path) -> None:
    text = verify_inrelease(inrelease, key.keyring, what="test InRelease")
    assert text.startswith("Origin: debforge-tests\n")
    assert "BEGIN PGP" not in text
    assert parse_release(text).codename == "bookworm"


@pytest.mark.integration
@pytest.mark.parametrize("mangle", [_tamper, _unsign], ids=["tampered", "unsigned"])
def test_bad_or_missing_signature_is_rejected(
    key: GpgKey, inrelease: Path, tmp_path: Path, mangle: object
) -> None:
    bad = tmp_path / "InRelease"
    bad.write_bytes(mangle(inrelease.read_bytes()))  # type: ignore[operator]
    with pytest.raises(SignatureError, match="does not verify"):
        verify_inrelease(bad, key.keyring, what="test InRelease")


@pytest.mark.integration
def test_other_key_and_missing_keyring_are_rejected(inrelease: Path, tmp_path: Path) -> None:
    other = make_key(tmp_path / "other")
    try:
        with pytest.raises(SignatureError, match="does not verify"):
            verify_inrelease(inrelease, other.keyring, what="x")
    finally:
        other.close()
    with pytest.raises(SignatureError, match="does not exist") as info:
        verify_inrelease(inrelease, tmp_path / "missing.gpg", what="x")
    assert info.value.hint is not None
    assert "--keyring" in info.value.hint
