"""HTTP downloads: streaming, verified by size and SHA256 while they arrive, atomic, retried.

Two failures look alike and are not: a body cut short (fewer bytes than the server's own
Content-Length, or a dropped connection) is a transport fault and is retried; a complete body
whose size or SHA256 differs from the signed index is a *different file* (a mirror mid-sync
serving another generation), which another attempt will not fix, so it is reported at once.

`requests` is imported only when a download really happens, so a warm run that needs no
network never pays for importing it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from debforge.cache import atomic_output
from debforge.errors import FetchError, HashMismatchError
from debforge.session import DEFAULT_RETRY, RetryPolicy

if TYPE_CHECKING:
    import requests

_CHUNK = 1 << 16
_HTTP_ERROR = 400
_HTTP_SERVER_ERROR = 500
_HTTP_NOT_MODIFIED = 304


@dataclass(frozen=True, slots=True, kw_only=True)
class Fetched:
    """The outcome of one download: what arrived, or that the server's copy did not change."""

    not_modified: bool
    sha256: str = ""
    size: int = 0
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Expected:
    """What the signed index says the body must be (None: not checked) and which index says so."""

    sha256: str | None = None
    size: int | None = None
    listed_by: str = "the signed Release"

    def describe(self) -> str:
        """`12640831 bytes, SHA256 …`: what the index lists, as far as it was given."""
        size = [f"{self.size} bytes"] if self.size is not None else []
        return ", ".join(size + ([f"SHA256 {self.sha256}"] if self.sha256 else []))

    def cap(self) -> int | None:
        """Bytes read at most: a larger body is still hashed (to name it), but never without bound."""
        return None if self.size is None else 2 * self.size + _CHUNK


UNCHECKED = Expected()  # any body will do (an InRelease: gpgv checks it)


class _Retryable(Exception):
    """A failure worth another attempt (the message says what happened)."""


def fetch(
    session: requests.Session,
    url: str,
    dest: Path,
    *,
    want: Expected = UNCHECKED,
    headers: Mapping[str, str] | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    progress: Callable[[int], None] | None = None,
) -> Fetched:
    """Download `url` to `dest` atomically, checking the size/SHA256 `want` gives; retry transient faults.

    `session` is the run's requests session (`Session.http()`). A 304 answer to conditional `headers`
    returns `Fetched(not_modified=True)` and leaves `dest` alone. A complete body that does not match
    raises HashMismatchError naming `want.listed_by` (not retried).
    """
    failures = 0
    while True:
        try:
            return _fetch_once(
                session, url, dest, want=want, headers=headers, timeout=retry.timeout, progress=progress
            )
        except _Retryable as exc:
            failures += 1
            if failures >= retry.attempts:
                raise FetchError(
                    f"could not download {url}: {exc} (gave up after {failures} attempts)",
                    hint="check the network and the mirror (--mirror), then try again",
                ) from exc
            time.sleep(retry.delay(failures))


def _fetch_once(
    session: requests.Session,
    url: str,
    dest: Path,
    *,
    want: Expected,
    headers: Mapping[str, str] | None,
    timeout: float,
    progress: Callable[[int], None] | None,
) -> Fetched:
    import requests  # noqa: PLC0415 - lazy: warm runs never need it (0.1 s of start-up)

    try:
        with session.get(url, headers=dict(headers or {}), stream=True, timeout=timeout) as response:
            if response.status_code == _HTTP_NOT_MODIFIED:
                return Fetched(not_modified=True)
            if response.status_code >= _HTTP_SERVER_ERROR:
                raise _Retryable(f"the server answered {response.status_code} {response.reason}")
            if response.status_code >= _HTTP_ERROR:
                raise FetchError(
                    f"could not download {url}: the server answered {response.status_code} {response.reason}",
                    hint="check the mirror URL (--mirror), the dist and the architecture",
                )
            got_sha, got_size = _stream(response, dest, want, progress)
            return Fetched(
                not_modified=False, sha256=got_sha, size=got_size,
                etag=response.headers.get("ETag"), last_modified=response.headers.get("Last-Modified"),
            )  # fmt: skip
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _Retryable(_reason(exc)) from exc
    except requests.exceptions.ChunkedEncodingError as exc:  # connection dropped mid-body
        raise _Retryable(f"the transfer was cut short ({_reason(exc)})") from exc


def _reason(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 200 else text[:200] + "…"  # noqa: PLR2004 - keep the sentence short


def _stream(
    response: requests.Response, dest: Path, want: Expected, progress: Callable[[int], None] | None
) -> tuple[str, int]:
    """Write the body to a temporary file beside `dest`, hashing it; rename it in only if it verifies."""
    digest = hashlib.sha256()
    written = 0
    cap = want.cap()
    with atomic_output(dest) as tmp:
        with tmp.open("wb") as out:
            for chunk in response.iter_content(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                written += len(chunk)
                if cap is not None and written > cap:
                    raise _different(response.url, want, f"more than {cap} bytes arrived")
                if progress is not None:
                    progress(len(chunk))
        _check_complete(response, written)
        if (want.size is not None and written != want.size) or want.sha256 not in (None, digest.hexdigest()):
            raise _different(response.url, want, f"{written} bytes, SHA256 {digest.hexdigest()}")
    return digest.hexdigest(), written


def _check_complete(response: requests.Response, written: int) -> None:
    """Raise a retryable fault when fewer bytes arrived than the server's own Content-Length announced.

    urllib3 2 already raises on such a short read; this keeps the rule independent of that setting.
    With a Content-Encoding the header counts encoded bytes, so it cannot be compared.
    """
    length = response.headers.get("Content-Length", "")
    encoded = response.headers.get("Content-Encoding", "identity") != "identity"
    if not encoded and length.isdigit() and written < int(length):
        raise _Retryable(f"the transfer was cut short ({written} of {length} bytes)")


def _different(url: str, want: Expected, served: str) -> HashMismatchError:
    # A complete body of another size/hash is another generation of the file (a mirror mid-sync),
    # not a truncation: apt reports it as "File has unexpected size"/"Hash Sum mismatch" too.
    return HashMismatchError(
        f"{url} is a different file than {want.listed_by} lists ({served}, where it lists {want.describe()})",
        hint="the mirror may be in the middle of an update (or tampered with); "
        "retry later or pick another --mirror",
    )
