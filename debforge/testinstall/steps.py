"""The steps of a test installation, each run in the test container and judged from apt's and dpkg's words.

piuparts is the model: apt installs, dpkg removes and purges (its remove_or_purge and restore_selections).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from debforge.container import Container
from debforge.dists import Target
from debforge.errors import ContainerError
from debforge.run import Completed
from debforge.testinstall.parse import (
    Unmet,
    explain_unmet,
    maintscript_failures,
    parse_madison,
    parse_unmet,
    run_failure,
)

# Inside the throwaway container, not on the host.
DEBS_DIR = PurePosixPath("/tmp/debforge-test-install")  # noqa: S108 - a path in the container
# Every apt/dpkg call runs as on a device being set up unattended; C.UTF-8 keeps apt's messages in
# English, which the parsers read.
_ENV = {"DEBIAN_FRONTEND": "noninteractive", "DEBCONF_NONINTERACTIVE_SEEN": "true", "LC_ALL": "C.UTF-8"}
# piuparts-style file list: one filesystem, without the kernel's and the runtime's trees, and without
# directories whose content always changes (apt lists and caches, logs); /tmp holds the copied debs.
_PRUNED = ("/proc", "/sys", "/dev", "/tmp", "/run", "/var/lib/apt/lists", "/var/cache/apt", "/var/log")  # noqa: S108 - paths in the container
_FIND = ["find", "/", "-xdev", "(", "-path", _PRUNED[0]]
for _path in _PRUNED[1:]:
    _FIND += ["-o", "-path", _path]
_FIND += [")", "-prune", "-o", "-print0"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What one step found: whether it passed, everything it printed, and the one sentence why."""

    ok: bool
    output: str
    detail: str


def install(box: Container, paths: Sequence[str], names: Sequence[str], target: Target) -> Outcome:
    """The real `apt-get install -y ./x.deb`, retried once after `apt-get update` if the lists are stale.

    No separate `apt-get install -s` first: in this throwaway container a refused install changes
    nothing either, and apt names unmet Depends in the same words (each emulated apt run spends about
    6 s building its dependency cache of the whole archive)."""
    output = ""
    if _exec(box, ["sh", "-c", "ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1"]).returncode != 0:
        output = _merged(_exec(box, ["apt-get", "update"]))  # an image built without prefilled lists
    argv = ["apt-get", "install", "-y", *paths]
    done = _exec(box, argv)
    output += _merged(done)
    if done.returncode != 0 and "Unable to fetch some archives" in output:
        # The prefilled lists name a version the mirror has since replaced (a point release or a
        # security update): refresh them as a device would, and try once more.
        output += _merged(_exec(box, ["apt-get", "update"]))
        done = _exec(box, argv)
        output += _merged(done)
    if done.returncode == 0:
        return Outcome(ok=True, output=output, detail=f"installed {', '.join(names)}")
    unmet = parse_unmet(output)
    if not unmet:
        return Outcome(ok=False, output=output, detail=_apt_failure(output, done.returncode))
    versions = _versions_lookup(box, unmet)
    return Outcome(
        ok=False, output=output, detail="; ".join(explain_unmet(u, target.dist, versions) for u in unmet)
    )


def smoke(box: Container, command: str, expect: str | None) -> Outcome:
    """The smoke command through `sh -c`; `expect` must be a substring of its stdout."""
    done = _exec(box, ["sh", "-c", command])
    stderr = done.stderr.decode("utf-8", "replace")
    output = done.text + stderr
    if done.returncode != 0:
        return Outcome(ok=False, output=output, detail=run_failure(command, done.returncode, stderr))
    if expect is not None and expect not in done.text:
        return Outcome(
            ok=False, output=output, detail=f"the output of `{command}` does not contain {expect!r}"
        )
    found = f" and printed {expect!r}" if expect is not None else ""
    return Outcome(ok=True, output=output, detail=f"`{command}` exited 0{found}")


def remove(box: Container, names: Sequence[str]) -> Outcome:
    """`dpkg --remove`, as piuparts removes the package under test: its prerm and postrm run, its
    conffiles stay."""
    done = _dpkg(box, ["--remove", *names])
    if not done.ok:
        return done
    return Outcome(ok=True, output=done.output, detail=f"removed {', '.join(names)}")


def purge(box: Container, names: Sequence[str], before: frozenset[str]) -> Outcome:
    """`dpkg --purge` of the packages and of every package the install added (installed now, not in
    `before`), as piuparts restores the selections; then dpkg must forget all of them.

    dpkg forgets a removed package at once unless it has conffiles or a postrm (it stays in the
    config-files state for `postrm purge`, Policy 6.5), so only what it still knows is named."""
    added = sorted(installed(box) - before)
    known = _known_to_dpkg(box, [*names, *added])
    done = _dpkg(box, ["--purge", *known]) if known else Outcome(ok=True, output="", detail="")
    if not done.ok:
        return done
    still = _known_to_dpkg(box, [*names, *added])
    if still:
        return Outcome(
            ok=False, output=done.output, detail=f"dpkg still knows {', '.join(still)} after the purge"
        )
    deps = f" and {len(added)} dependencies the install added" if added else ""
    return Outcome(ok=True, output=done.output, detail=f"purged {', '.join(names)}{deps}")


def installed(box: Container) -> frozenset[str]:
    """The packages dpkg has in any state but not-installed, arch-qualified as dpkg-query prints them."""
    query = _exec(box, ["dpkg-query", "-W", "-f", "${binary:Package} ${db:Status-Abbrev}\n"])
    if query.returncode != 0:
        raise ContainerError(f"dpkg-query failed in the test container: {_merged(query)[-300:]}")
    pairs = [line.split() for line in query.text.splitlines()]
    return frozenset(p[0] for p in pairs if len(p) > 1 and p[1][1:2] != "n")


def files_verdict(left: Sequence[str], missing: Sequence[str]) -> Outcome:
    """The file list after the purge against the one before: nothing left behind, nothing gone."""
    listing = "\n".join([*(f"left behind: {p}" for p in left), *(f"missing: {p}" for p in missing)])
    problems = []
    if left:
        problems.append(f"the purge left {len(left)} file(s) behind: {', '.join(left[:5])}")
    if missing:
        problems.append(f"{len(missing)} file(s) of the base system are gone: {', '.join(missing[:5])}")
    if problems:
        return Outcome(ok=False, output=listing, detail="; ".join(problems))
    return Outcome(
        ok=True, output="", detail="the file list after the purge equals the one before installation"
    )


def file_list(box: Container) -> frozenset[str]:
    """Every path on the container's root filesystem but the pruned trees (find -print0)."""
    done = box.exec(_FIND, env=_ENV, check=False)
    if done.returncode not in (0, 1):  # 1: a file vanished while find walked, harmless here
        raise ContainerError(f"cannot list the files of the test container: {_merged(done)[-300:]}")
    return frozenset(p.decode("utf-8", "replace") for p in done.stdout.split(b"\0") if p)


def _known_to_dpkg(box: Container, names: Sequence[str]) -> list[str]:
    """Packages dpkg has any state for, besides not-installed (`dpkg-query` status abbreviation)."""
    query = _exec(box, ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n", *names])
    pairs = [line.split() for line in query.text.splitlines()]
    return [p[0] for p in pairs if len(p) > 1 and p[1][1:2] != "n"]


def _dpkg(box: Container, args: Sequence[str]) -> Outcome:
    """A dpkg call whose failure is explained by the maintainer script that failed, if any."""
    done = _exec(box, ["dpkg", *args])
    output = _merged(done)
    if done.returncode != 0:
        scripts = "; ".join(maintscript_failures(output))
        detail = scripts or _last_error(output, ("dpkg: error",)) or f"dpkg exited {done.returncode}"
        return Outcome(ok=False, output=output, detail=detail)
    return Outcome(ok=True, output=output, detail="")


def _apt_failure(output: str, code: int) -> str:
    scripts = maintscript_failures(output)
    return "; ".join(scripts) if scripts else _last_error(output) or f"apt-get exited {code}"


def _last_error(output: str, prefixes: tuple[str, ...] = ("E:", "Error:")) -> str:
    """The text of the last line starting with one of `prefixes`: apt's `E:` (`Error:` since apt 3.0),
    or dpkg's `dpkg: error`."""
    errors = [line.split(":", 1)[1].strip() for line in output.splitlines() if line.startswith(prefixes)]
    return errors[-1] if errors else ""


def _versions_lookup(box: Container, unmet: Sequence[Unmet]) -> Callable[[str], tuple[str, ...]]:
    """Versions apt knows of each package an unmet relation names (`apt-cache madison`)."""
    names = sorted({n for u in unmet for n in u.names})
    table = parse_madison(_exec(box, ["apt-cache", "madison", *names]).text) if names else {}
    return lambda name: table.get(name, ())


def _exec(box: Container, argv: Sequence[str]) -> Completed:
    return box.exec(argv, env=_ENV, check=False)


def _merged(done: Completed) -> str:
    return done.text + done.stderr.decode("utf-8", "replace")
