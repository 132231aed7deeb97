"""An isolated real apt (own apt.conf, lists, cache and empty dpkg status) used as the resolver's oracle.

apt reads the host's /etc/apt/apt.conf.d before `-o` options apply, so every setting lives in the
tree's own apt.conf, pointed at by APT_CONFIG, and is passed as `-o` as well (apt-resolution.md).
Nothing under the host's /etc/apt or /var/lib/apt is read or written.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from debforge.run import run

MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")

# `Inst name (version suite [arch])` — the simulation's line for each package it would unpack.
_INST = re.compile(r"^Inst (\S+) (?:\[\S+\] )?\((\S+) ")


@dataclass(frozen=True, slots=True, kw_only=True)
class AptAnswer:
    """What `apt-get install -s` said: the (name, version) set, or the failure text."""

    ok: bool
    packages: frozenset[tuple[str, str]]
    output: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AptOracle:
    """One isolated apt tree for a dist/arch."""

    root: Path
    dist: str
    arch: str
    backports: bool = False  # add <dist>-backports last (its Release pins it at 100, as in debforge)

    @property
    def config(self) -> Path:
        """The tree's own apt.conf."""
        return self.root / "apt.conf"

    def _settings(self) -> dict[str, str]:
        r = self.root
        return {
            "Dir": str(r),
            "Dir::State": str(r / "state"),
            "Dir::State::lists": str(r / "state/lists"),
            "Dir::State::status": str(r / "status"),
            "Dir::State::extended_states": str(r / "state/extended_states"),
            "Dir::Cache": str(r / "cache"),
            "Dir::Cache::archives": str(r / "cache/archives"),
            "Dir::Etc": str(r / "etc"),
            "Dir::Etc::SourceList": str(r / "etc/sources.list"),
            "Dir::Etc::SourceParts": str(r / "etc/sources.list.d"),
            "Dir::Etc::Parts": str(r / "etc/apt.conf.d"),
            "Dir::Etc::Preferences": str(r / "etc/preferences"),
            "Dir::Etc::PreferencesParts": str(r / "etc/preferences.d"),
            "Dir::Etc::Trusted": str(r / "etc/trusted.gpg"),
            "Dir::Etc::TrustedParts": str(r / "etc/trusted.gpg.d"),
            "Dir::Log": str(r / "log"),
            "APT::Architecture": self.arch,
            "APT::Architectures": self.arch,
            "Acquire::Languages": "none",
            "APT::Install-Recommends": "false",
            "APT::Get::List-Cleanup": "false",
            "Debug::NoLocking": "true",
        }

    def argv(self, *args: str) -> list[str]:
        """apt-get argv with every isolating setting as `-o` too."""
        opts = [f"-o{k}={v}" for k, v in self._settings().items()]
        return ["apt-get", "-q", *opts, *args]

    def env(self) -> dict[str, str]:
        """Environment pointing APT_CONFIG at the tree's own apt.conf."""
        return {**os.environ, "APT_CONFIG": str(self.config), "LC_ALL": "C.UTF-8"}

    def write(self) -> AptOracle:
        """Create the tree: apt.conf, sources (signed-by the archive keyring), empty status."""
        for sub in (
            "state/lists/partial",
            "cache/archives/partial",
            "etc/apt.conf.d",
            "etc/sources.list.d",
            "etc/preferences.d",
            "etc/trusted.gpg.d",
            "log",
        ):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "status").write_text("")
        lines = "".join(f'{k} "{v}";\n' for k, v in self._settings().items())
        self.config.write_text(lines)
        d, key = self.dist, KEYRING
        (self.root / "etc/sources.list").write_text(
            f"deb [signed-by={key}] {MIRROR} {d} main\n"
            f"deb [signed-by={key}] {MIRROR} {d}-updates main\n"
            f"deb [signed-by={key}] {SECURITY_MIRROR} {d}-security main\n"
            + (f"deb [signed-by={key}] {MIRROR} {d}-backports main\n" if self.backports else "")
        )
        return self

    def update(self) -> None:
        """`apt-get update` into the tree's own lists directory."""
        run(self.argv("update"), env=self.env(), timeout=600)

    def simulate(self, *packages: str) -> AptAnswer:
        """`apt-get install -s --no-install-recommends PKG...` into the empty status."""
        done = run(
            self.argv("install", "-s", "--no-install-recommends", *packages),
            env=self.env(),
            check=False,
            timeout=300,
        )
        text = done.text + done.stderr.decode("utf-8", "replace")
        found = frozenset((m[1], m[2]) for m in map(_INST.match, done.text.splitlines()) if m)
        return AptAnswer(ok=done.returncode == 0, packages=found, output=text)


def make_oracle(root: Path, dist: str, arch: str, *, backports: bool = False) -> AptOracle:
    """An isolated apt tree under `root` for dist/arch (call .update() once before simulating)."""
    return AptOracle(root=root, dist=dist, arch=arch, backports=backports).write()


# The fixed oracle sample (tests/e2e/test_resolve_oracle.py and bench/resolve.py): libraries, -dev
# packages, tools, daemons, desktops, and packages whose dependencies go through alternatives and
# virtual names (mail-transport-agent, awk, x-terminal-emulator, java, default-mta, :any).
SAMPLE: dict[str, tuple[str, ...]] = {
    "bookworm": (
        "curl", "wget", "git", "openssh-server", "openssh-client", "nginx", "apache2", "postgresql-15",
        "mariadb-server", "redis-server", "python3", "python3-pip", "python3-venv", "python3-dev", "perl",
        "build-essential", "gcc", "g++", "cmake", "pkg-config", "libssl-dev", "libc6-dev", "zlib1g-dev",
        "libcurl4-openssl-dev", "libsqlite3-dev", "libpq-dev", "libgtk-3-0", "libglib2.0-0", "libx11-6",
        "systemd", "dbus", "rsyslog", "cron", "sudo", "vim", "emacs-nox", "bash-completion", "tmux", "jq",
        "rsync", "gnupg", "apt", "dpkg-dev", "debhelper", "rustc", "cargo", "golang-go", "nodejs",
        "default-jre-headless", "ruby", "php-cli", "exim4", "mutt", "bsd-mailx", "mawk", "iproute2",
        "docker.io", "qemu-user-static", "locales", "man-db", "xterm", "bind9", "samba", "network-manager",
        "cups", "firefox-esr", "gnome-core", "kde-plasma-desktop", "libreoffice", "texlive-latex-base",
        "qtbase5-dev", "libboost-all-dev", "postfix", "mailutils", "awk", "x-terminal-emulator",
    ),
    "trixie": (
        "curl", "git", "nginx", "python3", "build-essential", "libssl-dev", "systemd", "openssh-server",
        "postgresql-17", "rustc", "cargo", "golang-go", "vim", "jq", "bsd-mailx", "docker.io", "apache2",
        "redis-server", "libgtk-3-0t64", "mariadb-server", "emacs-nox", "xterm", "sudo", "cron",
        "network-manager", "firefox-esr", "default-jre-headless", "xfce4", "python3-dev", "postfix",
        "mailutils", "awk",
    ),
}  # fmt: skip
