"""test-install end to end: real apt in fresh bookworm arm64 containers (QEMU), one per scenario."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path, PurePosixPath

import pytest
from elftools.elf.elffile import ELFFile

from debforge import testinstall
from debforge.cache import Cache
from debforge.container import Image
from debforge.deb import FileFromBytes, FileFromPath, PackageSpec, TreeEntry, write_deb
from debforge.dists import Target
from debforge.report import Bar, NullReporter
from debforge.session import Session
from tests.conftest import require_tool
from tests.helpers.elfs import compile_c

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]
TIMINGS: dict[str, float] = {}


@pytest.fixture
def target(bookworm_arm64: Target, runtime_image: Image) -> Target:
    """bookworm arm64, once the session's runtime image (which check_install reuses by tag) exists."""
    return bookworm_arm64


def make_deb(
    out: Path,
    name: str,
    *,
    arch: str = "all",
    depends: str = "",
    files: tuple[TreeEntry, ...] = (),
    scripts: Mapping[str, bytes] | None = None,
) -> Path:
    """A small .deb written by debforge's own writer."""
    spec = PackageSpec(
        name=name,
        version="1.0",
        arch=arch,
        maintainer="debforge tests <tests@example.org>",
        description=f"{name} test package\n Made by the test-install tests.",
        depends=depends,
        files=files,
        scripts=dict(scripts or {}),
    )
    return write_deb(spec, out, reporter=NullReporter()).path


def script(dest: str, body: str) -> FileFromBytes:
    return FileFromBytes(dest=PurePosixPath(dest), data=f"#!/bin/sh\n{body}\n".encode(), mode=0o755)


def needs_glibc_299(path: Path) -> None:
    """Rename the program's GLIBC_2.17 version need to GLIBC_2.99, in .dynstr and .gnu.version_r.

    The loader matches a need by the ELF hash and the name (glibc elf/dl-version.c), so both change;
    the names have the same length, so nothing moves.
    """
    data = bytearray(path.read_bytes())
    with path.open("rb") as fh:
        elf = ELFFile(fh)
        dynstr = elf.get_section_by_name(".dynstr")
        verneed = elf.get_section_by_name(".gnu.version_r")
        assert dynstr is not None and verneed is not None
        str_at = dynstr["sh_offset"] + dynstr.data().index(b"GLIBC_2.17\0")
        need_range = (verneed["sh_offset"], verneed["sh_offset"] + verneed["sh_size"])
    data[str_at : str_at + 10] = b"GLIBC_2.99"
    old, new = struct.pack("<I", elf_hash(b"GLIBC_2.17")), struct.pack("<I", elf_hash(b"GLIBC_2.99"))
    at = data.index(old, *need_range)
    data[at : at + 4] = new
    path.write_bytes(bytes(data))


def elf_hash(name: bytes) -> int:
    """The System V ABI's ELF hash (vna_hash)."""
    h = 0
    for c in name:
        h = (h << 4) + c
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g
    return h & 0xFFFFFFFF


def live_test_containers() -> set[str]:
    """IDs of every container test-install created that still exists."""
    import docker

    client = docker.from_env()
    found = client.containers.list(
        all=True, filters={"label": f"{testinstall.ROLE_LABEL}={testinstall.ROLE}"}
    )
    return {str(c.id) for c in found}


@contextmanager
def no_container_left() -> Iterator[None]:
    yield
    assert live_test_containers() == set(), "a test-install container was left behind"


def timed_install(
    scenario: str,
    debs: list[Path],
    target: Target,
    cache: Cache,
    *,
    run: str | None = None,
    expect: str | None = None,
) -> testinstall.InstallReport:
    start = time.monotonic()
    with no_container_left():
        report = testinstall.check_install(Session(cache=cache), debs, target, run=run, expect=expect)
    TIMINGS[scenario] = time.monotonic() - start
    print(
        f"\n{scenario}: {TIMINGS[scenario]:.1f} s",
        [(s.name, s.ok, round(s.seconds, 1)) for s in report.steps],
    )
    return report


def step(report: testinstall.InstallReport, name: str) -> testinstall.StepResult:
    return next(s for s in report.steps if s.name == name)


def names(report: testinstall.InstallReport) -> list[str]:
    return [s.name for s in report.steps]


def test_good_deb_passes_every_step(target: Target, e2e_cache: Cache, tmp_path: Path) -> None:
    deb = make_deb(
        tmp_path,
        "debforge-greeter",
        depends="hello",
        files=(script("/usr/bin/debforge-greeter", "exec hello"),),
    )
    report = timed_install("good", [deb], target, e2e_cache, run="debforge-greeter", expect="Hello, world!")
    assert report.ok, report.to_json()
    assert names(report) == ["image", "install", "run", "remove", "purge", "files"]
    assert "Hello, world!" in step(report, "run").output_tail
    assert report.leftovers == ()
    assert report.to_json()["ok"] is True


def test_impossible_depends_fails_at_install(target: Target, e2e_cache: Cache, tmp_path: Path) -> None:
    deb = make_deb(tmp_path, "debforge-oldssl", depends="libssl1.1")
    report = timed_install("impossible-depends", [deb], target, e2e_cache)
    assert not report.ok
    assert names(report) == ["image", "install"]
    assert (
        step(report, "install").detail == "debforge-oldssl depends on libssl1.1, which bookworm does not have"
    )


def test_newer_glibc_fails_at_run_with_the_loaders_message(
    target: Target, e2e_cache: Cache, tmp_path: Path
) -> None:
    require_tool("aarch64-linux-gnu-gcc")
    binary = compile_c(tmp_path / "debforge-newglibc")
    needs_glibc_299(binary)
    files = (FileFromPath(dest=PurePosixPath("/usr/bin/debforge-newglibc"), source=binary, mode=0o755),)
    deb = make_deb(tmp_path, "debforge-newglibc", arch="arm64", depends="libc6", files=files)
    report = timed_install("newer-glibc", [deb], target, e2e_cache, run="debforge-newglibc", expect="hello")
    assert not report.ok
    run = step(report, "run")
    assert not run.ok
    assert "version `GLIBC_2.99' not found" in run.detail
    assert step(report, "install").ok and step(report, "purge").ok  # a failed run still removes and purges


def test_failing_postinst_is_named(target: Target, e2e_cache: Cache, tmp_path: Path) -> None:
    deb = make_deb(
        tmp_path, "debforge-badpostinst", scripts={"postinst": b"#!/bin/sh\necho oops >&2\nexit 1\n"}
    )
    report = timed_install("failing-postinst", [deb], target, e2e_cache, run="true")
    assert names(report) == ["image", "install"]
    assert not report.ok
    assert "postinst of debforge-badpostinst exited 1" in step(report, "install").detail


def test_file_left_after_purge_is_reported(target: Target, e2e_cache: Cache, tmp_path: Path) -> None:
    postinst = (
        b"#!/bin/sh\nset -e\nmkdir -p /var/lib/debforge-leaky\necho 1 > /var/lib/debforge-leaky/state\n"
    )
    deb = make_deb(tmp_path, "debforge-leaky", scripts={"postinst": postinst})
    report = timed_install("leftover", [deb], target, e2e_cache)
    assert not report.ok
    assert step(report, "purge").ok
    assert not step(report, "files").ok
    assert report.leftovers == ("/var/lib/debforge-leaky", "/var/lib/debforge-leaky/state")
    assert "/var/lib/debforge-leaky/state" in step(report, "files").detail


class InterruptingReporter:
    """Presses Ctrl-C when a step with `word` in its title starts (fault injection)."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.quiet = NullReporter()

    def step(self, title: str) -> AbstractContextManager[None]:
        if self.word in title:
            raise KeyboardInterrupt
        return self.quiet.step(title)

    def progress(self, title: str, total: int | None) -> AbstractContextManager[Bar]:
        return self.quiet.progress(title, total)

    def info(self, message: str) -> None:
        del message

    def warning(self, message: str) -> None:
        del message


def test_ctrl_c_removes_the_container(target: Target, e2e_cache: Cache, tmp_path: Path) -> None:
    deb = make_deb(tmp_path, "debforge-interrupted")
    session = Session(cache=e2e_cache, reporter=InterruptingReporter("Installing"))
    with no_container_left(), pytest.raises(KeyboardInterrupt):
        testinstall.check_install(session, [deb], target)


class WarningsReporter(NullReporter):
    """Remembers the warnings."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)


def test_keep_leaves_the_container_and_says_how_to_enter(
    target: Target, e2e_cache: Cache, tmp_path: Path
) -> None:
    import docker

    deb = make_deb(tmp_path, "debforge-kept", depends="libssl1.1")  # fails fast at install
    reporter = WarningsReporter()
    report = testinstall.check_install(Session(cache=e2e_cache, reporter=reporter, keep=True), [deb], target)
    try:
        assert report.container_id is not None
        assert report.enter == f"docker exec -it {report.container_id} bash"
        kept = docker.from_env().containers.get(report.container_id)
        assert kept.status == "running"
        assert kept.labels[testinstall.ROLE_LABEL] == testinstall.ROLE
        assert f"enter it with `docker exec -it {kept.name} bash`" in reporter.warnings[-1]
    finally:
        if report.container_id:
            docker.from_env().containers.get(report.container_id).remove(force=True)
