"""An emulated image's maintainer scripts run by the engine's own dash, perl and tools (container/native.py),
with dpkg inside the result as the oracle: the target's interpreters are back byte for byte (dpkg
--verify against their md5sums), hard links included, nothing of the engine's arch is left, and what
the perl helpers write (debconf's database, deb-systemd-helper's state) is there."""

from __future__ import annotations

import pytest

from debforge import rootfs
from debforge.container import Image, run_in_container
from debforge.container.image import host_target, resolve_bootstrap
from debforge.container.native import native_interpreters
from debforge.dists import Target
from debforge.session import Session
from tests.conftest import require_docker

pytestmark = pytest.mark.e2e


def test_the_engines_dash_and_perl_stand_in_for_bookworm_arm64(
    e2e_session: Session, bookworm_arm64: Target, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from debforge.archive import fetch_index

    closure = resolve_bootstrap(fetch_index(e2e_session, bookworm_arm64), ())
    work = tmp_path_factory.mktemp("native")
    root = work / "root"
    root.mkdir()
    debs = rootfs.fetch_debs(e2e_session, closure.packages)
    rootfs.fill_tree(root, closure.packages, debs, bookworm_arm64, configured=False)
    native = native_interpreters(
        e2e_session, host_target(bookworm_arm64, arch="amd64"), bookworm_arm64,
        records=closure.packages, root=root, work=work,
    )  # fmt: skip
    assert native is not None
    assert (native / "swaps").read_text().split() == ["usr/bin/dash", "usr/bin/perl"]
    assert (native / "links").read_text().split() == ["usr/bin/perl", "usr/bin/perl5.36.0"]
    assert (native / "added").read_text().split() == ["usr/lib/x86_64-linux-gnu"]
    assert (native / "root/usr/lib/x86_64-linux-gnu/libc.so.6").exists()
    assert (native / "ld.so").is_file() and (native / "dash").is_file() and (native / "perl").is_file()
    tools = {p.name for p in (native / "bin").iterdir()}
    assert {"chown", "chmod", "mkdir", "mv", "sed", "grep"} <= tools and not {"uname", "arch", "od"} & tools


def test_the_configured_image_keeps_nothing_of_them(e2e_session: Session, runtime_image: Image) -> None:
    require_docker()
    script = (
        # --verify: a changed file is a line of flags (`??5??????`); the docs the image leaves out are
        # `missing`.
        "! dpkg --verify dash perl-base | grep -v '^missing ' && dpkg --audit"
        " && [ $(stat -c %i /usr/bin/perl) = $(stat -c %i /usr/bin/perl5.36.0) ]"
        " && ! [ -e /usr/lib/x86_64-linux-gnu ] && ! [ -e /debforge ]"
        " && [ -e /var/lib/systemd/deb-systemd-helper-enabled/apt-daily.timer.dsh-also ]"
        " && grep -c '^Name: tzdata/' /var/cache/debconf/config.dat && echo checked"
    )
    done = run_in_container(e2e_session, runtime_image, ["sh", "-c", script])
    out = done.stdout.decode()
    assert out.rstrip().endswith("checked"), out + done.stderr.decode()
    assert int(out.split()[0]) > 0  # debconf recorded tzdata's questions: debconf's perl frontend ran
