"""`debforge clean --engine ENDPOINT`: prune the build-cache volumes debforge keeps on an engine."""

from __future__ import annotations

from typing import Annotated

import typer

from debforge.cli.options import CacheDir, Json, print_json, reporter, stdout


def clean(
    engine: Annotated[
        list[str] | None,
        typer.Option(
            "--engine",
            metavar="ENDPOINT",
            help="The engine to prune: a Docker context name or URL (default: DOCKER_HOST, else the "
            "current context); ARCH=ENDPOINT as elsewhere is accepted too. Repeatable.",
        ),
    ] = None,
    json_out: Json = False,
    cache_dir: CacheDir = None,
) -> None:
    """Remove debforge's cache volumes (cargo home, target dirs of remote builds) from Docker engines."""
    from debforge.cache import Cache, default_cache_dir
    from debforge.container.volumes import prune_cache_volumes
    from debforge.engines import Endpoint
    from debforge.session import Session

    endpoints = [Endpoint(name=e.split("=", 1)[1] if _is_pair(e) else e) for e in engine or ["default"]]
    cache = Cache(cache_dir or default_cache_dir())  # only for the Session's workspace, never created
    results = []
    for endpoint in dict.fromkeys(endpoints):
        with Session(cache=cache, reporter=reporter(), engine=endpoint) as session:
            results.append((session.engine_name(), *prune_cache_volumes(session)))
    if json_out:
        print_json([{"engine": name, "removed": [v.to_json() for v in removed], "kept": list(kept)}
                    for name, removed, kept in results])  # fmt: skip
        return
    for name, removed, kept in results:
        stdout().print(f"{name}: removed {len(removed)} cache volumes")
        for line in kept:
            stdout().print(f"  kept {line}")


def _is_pair(word: str) -> bool:
    """`arm64=ssh://…` (an --engine of the other commands), not a URL or a context name."""
    head = word.split("=", 1)[0]
    return "=" in word and "://" not in head and "/" not in head
