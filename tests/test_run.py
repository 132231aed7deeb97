"""The runner: typed errors for failures, missing tools and signals."""

from __future__ import annotations

import pytest

from debforge.errors import CommandError, DebforgeError, ToolMissingError
from debforge.run import run


def test_captures_output() -> None:
    done = run(["sh", "-c", "echo out; echo err >&2"])
    assert done.text == "out\n"
    assert done.stderr == b"err\n"


def test_failure_carries_stderr_tail() -> None:
    with pytest.raises(CommandError) as info:
        run(["sh", "-c", "echo first >&2; echo 'the reason' >&2; exit 3"])
    assert info.value.returncode == 3
    assert str(info.value) == "sh failed with exit code 3: the reason"


def test_check_false_returns_status() -> None:
    assert run(["sh", "-c", "exit 4"], check=False).returncode == 4


def test_missing_tool_names_package() -> None:
    with pytest.raises(ToolMissingError) as info:
        run(["dpkg-shlibdeps-not-here"])
    assert "is not installed" in str(info.value)
    assert info.value.hint == "apt install dpkg-shlibdeps-not-here"


def test_signal_is_reported() -> None:
    with pytest.raises(DebforgeError, match="interrupted by SIGKILL"):
        run(["sh", "-c", "kill -9 $$"])
