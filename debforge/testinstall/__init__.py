"""test-install: install, run, remove and purge .debs in a fresh container of the target, piuparts-style."""

from __future__ import annotations

import contextlib
import io
import secrets
import tarfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from debforge.cache import Cache
from debforge.container import LABEL, Container, ExecResult, Image, build_image, docker_client
from debforge.dists import Target
from debforge.errors import ContainerError, TestInstallError
from debforge.report import Reporter
from debforge.testinstall.parse import (
    DebControl,
    Unmet,
    explain_unmet,
    file_list_changes,
    maintscript_failures,
    parse_madison,
    parse_unmet,
    read_control,
    run_failure,
    tail,
)

ROLE_LABEL = f"{LABEL}.role"
ROLE = "test-install"
# Inside the throwaway container, not on the host.
DEBS_DIR = PurePosixPath("/tmp/debforge-test-install")  # noqa: S108 - a path in the container
# Every apt/dpkg call runs as on a device being set up unattended; C.UTF-8 keeps apt's messages in
# English, which the parsers below read.
_ENV = {"DEBIAN_FRONTEND": "noninteractive", "DEBCONF_NONINTERACTIVE_SEEN": "true", "LC_ALL": "C.UTF-8"}
# piuparts-style file list: one filesystem, without the kernel's and the runtime's trees, and without
# directories whose content always changes (apt lists and caches, logs); /tmp holds the copied debs.
_PRUNED = ("/proc", "/sys", "/dev", "/tmp", "/run", "/var/lib/apt/lists", "/var/cache/apt", "/var/log")  # noqa: S108 - paths in the container
_FIND = ["find", "/", "-xdev", "(", "-path", _PRUNED[0]]
for _path in _PRUNED[1:]:
    _FIND += ["-o", "-path", _path]
_FIND += [")", "-prune", "-o", "-print0"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StepResult:
    """One step of a test installation: did it pass, how long it took, what it printed."""

    name: str  # image, simulate, install, run, remove, purge, files
    ok: bool
    seconds: float
    output_tail: str
    detail: str

    def to_json(self) -> dict[str, object]:
        """The step as a JSON object."""
        return {
            "name": self.name,
            "ok": self.ok,
            "seconds": round(self.seconds, 2),
            "detail": self.detail,
            "output_tail": self.output_tail,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class TestReport:
    """Everything `debforge test-install` found out, step by step."""

    __test__ = False  # a pipeline noun, not a pytest class

    target: str
    packages: tuple[str, ...]
    steps: tuple[StepResult, ...]
    leftovers: tuple[str, ...] = ()
    container_id: str | None = None  # set only when the container was kept

    @property
    def ok(self) -> bool:
        """True when every step ran and passed."""
        return bool(self.steps) and all(step.ok for step in self.steps)

    @property
    def enter(self) -> str | None:
        """The command that opens a shell in the kept container."""
        return f"docker exec -it {self.container_id} bash" if self.container_id else None

    def to_json(self) -> dict[str, object]:
        """The report as one JSON document."""
        return {
            "target": self.target,
            "packages": list(self.packages),
            "ok": self.ok,
            "steps": [step.to_json() for step in self.steps],
            "leftovers": list(self.leftovers),
            "container": self.container_id,
            "enter": self.enter,
        }


@dataclass(slots=True)
class _Run:
    """Per-run mutable state: the steps so far and the container's name (known before it exists)."""

    reporter: Reporter
    name: str = field(default_factory=lambda: f"debforge-test-install-{secrets.token_hex(6)}")
    steps: list[StepResult] = field(default_factory=list)
    leftovers: tuple[str, ...] = ()

    def step(self, name: str, title: str, action: Callable[[], tuple[bool, str, str]]) -> bool:
        """Run `action` (→ ok, output, detail) as a named, timed step; return ok."""
        start = time.monotonic()
        with self.reporter.step(title):
            ok, output, detail = action()
        self.steps.append(
            StepResult(
                name=name, ok=ok, seconds=time.monotonic() - start, output_tail=tail(output), detail=detail
            )
        )
        if not ok:
            self.reporter.warning(f"{name}: {detail}")
        return ok


def test_install(
    debs: Sequence[Path],
    target: Target,
    cache: Cache,
    reporter: Reporter,
    *,
    run: str | None = None,
    expect: str | None = None,
    keep: bool = False,
) -> TestReport:
    """Install `debs` with apt in a fresh `target` container, run `run`, remove, purge; report each step."""
    controls = _validate(debs, target, run=run, expect=expect)
    state = _Run(reporter)
    start = time.monotonic()
    with reporter.step(f"Preparing the {target.dist}/{target.arch} runtime image"):
        image = build_image(target, cache, reporter)
    state.steps.append(
        StepResult(name="image", ok=True, seconds=time.monotonic() - start, output_tail="", detail=image.tag)
    )
    kept: str | None = None
    try:
        box = _start_container(image, state.name)
        kept = box.handle.id if keep else None
        _exercise(box, controls, state, target=target, run=run, expect=expect)
    except BaseException:
        if keep:
            reporter.warning(f"the test container is kept: docker exec -it {state.name} bash")
        raise
    finally:
        # Always, also on Ctrl-C (KeyboardInterrupt passes through here): the container is throwaway.
        if not keep:
            _remove_container(state.name)
    return TestReport(
        target=f"{target.dist}/{target.arch}",
        packages=tuple(c.name for c in controls),
        steps=tuple(state.steps),
        leftovers=state.leftovers,
        container_id=kept,
    )


def _validate(
    debs: Sequence[Path], target: Target, *, run: str | None, expect: str | None
) -> tuple[DebControl, ...]:
    """Read every deb's control before any container starts; refuse what cannot install on `target`."""
    if not debs:
        raise TestInstallError("no .deb to test", hint="give one or more .deb files")
    if expect is not None and run is None:
        raise TestInstallError("--expect needs a command to check", hint="add --run CMD")
    controls = tuple(read_control(Path(p)) for p in debs)
    for c in controls:
        if c.arch not in ("all", target.arch):
            raise TestInstallError(
                f"{c.path.name} is built for {c.arch}, but the target is {target.dist}/{target.arch}",
                hint=f"test it with --arch {c.arch}, or build it for {target.arch}",
            )
    names = [c.path.name for c in controls]
    if len(set(names)) != len(names):
        raise TestInstallError("two of the .deb files have the same file name", hint="rename one of them")
    return controls


def _exercise(
    box: Container,
    controls: Sequence[DebControl],
    state: _Run,
    *,
    target: Target,
    run: str | None,
    expect: str | None,
) -> None:
    """The steps in order; a failed apt step ends the run, a failed smoke command does not."""
    paths = _copy_debs(box, controls)
    names = [c.name for c in controls]
    before = _file_list(box)
    if not state.step("simulate", "Simulating the installation", lambda: _simulate(box, paths, target)):
        return
    if not state.step("install", f"Installing {', '.join(names)}", lambda: _install(box, paths, names)):
        return
    if run is not None:
        state.step("run", f"Running {run}", lambda: _smoke(box, run, expect))
    if not state.step("remove", "Removing", lambda: _apt_step(box, ["apt-get", "remove", "-y", *names])):
        return
    if not state.step("purge", "Purging with unneeded dependencies", lambda: _purge(box, names)):
        return

    def files() -> tuple[bool, str, str]:
        left, missing = file_list_changes(before, _file_list(box))
        state.leftovers = left
        return _files_verdict(left, missing)

    state.step("files", "Comparing the file list with the one before installation", files)


# --------------------------------------------------------------------------- the steps


def _simulate(box: Container, paths: Sequence[str], target: Target) -> tuple[bool, str, str]:
    """`apt-get install -s`: apt's resolver alone, so unmet Depends are named before anything changes."""
    output = ""
    if _exec(box, ["sh", "-c", "ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1"]).returncode != 0:
        output = _merged(_exec(box, ["apt-get", "update"]))  # an image built without prefilled lists
    done = _exec(box, ["apt-get", "install", "-s", *paths])
    output += _merged(done)
    if done.returncode == 0:
        return True, output, f"apt can install {len(paths)} package(s) with their dependencies"
    unmet = parse_unmet(output)
    if not unmet:
        return False, output, _last_error(output) or f"apt-get install -s exited {done.returncode}"
    versions = _versions_lookup(box, unmet)
    return False, output, "; ".join(explain_unmet(u, target.dist, versions) for u in unmet)


def _install(box: Container, paths: Sequence[str], names: Sequence[str]) -> tuple[bool, str, str]:
    """The real `apt-get install -y ./x.deb`; retried once after `apt-get update` if the lists are stale."""
    argv = ["apt-get", "install", "-y", *paths]
    done = _exec(box, argv)
    output = _merged(done)
    if done.returncode != 0 and "Unable to fetch some archives" in output:
        # The prefilled lists name a version the mirror has since replaced (a point release or a
        # security update): refresh them as a device would, and try once more.
        output += _merged(_exec(box, ["apt-get", "update"]))
        done = _exec(box, argv)
        output += _merged(done)
    if done.returncode == 0:
        return True, output, f"installed {', '.join(names)}"
    return False, output, _apt_failure(output, done.returncode)


def _smoke(box: Container, command: str, expect: str | None) -> tuple[bool, str, str]:
    """The smoke command through `sh -c`; `expect` must be a substring of its stdout."""
    done = _exec(box, ["sh", "-c", command])
    output = done.text + done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        return False, output, run_failure(command, done.returncode, done.stderr.decode("utf-8", "replace"))
    if expect is not None and expect not in done.text:
        return False, output, f"the output of `{command}` does not contain {expect!r}"
    found = f" and printed {expect!r}" if expect is not None else ""
    return True, output, f"`{command}` exited 0{found}"


def _apt_step(box: Container, argv: Sequence[str]) -> tuple[bool, str, str]:
    """An apt-get call whose failure is explained by the maintainer script that failed, if any."""
    done = _exec(box, argv)
    output = _merged(done)
    if done.returncode != 0:
        return False, output, _apt_failure(output, done.returncode)
    return True, output, f"{' '.join(argv[:2])} succeeded"


def _purge(box: Container, names: Sequence[str]) -> tuple[bool, str, str]:
    """Purge what dpkg still remembers, with the dependencies nothing needs now; then dpkg must forget all.

    dpkg forgets a removed package at once unless it has conffiles or a postrm (it stays in the
    config-files state for `postrm purge`, Policy 6.5); apt cannot purge what dpkg forgot.
    """
    known = _known_to_dpkg(box, names)
    argv = (
        ["apt-get", "purge", "-y", "--autoremove", *known]
        if known
        else ["apt-get", "autoremove", "-y", "--purge"]
    )
    ok, output, detail = _apt_step(box, argv)
    if not ok:
        return ok, output, detail
    still = _known_to_dpkg(box, names)
    if still:
        return False, output, f"dpkg still knows {', '.join(still)} after the purge"
    return True, output, f"purged {', '.join(names)} and the dependencies nothing else needs"


def _known_to_dpkg(box: Container, names: Sequence[str]) -> list[str]:
    """Packages dpkg has any state for, besides not-installed (`dpkg-query` status abbreviation)."""
    query = _exec(box, ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n", *names])
    pairs = [line.split() for line in query.text.splitlines()]
    return [p[0] for p in pairs if len(p) > 1 and p[1][1:2] != "n"]


def _files_verdict(left: Sequence[str], missing: Sequence[str]) -> tuple[bool, str, str]:
    listing = "\n".join([*(f"left behind: {p}" for p in left), *(f"missing: {p}" for p in missing)])
    problems = []
    if left:
        problems.append(f"the purge left {len(left)} file(s) behind: {', '.join(left[:5])}")
    if missing:
        problems.append(f"{len(missing)} file(s) of the base system are gone: {', '.join(missing[:5])}")
    if problems:
        return False, listing, "; ".join(problems)
    return True, "", "the file list after the purge equals the one before installation"


def _apt_failure(output: str, code: int) -> str:
    scripts = maintscript_failures(output)
    return "; ".join(scripts) if scripts else _last_error(output) or f"apt-get exited {code}"


def _last_error(output: str) -> str:
    """apt's last `E:` line (`Error:` since apt 3.0)."""
    errors = [
        line.split(":", 1)[1].strip() for line in output.splitlines() if line.startswith(("E:", "Error:"))
    ]
    return errors[-1] if errors else ""


def _versions_lookup(box: Container, unmet: Sequence[Unmet]) -> Callable[[str], tuple[str, ...]]:
    """Versions apt knows of each package an unmet relation names (`apt-cache madison`)."""
    names = sorted({n for u in unmet for n in u.names})
    table = parse_madison(_exec(box, ["apt-cache", "madison", *names]).text) if names else {}
    return lambda name: table.get(name, ())


# --------------------------------------------------------------------------- the container


def _exec(box: Container, argv: Sequence[str]) -> ExecResult:
    return box.exec(argv, env=_ENV, check=False)


def _merged(done: ExecResult) -> str:
    return done.text + done.stderr.decode("utf-8", "replace")


def _copy_debs(box: Container, controls: Sequence[DebControl]) -> list[str]:
    """Copy the debs in through the archive API (no bind mount: works with a remote DOCKER_HOST)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for c in controls:
            info = tar.gettarinfo(c.path, arcname=c.path.name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = 0o644
            with c.path.open("rb") as fh:
                tar.addfile(info, fh)
    box.put_tar(buf.getvalue(), DEBS_DIR)
    # A path with a slash makes apt treat the argument as a file to install, not a package name.
    return [str(DEBS_DIR / c.path.name) for c in controls]


def _file_list(box: Container) -> frozenset[str]:
    done = box.exec(_FIND, env=_ENV, check=False)
    if done.returncode not in (0, 1):  # 1: a file vanished while find walked, harmless here
        raise ContainerError(f"cannot list the files of the test container: {_merged(done)[-300:]}")
    return frozenset(p.decode("utf-8", "replace") for p in done.stdout.split(b"\0") if p)


def _start_container(image: Image, name: str) -> Container:
    """A labelled container idling until removed; its name is chosen first, so it can always be found."""
    import docker  # noqa: PLC0415 - docker-py is only needed by commands that use containers

    client = docker_client()
    try:
        handle = client.containers.run(
            image.tag, ["sleep", "infinity"], detach=True, name=name, platform=image.platform,
            network_mode="bridge", labels={LABEL: "1", ROLE_LABEL: ROLE},
        )  # fmt: skip
    except docker.errors.DockerException as exc:
        raise ContainerError(f"cannot start a test container from {image.tag}: {exc}") from exc
    return Container(handle)


def _remove_container(name: str) -> None:
    import docker  # noqa: PLC0415 - see _start_container

    with contextlib.suppress(docker.errors.NotFound):
        docker_client().containers.get(name).remove(force=True)
