"""--timings: every Reporter step recorded (nesting, failures, other threads) and printed at the end."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from debforge.report import NullReporter, TimedReporter, Timings
from tests.helpers.cli import run_debforge


def test_steps_nest_fail_and_name_their_thread() -> None:
    timings = Timings()
    reporter = TimedReporter(NullReporter(), timings)
    with reporter.step("outer"), reporter.step("inner"):
        pass
    with pytest.raises(ValueError, match="boom"), reporter.step("broken"):
        raise ValueError("boom")

    def beside() -> None:
        with reporter.step("beside"):
            pass

    side = threading.Thread(target=beside, name="runtime-image")
    side.start()
    side.join()
    steps = timings.steps()
    assert [(s.title, s.depth, s.ok, s.thread) for s in steps] == [
        ("outer", 0, True, ""), ("inner", 1, True, ""), ("broken", 0, False, ""),
        ("beside", 0, True, "runtime-image"),
    ]  # fmt: skip
    lines = timings.render().splitlines()
    assert lines[0] == "timings:"
    assert re.fullmatch(r"\s+[\d.]+ s\s+[\d.]+%  @\s+[\d.]+    inner", lines[2])
    assert lines[3].endswith("broken  (failed)")
    assert lines[4].endswith("beside  [runtime-image]")
    assert re.fullmatch(r"\s+[\d.]+ s 100\.0%  total \(wall\)", lines[-1])


def test_the_cli_prints_the_breakdown_last_on_stderr_also_after_an_error(tmp_path: Path) -> None:
    done = run_debforge("--timings", "resolve", "hello", "--offline", cache=tmp_path / "cache")
    assert done.returncode == 1
    assert done.stdout == ""
    error, breakdown = done.stderr.split("timings:\n")
    assert error.startswith("error: ")
    assert breakdown.strip().endswith("total (wall)")
    quiet = run_debforge("resolve", "hello", "--offline", cache=tmp_path / "cache")
    assert "timings:" not in quiet.stderr
