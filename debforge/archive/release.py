"""InRelease: verify the OpenPGP signature with gpgv, then parse the signed Release text."""

from __future__ import annotations

import datetime as dt
import email.utils
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from debforge.errors import CommandError, SignatureError
from debforge.run import run


@dataclass(frozen=True, slots=True, kw_only=True)
class FileEntry:
    """One index file the Release lists: path under dists/<suite>/, size, SHA256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Release:
    """The signed fields of a Release file that debforge relies on."""

    suite: str
    codename: str
    date: dt.datetime | None
    valid_until: dt.datetime | None
    acquire_by_hash: bool
    files: dict[str, FileEntry] = field(repr=False)
    # apt's default pin of the suite's versions (apt_preferences(5)): 500, or 1 for NotAutomatic: yes,
    # or 100 when ButAutomaticUpgrades: yes goes with it (backports).
    pin: int = 500
    architectures: tuple[str, ...] = ()  # Architectures: what the suite carries (empty: not stated)

    def entry(self, *paths: str) -> FileEntry | None:
        """The first of `paths` the Release lists (e.g. Packages.xz, then Packages.gz)."""
        return next((self.files[p] for p in paths if p in self.files), None)


def parse_date(text: str) -> dt.datetime | None:
    """An RFC 1123 date as the archive writes it (`Sat, 07 Oct 2023 09:52:34 UTC`), in UTC.

    >>> parse_date("Sat, 07 Oct 2023 09:52:34 UTC").isoformat()
    '2023-10-07T09:52:34+00:00'
    """
    try:
        parsed = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError):
        return None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def parse_release(text: str) -> Release:
    """Parse the (already verified) text of a Release file."""
    fields: dict[str, str] = {}
    files: dict[str, FileEntry] = {}
    current = ""
    for line in text.splitlines():
        if line[:1] in (" ", "\t"):
            # Continuation lines of SHA256 are ` <sha256> <size> <path>` (apt reads only SHA256+).
            parts = line.split()
            if current == "SHA256" and len(parts) == 3:  # noqa: PLR2004 - sha, size, path
                files[parts[2]] = FileEntry(path=parts[2], size=int(parts[1]), sha256=parts[0])
            continue
        current, _, value = line.partition(":")
        fields[current] = value.strip()
    valid_until = fields.get("Valid-Until")
    return Release(
        suite=fields.get("Suite", ""), codename=fields.get("Codename", ""),
        date=parse_date(fields["Date"]) if "Date" in fields else None,
        valid_until=parse_date(valid_until) if valid_until else None,
        acquire_by_hash=fields.get("Acquire-By-Hash", "no").lower() == "yes", files=files,
        pin=_default_pin(fields), architectures=tuple(fields.get("Architectures", "").split()),
    )  # fmt: skip


def _default_pin(fields: dict[str, str]) -> int:
    """apt's priority for a suite with no preferences: 500, NotAutomatic 1, plus ButAutomaticUpgrades 100.

    >>> _default_pin({"NotAutomatic": "yes", "ButAutomaticUpgrades": "yes"}), _default_pin({})
    (100, 500)
    """
    if fields.get("NotAutomatic", "").lower() != "yes":
        return 500
    return 100 if fields.get("ButAutomaticUpgrades", "").lower() == "yes" else 1


def verify_inrelease(inrelease: Path, keyring: Path, *, what: str) -> str:
    """Check the signature of an InRelease file with gpgv and return only the signed text.

    Using gpgv's own output (not the file) guarantees nothing outside the signature is parsed.
    """
    if not keyring.is_file():
        raise SignatureError(
            f"the archive keyring {keyring} does not exist, so {what} cannot be verified",
            hint="apt install debian-archive-keyring, or pass --keyring PATH",
        )
    with tempfile.TemporaryDirectory(prefix="debforge-gpgv-") as tmp:
        out = Path(tmp) / "Release"
        try:
            run(["gpgv", "--keyring", keyring, "--output", out, inrelease], check=True, timeout=120)
        except CommandError as exc:
            raise SignatureError(
                f"the signature of {what} does not verify against {keyring}",
                hint="the file is unsigned, tampered with or signed by another key; check --keyring/--mirror",
            ) from exc
        return out.read_text(encoding="utf-8", errors="replace")
