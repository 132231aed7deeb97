"""debforge.archive.http against a local server: verification, retries, atomicity."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from debforge.archive.http import Expected, Fetched, fetch
from debforge.cache import Cache
from debforge.errors import FetchError, HashMismatchError
from debforge.session import RetryPolicy, Session
from tests.helpers.aptrepo import Fault, Server, serve

FAST = RetryPolicy(attempts=3, backoff=0.01, timeout=5)
DATA = bytes(range(256)) * 4096  # 1 MiB: several chunks
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "file.bin").write_bytes(DATA)
    return tmp_path / "www"


@pytest.fixture
def session(tmp_path: Path) -> Iterator[requests.Session]:
    with Session(cache=Cache(tmp_path / "cache")) as run:
        yield run.http()  # the run's pooled session, as the archive stages use it


def leftovers(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()]


def get(
    server: Server,
    session: requests.Session,
    dest: Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    **kwargs: object,
) -> Fetched:
    want = Expected(sha256=sha256, size=size)
    return fetch(session, f"{server.url}/file.bin", dest, want=want, retry=FAST, **kwargs)  # type: ignore[arg-type]


def test_download_is_verified_and_reports_etag_and_progress(
    root: Path, tmp_path: Path, session: requests.Session
) -> None:
    seen: list[int] = []
    with serve(root) as server:
        got = get(server, session, tmp_path / "out" / "f", sha256=SHA, size=len(DATA), progress=seen.append)
    assert (tmp_path / "out" / "f").read_bytes() == DATA
    assert (got.sha256, got.size, got.not_modified) == (SHA, len(DATA), False)
    assert got.last_modified
    assert sum(seen) == len(DATA)
    assert leftovers(tmp_path / "out") == [tmp_path / "out" / "f"]


def test_conditional_request_gets_304(root: Path, tmp_path: Path, session: requests.Session) -> None:
    with serve(root) as server:
        first = get(server, session, tmp_path / "out" / "f")
        again = get(server, session, tmp_path / "g", headers={"If-Modified-Since": first.last_modified or ""})
    assert again.not_modified
    assert not (tmp_path / "g").exists()


@pytest.mark.parametrize("kind", ["reset", "500", "truncate", "short"])
def test_transient_faults_are_retried(
    kind: str, root: Path, tmp_path: Path, session: requests.Session
) -> None:
    with serve(root, [Fault("file.bin", kind, times=2)]) as server:  # type: ignore[arg-type]
        get(server, session, tmp_path / "out" / "f", sha256=SHA, size=len(DATA))
        assert len(server.paths()) == 3
    assert (tmp_path / "out" / "f").read_bytes() == DATA


def test_persistent_faults_give_up_with_a_clear_error(
    root: Path, tmp_path: Path, session: requests.Session
) -> None:
    with serve(root, [Fault("file.bin", "500", times=-1)]) as server:
        with pytest.raises(FetchError, match=r"500 .*gave up after 3 attempts"):
            get(server, session, tmp_path / "out" / "f")
        assert len(server.paths()) == 3
    assert leftovers(tmp_path / "out") == []


def test_404_is_not_retried(root: Path, tmp_path: Path, session: requests.Session) -> None:
    with serve(root) as server:
        with pytest.raises(FetchError, match="404"):
            fetch(session, f"{server.url}/nope", tmp_path / "out" / "f", retry=FAST)
        assert len(server.paths()) == 1


def test_hash_mismatch_leaves_nothing(root: Path, tmp_path: Path, session: requests.Session) -> None:
    with serve(root, [Fault("file.bin", "corrupt")]) as server:
        with pytest.raises(HashMismatchError, match="different file than the signed Release lists"):
            get(server, session, tmp_path / "out" / "f", sha256=SHA, size=len(DATA))
        assert len(server.paths()) == 1  # a complete body: another attempt would not change it
    assert leftovers(tmp_path / "out") == []


@pytest.mark.parametrize("listed", [len(DATA) + 1786, len(DATA) - 1786], ids=["shorter", "longer"])
def test_complete_body_of_another_size_is_a_different_file_not_a_truncation(
    listed: int, root: Path, tmp_path: Path, session: requests.Session
) -> None:
    # What a mirror mid-sync does: the plain path serves another generation, complete and valid.
    listed_sha = hashlib.sha256(b"the generation the Release signs").hexdigest()
    with serve(root) as server:
        with pytest.raises(HashMismatchError) as caught:
            get(server, session, tmp_path / "out" / "f", sha256=listed_sha, size=listed)
        assert len(server.paths()) == 1
    message = str(caught.value)
    assert message == (
        f"{server.url}/file.bin is a different file than the signed Release lists "
        f"({len(DATA)} bytes, SHA256 {SHA}, where it lists {listed} bytes, SHA256 {listed_sha})"
    )
    assert "--mirror" in (caught.value.hint or "")
    assert leftovers(tmp_path / "out") == []


def test_endless_body_is_cut_off(root: Path, tmp_path: Path, session: requests.Session) -> None:
    cut = r"different file .*more than \d+ bytes arrived"
    with serve(root) as server, pytest.raises(HashMismatchError, match=cut):
        get(server, session, tmp_path / "out" / "f", size=10)
    assert leftovers(tmp_path / "out") == []


def test_interrupted_download_leaves_no_partial_file(
    root: Path, tmp_path: Path, session: requests.Session
) -> None:
    class Killed(Exception):
        pass

    def die(_: int) -> None:
        raise Killed  # as if the process were interrupted mid-stream

    with serve(root) as server, pytest.raises(Killed):
        get(server, session, tmp_path / "out" / "f", sha256=SHA, progress=die)
    assert leftovers(tmp_path / "out") == []


def test_retry_delays_grow_and_are_capped() -> None:
    policy = RetryPolicy(backoff=0.5, max_delay=1.5)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 1.5, 1.5]


class _ShortBodyAdapter(requests.adapters.BaseAdapter):
    """A transport that returns half a body under the full Content-Length without raising, as
    urllib3 1.x does (it did not enforce Content-Length): debforge must still see the cut."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def send(self, request: requests.PreparedRequest, *args: object, **kwargs: object) -> requests.Response:
        del args, kwargs
        self.sent += 1
        response = requests.Response()
        response.status_code, response.url, response.request = 200, request.url or "", request
        response.headers["Content-Length"] = str(len(DATA))
        response.raw = io.BytesIO(DATA[: len(DATA) // 2])
        return response

    def close(self) -> None:
        pass


def test_body_shorter_than_its_content_length_is_a_retried_cut(
    tmp_path: Path, session: requests.Session
) -> None:
    adapter = _ShortBodyAdapter()
    session.mount("http://short.invalid/", adapter)
    cut = r"cut short \(524288 of 1048576 bytes\) \(gave up after 3 attempts\)"
    with pytest.raises(FetchError, match=cut):
        fetch(
            session, "http://short.invalid/f", tmp_path / "out" / "f", want=Expected(sha256=SHA), retry=FAST
        )
    assert adapter.sent == 3
    assert leftovers(tmp_path / "out") == []
