"""End to end: a bookworm arm64 sysroot a cross gcc links against, and an arm64 image apt works in."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath

import pytest

from debforge import rootfs
from debforge.cache import Cache
from debforge.container import ROLE_LABEL, ContainerSpec, Image, Mount, open_container, run_container
from debforge.dists import Target
from debforge.report import NullReporter
from debforge.session import Session
from tests.conftest import require_tool

pytestmark = pytest.mark.e2e

SSL_PROGRAM = """
#include <openssl/ssl.h>
#include <stdio.h>
int main(void) { printf("%s\\n", OpenSSL_version(OPENSSL_VERSION)); return SSL_library_init() == 0; }
"""


@pytest.fixture(scope="module")
def ssl_sysroot(
    e2e_session: Session, bookworm_arm64: Target, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("sysroot") / "root"
    return rootfs.make_sysroot(e2e_session, bookworm_arm64, ["libssl-dev"], out=out).path


def test_cross_gcc_links_against_libssl_in_the_sysroot(ssl_sysroot: Path, tmp_path: Path) -> None:
    gcc = require_tool("aarch64-linux-gnu-gcc")
    assert (ssl_sysroot / "usr/lib/aarch64-linux-gnu/libssl.so").resolve().is_file()
    assert str((ssl_sysroot / "lib").readlink()) == "usr/lib"
    src = tmp_path / "ssl.c"
    src.write_text(SSL_PROGRAM)
    exe = tmp_path / "ssl"
    subprocess.run([gcc, f"--sysroot={ssl_sysroot}", src, "-o", exe, "-lssl", "-lcrypto"], check=True)
    header = exe.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64
    # The tree also runs what links against it (binfmt + QEMU, the sysroot as the loader prefix).
    ran = subprocess.run(
        [exe],
        env={**os.environ, "QEMU_LD_PREFIX": str(ssl_sysroot)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0 and ran.stdout.startswith("OpenSSL 3.")


def test_pkg_config_reports_openssl_3(ssl_sysroot: Path) -> None:
    pkg_config = require_tool("pkg-config")
    libdir = f"{ssl_sysroot}/usr/lib/aarch64-linux-gnu/pkgconfig:{ssl_sysroot}/usr/share/pkgconfig"
    env = {**os.environ, "PKG_CONFIG_SYSROOT_DIR": str(ssl_sysroot), "PKG_CONFIG_LIBDIR": libdir}
    version = subprocess.run(
        [pkg_config, "--modversion", "openssl"], env=env, capture_output=True, text=True, check=False
    )
    assert version.stdout.startswith("3."), version.stderr
    libs = subprocess.run(
        [pkg_config, "--libs", "openssl"], env=env, capture_output=True, text=True, check=True
    )
    assert "-lssl" in libs.stdout.split()


def test_sysroot_dpkg_database_answers_dpkg_query(ssl_sysroot: Path) -> None:
    dpkg_query = require_tool("dpkg-query")
    admin = f"--admindir={ssl_sysroot}/var/lib/dpkg"
    owner = subprocess.run(
        [dpkg_query, admin, "-S", "/usr/lib/aarch64-linux-gnu/libssl.so.3"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert owner.stdout.startswith("libssl3:arm64:")
    assert "libssl 3 libssl3" in (ssl_sysroot / "var/lib/dpkg/info/libssl3:arm64.shlibs").read_text()


# ----------------------------------------------------------------------------- the image


def test_image_is_arm64_and_runs_aarch64(runtime_image: Image, e2e_session: Session) -> None:
    attrs = e2e_session.docker().images.get(runtime_image.tag).attrs
    assert attrs["Architecture"] == "arm64" and runtime_image.platform == "linux/arm64"
    with open_container(e2e_session, ContainerSpec(image=runtime_image)) as box:
        assert box.exec(["uname", "-m"]).text.strip() == "aarch64"
        audit = box.exec(["dpkg", "--audit"])
        assert audit.stdout == b"" and audit.stderr == b""
        assert box.exec(["test", "-L", "/bin"]).returncode == 0
        status = box.exec(["dpkg-query", "-W", "-f=${Package} ${Status}\\n"]).text.splitlines()
        assert status and all(line.endswith("install ok installed") for line in status)
        assert not any(line.startswith(("usrmerge ", "perl ")) for line in status)


ISAR1_PROGRAM = r"""
#include <stdio.h>
int main(void) {
    unsigned long v;
    __asm__ volatile("mrs %0, ID_AA64ISAR1_EL1" : "=r"(v));
    printf("%lx\n", v);
}
"""


def test_emulated_arm64_signs_pointers_with_the_impdef_algorithm(
    runtime_image: Image, e2e_session: Session, tmp_path: Path
) -> None:
    # dists._QEMU_CPU: QEMU's max CPU, pointer authentication by the IMPLEMENTATION DEFINED algorithm
    # (ID_AA64ISAR1_EL1.API, bits 11:8) rather than the architected QARMA5 (APA, bits 7:4). Linux
    # lets user space read the register (HWCAP_CPUID), and so does qemu-user. Checked for a command
    # exec'd in a container and for a container's own command, which reach QEMU differently.
    gcc = require_tool("aarch64-linux-gnu-gcc")
    source = tmp_path / "isar1.c"
    source.write_text(ISAR1_PROGRAM)
    subprocess.run([gcc, "-static", "-O2", "-o", str(tmp_path / "isar1"), str(source)], check=True)
    (tmp_path / "isar1").chmod(0o755)
    binary = {PurePosixPath("/probe"): tmp_path / "isar1"}
    with open_container(e2e_session, ContainerSpec(image=runtime_image, copies=tuple(binary.items()))) as box:
        execd = int(box.exec(["/probe/isar1"]).text, 16)
    spec = ContainerSpec(image=runtime_image, argv=("/probe/isar1",), copies=tuple(binary.items()))
    done = run_container(e2e_session, spec)
    assert done.returncode == 0, done.stderr
    for isar1 in (execd, int(done.stdout, 16)):
        assert ((isar1 >> 4) & 0xF, (isar1 >> 8) & 0xF) == (0, 1), hex(isar1)


def test_apt_installs_hello_and_files_travel_both_ways(
    runtime_image: Image, e2e_session: Session, tmp_path: Path
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in/greeting").write_text("hi\n")
    with open_container(e2e_session, ContainerSpec(image=runtime_image)) as box:
        # The lists debforge verified are already in the image: no emulated `apt-get update` needed.
        box.exec(["apt-get", "install", "-y", "hello"], env={"DEBIAN_FRONTEND": "noninteractive"})
        assert box.exec(["hello"]).text.strip() == "Hello, world!"
        box.copy_in([tmp_path / "in"], PurePosixPath("/srv"))
        box.exec(["sh", "-c", "hello > /srv/in/out"])
        got = box.copy_out(PurePosixPath("/srv/in"), tmp_path / "back")
    assert (got / "greeting").read_text() == "hi\n"
    assert (got / "out").read_text().strip() == "Hello, world!"


def test_image_is_reused_by_content(
    runtime_image: Image, e2e_session: Session, bookworm_arm64: Target
) -> None:
    from debforge.container import build_image

    again = build_image(e2e_session, bookworm_arm64)
    assert again.id == runtime_image.id


# ----------------------------------------------------------------------------- the runner


class LinesReporter(NullReporter):
    """Remembers info lines and warnings."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.warnings: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)


def probes(session: Session) -> list[str]:
    """Names of the containers with the `probe` role that still exist."""
    found = session.docker().containers.list(all=True, filters={"label": f"{ROLE_LABEL}=probe"})
    return [str(c.name) for c in found]


def test_run_container_mounts_streams_separates_output_and_removes_it(
    runtime_image: Image, e2e_cache: Cache, tmp_path: Path
) -> None:
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro/in").write_text("from the host\n")
    (tmp_path / "rw").mkdir()
    script = (
        "cat /in/in; echo oops >&2; id -u; pwd; echo $GREETING; ls /sys/class/net; touch /out/made; "
        "touch /in/x 2>/dev/null || echo read-only; exit 3"
    )
    mounts = (
        Mount(source=tmp_path / "ro", dest="/in", read_only=True),
        Mount(source=tmp_path / "rw", dest="/out"),
    )
    spec = ContainerSpec(
        image=runtime_image, argv=("sh", "-c", script), role="probe", user=f"{os.getuid()}:{os.getgid()}",
        mounts=mounts, workdir="/tmp", env=(("GREETING", "hi"),), network="none",
    )  # fmt: skip
    reporter = LinesReporter()
    with Session(cache=e2e_cache, reporter=reporter) as session:
        done = run_container(session, spec)
        assert probes(session) == []
    assert done.returncode == 3
    assert done.text.splitlines() == ["from the host", str(os.getuid()), "/tmp", "hi", "lo", "read-only"]
    assert done.stderr == b"oops\n"
    assert sorted(reporter.lines) == sorted([*done.text.splitlines(), "oops"])
    assert (tmp_path / "rw/made").is_file()


def test_timeout_ends_the_command_with_124(runtime_image: Image, e2e_cache: Cache) -> None:
    spec = ContainerSpec(image=runtime_image, argv=("sleep", "60"), role="probe", timeout=1)
    with Session(cache=e2e_cache) as session:
        start = time.monotonic()
        assert run_container(session, spec).returncode == 124
        assert time.monotonic() - start < 50
        assert probes(session) == []


def test_ctrl_c_removes_and_keep_keeps_with_a_way_in(runtime_image: Image, e2e_cache: Cache) -> None:
    with Session(cache=e2e_cache) as session:
        with (
            pytest.raises(KeyboardInterrupt),
            open_container(session, ContainerSpec(image=runtime_image, role="probe")),
        ):
            raise KeyboardInterrupt
        assert probes(session) == []
    reporter = LinesReporter()
    with Session(cache=e2e_cache, reporter=reporter, keep=True) as session:
        done = run_container(session, ContainerSpec(image=runtime_image, argv=("true",), role="probe"))
        try:
            (name,) = probes(session)
            assert done.returncode == 0
            assert reporter.warnings == [
                f"the container {name} is kept (it has exited); open a shell in what it left with "
                f"`docker commit {name} {name} && docker run --rm -it {name} bash`"
            ]
        finally:
            for left in probes(session):
                session.docker().containers.get(left).remove(force=True)


# ----------------------------------------------------------------------------- reliability

SCRIPT = """
import sys
from pathlib import Path
from debforge import rootfs
from debforge.cache import Cache
from debforge.dists import make_target
from debforge.session import Session
real = rootfs.fill_tree
def fill(*a, **k):
    print("filling", flush=True)
    real(*a, **k)
rootfs.fill_tree = fill
target = make_target("bookworm", "arm64")
sysroot = rootfs.make_sysroot(Session(cache=Cache(Path(sys.argv[1])).ensure()), target, ["zlib1g-dev"])
print("done", sysroot.closure_key, flush=True)
"""


def _spawn(cache: Cache) -> subprocess.Popen[bytes]:
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(cache.root)], cwd=repo, env=env, stdout=subprocess.PIPE
    )


def _private_cache(shared: Cache, tmp_path: Path, bookworm_arm64: Target) -> tuple[Cache, list[str]]:
    """A cache holding the shared index but none of the zlib1g-dev sysroot's .debs."""
    from debforge.archive import fetch_index
    from debforge.resolve import resolve_closure

    with Session(cache=shared) as session:
        index = fetch_index(session, bookworm_arm64)
        closure = resolve_closure(index, ["zlib1g-dev", *rootfs.SYSROOT_BASE])
        rootfs.fetch_debs(session, closure.packages)  # so kill tests do not wait on the network
    private = Cache(tmp_path / "cache").ensure()
    for sub in ("state", "blobs"):
        rootfs.clone_tree(shared.root / sub, private.root / sub)
    for tree in (shared.root / "trees").glob("index-*"):
        rootfs.clone_tree(tree, private.root / "trees" / tree.name)
    shas = [p.sha256 for p in closure.packages]
    return private, shas


def _blobs_are_whole(cache: Cache) -> None:
    for blob in (cache.root / "blobs").rglob("*"):
        if blob.is_file() and len(blob.name) == 64:
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name


def _sysroot_trees(cache: Cache) -> list[Path]:
    return [p for p in (cache.root / "trees").iterdir() if not p.name.startswith("index-")]


def test_kill_during_download_and_extraction_then_rerun(
    e2e_cache: Cache, bookworm_arm64: Target, tmp_path: Path
) -> None:
    cache, shas = _private_cache(e2e_cache, tmp_path, bookworm_arm64)
    for sha in shas:
        cache.blob(sha).unlink()
    proc = _spawn(cache)  # kill -9 while downloading: as soon as the first .deb is complete
    deadline = time.monotonic() + 120
    while not any(cache.has_blob(s) for s in shas) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.kill()
    proc.communicate()
    _blobs_are_whole(cache)
    assert _sysroot_trees(cache) == []
    for sha in shas:  # let the next run reach extraction at once
        if not cache.has_blob(sha):
            cache.blob(sha).parent.mkdir(parents=True, exist_ok=True)
            os.link(e2e_cache.blob(sha), cache.blob(sha))
    proc = _spawn(cache)  # kill -9 while extracting
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"filling"
    time.sleep(0.3)
    proc.kill()
    proc.communicate()
    assert _sysroot_trees(cache) == []
    proc = _spawn(cache)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0 and b"done" in out
    assert len(_sysroot_trees(cache)) == 1
    _blobs_are_whole(cache)


def test_concurrent_sysroots_both_succeed_work_done_once(
    e2e_cache: Cache, bookworm_arm64: Target, tmp_path: Path
) -> None:
    cache, _ = _private_cache(e2e_cache, tmp_path, bookworm_arm64)
    procs = [_spawn(cache), _spawn(cache)]
    outs = [p.communicate(timeout=300)[0].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(out.count("filling") for out in outs) == 1
    keys = {line.split()[1] for out in outs for line in out.splitlines() if line.startswith("done")}
    assert len(keys) == 1 and len(_sysroot_trees(cache)) == 1
