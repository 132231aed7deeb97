"""The only subprocess entry point: argv lists, debug logging, typed errors."""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from debforge.errors import CommandError, DebforgeError, ToolMissingError

log = logging.getLogger("debforge.run")

# Debian package that ships each tool debforge drives, for the "apt install" hint.
_PROVIDERS = {
    "gpgv": "gpgv",
    "gpg": "gpg",
    "dpkg-deb": "dpkg",
    "dpkg-shlibdeps": "dpkg-dev",
    "apt-get": "apt",
    "lintian": "lintian",
    "patchelf": "patchelf",
    "docker": "docker.io",
    "dockerd": "docker.io",
    "xz": "xz-utils",
    "zstd": "zstd",
}

Argv = Sequence[str | os.PathLike[str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Completed:
    """What a finished command left behind."""

    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        """stdout decoded as UTF-8 (replacement characters for bad bytes)."""
        return self.stdout.decode("utf-8", "replace")


def tool_hint(tool: str) -> str:
    """The command that installs `tool` on Debian."""
    return f"apt install {_PROVIDERS.get(tool, tool)}"


def which(tool: str) -> str | None:
    """The full path of `tool` on PATH, or None."""
    return shutil.which(tool)


def run(
    argv: Argv,
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> Completed:
    """Run argv to completion and capture its output; raise CommandError on failure when `check`."""
    args = tuple(os.fspath(a) for a in argv)
    log.debug("run: %s", shlex.join(args))
    try:
        proc = subprocess.run(
            args,
            cwd=cwd,
            env=None if env is None else dict(env),
            input=input,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ToolMissingError(args[0], hint=tool_hint(args[0])) from exc
    except subprocess.TimeoutExpired as exc:
        raise DebforgeError(f"{args[0]} did not finish within {timeout:g} s") from exc
    done = Completed(argv=args, returncode=proc.returncode, stdout=proc.stdout, stderr=proc.stderr)
    if check and proc.returncode != 0:
        raise _failure(done)
    return done


def _failure(done: Completed) -> DebforgeError:
    if done.returncode == 127:  # noqa: PLR2004 - the shell's "command not found" status
        return ToolMissingError(done.argv[0], hint=tool_hint(done.argv[0]))
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        return DebforgeError(f"{done.argv[0]} was interrupted by {name}")
    tail = "\n".join(done.stderr.decode("utf-8", "replace").splitlines()[-20:])
    return CommandError(done.argv, done.returncode, tail)
