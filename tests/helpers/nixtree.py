"""A Nix-style `result/` tree built from the project's own C sources, as pkgsCross leaves one.

A program, a private shared library (which NEEDS a second private library) and a stand-in for
nixpkgs' zlib are cross-compiled for arm64, then patchelf points their loader and RPATHs into
/nix/store, where a Nix build puts them.
The tree also carries a shebang script, a .desktop file and a config file naming store paths, a
Nix glibc copy, and the build-time files (headers, pkg-config, nix-support) a runtime package
leaves out.
"""

from __future__ import annotations

from pathlib import Path

from debforge.run import run

GLIBC = "/nix/store/0c7c3q1qhl0n2ix9c8mkj3k4bsdsjv6r-glibc-2.40-36"
SELF = "/nix/store/5q9ppxq2yw4gkkbzmxw1dg8hxn7h2k0c-greet-1.0"
BASH = "/nix/store/hhsdyyd1fq2dvn5fa6wq8rnw4jpn8yhn-bash-interactive-5.2p37"
NIX_LD = f"{GLIBC}/lib/ld-linux-aarch64.so.1"
# Debian's default hardening flags (dpkg-buildflags), so lintian's hardening checks pass.
CFLAGS = ("-O2", "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong", "-Wl,-z,relro,-z,now")
CC = "aarch64-linux-gnu-gcc"

# libgreet gets its words from a second private library: a private library that NEEDS another.
# Each calls libc (getenv), as a real library does: lintian's library-not-linked-against-libc.
LIB_C = (
    "#include <stdlib.h>\nconst char *greet_words(void);\n"
    'const char *greet(void) { return getenv("GREET_QUIET") ? "" : greet_words(); }\n'
)
HELPER_C = (
    "#include <stdlib.h>\n"
    'const char *greet_words(void) { return getenv("GREET_SHH") ? "shh" : "hello from libgreet"; }\n'
)
ZLIB_C = 'const char *zlibVersion(void) { return "nix zlib"; }\n'
MAIN_C = (
    "#include <stdio.h>\nconst char *greet(void);\nconst char *zlibVersion(void);\n"
    'int main(void) { puts(greet()); printf("zlib %s\\n", zlibVersion()); return 0; }\n'
)
WRAPPER = f'#!{BASH}/bin/bash\nexec {SELF}/bin/greet "$@"\n'
DESKTOP = (
    "[Desktop Entry]\nType=Application\nName=Greet\nComment=Say hello\n"
    f"Exec={SELF}/bin/greet\nTerminal=true\nCategories=Utility;\n"
)


def make_nix_tree(root: Path, *, with_library: bool = True) -> Path:
    """Build `root` (bin/ lib/ share/ etc/ include/ nix-support/) as a Nix result/ of "greet"."""
    src = root.parent / f"{root.name}-src"
    src.mkdir(parents=True)
    for sub in ("bin", "lib/pkgconfig", "share/applications", "etc", "include", "nix-support"):
        (root / sub).mkdir(parents=True)
    (src / "greet.c").write_text(LIB_C)
    (src / "main.c").write_text(MAIN_C)
    (src / "helper.c").write_text(HELPER_C)
    helper = root / "lib/libgreethelper.so.1"
    run([CC, *CFLAGS, "-fPIC", "-shared", "-Wl,-soname,libgreethelper.so.1", "-o", helper, src / "helper.c"])
    run(["aarch64-linux-gnu-strip", "--strip-unneeded", "--remove-section=.comment", helper])
    run(["patchelf", "--set-rpath", f"{GLIBC}/lib", helper])
    lib = root / "lib/libgreet.so.1.0.0"
    link = [helper]  # by path: ld records its SONAME as NEEDED
    run([CC, *CFLAGS, "-fPIC", "-shared", "-Wl,-soname,libgreet.so.1", "-o", lib, src / "greet.c", *link])
    (root / "lib/libgreet.so.1").symlink_to("libgreet.so.1.0.0")
    (root / "lib/libgreet.so").symlink_to("libgreet.so.1")
    # nixpkgs' zlib in the closure: Debian ships the soname (zlib1g), so Debian's copy is used.
    (src / "zlib.c").write_text(ZLIB_C)
    zlib = root / "lib/libz.so.1"
    run([CC, *CFLAGS, "-fPIC", "-shared", "-Wl,-soname,libz.so.1", "-o", zlib, src / "zlib.c"])
    run(["patchelf", "--set-rpath", f"{GLIBC}/lib", zlib])
    (root / "lib/libz.so").symlink_to("libz.so.1")
    program = root / "bin/greet"
    libdir = [f"-L{root / 'lib'}", f"-Wl,-rpath-link,{root / 'lib'}"]  # libgreet's NEEDED, at link time
    run([CC, *CFLAGS, "-o", program, src / "main.c", *libdir, "-lgreet", "-lz"])
    # Nix's stdenv strips what it installs (and so does dh_strip), before patchelf moves anything.
    run(["aarch64-linux-gnu-strip", "--remove-section=.comment", "--remove-section=.note", program])
    run(["aarch64-linux-gnu-strip", "--strip-unneeded", "--remove-section=.comment", lib])
    run(["patchelf", "--set-interpreter", NIX_LD, "--set-rpath", f"{GLIBC}/lib:{SELF}/lib", program])
    run(["patchelf", "--set-rpath", f"{GLIBC}/lib:{SELF}/lib", lib])
    # A copy of Nix's glibc next to it (a buildEnv can bring one): never to be shipped.
    (src / "fakec.c").write_text("int nix_libc_marker;\n")
    run(
        [
            CC,
            "-fPIC",
            "-shared",
            "-nostdlib",
            "-Wl,-soname,libc.so.6",
            "-o",
            root / "lib/libc.so.6",
            src / "fakec.c",
        ]
    )
    if not with_library:
        for name in ("libgreet.so.1.0.0", "libgreet.so.1", "libgreet.so"):
            (root / "lib" / name).unlink()
    wrapper = root / "bin/greet-wrapper"
    wrapper.write_text(WRAPPER)
    wrapper.chmod(0o555)  # store files are read-only
    (root / "share/applications/greet.desktop").write_text(DESKTOP)
    (root / "etc/greet.conf").write_text("greeting = hello\n")
    (root / "include/greet.h").write_text("const char *greet(void);\n")
    (root / "lib/pkgconfig/greet.pc").write_text(f"prefix={SELF}\nName: greet\nVersion: 1.0\nLibs: -lgreet\n")
    (root / "nix-support/propagated-build-inputs").write_text(f"{GLIBC}\n")
    return root
