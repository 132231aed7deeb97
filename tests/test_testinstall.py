"""test-install's pure parts: reading debs; apt, dpkg and loader messages; file lists; the report."""

from __future__ import annotations

import gzip
import io
import subprocess
import tarfile
from pathlib import Path, PurePosixPath

import pytest

from debforge import testinstall
from debforge.cache import Cache
from debforge.deb import FileFromBytes, PackageSpec, write_deb
from debforge.dists import make_target
from debforge.errors import InstallCheckError as InstallError
from debforge.report import NullReporter
from debforge.session import Session
from debforge.testinstall.parse import (
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
from tests.conftest import require_tool

# apt 2.6 (bookworm), `apt-get install -s ./hello-ssl_1.0_arm64.deb`, verbatim apart from the names.
APT_26 = """\
Reading package lists...
Building dependency tree...
Reading state information...
Note, selecting 'hello-ssl' instead of '/tmp/debforge-test-install/hello-ssl_1.0_arm64.deb'
Some packages could not be installed. This may mean that you have
requested an impossible situation or if you are using the unstable
distribution that some required packages have not yet been created
or been moved out of Incoming.
The following information may help to resolve the situation:

The following packages have unmet dependencies:
 hello-ssl : Depends: libssl1.1 (>= 1.1.1) but it is not installable
             Depends: libc6 (>= 2.38) but 2.36-9+deb12u7 is to be installed
             Depends: libfoo1 but it is not installable or
                      libfoo2 but it is not going to be installed
 other : PreDepends: init-system-helpers (>= 9) but 1.65.2 is to be installed
E: Unable to correct problems, you have held broken packages.
"""

# apt 3.0 (trixie) keeps the per-package lines under a new heading and says "Error:".
APT_30 = """\
Solving dependencies... Error!
Some packages could not be installed. This may mean that you have
requested an impossible situation or if you are using the unstable
distribution that some required packages have not yet been created
or been moved out of Incoming.
The following information may help to resolve the situation:

Unsatisfied dependencies:
 hello-ssl : Depends: libssl1.1 but it is not installable
Error: Unable to correct problems, you have held broken packages.
Error: The following information from --solver 3.0 may provide additional context:
   Unable to satisfy dependencies. Reached two conflicting decisions:
   1. hello-ssl:arm64=1.0 is selected for install
   2. hello-ssl:arm64 Depends libssl1.1
      but none of the choices are installable:
      [no choices]
"""

DPKG_POSTINST = """\
Setting up foo (1.0) ...
oops
dpkg: error processing package foo (--configure):
 installed foo package post-installation script subprocess returned error exit status 1
Errors were encountered while processing:
 foo
E: Sub-process /usr/bin/dpkg returned an error code (1)
"""


def test_unmet_lines_of_apt_2_6() -> None:
    unmet = parse_unmet(APT_26)
    assert [(u.package, u.kind) for u in unmet] == [
        ("hello-ssl", "Depends"),
        ("hello-ssl", "Depends"),
        ("hello-ssl", "Depends"),
        ("other", "PreDepends"),
    ]
    assert unmet[0].alternatives == (("libssl1.1 (>= 1.1.1)", "it is not installable"),)
    assert unmet[2].alternatives == (
        ("libfoo1", "it is not installable"),
        ("libfoo2", "it is not going to be installed"),
    )
    assert unmet[2].names == ("libfoo1", "libfoo2")


def test_unmet_lines_of_apt_3_0() -> None:
    unmet = parse_unmet(APT_30)
    assert unmet == (
        Unmet(package="hello-ssl", kind="Depends", alternatives=(("libssl1.1", "it is not installable"),)),
    )


def test_explanations_name_what_the_dist_has() -> None:
    have = {"libc6": ("2.36-9+deb12u7",), "init-system-helpers": ("1.65.2",), "libfoo2": ("2.0",)}
    sentences = [explain_unmet(u, "bookworm", lambda n: have.get(n, ())) for u in parse_unmet(APT_26)]
    assert sentences == [
        "hello-ssl depends on libssl1.1 (>= 1.1.1), which bookworm does not have",
        "hello-ssl depends on libc6 (>= 2.38), but bookworm has only libc6 2.36-9+deb12u7",
        "hello-ssl depends on libfoo1, which bookworm does not have or libfoo2, which apt cannot install "
        "together with the rest (a conflict or unmet dependency)",
        "other pre-depends on init-system-helpers (>= 9), but bookworm has only init-system-helpers 1.65.2",
    ]


def test_explanations_of_uninstallable_virtual_and_conflicting_packages() -> None:
    def say(kind: str, rel: str, why: str, versions: tuple[str, ...] = ()) -> str:
        return explain_unmet(
            Unmet(package="p", kind=kind, alternatives=((rel, why),)), "trixie", lambda n: versions
        )

    assert say("Depends", "libx1", "it is not installable", ("1.0",)) == (
        "p depends on libx1; trixie has libx1 1.0, but its own dependencies cannot be met"
    )
    assert say("Depends", "mail-transport-agent", "it is a virtual package") == (
        "p depends on mail-transport-agent, a virtual package no installable trixie package provides"
    )
    assert (
        say("Conflicts", "q", "2.1 is to be installed")
        == "p conflicts with q, which is to be installed (q 2.1)"
    )
    assert say("Breaks", "q (<< 3)", "2.1 is installed") == "p breaks q (<< 3), which is installed (q 2.1)"


def test_madison_table() -> None:
    text = (
        "     libc6 | 2.36-9+deb12u13 | http://deb.debian.org/debian-security bookworm-security/main arm64 "
        "Packages\n"
        "     libc6 | 2.36-9+deb12u7 | http://deb.debian.org/debian bookworm/main arm64 Packages\n"
        "     libc6 | 2.36-9+deb12u7 | http://mirror.example/debian bookworm/main arm64 Packages\n"
    )
    assert parse_madison(text) == {"libc6": ("2.36-9+deb12u13", "2.36-9+deb12u7")}
    assert parse_madison("N: Unable to locate package libssl1.1\n") == {}


def test_failing_maintainer_scripts_are_named() -> None:
    assert maintscript_failures(DPKG_POSTINST) == ("postinst of foo exited 1",)
    text = (
        "dpkg: error processing package bar:arm64 (--remove):\n"
        " installed bar:arm64 package pre-removal script subprocess was killed by signal (Terminated)\n"
        "dpkg: error processing archive /tmp/x.deb (--unpack):\n"
        " new baz package pre-installation script subprocess returned error exit status 3\n"
        " installed qux package post-removal script subprocess returned error exit status 2\n"
        " installed qux package post-removal script subprocess returned error exit status 2\n"
    )
    assert maintscript_failures(text) == (
        "prerm of bar was killed by signal Terminated",
        "preinst of baz exited 3",
        "postrm of qux exited 2",
    )
    assert maintscript_failures("E: Unable to locate package nothing") == ()


def test_run_failure_shows_the_loader_line() -> None:
    stderr = (
        "/usr/bin/x: /lib/libc.so.6: version `GLIBC_2.38' not found (required by /usr/bin/x)\n"
        "/usr/bin/x: /lib/libc.so.6: version `GLIBC_2.39' not found (required by /usr/bin/x)\n"
    )
    assert run_failure("x --version", 1, stderr) == (
        "`x --version` exited 1: /usr/bin/x: /lib/libc.so.6: version `GLIBC_2.38' not found "
        "(required by /usr/bin/x)"
    )
    missing_lib = (
        "x: error while loading shared libraries: libssl.so.1.1: cannot open shared object file\nmore\n"
    )
    assert run_failure("x", 127, missing_lib).endswith("error while loading shared libraries: libssl.so.1.1: "
                                                       "cannot open shared object file")  # fmt: skip
    assert run_failure("x", 127, "sh: 1: x: not found\n") == "`x` exited 127: sh: 1: x: not found"
    assert run_failure("false", 1, "") == "`false` exited 1"


def test_file_list_changes_ignore_what_always_changes() -> None:
    before = {"/", "/etc", "/etc/passwd", "/usr/bin/ls", "/var/lib/dpkg/status", "/etc/ld.so.cache"}
    after = before - {"/usr/bin/ls", "/etc/ld.so.cache"} | {
        "/var/lib/dpkg/status-old",
        "/var/cache/debconf/config.dat-old",
        "/etc/passwd-",
        "/var/lib/foo",
        "/var/lib/foo/state",
    }
    assert file_list_changes(before, after) == (("/var/lib/foo", "/var/lib/foo/state"), ("/usr/bin/ls",))


def test_tail_keeps_the_last_lines() -> None:
    text = "\n".join(f"line {i}" for i in range(100)) + "\n\n"
    assert tail(text, 3) == "line 97\nline 98\nline 99"
    assert len(tail("x" * 10_000)) == 4000


# --------------------------------------------------------------------------- reading debs


def small_spec(**changes: object) -> PackageSpec:
    fields: dict[str, object] = {
        "name": "demo",
        "version": "1:2.0-1",
        "arch": "arm64",
        "maintainer": "t <t@example.org>",
        "description": "demo\n A demo.",
        "files": (FileFromBytes(dest=PurePosixPath("/usr/share/demo/x"), data=b"x"),),
    }
    fields.update(changes)
    return PackageSpec(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("compression", ["xz", "gzip", "zstd"])
def test_read_control_of_debs_debforge_writes(tmp_path: Path, compression: str) -> None:
    spec = small_spec(compression=compression)
    deb = write_deb(spec, tmp_path, reporter=NullReporter(), allow_zstd=True).path
    control = read_control(deb)
    assert (control.name, control.version, control.arch) == ("demo", "1:2.0-1", "arm64")


@pytest.mark.integration
@pytest.mark.parametrize("compression", ["gzip", "none", "xz", "zstd"])
def test_read_control_agrees_with_dpkg_deb(tmp_path: Path, compression: str) -> None:
    require_tool("dpkg-deb")
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        "Package: ref\nVersion: 0.1\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: r\n r\n"
    )
    deb = tmp_path / "ref.deb"
    build = ["dpkg-deb", f"-Z{compression}", "--root-owner-group", "--build", root, deb]
    subprocess.run(build, check=True, capture_output=True)
    show = ["dpkg-deb", "--show", "--showformat", "${Package} ${Version} ${Architecture}", deb]
    shown = subprocess.run(show, check=True, capture_output=True, text=True).stdout
    control = read_control(deb)
    assert f"{control.name} {control.version} {control.arch}" == shown


def test_read_control_refuses_what_is_not_a_deb(tmp_path: Path) -> None:
    text = tmp_path / "notes.deb"
    text.write_text("hello")
    with pytest.raises(InstallError, match="not an ar archive"):
        read_control(text)
    no_control = tmp_path / "empty.deb"
    no_control.write_bytes(
        b"!<arch>\n" + b"debian-binary/  0           0     0     100644  4         `\n" + b"2.0\n"
    )
    with pytest.raises(InstallError, match=r"no control\.tar member"):
        read_control(no_control)
    with pytest.raises(InstallError, match="cannot read"):
        read_control(tmp_path / "missing.deb")


def test_read_control_names_missing_fields(tmp_path: Path) -> None:
    control = b"Package: half\nVersion: 1\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("./control")
        info.size = len(control)
        tar.addfile(info, io.BytesIO(control))
    member = gzip.compress(buf.getvalue())
    binary = f"{'debian-binary':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{4:<10}`\n".encode() + b"2.0\n"
    header = f"{'control.tar.gz':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(member):<10}`\n".encode()
    deb = tmp_path / "half.deb"
    deb.write_bytes(b"!<arch>\n" + binary + header + member + (b"\n" if len(member) % 2 else b""))
    with pytest.raises(InstallError, match="has no Architecture field"):
        read_control(deb)


# --------------------------------------------------------------------------- before any container


def test_a_deb_for_another_arch_is_refused_before_any_container(tmp_path: Path) -> None:
    deb = write_deb(small_spec(arch="amd64"), tmp_path, reporter=NullReporter()).path
    target = make_target("bookworm", "arm64")
    with pytest.raises(InstallError, match="built for amd64, but the target is bookworm/arm64") as info:
        testinstall.check_install(Session(cache=Cache(tmp_path / "cache")), [deb], target)
    assert info.value.hint == "test it with --arch amd64, or build it for arm64"


def test_expect_without_run_is_refused(tmp_path: Path) -> None:
    deb = write_deb(small_spec(), tmp_path, reporter=NullReporter()).path
    target = make_target("bookworm", "arm64")
    with pytest.raises(InstallError, match="--expect needs a command"):
        testinstall.check_install(Session(cache=Cache(tmp_path / "c")), [deb], target, expect="x")
    with pytest.raises(InstallError, match=r"no \.deb"):
        testinstall.check_install(Session(cache=Cache(tmp_path / "c")), [], target)


def test_report_ok_json_and_enter() -> None:
    good = testinstall.StepResult(
        name="install", ok=True, seconds=1.234, output_tail="done", detail="installed x"
    )
    bad = testinstall.StepResult(name="run", ok=False, seconds=0.5, output_tail="boom", detail="`x` exited 1")
    report = testinstall.InstallReport(
        target="bookworm/arm64", packages=("x",), steps=(good,), container_id="abc"
    )
    assert report.ok
    assert report.enter == "docker exec -it abc bash"
    failed = testinstall.InstallReport(target="bookworm/arm64", packages=("x",), steps=(good, bad))
    assert not failed.ok
    assert failed.enter is None
    assert not testinstall.InstallReport(target="t", packages=(), steps=()).ok
    doc = failed.to_json()
    assert doc["ok"] is False
    assert doc["steps"] == [
        {"name": "install", "ok": True, "seconds": 1.23, "detail": "installed x", "output_tail": "done"},
        {"name": "run", "ok": False, "seconds": 0.5, "detail": "`x` exited 1", "output_tail": "boom"},
    ]


def test_file_list_verdict_is_a_named_outcome() -> None:
    from debforge.testinstall.steps import files_verdict

    clean = files_verdict((), ())
    assert clean == testinstall.Outcome(
        ok=True, output="", detail="the file list after the purge equals the one before installation"
    )
    dirty = files_verdict(("/var/lib/x",), ("/usr/bin/ls",))
    assert not dirty.ok
    assert dirty.output == "left behind: /var/lib/x\nmissing: /usr/bin/ls"
    assert dirty.detail == (
        "the purge left 1 file(s) behind: /var/lib/x; 1 file(s) of the base system are gone: /usr/bin/ls"
    )
