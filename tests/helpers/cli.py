"""The real `debforge` CLI in a subprocess, with a minimal environment, for CLI tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def run_debforge(
    *args: str, cache: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m debforge ARGS` with its own cache, 200 columns and umask 022 (as CI and login shells)."""
    return subprocess.run(
        [sys.executable, "-m", "debforge", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "DEBFORGE_CACHE": str(cache), "COLUMNS": "200", **(env or {})},
        umask=0o022,
    )
