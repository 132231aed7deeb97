"""Shell completion (typer's): the script for a shell, and the completions the shell asks for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers.cli import run_debforge


def _debforge(*args: str, env: dict[str, str], cache: Path) -> subprocess.CompletedProcess[str]:
    return run_debforge(*args, cache=cache, env=env)


def test_help_offers_completion(tmp_path: Path) -> None:
    done = _debforge("--help", env={}, cache=tmp_path)
    assert done.returncode == 0
    assert "--install-completion" in done.stdout and "--show-completion" in done.stdout


def test_show_completion_prints_the_bash_script(tmp_path: Path) -> None:
    # typer detects the shell from the parent process: run it from bash (`; exit` keeps bash the
    # parent instead of exec'ing python in its place).
    done = subprocess.run(
        ["bash", "-c", '"$0" -m debforge --show-completion; exit $?', sys.executable],
        capture_output=True, text=True, check=False, timeout=60,
        env={"PATH": "/usr/bin:/bin", "DEBFORGE_CACHE": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "_DEBFORGE_COMPLETE=complete_bash" in done.stdout
    assert "complete -o default -F _debforge_completion debforge" in done.stdout


def test_bash_completes_commands_and_options(tmp_path: Path) -> None:
    def complete(line: str) -> list[str]:
        # What bash's completion function hands over: the words so far and the index of the current one.
        cword = str(len(line.split(" ")) - 1)
        env = {"_DEBFORGE_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": cword}
        done = _debforge(env=env, cache=tmp_path)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("debforge pack") == ["package"]
    assert "--dist" in complete("debforge package --di")
    assert set(complete("debforge repo ")) >= {"init", "add", "publish"}
