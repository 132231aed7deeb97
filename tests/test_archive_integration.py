"""fetch_index / download_packages / fetch_contents against a real signed local apt repository."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import lzma
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from debforge.archive import Contents, download_packages, fetch_contents, fetch_index
from debforge.archive.download import downloading
from debforge.archive.index import PackageIndex, PackageRecord
from debforge.cache import Cache
from debforge.dists import Target
from debforge.errors import FetchError, HashMismatchError, OfflineError, SignatureError
from debforge.report import NullReporter, Reporter
from debforge.run import run
from debforge.session import Freshness, RetryPolicy, Session
from tests.conftest import require_tool
from tests.helpers.aptrepo import (
    Fault,
    GpgKey,
    Repo,
    Server,
    _Handler,
    build_repo,
    make_key,
    serve,
    serve_http,
)

pytestmark = pytest.mark.integration
FAST = RetryPolicy(attempts=3, backoff=0.01, timeout=5)
NO_VALID_UNTIL = Freshness(check_valid_until=False)
LIB = "usr/lib/aarch64-linux-gnu/libfoo.so.1"
PACKAGES: list[dict[str, Any]] = [
    {"Package": "libfoo1", "Version": "1.0-1", "Multi-Arch": "same", "Depends": "libc6 (>= 2.34)",
     "files": {LIB: b"\x7fELF old"}},
    {"Package": "libfoo1", "Version": "1.0-1+deb12u1", "Multi-Arch": "same", "Depends": "libc6 (>= 2.34)",
     "suite": "bookworm-security", "files": {LIB: b"\x7fELF new"}},
    {"Package": "libc6", "Version": "2.36-9", "Provides": "libc-dev-bin (= 2.36)"},
    {"Package": "tool", "Version": "2:1.0", "Architecture": "all", "Depends": "libfoo1 | libbar1",
     "suite": "bookworm-updates"},
]  # fmt: skip


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GpgKey]:
    require_tool("gpg")
    require_tool("gpgv")
    require_tool("dpkg-deb")
    made = make_key(tmp_path_factory.mktemp("key"))
    yield made
    made.close()


@pytest.fixture(scope="module")
def repo(key: GpgKey, tmp_path_factory: pytest.TempPathFactory) -> Repo:
    return build_repo(tmp_path_factory.mktemp("repo"), PACKAGES, key=key)


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache").ensure()


def session_of(
    cache: Cache, reporter: Reporter | None = None, *, offline: bool = False, ttl: float = 3600
) -> Session:
    """A run's Session as the CLI opens one, with fast retries."""
    return Session(cache=cache, reporter=reporter, offline=offline, freshness=Freshness(ttl=ttl), retry=FAST)


def index_of(
    repo: Repo,
    server: Server,
    cache: Cache,
    *,
    refresh: bool = False,
    offline: bool = False,
    ttl: float = 3600,
) -> PackageIndex:
    with session_of(cache, offline=offline, ttl=ttl) as session:
        return fetch_index(session, repo.target(server.url), refresh=refresh)


def contents_of(
    target: Target, cache: Cache, reporter: Reporter | None = None, *, ttl: float = 3600
) -> Contents:
    with session_of(cache, reporter, ttl=ttl) as session:
        return fetch_contents(session, target)


def debs_of(
    records: list[PackageRecord], cache: Cache, *, offline: bool = False, jobs: int = 8
) -> dict[str, Path]:
    with session_of(cache, offline=offline) as session:
        return download_packages(session, records, jobs=jobs)


def assert_consistent(cache: Cache) -> None:
    """Every blob matches its name and nothing half-written is left anywhere."""
    for blob in (cache.root / "blobs").rglob("*"):
        if blob.is_file():
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name, blob
    assert [p for p in cache.root.rglob("*") if p.name.endswith(".part")] == []
    assert list((cache.root / "tmp").iterdir()) == []


def test_cold_then_warm(repo: Repo, cache: Cache) -> None:
    with serve(repo.root) as server:
        index = index_of(repo, server, cache)
        cold = server.paths()
        warm = index_of(repo, server, cache)
        assert server.paths() == cold  # warm: no network at all
    assert sum(p.endswith("/InRelease") for p in cold) == 3
    assert all("/by-hash/SHA256/" in p for p in cold if "Packages" in p)  # Acquire-By-Hash: yes
    lib = warm.candidate("libfoo1")
    assert lib is not None
    assert (lib.version, lib.suite, lib.suite_rank) == ("1.0-1+deb12u1", "bookworm-security", 2)
    deb = repo.debs["libfoo1_1.0-1+deb12u1_arm64"]
    assert lib.sha256 == hashlib.sha256(deb.read_bytes()).hexdigest()
    assert lib.url == f"{server.url}/debian-security/{lib.filename}"
    assert [r.version for r in warm.versions("libfoo1")] == ["1.0-1+deb12u1", "1.0-1"]
    assert [r.name for r in warm.provided_by("libc-dev-bin")] == ["libc6"]
    tool = warm.candidate("tool")
    assert tool is not None
    assert (tool.arch, tool.suite) == ("all", "bookworm-updates")
    assert index.release_key == warm.release_key
    assert_consistent(cache)


def test_stale_ttl_uses_conditional_requests(repo: Repo, cache: Cache) -> None:
    with serve(repo.root) as server:
        index_of(repo, server, cache)
        before = len(server.requests)
        again = index_of(repo, server, cache, ttl=0)
        new = server.requests[before:]
    assert [status for _, status in new] == [304, 304, 304]  # only the InRelease files, unchanged
    assert again.candidate("libc6") is not None


def test_refresh_forces_a_check(repo: Repo, cache: Cache) -> None:
    with serve(repo.root) as server:
        index_of(repo, server, cache)
        before = len(server.requests)
        index_of(repo, server, cache, refresh=True)
        assert len(server.requests) == before + 3


def test_offline(repo: Repo, cache: Cache) -> None:
    with serve(repo.root) as server:
        with pytest.raises(OfflineError, match=r"bookworm InRelease from .* is not in the cache"):
            index_of(repo, server, cache, offline=True)
        assert server.requests == []
        index_of(repo, server, cache)
        before = len(server.requests)
        index = index_of(repo, server, cache, offline=True, ttl=0)
        assert len(server.requests) == before
    assert index.candidate("libfoo1") is not None


def packages_paths(repo: Repo) -> list[tuple[str, str]]:
    """(by-hash, plain) path ends of each compression of the main suite's Packages file, best first."""
    folder = repo.dists("bookworm") / "main/binary-arm64"
    return [
        (hashlib.sha256((folder / name).read_bytes()).hexdigest(), f"/bookworm/main/binary-arm64/{name}")
        for name in ("Packages.xz", "Packages.gz", "Packages")
    ]


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (Fault("bookworm/InRelease", "badsig"), SignatureError, "does not verify"),
        (Fault("bookworm/InRelease", "unsigned"), SignatureError, "does not verify"),
        (Fault("Packages", "corrupt", times=-1), HashMismatchError, "different file than the signed Release"),
        (Fault("Packages", "500", times=-1), FetchError, "gave up after 3 attempts"),
    ],
    ids=["bad-signature", "unsigned", "sha256-mismatch", "persistent-500"],
)
def test_faults_give_a_clear_error_and_a_later_run_succeeds(
    repo: Repo, cache: Cache, fault: Fault, error: type[Exception], message: str
) -> None:
    faults = [fault]
    if fault.path == "Packages":  # every path of the main suite's file: by-hash and plain, each compression
        faults = [Fault(end, fault.kind, times=-1) for pair in packages_paths(repo) for end in pair]
    with serve(repo.root, faults) as server:
        with pytest.raises(error, match=message):
            index_of(repo, server, cache)
        assert_consistent(cache)
        for each in faults:
            each.times = 0
        assert index_of(repo, server, cache).candidate("libfoo1") is not None
    assert_consistent(cache)


@pytest.mark.parametrize("kind", ["reset", "500", "truncate"])
def test_transient_faults_succeed_after_retry(repo: Repo, cache: Cache, kind: str) -> None:
    faults = [Fault("bookworm-security/InRelease", kind), Fault(".deb", kind)]  # type: ignore[arg-type]
    with serve(repo.root, faults) as server:
        index = index_of(repo, server, cache)
        record = index.candidate("libfoo1")
        assert record is not None
        paths = debs_of([record], cache)
        assert server.paths().count("/debian-security/dists/bookworm-security/InRelease") == 2
        assert sum(p.endswith(".deb") for p in server.paths()) == 2
    assert paths[record.sha256].read_bytes() == repo.debs["libfoo1_1.0-1+deb12u1_arm64"].read_bytes()
    assert_consistent(cache)


def test_expired_valid_until_is_rejected(key: GpgKey, tmp_path: Path, cache: Cache) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    stale = build_repo(tmp_path / "stale", PACKAGES[:1], key=key, valid_until=past)
    with serve(stale.root) as server, pytest.raises(SignatureError, match=r"expired on .* \(Valid-Until\)"):
        index_of(stale, server, cache)
    assert_consistent(cache)


def test_no_check_valid_until_uses_an_expired_release_with_a_warning(
    key: GpgKey, tmp_path: Path, cache: Cache
) -> None:
    """apt's Acquire::Check-Valid-Until=false, for frozen mirrors: used, warned, and again offline."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    stale = build_repo(tmp_path / "stale", PACKAGES[:1], key=key, valid_until=past)
    warned = Recording()
    with serve(stale.root) as server:
        target = stale.target(server.url)
        with Session(cache=cache, reporter=warned, retry=FAST, freshness=NO_VALID_UNTIL) as session:
            assert fetch_index(session, target).candidate("libfoo1") is not None
        with Session(cache=cache, offline=True, freshness=NO_VALID_UNTIL) as session:
            assert fetch_index(session, target).candidate("libfoo1") is not None
        with pytest.raises(SignatureError, match=r"expired on"), Session(cache=cache, offline=True) as again:
            fetch_index(again, target)  # the check is per run: the next run without the flag refuses
    assert warned.warnings and all("used anyway (--no-check-valid-until)" in w for w in warned.warnings)
    assert_consistent(cache)


def test_without_by_hash_the_plain_paths_are_used(key: GpgKey, tmp_path: Path, cache: Cache) -> None:
    plain = build_repo(tmp_path / "plain", PACKAGES[:1], key=key, by_hash=False)
    with serve(plain.root) as server:
        assert index_of(plain, server, cache).candidate("libfoo1") is not None
        assert "/debian/dists/bookworm/main/binary-arm64/Packages.xz" in server.paths()


def test_download_packages_verifies_and_works_offline_afterwards(repo: Repo, cache: Cache) -> None:
    with serve(repo.root) as server:
        index = index_of(repo, server, cache)
        records = [r for name in ("libfoo1", "libc6", "tool") if (r := index.candidate(name))]
        with pytest.raises(OfflineError, match=r"libfoo1_1\.0-1"):
            debs_of(records, cache, offline=True)
        paths = debs_of(records, cache, jobs=3)
        before = len(server.requests)
        assert debs_of(records, cache, offline=True) == paths
        assert len(server.requests) == before
    info = run(["dpkg-deb", "--field", paths[records[2].sha256], "Package", "Version"]).text
    assert info.split() == ["Package:", "tool", "Version:", "2:1.0"]
    assert_consistent(cache)


def test_downloading_hands_out_each_deb_as_soon_as_it_is_in(repo: Repo, cache: Cache) -> None:
    """A cold image unpacks its first debs while the others still download (archive.download.downloading)."""
    release = threading.Event()
    state = Server(url="", faults=[])

    class Holding(_Handler):  # holds the one .deb of `tool` until released
        server_state = state

        def do_GET(self) -> None:
            if self.path.endswith(".deb") and "/tool_" in self.path:
                release.wait(30)
            super().do_GET()

    with serve_http(lambda *a: Holding(*a, directory=str(repo.root))) as url:
        state.url = url
        index = index_of(repo, state, cache)
        first, held = index.candidate("libc6"), index.candidate("tool")
        assert first is not None and held is not None
        with session_of(cache) as session, downloading(session, [held, first]) as debs:
            assert debs[first.sha256].is_file()  # in, while the download of `tool` is held
            assert not cache.has_blob(held.sha256)
            release.set()
            assert debs[held.sha256].is_file()
    assert_consistent(cache)


def test_corrupt_deb_is_refused(repo: Repo, cache: Cache) -> None:
    with serve(repo.root, [Fault(".deb", "corrupt", times=-1)]) as server:
        record = index_of(repo, server, cache).candidate("libc6")
        assert record is not None
        with pytest.raises(HashMismatchError):
            debs_of([record], cache)
    assert not cache.has_blob(record.sha256)
    assert_consistent(cache)


def test_concurrent_runs_share_the_cache(repo: Repo, cache: Cache) -> None:
    results: list[PackageIndex] = []
    with serve(repo.root) as server:
        threads = [
            threading.Thread(target=lambda: results.append(index_of(repo, server, cache))) for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len({index.release_key for index in results}) == 1
    assert len(results) == 3
    assert_consistent(cache)


def test_contents_maps_library_paths_to_packages(repo: Repo, cache: Cache) -> None:
    with serve(repo.root) as server:
        contents = contents_of(repo.target(server.url), cache)
    assert contents.packages_for(f"/{LIB}") == ("libfoo1",)
    assert contents.packages_for(LIB.removeprefix("usr/")) == ("libfoo1",)  # usrmerge alias
    assert contents.packages_for("usr/bin/none") == ()


class Recording(NullReporter):
    """Keeps warnings, to assert on them."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def compressed(raw: bytes) -> list[bytes]:
    """`raw` as Packages.xz, Packages.gz and Packages (the order of packages_paths)."""
    return [lzma.compress(raw), gzip.compress(raw, mtime=0), raw]


def test_a_stale_plain_path_is_not_needed_when_by_hash_answers(repo: Repo, cache: Cache) -> None:
    # A mirror mid-sync: the plain paths already serve another generation, by-hash/ has the signed one.
    contents_gz = "/bookworm/main/Contents-arm64.gz"
    older_contents = gzip.compress(f"{LIB}\t\t\tmisc/libold1\n".encode(), mtime=0)
    older = compressed(b"Package: libold1\nVersion: 0.1\nArchitecture: arm64\n")
    faults = [Fault(contents_gz, "stale", times=-1, body=older_contents)]
    faults += [
        Fault(plain, "stale", times=-1, body=body)
        for (_, plain), body in zip(packages_paths(repo), older, strict=True)
    ]
    reporter = Recording()
    with serve(repo.root, faults) as server:
        target = repo.target(server.url)
        with session_of(cache, reporter) as session:
            index = fetch_index(session, target)
            contents = fetch_contents(session, target)
        stale = tuple(fault.path for fault in faults)
        assert [p for p in server.paths() if p.endswith(stale)] == []  # the plain paths were not needed
    assert contents.packages_for(LIB) == ("libfoo1",)
    assert index.candidate("libfoo1") is not None
    assert index.candidate("libold1") is None
    assert reporter.warnings == []
    assert_consistent(cache)


def test_a_missing_by_hash_file_falls_back_to_the_plain_path(repo: Repo, cache: Cache) -> None:
    contents_sha = sha((repo.dists("bookworm") / "main/Contents-arm64.gz").read_bytes())
    with serve(repo.root, [Fault(contents_sha, "404", times=-1)]) as server:
        contents = contents_of(repo.target(server.url), cache)
        main = [(p, status) for p, status in server.requests if p.startswith("/debian/dists/bookworm/main/")]
    assert main == [
        (f"/debian/dists/bookworm/main/by-hash/SHA256/{contents_sha}", 404),
        ("/debian/dists/bookworm/main/Contents-arm64.gz", 200),
    ]
    assert contents.packages_for(LIB) == ("libfoo1",)
    assert_consistent(cache)


def every_path_wrong(repo: Repo, older_raw: bytes) -> list[Fault]:
    """by-hash/ answers 404 and every plain path serves `older_raw`'s generation (each compression)."""
    pairs = packages_paths(repo)
    faults = [Fault(by_hash, "404", times=-1) for by_hash, _ in pairs]
    return faults + [
        Fault(plain, "stale", times=-1, body=b)
        for (_, plain), b in zip(pairs, compressed(older_raw), strict=True)
    ]


def test_every_path_wrong_says_different_file_once(repo: Repo, cache: Cache) -> None:
    raw = (repo.dists("bookworm") / "main/binary-arm64/Packages").read_bytes()
    older_raw = raw.replace(b"Version: 1.0-1\n", b"Version: 0.9-1\n", 1)
    listed_xz = (repo.dists("bookworm") / "main/binary-arm64/Packages.xz").read_bytes()
    served_xz = compressed(older_raw)[0]
    with serve(repo.root, every_path_wrong(repo, older_raw)) as server:
        with pytest.raises(HashMismatchError) as caught:
            index_of(repo, server, cache)
        plain = [
            p for p in server.paths() if p.startswith("/debian/dists/bookworm/main/binary-arm64/Packages")
        ]
    assert str(caught.value) == (
        f"{server.url}/debian/dists/bookworm/main/binary-arm64/Packages.xz is a different file than the "
        f"signed Release lists ({len(served_xz)} bytes, SHA256 {sha(served_xz)}, "
        f"where it lists {len(listed_xz)} bytes, SHA256 {sha(listed_xz)})"
    )
    assert "retry later or pick another --mirror" in (caught.value.hint or "")
    assert sorted(plain) == sorted(f"/debian/dists{end}" for _, end in packages_paths(repo))  # once each
    assert_consistent(cache)


def age_records(cache: Cache, seconds: float) -> int:
    """Make every recorded verified index copy `seconds` older; returns how many there are."""
    records = sorted((cache.root / "state").glob("indexfile-*.json"))
    for path in records:
        record = json.loads(path.read_text())
        path.write_text(json.dumps(record | {"verified": record["verified"] - seconds}))
    return len(records)


def test_every_path_wrong_uses_the_copy_verified_earlier(key: GpgKey, tmp_path: Path, cache: Cache) -> None:
    lib2 = "usr/lib/aarch64-linux-gnu/libfoo.so.2"
    gen2 = [
        {**PACKAGES[0], "Version": "1.0-2", "files": {LIB: b"\x7fELF", lib2: b"\x7fELF 2"}},
        *PACKAGES[1:],
    ]
    mirror = build_repo(tmp_path / "mirror", PACKAGES, key=key)
    main = mirror.dists("bookworm")
    with serve(mirror.root) as server:
        target = mirror.target(server.url)
        with session_of(cache) as session:
            fetch_index(session, target)
            fetch_contents(session, target)
        older = {
            name: (main / name).read_bytes()
            for name in ("main/binary-arm64/Packages", "main/Contents-arm64.gz")
        }
        assert age_records(cache, 3.2 * 3600 + 60) >= 2
        build_repo(mirror.root, gen2, key=key)  # the next generation: a new signed Release
        later = time.time() + 10  # a Last-Modified the previous one's If-Modified-Since cannot cover
        for inrelease in mirror.root.rglob("InRelease"):
            os.utime(inrelease, (later, later))
        contents_sha = sha((main / "main/Contents-arm64.gz").read_bytes())
        server.faults += [
            *every_path_wrong(mirror, older["main/binary-arm64/Packages"]),
            Fault(contents_sha, "404", times=-1),
            Fault(
                "/bookworm/main/Contents-arm64.gz", "stale", times=-1, body=older["main/Contents-arm64.gz"]
            ),
        ]
        reporter = Recording()
        with session_of(cache, reporter, ttl=0) as session:
            index = fetch_index(session, target)
            contents = fetch_contents(session, target)
        assert [r.version for r in index.versions("libfoo1")] == ["1.0-1+deb12u1", "1.0-1"]
        assert contents.packages_for(lib2) == ()
        assert len(reporter.warnings) == 2
        for warning, name in zip(
            reporter.warnings, ("main/binary-arm64/Packages", "main/Contents-arm64"), strict=True
        ):
            assert "is a different file than the signed Release lists" in warning
            assert warning.endswith(f"; using the copy of bookworm {name} verified 3.2 h ago")
        for fault in server.faults:
            fault.times = 0  # the mirror finished its update: the next run is current again
        with session_of(cache, Recording(), ttl=0) as session:
            index = fetch_index(session, target)
            contents = fetch_contents(session, target)
    assert [r.version for r in index.versions("libfoo1")] == ["1.0-2", "1.0-1+deb12u1"]
    assert contents.packages_for(lib2) == ("libfoo1",)
    assert_consistent(cache)
