"""HTTP downloads: streaming, verified by size and SHA256 while they arrive, atomic, retried.

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

from debforge import __version__
from debforge.cache import atomic_output
from debforge.errors import FetchError, HashMismatchError

if TYPE_CHECKING:
    import requests

_CHUNK = 1 << 16
_HTTP_ERROR = 400
_HTTP_SERVER_ERROR = 500
_HTTP_NOT_MODIFIED = 304


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently to retry: resets, timeouts, truncation and 5xx are retried."""

    attempts: int = 4
    backoff: float = 0.5  # first delay in seconds, doubled after each failure
    max_delay: float = 8.0
    timeout: float = 30.0  # connect and per-read timeout

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failed attempt."""
        return float(min(self.max_delay, self.backoff * 2 ** (failures - 1)))


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True, slots=True, kw_only=True)
class Fetched:
    """The outcome of one download: what arrived, or that the server's copy did not change."""

    not_modified: bool
    sha256: str = ""
    size: int = 0
    etag: str | None = None
    last_modified: str | None = None


class _Retryable(Exception):
    """A failure worth another attempt (the message says what happened)."""


def make_session() -> requests.Session:
    """A requests session with debforge's User-Agent (connection pooling across downloads)."""
    import requests  # noqa: PLC0415 - lazy: warm runs never need it (0.1 s of start-up)

    session = requests.Session()
    session.headers["User-Agent"] = f"debforge/{__version__}"
    return session


def fetch(
    session: requests.Session,
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    headers: Mapping[str, str] | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    progress: Callable[[int], None] | None = None,
) -> Fetched:
    """Download `url` to `dest` atomically, checking `size`/`sha256` when given; retry transient faults.

    A 304 answer to conditional `headers` returns `Fetched(not_modified=True)` and leaves `dest` alone.
    """
    failures = 0
    while True:
        try:
            return _fetch_once(
                session,
                url,
                dest,
                sha256=sha256,
                size=size,
                headers=headers,
                timeout=retry.timeout,
                progress=progress,
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
    sha256: str | None,
    size: int | None,
    headers: Mapping[str, str] | None,
    timeout: float,
    progress: Callable[[int], None] | None,
) -> Fetched:
    import requests  # noqa: PLC0415 - lazy, as in make_session

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
            got_sha, got_size = _stream(response, dest, sha256, size, progress)
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
    response: requests.Response,
    dest: Path,
    sha256: str | None,
    size: int | None,
    progress: Callable[[int], None] | None,
) -> tuple[str, int]:
    """Write the body to a temporary file beside `dest`, hashing it; rename it in only if it verifies."""
    digest = hashlib.sha256()
    written = 0
    with atomic_output(dest) as tmp:
        with tmp.open("wb") as out:
            for chunk in response.iter_content(_CHUNK):
                if size is not None and written + len(chunk) > size:
                    raise HashMismatchError(
                        f"{response.url} is larger than the {size} bytes the signed Release lists"
                    )
                out.write(chunk)
                digest.update(chunk)
                written += len(chunk)
                if progress is not None:
                    progress(len(chunk))
        _verify(response.url, written, digest.hexdigest(), sha256, size)
    return digest.hexdigest(), written


def _verify(url: str, written: int, got: str, sha256: str | None, size: int | None) -> None:
    if size is not None and written < size:
        # A short body is a transport fault (a proxy or mirror cut it off): worth a retry.
        raise _Retryable(f"the file was truncated ({written} of {size} bytes)")
    if sha256 is not None and got != sha256:
        raise HashMismatchError(
            f"{url} has SHA256 {got} but the signed Release lists {sha256}",
            hint="the mirror may be syncing or tampered with; try again later or use another --mirror",
        )
