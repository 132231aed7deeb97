"""Shared test set-up: reference tools that skip locally but fail in CI."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str) -> str:
    """Path of a reference tool; skip the test when absent, or fail it when DEBFORGE_REQUIRE_TOOLS=1."""
    path = shutil.which(name)
    if path:
        return path
    message = f"reference tool {name} is not installed (run scripts/setup-host.sh)"
    if os.environ.get("DEBFORGE_REQUIRE_TOOLS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def require_docker() -> None:
    """Skip (or fail in CI) when no Docker engine answers."""
    try:
        import docker

        docker.from_env(timeout=10).ping()
    except Exception as exc:
        message = f"no Docker engine answers ({exc}); run scripts/setup-host.sh"
        if os.environ.get("DEBFORGE_REQUIRE_TOOLS") == "1":
            pytest.fail(message)
        pytest.skip(message)
