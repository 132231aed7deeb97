""".deb downloads into the blob cache: parallel, verified by size and SHA256, atomic, retried."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from debforge.archive.fetch import Net
from debforge.archive.http import DEFAULT_RETRY, RetryPolicy
from debforge.archive.index import PackageRecord
from debforge.cache import Cache
from debforge.errors import ArchiveError, OfflineError

if TYPE_CHECKING:
    from debforge.report import Bar, Reporter


def download_packages(
    records: Sequence[PackageRecord],
    cache: Cache,
    reporter: Reporter,
    *,
    jobs: int = 8,
    offline: bool = False,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> dict[str, Path]:
    """sha256 → path of each record's verified .deb in the blob cache, downloading what is missing."""
    cache.ensure()
    unique = {r.sha256: r for r in records}
    for record in unique.values():
        if not record.sha256 or not record.url:
            raise ArchiveError(f"{record.name} {record.version} has no SHA256 or URL in the index")
    missing = [r for r in unique.values() if not cache.has_blob(r.sha256)]
    if missing and offline:
        names = ", ".join(f"{r.name}_{r.version}" for r in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""  # noqa: PLR2004 - list length
        raise OfflineError(
            f"--offline forbids downloading {names}{more}, which are not in the cache",
            hint="run the same command once without --offline",
        )
    if missing:
        _download_all(missing, cache, reporter, jobs=jobs, retry=retry)
    return {sha: cache.blob(sha) for sha in unique}


def _download_all(
    missing: Sequence[PackageRecord], cache: Cache, reporter: Reporter, *, jobs: int, retry: RetryPolicy
) -> None:
    local = threading.local()  # one HTTP session per worker thread: requests sessions are not thread-safe
    nets: list[Net] = []
    lock = threading.Lock()

    def one(record: PackageRecord, bar: Bar) -> None:
        net: Net | None = getattr(local, "net", None)
        if net is None:
            net = local.net = Net(retry)
            with lock:
                nets.append(net)

        def advance(n: int) -> None:
            with lock:
                bar.advance(n)

        # Written beside its final name and renamed in only once size and SHA256 match.
        dest = cache.blob(record.sha256)
        index = f"the Packages index of {record.suite}" if record.suite else "the Packages index"
        net.get(record.url, dest, sha256=record.sha256, size=record.size, progress=advance, listed_by=index)

    total = sum(r.size for r in missing)
    try:
        with (
            reporter.progress(f"Downloading {len(missing)} packages", total) as bar,
            ThreadPoolExecutor(max_workers=max(1, jobs)) as pool,
        ):
            for future in [pool.submit(one, r, bar) for r in missing]:
                future.result()  # re-raises the first failure (the others finish or fail on their own)
    finally:
        for net in nets:
            net.close()
