"""A suite whose Release does not list the target's arch is skipped, as apt skips it ("repository
doesn't support architecture"): the Debian mirror here carries bookworm-security without s390x and
armel. The release suite itself must list it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from debforge.archive import fetch_index
from debforge.cache import Cache
from debforge.errors import ArchiveError
from debforge.report import NullReporter
from debforge.run import run
from debforge.session import Session
from tests.conftest import require_tool
from tests.helpers.aptrepo import GpgKey, Repo, build_repo, make_key, serve

pytestmark = pytest.mark.integration
PACKAGES = [
    {"Package": "libfoo1", "Version": "1.0-1"},
    {"Package": "libfoo1", "Version": "1.0-1+deb12u1", "suite": "bookworm-security"},
]


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GpgKey]:
    for tool in ("gpg", "gpgv", "dpkg-deb"):
        require_tool(tool)
    made = make_key(tmp_path_factory.mktemp("key"))
    yield made
    made.close()


def _drop_arch(repo: Repo, suite: str) -> None:
    """Re-sign `suite`'s Release with an Architectures field that lacks the repo's arch."""
    dists = repo.dists(suite)
    text = (dists / "Release").read_text().replace(f"Architectures: {repo.arch}", "Architectures: amd64")
    (dists / "Release").write_text(text)
    sign = ["gpg", "--batch", "--yes", "--local-user", repo.key.fingerprint, "--digest-algo", "SHA256"]
    run([*sign, "--clearsign", "--output", dists / "InRelease", dists / "Release"], env=repo.key.env())


def _index(repo: Repo, tmp_path: Path) -> object:
    with (
        serve(repo.root) as server,
        Session(cache=Cache(tmp_path / "c").ensure(), reporter=NullReporter()) as s,
    ):
        return fetch_index(s, repo.target(server.url))


def test_an_update_suite_without_the_arch_is_skipped(key: GpgKey, tmp_path: Path) -> None:
    repo = build_repo(tmp_path / "repo", PACKAGES, key=key)
    _drop_arch(repo, "bookworm-security")
    index = _index(repo, tmp_path)
    assert [r.version for r in index.versions("libfoo1")] == ["1.0-1"]  # type: ignore[attr-defined]


def test_the_release_suite_without_the_arch_is_an_error(key: GpgKey, tmp_path: Path) -> None:
    repo = build_repo(tmp_path / "repo", PACKAGES, key=key)
    _drop_arch(repo, "bookworm")
    with pytest.raises(
        ArchiveError, match=r"bookworm on http://.*/debian carries no arm64 \(Architectures: amd64\)"
    ):
        _index(repo, tmp_path)
