"""What the CLI prints is the user's text, verbatim, one message per line, and log-friendly off a terminal.

Recipe keys (`[package.metadata.deb]`), dist names (`[test]`) and tool output (`[/etc/apt]`) look
like rich markup; each must come out exactly as written, never eaten, restyled or crashing.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from debforge.report import RichReporter
from tests.test_repo import make_deb

LONG_KEY = "k" * 180  # the warning naming it is well over 200 characters


def _debforge(
    *args: str, cwd: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real CLI with stdout/stderr on pipes (not a terminal) and rich's default 80 columns."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBFORGE_CACHE": str(cwd / "cache"),
        "HOME": str(cwd),
        **(extra_env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "debforge", *args],
        capture_output=True, text=True, check=False, timeout=120, cwd=cwd, env=env,
    )  # fmt: skip


def _cargo_project(root: Path) -> Path:
    """A Cargo project whose [package.metadata.deb] has keys debforge warns about, and a bad value."""
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.rs").write_text("fn main() {}\n")
    (root / "Cargo.toml").write_text(
        '[package]\nname = "brackets"\nversion = "1.0.0"\nedition = "2021"\ndescription = "test"\n'
        'authors = ["A B <a@example.org>"]\nlicense = "MIT"\n\n'
        f'[package.metadata.deb]\n"[/etc/apt]" = 1\nassetz = []\n{LONG_KEY} = 1\n'
        "section = 5\n"  # an error after the warnings, before any download or build
    )
    return root


def _assert_no_blank_lines(text: str) -> None:
    assert all(line.strip() for line in text.splitlines()), repr(text)


# ---------------------------------------------------------------- the real CLI, not a terminal


def test_warnings_and_error_keep_brackets_and_stay_on_one_line(tmp_path: Path) -> None:
    project = _cargo_project(tmp_path / "proj")
    done = _debforge("package", str(project), "--offline", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    toml = "proj/Cargo.toml"  # shown relative to the working directory
    assert f"warning: unknown key '[/etc/apt]' in [package.metadata.deb] of {toml} (ignored)" in lines
    assert (
        f"warning: unknown key 'assetz' in [package.metadata.deb] of {toml}; did you mean 'assets'? (ignored)"
        in lines
    )
    long = [line for line in lines if LONG_KEY in line]
    assert len(long) == 1, done.stderr  # 200+ characters, not wrapped at 80 columns
    assert len(long[0]) > 200 and long[0].startswith("warning: unknown key 'kkk")
    assert long[0].endswith(f"in [package.metadata.deb] of {toml} (ignored)")
    bad = "expected a string, found an integer"
    assert lines[-1] == f"error: invalid 'section' in [package.metadata.deb] of {toml}: {bad}"
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    _assert_no_blank_lines(done.stderr)


def test_error_text_that_looks_like_markup_is_printed_verbatim(tmp_path: Path) -> None:
    done = _debforge(
        "repo", "init", "--repo", str(tmp_path / "r"), "--dist", "bookworm", "--arch", "arm64",
        "--key-file", "[/etc/apt]", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    # `[/etc/apt]` used to raise rich's MarkupError, shown as an "internal error".
    assert done.stderr.splitlines() == ["error: key file [/etc/apt] does not exist"]


@pytest.mark.parametrize("progress", [None, "plain"])
def test_steps_in_a_log_are_one_line_each_with_time(tmp_path: Path, progress: str | None) -> None:
    # Dist names cannot hold brackets (they become directory names), so the user text here is the
    # repository path; brackets inside a step title are checked on the reporter itself below.
    repo = tmp_path / "[r]"
    deb = make_deb(tmp_path, "hello", "1.0", "arm64")
    flags = ["--progress", progress] if progress else []  # None: auto, which is plain off a terminal
    assert _debforge("repo", "init", "--repo", str(repo), "--dist", "test", "--arch", "arm64",
                     cwd=tmp_path).returncode == 0  # fmt: skip
    assert _debforge("repo", "add", "--repo", str(repo), str(deb), cwd=tmp_path).returncode == 0
    done = _debforge(*flags, "repo", "publish", "--repo", str(repo), "--unsigned", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"✓ publishing test \(\d+\.\d s\)\n", done.stderr), repr(done.stderr)
    assert "\x1b" not in done.stderr  # no spinner, no cursor movement, no colour in a log
    assert done.stdout == f"published {repo}\n"  # `[r]` is a path, not a markup tag


def test_progress_option_rejects_an_unknown_mode(tmp_path: Path) -> None:
    done = _debforge("--progress", "fancy", "repo", "list", "--repo", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert "fancy" in done.stderr


def test_progress_rich_draws_even_off_a_terminal(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    _debforge("repo", "init", "--repo", str(repo), "--dist", "x", "--arch", "arm64", cwd=tmp_path)
    done = _debforge("--progress", "rich", "repo", "publish", "--repo", str(repo), "--unsigned", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "\x1b[" in done.stderr  # drawn as on a terminal
    assert "publishing x" in done.stderr


# ---------------------------------------------------------------- the reporter itself


def _reporter(*, terminal: bool, plain: bool | None = None) -> tuple[RichReporter, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=80, soft_wrap=True, color_system=None)
    return RichReporter(console, verbose=True, plain=plain), out


@pytest.mark.parametrize("terminal", [False, True])
def test_reporter_prints_literal_text_in_both_modes(terminal: bool) -> None:
    reporter, out = _reporter(terminal=terminal)
    with reporter.step("Checking [bookworm] and [/etc/apt]"), reporter.progress("[/x] 1 of [y]", 10) as bar:
        bar.advance(10)
    reporter.warning("'assets' in [package.metadata.deb] of Cargo.toml")
    reporter.info("tool said [/etc/apt] and [test]")
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\r", "", out.getvalue())
    assert re.search(r"✓ Checking \[bookworm\] and \[/etc/apt\] \(\d+\.\d s\)", text), text
    assert "warning: 'assets' in [package.metadata.deb] of Cargo.toml" in text
    assert "tool said [/etc/apt] and [test]" in text


def test_plain_reporter_prints_one_line_per_finished_step_and_marks_failures() -> None:
    reporter, out = _reporter(terminal=False)
    assert reporter.plain  # auto: not a terminal
    with reporter.step("outer"), reporter.step("inner"), reporter.progress("download", 100) as bar:
        bar.advance(100)
    with pytest.raises(RuntimeError), reporter.step("breaks [here]"):
        raise RuntimeError("boom")
    lines = out.getvalue().splitlines()
    assert [re.sub(r" \(\d+\.\d s\)$", "", line) for line in lines] == [
        "✓ inner",
        "✓ outer",
        "✗ breaks [here]",
    ]


def test_plain_warning_of_200_characters_is_one_line() -> None:
    reporter, out = _reporter(terminal=False)
    message = "the cached index is stale: " + "x" * 200 + " [see /etc/apt]"
    reporter.warning(message)
    assert out.getvalue() == f"warning: {message}\n"


def test_default_console_is_plain_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a log file, as in CI
    assert RichReporter().plain
    assert not RichReporter(plain=False).plain  # --progress rich
    assert RichReporter(plain=True).plain  # --progress plain
