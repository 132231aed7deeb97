"""cargo-deb drop-in end to end (issue 14): cargo-deb projects and command lines, built for arm64.

Two fixture projects written here (no crates.io dependencies), each cross-built once in the
builder image (reused by content tag), through the real `debforge package` command line with
cargo-deb's flags. Oracle: `dpkg-deb` (control fields, paths, modes, symlink targets) and `ar`.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from debforge.cache import Cache
from debforge.elf import build_id, read_elf
from debforge.run import run
from tests.conftest import require_docker, require_tool

pytestmark = pytest.mark.e2e

EPOCH = "1704067200"
MAIN = 'fn main() { println!("{}", env!("CARGO_BIN_NAME")); }\n'
BROKEN = 'fn main() { compile_error!("only the binaries the assets name are built"); }\n'


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def _package(cache: Cache, cwd: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`debforge package ARGS` as a cargo-deb user runs it (quiet, in the project directory)."""
    done = subprocess.run(
        [sys.executable, "-m", "debforge", "package", "--cache-dir", str(cache.root), *map(str, args)],
        capture_output=True, text=True, cwd=cwd, check=False, env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def _contents(deb: Path) -> dict[str, tuple[str, str]]:
    """path → (mode string, symlink target or "") from `dpkg-deb --contents`."""
    found = {}
    for line in run(["dpkg-deb", "--contents", deb]).text.splitlines():
        fields = line.split()
        name, link = fields[5], fields[7] if len(fields) > 7 and fields[6] == "->" else ""
        found[name.removeprefix(".").rstrip("/") or "/"] = (fields[0], link)
    return found


WORKSPACE = {
    "Cargo.toml": """\
        [workspace]
        members = ["crates/*"]
        resolver = "2"

        [workspace.package]
        version = "0.3.0-rc.1"
        authors = ["Ann Example"]
        license = "MIT"

        [profile.dist]
        inherits = "release"
        """,
    "crates/tool/Cargo.toml": """\
        [package]
        name = "tool"
        version.workspace = true
        edition = "2021"
        description = "Fixture of a cargo-deb workspace member"
        authors.workspace = true
        license.workspace = true
        readme = "README.md"

        [features]
        default = ["a"]
        a = []
        b = []
        c = []

        [package.metadata.deb]
        section = "utils"
        features = ["b"]
        default-features = false
        triggers-file = "debian/triggers"
        depends = ["$auto", "adduser [arm64]", "libnever-x86 [amd64]"]
        recommends = "ca-certificates [!arm64]"
        preserve-symlinks = true
        license-file = ["LICENSE", "2"]
        changelog = "debian/changelog"
        maintainer-scripts = "debian"
        conf-files = ["/usr/share/tool/data/a.txt"]
        systemd-units = { unit-name = "tool-daemon", enable = false }
        extended-description = "Built by debforge from a cargo-deb configuration."
        assets = [
          "$auto",
          ["target/release/helper", "usr/libexec/tool/", "755"],
          ["tool.conf", "etc/tool/", "644"],
          ["target/release/tool.1", "usr/share/man/man1/", "644"],
          ["target/release/features.txt", "usr/share/tool/", "644"],
          ["data/*", "usr/share/tool/data", "644"],
          ["links/alias", "usr/bin/tool-alias", "777"],
          ["links/conf", "usr/share/tool/conf", "644"],
          ["links/dangling", "usr/share/tool/dangling", "644"],
        ]
        """,
    "crates/tool/src/main.rs": MAIN,
    # A build script writing into target/release/ (as man-page generators do): cargo-deb's assets see it.
    "crates/tool/build.rs": """\
        fn main() {
            let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
            let profile_dir = out.ancestors().nth(3).unwrap();  // <profile>/build/<pkg>-<hash>/out
            std::fs::write(profile_dir.join("tool.1"), ".TH TOOL 1\\n").unwrap();
            let mut features: Vec<String> = std::env::vars()
                .filter_map(|(k, _)| k.strip_prefix("CARGO_FEATURE_").map(str::to_lowercase))
                .collect();
            features.sort();
            std::fs::write(profile_dir.join("features.txt"), features.join(" ")).unwrap();
        }
        """,
    "crates/tool/data/a.txt": "a\n",
    "crates/tool/tool.conf": "verbose = false\n",
    "crates/tool/LICENSE": "SKIPPED HEADER\n\nPermission is hereby granted, free of charge.\n",
    "crates/tool/debian/changelog": """\
        tool (0.3.0~rc.1-2) unstable; urgency=medium

          * Fixture entry.

         -- Ann Example <ann@example.org>  Mon, 01 Jan 2024 00:00:00 +0000
        """,
    "crates/tool/README.md": "# tool\n",
    "crates/tool/debian/triggers": "interest-noawait /usr/share/tool\n",
    "crates/tool/debian/postinst": "#!/bin/sh\nset -e\necho tool-postinst\n#DEBHELPER#\n",
    "crates/tool/debian/tool-daemon.service": "[Service]\nExecStart=/usr/bin/tool\n",
    "crates/tool/data/b.txt": "b\n",
    "crates/helper/Cargo.toml": """\
        [package]
        name = "helper"
        version.workspace = true
        edition = "2021"
        """,
    "crates/helper/src/main.rs": MAIN,
    "crates/helper/src/bin/also-broken.rs": BROKEN,
}


def test_workspace_member_with_cargo_deb_flags(e2e_cache: Cache, tmp_path: Path) -> None:
    """A virtual workspace root packaged with cargo-deb's flags: the member is chosen, another member's
    binary shipped, unrelated broken targets not built, globs, symlinks, separate debug symbols
    (zstd-compressed), a custom profile, features from the metadata and -F, `-- ARGS` for cargo,
    [arch]-qualified relations, a triggers file and the readme."""
    require_docker()
    require_tool("dpkg-deb")
    root = _write(tmp_path / "ws", WORKSPACE)
    links = root / "crates/tool/links"
    links.mkdir()
    (links / "alias").symlink_to("/usr/bin/tool")
    (links / "conf").symlink_to("/etc/tool.conf")
    (links / "dangling").symlink_to("/nonexistent/file")
    deb = tmp_path / "out" / "tool.deb"
    done = _package(
        e2e_cache, root, "--target", "aarch64-unknown-linux-gnu", "-q", "-o", deb,
        "--deb-revision", "2", "--separate-debug-symbols", "--compress-debug-symbols=zstd",
        "--profile", "dist", "-F", "c", "--", "-j", "2",
    )  # fmt: skip
    assert done.stdout.splitlines()[-1] == str(deb)  # the deb path, last, as cargo deb prints it
    assert done.stderr == ""  # -q after the subcommand

    fields = run(["dpkg-deb", "--field", deb]).text
    for expected in ("Package: tool", "Version: 0.3.0~rc.1-2", "Architecture: arm64",
                     "Maintainer: Ann Example", "Section: utils"):  # fmt: skip
        assert f"{expected}\n" in fields, fields
    contents = _contents(deb)
    assert contents["/usr/bin/tool"][0] == "-rwxr-xr-x"
    assert contents["/usr/libexec/tool/helper"][0] == "-rwxr-xr-x"
    assert contents["/usr/share/tool/data/a.txt"][0] == "-rw-r--r--"
    assert "/usr/share/tool/data/b.txt" in contents
    assert contents["/usr/share/man/man1/tool.1"][0] == "-rw-r--r--"
    assert contents["/usr/bin/tool-alias"] == ("lrwxrwxrwx", "tool")  # within /usr: relative
    assert contents["/usr/share/tool/conf"] == ("lrwxrwxrwx", "/etc/tool.conf")  # across: absolute
    assert contents["/usr/share/tool/dangling"] == ("lrwxrwxrwx", "/nonexistent/file")
    assert not any("broken" in path for path in contents)
    assert contents["/usr/share/doc/tool/README.md"][0] == "-rw-r--r--"  # $auto's readme, as cargo-deb
    depends = next(line for line in fields.splitlines() if line.startswith("Depends: "))
    assert "adduser" in depends and "libnever-x86" not in depends and "Recommends:" not in fields

    assert contents["/usr/lib/systemd/system/tool-daemon.service"][0] == "-rw-r--r--"
    assert "/usr/share/doc/tool/changelog.Debian.gz" in contents

    control = tmp_path / "control"
    run(["dpkg-deb", "-e", deb, control])
    assert (control / "conffiles").read_text().split() == [
        "/etc/tool/tool.conf",
        "/usr/share/tool/data/a.txt",
    ]
    postinst = (control / "postinst").read_text()
    assert "echo tool-postinst" in postinst and "#DEBHELPER#" not in postinst
    assert "deb-systemd-invoke $_dh_action 'tool-daemon.service'" in postinst  # start = true
    assert "deb-systemd-helper enable" not in postinst  # enable = false
    assert (control / "triggers").read_text() == "interest-noawait /usr/share/tool\n"

    tree = tmp_path / "tree"
    run(["dpkg-deb", "-x", deb, tree])
    copyright_ = (tree / "usr/share/doc/tool/copyright").read_text()
    assert "Permission is hereby granted" in copyright_ and "SKIPPED HEADER" not in copyright_
    changelog = gzip.decompress((tree / "usr/share/doc/tool/changelog.Debian.gz").read_bytes()).decode()
    assert changelog.startswith("tool (0.3.0~rc.1-2) unstable")
    ids = [build_id(tree / "usr/bin/tool"), build_id(tree / "usr/libexec/tool/helper")]
    assert read_elf(tree / "usr/bin/tool").deb_arch == "arm64"
    debug = sorted(p.relative_to(tree).as_posix() for p in (tree / "usr/lib/debug").rglob("*.debug"))
    assert debug == sorted(f"usr/lib/debug/.build-id/{i[:2]}/{i[2:]}.debug" for i in ids if i)
    assert "ZSTD" in run(["readelf", "-t", "-W", tree / debug[0]]).text  # --compress-debug-symbols=zstd
    # the metadata's features and -F's, without the default ones; built with --profile dist
    assert (tree / "usr/share/tool/features.txt").read_text() == "b c"


LIBRARY = {
    "Cargo.toml": """\
        [package]
        name = "mylib"
        version = "1.0.0"
        edition = "2021"
        description = "Fixture of a cargo-deb cdylib with a variant"
        authors = ["Lib Team <lib@example.org>"]
        license = "MIT"

        [lib]
        crate-type = ["cdylib"]

        [package.metadata.deb]
        assets = [["target/release/libmylib.so", "usr/lib/", "644"]]

        [package.metadata.deb.variants.lite]
        merge-assets.append = [["NOTES", "usr/share/doc/mylib-lite/", "644"]]
        """,
    "src/lib.rs": '#[no_mangle]\npub extern "C" fn mylib_answer() -> i32 { 42 }\n',
    "NOTES": "notes\n",
}


def test_cdylib_variant_multiarch_dbgsym_install_then_no_build(e2e_cache: Cache, tmp_path: Path) -> None:
    """`--variant lite --multiarch same -Z gz --dbgsym --install`: the variant's name and merged assets,
    the library in usr/lib/<triplet>/ with Multi-Arch: same, a gzip data member, a -dbgsym deb, both
    installed in a fresh arm64 container; then `--no-build` packages the same build again, byte for byte."""
    require_docker()
    require_tool("dpkg-deb")
    root = _write(tmp_path / "lib", LIBRARY)
    flags = ("--arch", "arm64", "--variant", "lite", "--multiarch", "same", "-Z", "gz",
             "--deb-version", "1.0.0-0local1", "--dbgsym")  # fmt: skip
    done = _package(e2e_cache, root, *flags, "--install", "--output", tmp_path / "out")
    deb, dbgsym = (Path(line) for line in done.stdout.splitlines()[-1:-3:-1])
    assert deb == tmp_path / "out/mylib-lite_1.0.0-0local1_arm64.deb"
    assert dbgsym.name == "mylib-lite-dbgsym_1.0.0-0local1_arm64.deb" and dbgsym.is_file()
    fields = run(["dpkg-deb", "--field", deb]).text
    assert "Package: mylib-lite\n" in fields and "Multi-Arch: same\n" in fields
    assert "Version: 1.0.0-0local1\n" in fields
    contents = _contents(deb)
    assert contents["/usr/lib/aarch64-linux-gnu/libmylib.so"][0] == "-rw-r--r--"
    assert "/usr/share/doc/mylib-lite/NOTES" in contents
    assert "data.tar.gz" in run(["ar", "t", deb]).text.split()
    assert any(p.startswith("/usr/lib/debug/.build-id/") for p in _contents(dbgsym))

    again = _package(e2e_cache, root, *flags, "--no-build", "--output", tmp_path / "again")
    rebuilt = Path(again.stdout.splitlines()[-1])
    assert rebuilt.read_bytes() == deb.read_bytes()
