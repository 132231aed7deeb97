"""One error hierarchy: `str(error)` is the sentence the user sees; only the CLI exits."""

from __future__ import annotations

from collections.abc import Sequence


class DebforgeError(Exception):
    """Base of every error debforge reports to the user."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(DebforgeError):
    """The command line asks for something that cannot be (exit code 2)."""


class TargetError(DebforgeError):
    """Unknown dist or architecture, or a combination Debian does not ship."""


class RecipeError(DebforgeError):
    """A recipe file is malformed or incomplete."""


class CacheError(DebforgeError):
    """The cache directory cannot be used."""


class ArchiveError(DebforgeError):
    """Something is wrong with the Debian archive or what it served."""


class FetchError(ArchiveError):
    """A download failed after all retries."""


class HashMismatchError(ArchiveError):
    """A downloaded file does not match the size or SHA256 the signed Release lists."""


class SignatureError(ArchiveError):
    """A Release file is unsigned, badly signed or expired."""


class OfflineError(ArchiveError):
    """`--offline` was given and something needed is not in the cache."""


class ResolveError(DebforgeError):
    """The requested packages cannot be resolved."""


class UnsatisfiableError(ResolveError):
    """A dependency chain ends in a relation no available package satisfies."""

    def __init__(self, message: str, *, chain: Sequence[str] = (), hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.chain = tuple(chain)


class RootfsError(DebforgeError):
    """A .deb could not be unpacked safely into a tree."""


class ContainerError(DebforgeError):
    """Docker or QEMU could not do what was asked."""


class BuildError(DebforgeError):
    """The project failed to build."""


class ElfError(DebforgeError):
    """An ELF file is unreadable, of the wrong kind, or needs what the target lacks."""


class PackageError(DebforgeError):
    """A .deb cannot be assembled from what was given."""


class InstallCheckError(DebforgeError):
    """A test installation could not be carried out."""


class RepoError(DebforgeError):
    """An apt repository operation failed."""


class CommandError(DebforgeError):
    """An external command exited with a non-zero status."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr_tail: str = "") -> None:
        name = argv[0] if argv else "command"
        detail = f": {stderr_tail.strip().splitlines()[-1]}" if stderr_tail.strip() else ""
        super().__init__(f"{name} failed with exit code {returncode}{detail}")
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class ToolMissingError(DebforgeError):
    """A program debforge drives is not installed."""

    def __init__(self, tool: str, *, hint: str | None = None) -> None:
        super().__init__(f"{tool} is not installed", hint=hint)
        self.tool = tool
