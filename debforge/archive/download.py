""".deb downloads into the blob cache: parallel, verified by size and SHA256, atomic, retried."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from debforge.archive.http import Expected, fetch
from debforge.archive.index import PackageRecord
from debforge.errors import ArchiveError, OfflineError

if TYPE_CHECKING:
    import requests

    from debforge.cache import Cache
    from debforge.report import Bar
    from debforge.session import Session


def download_packages(
    session: Session, records: Sequence[PackageRecord], *, jobs: int = 8
) -> dict[str, Path]:
    """sha256 → path of each record's verified .deb in the blob cache, downloading what is missing."""
    with downloading(session, records, jobs=jobs) as debs:
        return {sha: debs[sha] for sha in debs}


class PendingDebs(Mapping[str, Path]):
    """sha256 → blob path of each record's .deb; looking one up waits until that one is downloaded (and
    raises its download's error)."""

    def __init__(
        self, cache: Cache, unique: Mapping[str, PackageRecord], pending: Mapping[str, Future[None]]
    ):
        self._cache, self._unique, self._pending = cache, unique, pending

    def __getitem__(self, sha256: str) -> Path:
        if sha256 not in self._unique:
            raise KeyError(sha256)
        if (future := self._pending.get(sha256)) is not None:
            future.result()
        return self._cache.blob(sha256)

    def __iter__(self) -> Iterator[str]:
        return iter(self._unique)

    def __len__(self) -> int:
        return len(self._unique)


@contextmanager
def downloading(
    session: Session, records: Sequence[PackageRecord], *, jobs: int = 8
) -> Iterator[PendingDebs]:
    """The records' debs, downloaded in `records` order on `jobs` threads while the block already uses
    the first ones (a cold image unpacks as the rest arrive). Leaving the block cancels what has not
    started and waits for what has."""
    cache = session.cache.ensure()
    unique = {r.sha256: r for r in records}
    for record in unique.values():
        if not record.sha256 or not record.url:
            raise ArchiveError(f"{record.name} {record.version} has no SHA256 or URL in the index")
    missing = [r for r in unique.values() if not cache.has_blob(r.sha256)]
    if missing and session.offline:
        names = ", ".join(f"{r.name}_{r.version}" for r in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""  # noqa: PLR2004 - list length
        raise OfflineError(
            f"--offline forbids downloading {names}{more}, which are not in the cache",
            hint="run the same command once without --offline",
        )
    if not missing:
        yield PendingDebs(cache, unique, {})
        return
    with _downloads(session, missing, jobs=jobs) as pending:
        yield PendingDebs(cache, unique, pending)


@contextmanager
def _downloads(
    session: Session, missing: Sequence[PackageRecord], *, jobs: int
) -> Iterator[dict[str, Future[None]]]:
    lock = threading.Lock()

    def one(record: PackageRecord, bar: Bar, http: requests.Session) -> None:
        def advance(n: int) -> None:
            with lock:
                bar.advance(n)

        # Written beside its final name and renamed in only once size and SHA256 match.
        index = f"the Packages index of {record.suite}" if record.suite else "the Packages index"
        want = Expected(sha256=record.sha256, size=record.size, listed_by=index)
        fetch(http, record.url, session.cache.blob(record.sha256), want=want, retry=session.retry,
              progress=advance)  # fmt: skip

    total = sum(r.size for r in missing)
    with (
        _worker_sessions(session) as http_for_thread,
        session.reporter.progress(f"Downloading {len(missing)} packages", total) as bar,
        ThreadPoolExecutor(max_workers=max(1, jobs)) as pool,
    ):
        futures = {r.sha256: pool.submit(lambda r: one(r, bar, http_for_thread()), r) for r in missing}
        try:
            yield futures
            for future in futures.values():
                future.result()  # re-raises the first failure (the others finish or fail on their own)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _worker_sessions(session: Session) -> Iterator[Callable[[], requests.Session]]:
    """One requests session per worker thread (a requests Session is not thread-safe), each with the
    run's headers (`Session.http()`), all closed when the downloads are over."""
    import requests  # noqa: PLC0415 - lazy: only a cold run downloads

    headers = dict(session.http().headers)  # here, in one thread: Session.http() opens lazily
    local = threading.local()
    opened: list[requests.Session] = []
    lock = threading.Lock()

    def get() -> requests.Session:
        http: requests.Session | None = getattr(local, "http", None)
        if http is None:
            http = local.http = requests.Session()
            http.headers.update(headers)
            with lock:
                opened.append(http)
        return http

    try:
        yield get
    finally:
        for http in opened:
            http.close()
