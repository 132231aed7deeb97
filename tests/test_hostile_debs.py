"""Hostile .debs never choose a path: each is refused with one sentence, and nothing is written anywhere.

Every deb here is built for real, byte by byte (ar + tar written with Python's tarfile), because
dpkg-deb refuses to build most of them. A well-formed twin built by the same code is accepted, so
each refusal is due to its one hostile twist.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from debforge import testinstall
from debforge.cache import Cache
from debforge.deb.members import CONTROL_TAR_MAX
from debforge.deb.read import read_deb
from debforge.dists import make_target
from debforge.errors import InstallCheckError as InstallError
from debforge.errors import RepoError
from debforge.repo import add_debs, init_repo, list_packages, publish
from debforge.report import NullReporter
from debforge.session import Session
from tests.conftest import require_tool

_BLOCK = 512
DATE = datetime(2024, 6, 10, 8, 47, 43, tzinfo=UTC)
CONTROL = {
    "Package": "hello",
    "Version": "1.0",
    "Architecture": "arm64",
    "Maintainer": "Test <test@example.com>",
    "Description": "test package\n A package built by the hostile-deb tests.",
}

# ---------------------------------------------------------------- building debs byte by byte


@dataclass
class Entry:
    """One data.tar entry; `pax` sets pax extended header records (tarfile writes them as given)."""

    name: str
    kind: bytes = tarfile.REGTYPE
    data: bytes = b""
    link: str = ""
    pax: dict[str, str] = field(default_factory=dict)


GOOD_DATA = (
    Entry("./", tarfile.DIRTYPE),
    Entry("./usr/", tarfile.DIRTYPE),
    Entry("./usr/share/", tarfile.DIRTYPE),
    Entry("./usr/share/hello/", tarfile.DIRTYPE),
    Entry("./usr/share/hello/data", data=b"hello\n"),
    Entry("./usr/share/hello/same", tarfile.LNKTYPE, link="./usr/share/hello/data"),
    Entry("./usr/share/hello/link", tarfile.SYMTYPE, link="/etc/hostname"),  # pointing out is fine
)


def tar_bytes(entries: tuple[Entry, ...] | list[Entry], *, fmt: int = tarfile.GNU_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type, info.linkname, info.size, info.mode = e.kind, e.link, len(e.data), 0o644
            info.pax_headers = e.pax
            tar.addfile(info, io.BytesIO(e.data) if e.kind == tarfile.REGTYPE else None)
    return buf.getvalue()


def control_text(fields: dict[str, str], extra: str = "") -> bytes:
    return ("".join(f"{k}: {v}\n" for k, v in fields.items()) + extra).encode()


def control_tar(control: bytes, *extra: Entry) -> bytes:
    return gzip.compress(tar_bytes([Entry("./", tarfile.DIRTYPE), Entry("./control", data=control), *extra]))


def ar_member(name: str, data: bytes, *, size: int | None = None) -> bytes:
    """One ar member: the 60-byte header (deb(5), GNU ar's layout), the data, the even-offset pad."""
    length = len(data) if size is None else size
    header = f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{length:<10}`\n".encode()
    return header + data + (b"\n" if len(data) % 2 else b"")


def deb_bytes(
    *, control: bytes | None = None, data: bytes | None = None, data_name: str = "data.tar.gz"
) -> bytes:
    control_member = control_tar(control_text(CONTROL)) if control is None else control
    data_member = gzip.compress(tar_bytes(GOOD_DATA)) if data is None else data
    return (
        b"!<arch>\n"
        + ar_member("debian-binary", b"2.0\n")
        + ar_member("control.tar.gz", control_member)
        + ar_member(data_name, data_member)
    )


def with_fields(**changes: str) -> bytes:
    return deb_bytes(control=control_tar(control_text({**CONTROL, **changes})))


def with_control(text: str) -> bytes:
    return deb_bytes(control=control_tar(text.encode()))


def with_data(*entries: Entry, fmt: int = tarfile.GNU_FORMAT) -> bytes:
    return deb_bytes(data=gzip.compress(tar_bytes([*GOOD_DATA, *entries], fmt=fmt)))


def truncated_ar_member() -> bytes:
    whole = deb_bytes()
    return whole[: len(whole) - 40]  # the data.tar.gz header still claims its full size


def truncated_tar_member() -> bytes:
    # Uncompressed data.tar cut inside the last file's data; the ar header gives the cut length, so the
    # ar layer is consistent and only the tar reader can notice.
    raw = tar_bytes([*GOOD_DATA, Entry("./usr/share/hello/big", data=b"x" * 5000)])
    cut = raw[: raw.index(b"x" * 5000) + 1000]
    return deb_bytes(data=cut, data_name="data.tar")


def tar_without_end() -> bytes:
    # Cut right after the last member: a reader that stops at the end of the data sees a whole archive.
    raw = tar_bytes(GOOD_DATA)
    return deb_bytes(data=raw[: raw.index(b"hello\n") + _BLOCK], data_name="data.tar")


def oversized_control_tar() -> bytes:
    # A 10 KiB gzip that unpacks to more than the cap: a decompression bomb in control.tar.
    md5sums = Entry("./md5sums", data=b"0" * (CONTROL_TAR_MAX + 1))
    return deb_bytes(control=control_tar(control_text(CONTROL), md5sums))


def data_after_end_of_archive() -> bytes:
    hidden = tar_bytes([Entry("../../hidden", data=b"x")])
    return deb_bytes(data=gzip.compress(tar_bytes(GOOD_DATA) + hidden), data_name="data.tar.gz")


@dataclass(frozen=True)
class Case:
    """A hostile deb, the sentence it must be refused with, and where (below tmp_path) it aimed."""

    build: Callable[[], bytes]
    sentence: str  # a regular expression the whole error message must match
    aimed: tuple[str, ...] = ()


# The traversals aim at <tmp_path>/sentinel: the pool path is <tmp_path>/repo/pool/main/<p>/<source>/...
CASES = {
    "Package traversal": Case(
        lambda: with_fields(Package="../../../../../sentinel/pk2", Source="ok"),
        r"hostile\.deb: Package field '\.\./\.\./\.\./\.\./\.\./sentinel/pk2' is not a valid Debian "
        r"package name \(Policy 5\.6\.1\)",
        ("sentinel/pk2_1.0_arm64.deb",),
    ),
    "Package traversal without Source (the reported case)": Case(
        lambda: with_fields(Package="../../../../tmp/pk2"),
        r"hostile\.deb: Package field '\.\./\.\./\.\./\.\./tmp/pk2' is not a valid Debian package name .*",
        ("repo/tmp/pk2_1.0_arm64.deb",),
    ),
    "Source traversal": Case(
        lambda: with_fields(Source="../../../sentinel/pwned"),
        r"hostile\.deb: Source field '\.\./\.\./\.\./sentinel/pwned' is not a source package name .*",
        ("sentinel/pwned/hello_1.0_arm64.deb",),
    ),
    "Source version traversal": Case(
        lambda: with_fields(Source="hello (1.0/../../x)"),
        r"hostile\.deb: Source field 'hello \(1\.0/\.\./\.\./x\)' is not a source package name .*",
    ),
    "Version traversal": Case(
        lambda: with_fields(Version="1.0/../../../../../../sentinel/v"),
        r"hostile\.deb: Version field '1\.0/\.\./\.\./\.\./\.\./\.\./\.\./sentinel/v' is not a valid "
        r"Debian version \(Policy 5\.6\.12\)",
        ("sentinel/v_arm64.deb",),
    ),
    "Architecture traversal": Case(
        lambda: with_fields(Architecture="arm64/../../../../../../sentinel/a"),
        r"hostile\.deb: Architecture field 'arm64/\.\./\.\./\.\./\.\./\.\./\.\./sentinel/a' is not a "
        r"single Debian architecture name or all",
        ("sentinel/a.deb",),
    ),
    "two architectures": Case(
        lambda: with_fields(Architecture="arm64 amd64"),
        r"hostile\.deb: Architecture field 'arm64 amd64' is not a single Debian architecture name or all",
    ),
    "NUL in a field": Case(
        lambda: with_fields(Package="hello\0/../../sentinel/nul"),
        r"hostile\.deb: the Package field of its control file contains a NUL",
    ),
    "newline in a field": Case(
        lambda: with_control(
            "Package: hello\n ../../../sentinel/nl\nVersion: 1.0\nArchitecture: arm64\nDescription: x\n y\n"
        ),
        r"hostile\.deb: the Package field continues onto a second line, but it is a one-line field "
        r"\(Policy 5\.1\)",
    ),
    "other line separators are not newlines": Case(
        lambda: with_control("Package: hello\x1cVersion: 9\nVersion: 1.0\nArchitecture: arm64\n"),
        r"hostile\.deb: the Package field of its control file contains the control character U\+001C",
    ),
    "duplicate fields": Case(
        lambda: with_control("Package: hello\nVersion: 1.0\nArchitecture: arm64\nPackage: ../../x\n"),
        r"hostile\.deb: the Package field appears twice in its control file",
    ),
    "second stanza": Case(
        lambda: with_control("Package: hello\nVersion: 1.0\nArchitecture: arm64\n\nPackage: other\n"),
        r"hostile\.deb has a malformed control file: it has a second stanza after a blank line",
    ),
    "truncated ar member": Case(
        truncated_ar_member, r"hostile\.deb: its ar member data\.tar\.gz is truncated"
    ),
    "truncated tar member": Case(
        truncated_tar_member, r"hostile\.deb: its data\.tar is truncated: it ends inside a member"
    ),
    "tar without an end-of-archive block": Case(
        tar_without_end, r"hostile\.deb: its data\.tar is truncated: it ends without an end-of-archive block"
    ),
    "data.tar with a ../ member": Case(
        lambda: with_data(Entry("./usr/../../sentinel/evil", data=b"x")),
        r"hostile\.deb: its data\.tar member '\./usr/\.\./\.\./sentinel/evil' climbs out of the package "
        r"with '\.\.'",
    ),
    "GNU long name with ../": Case(
        lambda: with_data(Entry("./" + "d/" * 60 + "../" * 62 + "sentinel/long", data=b"x")),
        r"hostile\.deb: its data\.tar member '\./(d/){60}(\.\./){62}sentinel/long' climbs out of the "
        r"package with '\.\.'",
    ),
    "pax path with ../": Case(
        lambda: with_data(Entry("./ok", data=b"x", pax={"path": "../sentinel/pax"}), fmt=tarfile.PAX_FORMAT),
        r"hostile\.deb: its data\.tar member '\.\./sentinel/pax' climbs out of the package with '\.\.'",
    ),
    "../ hidden from pax readers": Case(
        lambda: with_data(
            Entry("../sentinel/ustar", data=b"x", pax={"path": "./ok"}), fmt=tarfile.PAX_FORMAT
        ),
        r"hostile\.deb: its data\.tar member '\.\./sentinel/ustar' climbs out of the package with '\.\.'",
    ),
    "absolute member": Case(
        lambda: with_data(Entry("/sentinel/abs", data=b"x")),
        r"hostile\.deb: its data\.tar member '/sentinel/abs' is an absolute path \(dpkg-deb writes "
        r"\./-relative ones\)",
    ),
    "symlink escape": Case(
        lambda: with_data(
            Entry("./usr/lib/", tarfile.DIRTYPE),
            Entry("./usr/lib/x", tarfile.SYMTYPE, link="../../../sentinel"),
            Entry("./usr/lib/x/evil", data=b"x"),
        ),
        r"hostile\.deb: its data\.tar member '\./usr/lib/x/evil' goes through the symlink 'usr/lib/x' in it",
    ),
    "hard link outside": Case(
        lambda: with_data(Entry("./usr/share/hello/shadow", tarfile.LNKTYPE, link="/etc/shadow")),
        r"hostile\.deb: its data\.tar hard link target '/etc/shadow' is an absolute path .*",
    ),
    "hard link to nothing in the package": Case(
        lambda: with_data(Entry("./usr/share/hello/x", tarfile.LNKTYPE, link="etc/shadow")),
        r"hostile\.deb: its data\.tar member '\./usr/share/hello/x' is a hard link to 'etc/shadow', "
        r"which is not an earlier file in it",
    ),
    "a second archive after the end": Case(
        data_after_end_of_archive, r"hostile\.deb: its data\.tar has data after its end-of-archive block"
    ),
    "oversized control.tar": Case(
        oversized_control_tar,
        r"hostile\.deb: its control\.tar\.gz unpacks to more than 10 MiB, far more than any package's "
        r"control files",
    ),
    "control file outside control.tar's root": Case(
        lambda: deb_bytes(control=control_tar(b"", Entry("../control", data=control_text(CONTROL)))),
        r"hostile\.deb: its control\.tar member '\.\./control' climbs out of the package with '\.\.'",
    ),
}

# ---------------------------------------------------------------- the repository and its surroundings


def snapshot(root: Path) -> dict[str, object]:
    """Every directory, file (its bytes) and symlink (its target) under `root`, symlinks not followed."""
    seen: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                seen[rel] = ("symlink", str(path.readlink()))
            elif path.is_dir():
                seen[rel] = "dir"
            else:
                seen[rel] = path.read_bytes()
    return seen


@dataclass(frozen=True)
class Place:
    """tmp_path holding a published repository with one good package, and an empty sentinel directory."""

    tmp: Path
    repo: Path
    sentinel: Path

    def write(self, name: str, data: bytes) -> Path:
        deb = self.tmp / "in" / name
        deb.parent.mkdir(exist_ok=True)
        deb.write_bytes(data)
        return deb

    @contextmanager
    def unchanged(self, aimed: tuple[str, ...] = ()) -> Iterator[None]:
        """Assert that the block changes no byte, directory or link anywhere under tmp_path."""
        before = snapshot(self.tmp)
        assert "repo/dists/bookworm/main/binary-arm64/Packages" in before  # the index really is there
        assert "repo/.debforge/state.json" in before
        yield
        assert snapshot(self.tmp) == before
        assert list(self.sentinel.iterdir()) == []
        for rel in aimed:
            assert not (self.tmp / rel).exists()
            assert not (self.tmp / rel).is_symlink()


@pytest.fixture
def place(tmp_path: Path) -> Place:
    here = Place(tmp=tmp_path, repo=tmp_path / "repo", sentinel=tmp_path / "sentinel")
    here.sentinel.mkdir()
    init_repo(here.repo, dists=["bookworm"], arches=["arm64"])
    add_debs(here.repo, [here.write("good.deb", deb_bytes())])
    publish(here.repo, date=DATE, unsigned=True)
    return here


# ---------------------------------------------------------------- the twin is good


def test_the_well_formed_twin_is_accepted(place: Place) -> None:
    info = read_deb(place.tmp / "in/good.deb")
    assert (info.name, info.version, info.arch) == ("hello", "1.0", "arm64")
    assert [p.filename for p in list_packages(place.repo).packages] == [
        "pool/main/h/hello/hello_1.0_arm64.deb"
    ]


@pytest.mark.integration
def test_dpkg_deb_reads_the_well_formed_twin(place: Place) -> None:
    dpkg_deb = require_tool("dpkg-deb")
    deb = place.tmp / "in/good.deb"
    shown = subprocess.run([dpkg_deb, "--field", deb, "Package"], check=True, capture_output=True, text=True)
    assert shown.stdout == "hello\n"
    listing = subprocess.run([dpkg_deb, "--contents", deb], check=True, capture_output=True, text=True)
    assert "./usr/share/hello/same link to ./usr/share/hello/data" in listing.stdout


# ---------------------------------------------------------------- every hostile deb is refused


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_repo_add_refuses(place: Place, case: Case) -> None:
    deb = place.write("hostile.deb", case.build())
    with place.unchanged(case.aimed), pytest.raises(RepoError) as err:
        add_debs(place.repo, [deb])
    message = str(err.value)
    assert message.startswith(str(deb))  # names the file
    assert "\n" not in message and message.count(". ") == 0  # one sentence
    assert re.fullmatch(f"{re.escape(str(place.tmp))}/in/{case.sentence}", message)


def test_one_hostile_deb_among_good_ones_adds_nothing(place: Place) -> None:
    good = place.write("other.deb", with_fields(Package="other"))
    bad = place.write("hostile.deb", with_fields(Source="../../../sentinel/pwned"))
    with place.unchanged(), pytest.raises(RepoError, match="Source field"):
        add_debs(place.repo, [good, bad])


def test_cli_repo_add_refuses_with_one_sentence(place: Place) -> None:
    deb = place.write("hostile.deb", with_fields(Package="../../../../tmp/pk2"))
    argv = [sys.executable, "-m", "debforge", "repo", "add", str(deb), "--repo", str(place.repo)]
    with place.unchanged(("repo/tmp/pk2_1.0_arm64.deb",)):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0] == (
        f"error: {deb}: Package field '../../../../tmp/pk2' is not a valid Debian package name (Policy 5.6.1)"
    )
    rule = "must be at least two characters of a-z, 0-9, +, - and ., starting with a letter or digit"
    assert lines[1:] == [f"hint: Package: {rule}"]


# ---------------------------------------------------------------- the pool's own directories


def test_a_pool_directory_symlinked_outside_is_refused(place: Place) -> None:
    (place.repo / "pool/main/o").symlink_to(place.sentinel)
    deb = place.write("other.deb", with_fields(Package="other"))
    with place.unchanged(), pytest.raises(RepoError) as err:
        add_debs(place.repo, [deb])
    assert str(err.value) == (
        f"{deb}: pool path pool/main/o/other/other_1.0_arm64.deb leads to "
        f"{place.sentinel.resolve()}/other/other_1.0_arm64.deb, outside the repository's pool "
        f"{(place.repo / 'pool').resolve()}"
    )


def test_a_tampered_component_cannot_leave_the_pool(place: Place) -> None:
    config = place.repo / ".debforge/repo.json"
    config.write_text(config.read_text().replace('"main"', '"../../sentinel"'))
    deb = place.write("other.deb", with_fields(Package="other"))
    with (
        place.unchanged(),
        pytest.raises(RepoError, match=r"other\.deb: pool path .* outside the repository's pool"),
    ):
        add_debs(place.repo, [deb])


def test_init_refuses_names_that_could_climb(tmp_path: Path) -> None:
    with pytest.raises(RepoError, match="a repository needs at least one component, each a letter or digit"):
        init_repo(tmp_path / "r", dists=["bookworm"], components=[".."], arches=["arm64"])
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------- test-install reads debs the same way


class RecordingReporter(NullReporter):
    """Remembers every step started: test-install's first step prepares the container image."""

    def __init__(self) -> None:
        self.steps: list[str] = []

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.steps.append(title)
        yield


def test_check_install_refuses_before_any_container(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    # An engine that cannot answer: reaching Docker would fail with a different error than the one expected.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{place.tmp}/no-docker.sock")
    deb = place.write("hostile.deb", with_data(Entry("/sentinel/abs", data=b"x")))
    reporter = RecordingReporter()
    target, cache = make_target("bookworm", "arm64"), Cache(place.tmp / "cache")
    with place.unchanged(), pytest.raises(InstallError) as err:
        testinstall.check_install(Session(cache=cache, reporter=reporter), [deb], target)
    assert str(err.value) == (
        f"{deb}: its data.tar member '/sentinel/abs' is an absolute path (dpkg-deb writes ./-relative ones)"
    )
    assert reporter.steps == []
