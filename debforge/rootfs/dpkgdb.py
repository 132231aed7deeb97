"""The dpkg database of an unpacked tree: status stanzas, info files, conffiles and trigger interests.

`write_dpkg_database` lays it out; `DpkgDatabase` reads it back (what dpkg-query answers), so the
format of `info/<pkg>[:arch].list` lives in this one module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from debforge.archive.index import PackageRecord
from debforge.rootfs.extract import INFO_FILES, Unpacked, member_parts


class DpkgDatabase:
    """`dpkg-query --search` and `--control-path` over `<root>/var/lib/dpkg`, read lazily."""

    def __init__(self, root: Path) -> None:
        self.info = root / "var/lib/dpkg/info"
        self._owners: dict[str, list[str]] | None = None

    def owners(self, path: PurePosixPath) -> list[str]:
        """Database names (`pkg` or `pkg:arch`) of the packages listing `path` (exact match, as dpkg -S)."""
        if self._owners is None:
            self._owners = {}
            for lst in sorted(self.info.glob("*.list")):
                for line in lst.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
                    self._owners.setdefault(line, []).append(lst.name[: -len(".list")])
        return self._owners.get(str(path), [])

    def control_path(self, pkg: str, member: str) -> Path | None:
        """`<info>/<pkg>.<member>` when the package ships that control member."""
        path = self.info / f"{pkg}.{member}"
        return path if path.exists() else None


def write_dpkg_database(
    root: Path, unpacked: Iterable[tuple[PackageRecord, Unpacked]], arch: str, *, configured: bool
) -> None:
    """Write var/lib/dpkg as dpkg leaves it after unpacking (or after configuring, when `configured`)."""
    admin = root / "var/lib/dpkg"
    for sub in ("info", "updates", "triggers", "alternatives", "parts"):
        (admin / sub).mkdir(parents=True, exist_ok=True)
    stanzas: list[str] = []
    interests: dict[str, list[str]] = {}
    for record, unp in unpacked:
        conffiles = _conffiles(root, unp, configured=configured)
        stanzas.append(_status_stanza(unp.control["control"], conffiles, configured=configured))
        _write_info(admin / "info", info_name(record), unp)
        _collect_interests(unp, interests)
    for name in ("available", "diversions", "statoverride"):
        (admin / name).touch()
    (admin / "arch").write_text(f"{arch}\n")
    # Database layout 1 (dpkg ≥ 1.16.2): info files of Multi-Arch: same packages carry ":<arch>".
    (admin / "info/format").write_text("1\n")
    (admin / "status").write_text("\n".join(sorted(stanzas)))
    _write_trigger_interests(admin / "triggers", interests)


def info_name(record: PackageRecord) -> str:
    """dpkg names info files `<pkg>:<arch>.*` for Multi-Arch: same packages, `<pkg>.*` otherwise."""
    return f"{record.name}:{record.arch}" if record.multi_arch == "same" else record.name


def _write_info(info: Path, name: str, unp: Unpacked) -> None:
    (info / f"{name}.list").write_text("\n".join(unp.paths) + "\n")
    for member in INFO_FILES:
        if member in unp.control:
            path = info / f"{name}.{member}"
            path.write_bytes(unp.control[member])
            path.chmod(0o755 if member in {"preinst", "postinst", "prerm", "postrm", "config"} else 0o644)


def _conffiles(root: Path, unp: Unpacked, *, configured: bool) -> list[tuple[str, str]]:
    """(path, hash) for `Conffiles:`; unconfigured ones wait as `<file>.dpkg-new`, as dpkg leaves them."""
    result = []
    for line in unp.control.get("conffiles", b"").decode().splitlines():
        words = line.split()
        if not words or not words[-1].startswith("/"):
            continue  # "remove-on-upgrade /path" flags (dpkg 1.20.1) have the path last
        path = words[-1]
        real = root / "/".join(member_parts(path.lstrip("/"), unp.package))
        if not real.is_file():
            continue
        if configured:
            result.append((path, hashlib.md5(real.read_bytes()).hexdigest()))  # noqa: S324 - dpkg's hash
        else:
            real.rename(real.with_name(real.name + ".dpkg-new"))
            result.append((path, "newconffile"))
    return result


def _status_stanza(control: bytes, conffiles: list[tuple[str, str]], *, configured: bool) -> str:
    lines = control.decode().strip("\n").splitlines()
    status = "install ok installed" if configured else "install ok unpacked"
    out = [lines[0], f"Status: {status}", *lines[1:]]
    if conffiles:
        out.append("Conffiles:")
        out.extend(f" {path} {digest}" for path, digest in conffiles)
    return "\n".join(out) + "\n"


def _collect_interests(unp: Unpacked, interests: dict[str, list[str]]) -> None:
    """`interest` lines of a triggers file (deb-triggers(5)) → trigger name → interested packages."""
    for line in unp.control.get("triggers", b"").decode().splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) == 2 and words[0].startswith("interest"):  # noqa: PLR2004 - directive + name
            suffix = "/noawait" if words[0] == "interest-noawait" else ""
            interests.setdefault(words[1], []).append(unp.package + suffix)


def _write_trigger_interests(triggers: Path, interests: dict[str, list[str]]) -> None:
    """dpkg's trigger registry: `File` holds file triggers, one file per explicit trigger name."""
    files = [
        f"{name} {pkg}" for name, pkgs in sorted(interests.items()) if name.startswith("/") for pkg in pkgs
    ]
    (triggers / "File").write_text("".join(f"{line}\n" for line in files))
    for name, pkgs in interests.items():
        if not name.startswith("/"):
            (triggers / name).write_text("".join(f"{pkg}\n" for pkg in pkgs))
    (triggers / "Unincorp").touch()
