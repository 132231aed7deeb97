"""Debian policy the pipeline applies: Depends merging, SOURCE_DATE_EPOCH, copyright, changelog, scripts.

Pure helpers (no network, no subprocess except `git log` for the commit time), each tested on its
own in tests/test_pipeline.py.
"""

from __future__ import annotations

import email.utils
import os
import re
import stat
import textwrap
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from debforge.errors import CommandError, PackageError, ToolMissingError
from debforge.recipe import (
    AUTO,
    BinaryBuild,
    CargoBuild,
    CBuild,
    LintianOverride,
    MaintainerScript,
    Recipe,
    SystemdUnits,
    TreeBuild,
)
from debforge.run import run

# lintian's package-contains-ancient-file fires for mtimes before 1975 (timestamps near 0 are a bug).
_EPOCH_FLOOR = 157766400  # 1975-01-01T00:00:00Z
# /usr/share/common-licenses in bookworm's base-files: DEP-5 may point there instead of quoting.
_COMMON_LICENSES = {
    "Apache-2.0": "Apache-2.0", "Artistic-1.0": "Artistic", "CC0-1.0": "CC0-1.0", "GPL-2.0-only": "GPL-2",
    "GPL-2.0-or-later": "GPL-2", "GPL-3.0-only": "GPL-3", "GPL-3.0-or-later": "GPL-3", "GPL-2": "GPL-2",
    "GPL-3": "GPL-3", "LGPL-2.1-only": "LGPL-2.1", "LGPL-2.1-or-later": "LGPL-2.1", "LGPL-3.0-only": "LGPL-3",
    "LGPL-3.0-or-later": "LGPL-3", "MPL-2.0": "MPL-2.0", "GFDL-1.3": "GFDL-1.3",
}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceDate:
    """SOURCE_DATE_EPOCH and where it came from: `origin` (env, git, changelog or mtime) goes into the
    build record, `note` (one line, may name a local path) to the reporter."""

    epoch: int
    origin: str
    note: str = ""


def merge_depends(declared: Sequence[str], computed: str, *, extra: Sequence[str] = ()) -> str:
    """The recipe's Depends with the computed value where `$auto` stands, duplicates dropped.

    >>> merge_depends(["ca-certificates", "$auto", "libc6 (>= 2.34)"], "libc6 (>= 2.34), libssl3 (>= 3.0.0)")
    'ca-certificates, libc6 (>= 2.34), libssl3 (>= 3.0.0)'
    """
    groups: list[str] = []
    for item in declared:
        if item == AUTO:
            groups += [g.strip() for g in computed.split(",") if g.strip()]
            groups += list(extra)
        else:
            groups.append(item.strip())
    return ", ".join(dict.fromkeys(g for g in groups if g))


def misc_depends(recipe: Recipe) -> tuple[str, ...]:
    # debhelper's ${misc:Depends} for dh_installsystemd's snippets: deb-systemd-helper/-invoke.
    return ("init-system-helpers (>= 1.54~)",) if any(u.files for u in recipe.systemd) else ()


# --------------------------------------------------------------------------- Debian policy helpers


def source_date_epoch(recipe: Recipe, environ: Mapping[str, str]) -> SourceDate:
    """SOURCE_DATE_EPOCH: the env var, else the project's last commit, else the changelog's top entry,
    else the newest mtime among the project's files (reproducible-builds.org's order of preference).

    Never 0 nor before 1975 (lintian's package-contains-ancient-file), and never the project's path:
    two checkouts (or unpacked tarballs, whose mtimes tar keeps) give identical bytes.
    """
    if "SOURCE_DATE_EPOCH" in environ:
        epoch = _checked_epoch(environ["SOURCE_DATE_EPOCH"], "SOURCE_DATE_EPOCH")
        return SourceDate(epoch=epoch, origin="env", note="the SOURCE_DATE_EPOCH environment variable")
    committed = _git_commit_time(recipe.source_dir)
    if committed is not None:
        epoch = _checked_epoch(committed, "the last git commit time")
        return SourceDate(epoch=epoch, origin="git", note=f"the last git commit of {recipe.source_dir}")
    stamp = changelog_date(recipe.changelog.read_text(errors="replace")) if recipe.changelog else None
    if stamp is not None:
        epoch = _checked_epoch(str(stamp), f"the date in {recipe.changelog}")
        return SourceDate(epoch=epoch, origin="changelog", note=f"the top entry of {recipe.changelog}")
    return _newest_mtime(recipe)


def _checked_epoch(value: str, what: str) -> int:
    if not value.strip().isdigit():
        raise PackageError(f"{what} ({value!r}) is not a whole number of seconds since 1970")
    epoch = int(value)
    if epoch < _EPOCH_FLOOR:
        raise PackageError(f"{what} ({epoch}) is before 1975; lintian rejects files that old")
    return epoch


def _git_commit_time(source_dir: Path) -> str | None:
    """`git log -1 --format=%ct -- .` in the project: the last commit touching it, or None outside git."""
    try:
        done = run(["git", "log", "-1", "--format=%ct", "--", "."], cwd=source_dir, check=True)
    except (CommandError, ToolMissingError):
        return None
    return done.text.strip() or None


# What is not the project's own source: VCS metadata and build output (cargo's target/, debs
# written with --out inside the project, atomic-write leftovers). Their mtimes change on every
# build or fetch, so counting them would make the date (and the .deb) differ run to run.
_NOT_SOURCE_DIRS = frozenset({".git", ".hg", ".svn", ".bzr", "_darcs", "CVS", ".pijul", ".jj", "target",
                              "__pycache__"})  # fmt: skip
_NOT_SOURCE_SUFFIXES = (".deb", ".ddeb", ".udeb", ".buildinfo.json", ".part")


def _newest_mtime(recipe: Recipe) -> SourceDate:
    """The last rung: the newest mtime among the project's regular files (tar and `cp -p` keep it)."""
    newest: tuple[int, Path] | None = None
    for path in _project_files(recipe):
        mtime = int(path.lstat().st_mtime)
        if newest is None or mtime > newest[0]:
            newest = (mtime, path)
    if newest is None:
        raise PackageError(
            f"cannot choose a reproducible timestamp for {recipe.name}: {recipe.source_dir} holds no files",
            hint="set SOURCE_DATE_EPOCH (e.g. to the release date)",
        )
    mtime, path = newest
    # A tree of mtime-1 files (/nix/store) or a tarball made with mtime 0 still needs a date lintian
    # accepts: the floor, which is as reproducible as the mtimes themselves.
    epoch = max(mtime, _EPOCH_FLOOR)
    floor = "" if epoch == mtime else ", raised to 1975-01-01 (lintian rejects older files)"
    return SourceDate(epoch=epoch, origin="mtime", note=f"the newest file mtime, of {path}{floor}")


def _project_files(recipe: Recipe) -> list[Path]:
    """The project's regular files; for `--binary FILE` the file alone (its directory may be /usr/bin)."""
    if isinstance(recipe.build, BinaryBuild) and recipe.recipe_file == recipe.build.binary:
        return [recipe.build.binary]
    if isinstance(recipe.build, TreeBuild):  # a tarball's or a file's neighbours are not inputs
        return [p for i in recipe.build.inputs for p in ([i] if i.is_file() else _files_under(i))]
    # A recipe kept outside the project (`[build] source = "../x"`) is an input all the same.
    found = [] if recipe.recipe_file.is_relative_to(recipe.source_dir) else [recipe.recipe_file]
    return found + _files_under(recipe.source_dir)


def _files_under(root: Path) -> list[Path]:
    """The regular files under `root`, without VCS and build output directories."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _NOT_SOURCE_DIRS)
        for name in filenames:
            path = Path(dirpath) / name
            if not name.endswith(_NOT_SOURCE_SUFFIXES) and stat.S_ISREG(path.lstat().st_mode):
                found.append(path)
    return found


_TRAILER = re.compile(r"^ -- .+?>  (.+)$", re.MULTILINE)


def changelog_date(text: str) -> int | None:
    """The date of the top entry of a debian/changelog, as seconds since 1970, or None.

    >>> changelog_date("x (1) unstable; urgency=low\\n\\n -- A <a@b.c>  Mon, 01 Jan 2024 00:00:00 +0000")
    1704067200
    """
    match = _TRAILER.search(text)
    if match is None:
        return None
    try:
        return int(email.utils.parsedate_to_datetime(match.group(1).strip()).timestamp())
    except (TypeError, ValueError):
        return None


def generated_changelog(recipe: Recipe, epoch: int) -> bytes:
    """A minimal one-entry debian/changelog (Policy 4.4) for a recipe without one, dated `epoch`."""
    date = email.utils.formatdate(epoch, usegmt=False).replace("-0000", "+0000")
    return (
        f"{recipe.name} ({recipe.deb_version}) unstable; urgency=medium\n\n"
        f"  * Package built with debforge.\n\n"
        f" -- {recipe.maintainer}  {date}\n"
    ).encode()


def copyright_text(recipe: Recipe, epoch: int) -> str:
    """`usr/share/doc/<pkg>/copyright`: copyright-file verbatim, else a DEP-5 file from the recipe.

    A notice without a year gets the year of `epoch` (lintian's copyright-without-copyright-notice).
    """
    if recipe.copyright_file is not None:
        return recipe.copyright_file.read_text()
    expression = _dep5_expression(recipe.license or "other")
    lines = [
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
        f"Upstream-Name: {recipe.name}",
        *([f"Source: {recipe.homepage}"] if recipe.homepage else []),
        "",
        "Files: *",
        f"Copyright: {_notice(recipe.copyright or recipe.maintainer, epoch)}",
        f"License: {expression}",
    ]
    names = re.split(r"\s+(?:or|and)\s+", expression)
    text = _license_text(recipe)
    if text is not None and len(names) == 1:
        lines += _dep5_body(text)
        names = []
    for name in names:
        lines += ["", f"License: {name}", *_dep5_body(text or _license_pointer(name))]
    return "\n".join(lines) + "\n"


def _notice(holder: str, epoch: int) -> str:
    if re.search(r"\b\d{4}\b", holder):
        return holder
    return f"{time.gmtime(epoch).tm_year} {holder}"


def _dep5_expression(spdx: str) -> str:
    """SPDX `A OR B` / cargo's `A/B` → DEP-5's `A or B` (copyright-format 1.0, License syntax)."""
    return re.sub(r"\s*/\s*|\s+OR\s+", " or ", spdx.strip()).replace(" AND ", " and ").strip("()")


def _license_text(recipe: Recipe) -> str | None:
    if recipe.license_file is None or not recipe.license_file.is_file():
        return None
    lines = recipe.license_file.read_text(errors="replace").splitlines()
    return "\n".join(lines[recipe.license_file_skip :]).strip("\n")


def _license_pointer(name: str) -> str:
    common = _COMMON_LICENSES.get(name)
    if common:
        return (
            f"On Debian systems, the complete text of this license is in /usr/share/common-licenses/{common}."
        )
    return f"The {name} license; its text is distributed with the upstream source."


def _dep5_body(text: str) -> list[str]:
    """Continuation lines: one space of indent, '.' for an empty line (Policy 5.1 / DEP-5)."""
    return [f" {line.rstrip()}" if line.strip() else " ." for line in text.splitlines()]


def wrap_extended(text: str, width: int = 79) -> str:
    """Re-wrap long extended-description lines to `width` (lintian's limit is 80 with the leading space).

    Policy 5.6.13: lines starting with a space are shown verbatim, every other line is word-wrapped by
    the front end anyway, so wrapping them here changes nothing a user sees.

    >>> wrap_extended("aaa bbb ccc", width=7)
    'aaa bbb\\nccc'
    >>> wrap_extended("  verbatim line stays", width=7)
    '  verbatim line stays'
    """
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith(" ") or len(line) <= width:
            lines.append(line)
        else:
            lines += textwrap.wrap(line, width=width, break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines)


GENERATED_CHANGELOG_OVERRIDE = LintianOverride(
    tag="initial-upload-closes-no-bugs",
    reason="debforge wrote this changelog for a package that is not uploaded to Debian: no ITP bug exists",
)


STATIC_BINARY_OVERRIDE = LintianOverride(
    tag="statically-linked-binary",
    reason="built static on purpose ([build] static / --static): it carries its own libraries, so one "
    "deb installs on every release",
)


def generated_overrides(recipe: Recipe) -> tuple[LintianOverride, ...]:
    """The overrides debforge's own choices call for: its generated changelog, a static build."""
    static = isinstance(recipe.build, CargoBuild | CBuild) and recipe.build.static
    return (
        *(() if recipe.changelog else (GENERATED_CHANGELOG_OVERRIDE,)),
        *((STATIC_BINARY_OVERRIDE,) if static else ()),
    )


def render_lintian_overrides(name: str, overrides: Sequence[LintianOverride]) -> str:
    """`usr/share/lintian/overrides/<pkg>`: each override preceded by its reason as a comment."""
    return "".join(f"# {o.reason}\n{name}: {o.tag}\n" for o in overrides)


def render_maintainer_scripts(recipe: Recipe) -> dict[str, bytes]:
    """The control-area scripts: the recipe's, #DEBHELPER# replaced; generated ones for systemd units."""
    snippets = systemd_snippets(recipe.systemd)
    scripts: dict[str, bytes] = {}
    for script in recipe.scripts:
        scripts[script.name] = substitute_debhelper(script, snippets.get(script.name, ""))
    for name, snippet in snippets.items():
        if name not in scripts:  # debhelper writes a script of its own when the package has none
            scripts[name] = f"#!/bin/sh\nset -e\n{snippet}".encode()
    if recipe.triggers_file is not None:
        scripts["triggers"] = recipe.triggers_file.read_bytes()
    return scripts


def substitute_debhelper(script: MaintainerScript, snippet: str) -> bytes:
    """The script with its `#DEBHELPER#` line replaced by `snippet` (or removed), as dh_installdeb does."""
    body = script.path.read_bytes()
    if not script.debhelper:
        return body
    return body.replace(b"#DEBHELPER#\n", snippet.encode()).replace(
        b"#DEBHELPER#", snippet.rstrip("\n").encode()
    )


def systemd_snippets(entries: Sequence[SystemdUnits]) -> dict[str, str]:
    """What dh_installsystemd (debhelper 13, bookworm) adds to postinst, prerm and postrm for these units."""
    parts: dict[str, list[str]] = {"postinst": [], "prerm": [], "postrm": []}
    for entry in entries:
        units = sorted(u.unit for u in entry.files if u.dest.parent.name == "system")
        if not units:
            continue
        quoted = " ".join(f"'{u}'" for u in units)
        if entry.enable:
            parts["postinst"] += [_ENABLE.replace("#UNITFILE#", f"'{u}'") for u in units]
        if entry.start:
            action = '_dh_action=start\n\t\tif [ -n "$2" ]; then _dh_action=restart; fi'
            if not entry.restart_after_upgrade:
                action = "_dh_action=start"
            parts["postinst"].append(_START.replace("#ACTION#", action).replace("#UNITFILES#", quoted))
            when = '[ "$1" = remove ]' if entry.restart_after_upgrade or not entry.stop_on_upgrade else "true"
            parts["prerm"].append(_STOP.replace("#WHEN#", when).replace("#UNITFILES#", quoted))
        parts["postrm"].append(_POSTRM.replace("#UNITFILES#", quoted))
    return {name: "".join(chunks) for name, chunks in parts.items() if chunks}


_HEAD = "# Automatically added by debforge (dh_installsystemd style)\n"
_ENABLE = (
    _HEAD
    + """\
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || \\
   [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ] ; then
	deb-systemd-helper unmask #UNITFILE# >/dev/null || true
	if deb-systemd-helper --quiet was-enabled #UNITFILE#; then
		deb-systemd-helper enable #UNITFILE# >/dev/null || true
	else
		deb-systemd-helper update-state #UNITFILE# >/dev/null || true
	fi
fi
"""
)
_START = (
    _HEAD
    + """\
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || \\
   [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ] ; then
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		#ACTION#
		deb-systemd-invoke $_dh_action #UNITFILES# >/dev/null || true
	fi
fi
"""
)
_STOP = (
    _HEAD
    + """\
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ] && #WHEN#; then
	deb-systemd-invoke stop #UNITFILES# >/dev/null || true
fi
"""
)
_POSTRM = (
    _HEAD
    + """\
if [ "$1" = "remove" ] && [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "remove" ] && [ -x "/usr/bin/deb-systemd-helper" ]; then
	deb-systemd-helper mask #UNITFILES# >/dev/null || true
fi
if [ "$1" = "purge" ] && [ -x "/usr/bin/deb-systemd-helper" ]; then
	deb-systemd-helper purge #UNITFILES# >/dev/null || true
	deb-systemd-helper unmask #UNITFILES# >/dev/null || true
fi
"""
)
