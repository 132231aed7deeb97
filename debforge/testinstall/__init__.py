"""test-install: install, run, remove and purge .debs in a fresh container of the target, piuparts-style."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from debforge.container import ROLE_LABEL, Container, ContainerSpec, build_image, open_container
from debforge.dists import Target
from debforge.errors import InstallCheckError
from debforge.report import Reporter
from debforge.session import Session
from debforge.testinstall import steps
from debforge.testinstall.parse import DebControl, file_list_changes, read_control, tail
from debforge.testinstall.steps import DEBS_DIR, Outcome

__all__ = ["ROLE", "ROLE_LABEL", "InstallReport", "Outcome", "StepResult", "check_install"]

ROLE = "test-install"  # the containers' org.debforge.role label


@dataclass(frozen=True, slots=True, kw_only=True)
class StepResult:
    """One step of a test installation: did it pass, how long it took, what it printed."""

    name: str  # image, install, run, remove, purge, files
    ok: bool
    seconds: float
    detail: str
    output_tail: str

    def to_json(self) -> dict[str, object]:
        """The step as a JSON object."""
        return {**dataclasses.asdict(self), "seconds": round(self.seconds, 2)}


@dataclass(frozen=True, slots=True, kw_only=True)
class InstallReport:
    """Everything `debforge test-install` found out, step by step."""

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
    """Per-check mutable state: the steps so far and what the file list comparison found."""

    reporter: Reporter
    steps: list[StepResult] = field(default_factory=list)
    leftovers: tuple[str, ...] = ()

    def step(self, name: str, title: str, action: Callable[[], Outcome]) -> bool:
        """Run `action` as a named, timed step; return whether it passed."""
        start = time.monotonic()
        with self.reporter.step(title):
            done = action()
        seconds = time.monotonic() - start
        self.steps.append(
            StepResult(
                name=name, ok=done.ok, seconds=seconds, output_tail=tail(done.output), detail=done.detail
            )
        )
        if not done.ok:
            self.reporter.warning(f"{name}: {done.detail}")
        return done.ok


def check_install(
    session: Session,
    debs: Sequence[Path],
    target: Target,
    *,
    run: str | None = None,
    expect: str | None = None,
    keep: bool = False,
) -> InstallReport:
    """Install `debs` with apt in a fresh `target` container, run `run`, remove, purge; report each step.

    With `keep` (or `session.keep`) the container stays afterwards, and the report says how to enter it.
    """
    controls = _validate(debs, target, run=run, expect=expect)
    state = _Run(session.reporter)
    start = time.monotonic()
    with session.reporter.step(f"Preparing the {target.dist}/{target.arch} runtime image"):
        image = build_image(session, target)
    state.steps.append(
        StepResult(name="image", ok=True, seconds=time.monotonic() - start, output_tail="", detail=image.tag)
    )
    keep = keep or session.keep
    # No bind mount: the debs travel through the archive API, so a remote DOCKER_HOST works too.
    spec = ContainerSpec(image=image, role=ROLE, copies=tuple((DEBS_DIR, c.path) for c in controls))
    with open_container(session, spec, keep=keep) as box:
        _exercise(box, controls, state, target=target, run=run, expect=expect)
    return InstallReport(
        target=f"{target.dist}/{target.arch}",
        packages=tuple(c.name for c in controls),
        steps=tuple(state.steps),
        leftovers=state.leftovers,
        container_id=box.handle.id if keep else None,
    )


def _validate(
    debs: Sequence[Path], target: Target, *, run: str | None, expect: str | None
) -> tuple[DebControl, ...]:
    """Read every deb's control before any container starts; refuse what cannot install on `target`."""
    if not debs:
        raise InstallCheckError("no .deb to test", hint="give one or more .deb files")
    if expect is not None and run is None:
        raise InstallCheckError("--expect needs a command to check", hint="add --run CMD")
    controls = tuple(read_control(Path(p)) for p in debs)
    for c in controls:
        if c.arch not in ("all", target.arch):
            raise InstallCheckError(
                f"{c.path.name} is built for {c.arch}, but the target is {target.dist}/{target.arch}",
                hint=f"test it with --arch {c.arch}, or build it for {target.arch}",
            )
    names = [c.path.name for c in controls]
    if len(set(names)) != len(names):
        raise InstallCheckError("two of the .deb files have the same file name", hint="rename one of them")
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
    """The steps in order; a failed install, remove or purge ends the run, a failed smoke command does not."""
    # A path with a slash makes apt treat the argument as a file to install, not a package name.
    paths = [str(DEBS_DIR / c.path.name) for c in controls]
    names = [c.name for c in controls]
    before = steps.file_list(box)
    packages_before = steps.installed(box)
    install = functools.partial(steps.install, box, paths, names, target)
    if not state.step("install", f"Installing {', '.join(names)}", install):
        return
    if run is not None:
        state.step("run", f"Running {run}", lambda: steps.smoke(box, run, expect))
    if not state.step("remove", "Removing", lambda: steps.remove(box, names)):
        return
    purge = functools.partial(steps.purge, box, names, packages_before)
    if not state.step("purge", "Purging, with the dependencies the install added", purge):
        return

    def files() -> Outcome:
        left, missing = file_list_changes(before, steps.file_list(box))
        state.leftovers = left
        return steps.files_verdict(left, missing)

    state.step("files", "Comparing the file list with the one before installation", files)
