"""One Session per run (mkosi's `Context`): the cache, the reporter, the network, Docker, scratch space.

Stages take a Session instead of threading `cache`, `reporter`, `net` and `offline` through every
call. Per-run mutable state lives here and nowhere else: the lazily opened HTTP session and Docker
client (a warm run that needs neither never imports requests or docker-py), what the engine said
about itself and whether it shares this filesystem, and the temporary workspace. A Session talks to
ONE engine, its target's (`--engine ARCH=ENDPOINT`, engines.py): a matrix opens one per pair.
`close()` releases the clients and the workspace; the CLI opens one with `with Session(...) as session:`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from debforge import __version__
from debforge.cache import Cache
from debforge.engines import Endpoint, EngineFacts, connect, describe, engine_facts
from debforge.report import NullReporter, Reporter

if TYPE_CHECKING:
    import docker
    import requests


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
DEFAULT_TTL = 3600.0  # seconds a checked InRelease counts as fresh


@dataclass(frozen=True, slots=True, kw_only=True)
class Freshness:
    """When a cached InRelease is used: checked less than `ttl` seconds ago, and within its Valid-Until
    unless `check_valid_until` is off (apt's Acquire::Check-Valid-Until=false, for frozen mirrors such
    as snapshot.debian.org, whose InRelease outlives its Valid-Until: used with a warning)."""

    ttl: float = DEFAULT_TTL
    check_valid_until: bool = True


DEFAULT_FRESHNESS = Freshness()


class Session:
    """What one debforge run shares across its stages; see the module docstring."""

    def __init__(
        self,
        *,
        cache: Cache,
        reporter: Reporter | None = None,
        offline: bool = False,
        freshness: Freshness = DEFAULT_FRESHNESS,
        retry: RetryPolicy = DEFAULT_RETRY,
        keep: bool = False,
        engine: Endpoint | None = None,
    ) -> None:
        self.cache = cache
        self.reporter: Reporter = reporter or NullReporter()
        self.offline = offline
        self.ttl = freshness.ttl
        self.check_valid_until = freshness.check_valid_until
        self.retry = retry
        self.keep = keep  # leave containers behind for inspection (`--keep`)
        self.engine = engine or Endpoint()  # the Docker engine of this run's target (`--engine`)
        # Proved by the runner's marker-file probe, once per run: None until asked.
        self.shares_filesystem: bool | None = None
        self._facts: EngineFacts | None = None
        self._http: requests.Session | None = None
        self._docker: docker.DockerClient | None = None
        self._workspace: Path | None = None

    def http(self) -> requests.Session:
        """The run's pooled HTTP session (debforge's User-Agent), opened on first use."""
        if self._http is None:
            import requests  # noqa: PLC0415 - lazy: warm runs never need it (0.1 s of start-up)

            self._http = requests.Session()
            self._http.headers["User-Agent"] = f"debforge/{__version__}"
        return self._http

    def docker(self) -> docker.DockerClient:
        """The run's Docker engine (`--engine`, else DOCKER_HOST or the current context), connected once."""
        if self._docker is None:
            self._docker = connect(self.engine)
        return self._docker

    def engine_facts(self) -> EngineFacts:
        """The engine's architecture and versions, asked once."""
        if self._facts is None:
            self._facts = engine_facts(self.docker())
        return self._facts

    def engine_name(self) -> str:
        """How messages name the run's engine."""
        return describe(self.engine)

    def workspace(self) -> Path:
        """A scratch directory for this run on the cache's filesystem (renames into the cache stay atomic)."""
        if self._workspace is None:
            self._workspace = self.cache.ensure().tempdir("session-")
        return self._workspace

    def close(self) -> None:
        """Close the clients and remove the workspace."""
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._docker is not None:
            self._docker.close()
            self._docker = None
        if self._workspace is not None:
            shutil.rmtree(self._workspace, ignore_errors=True)
            self._workspace = None

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
