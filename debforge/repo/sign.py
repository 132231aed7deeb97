"""Signing with gpg, non-interactively, from the key material CI provides (environment or files).

Where the key comes from, first match wins:
- key id: `sign_key` argument, else `DEBFORGE_SIGN_KEY`, else the repository's configured key;
- private key to import into a throwaway keyring: `key_file` argument, else the file named by
  `DEBFORGE_SIGN_KEY_FILE`, else the armored text in `DEBFORGE_SIGN_PRIVATE_KEY` (a CI secret),
  else the repository's configured key file; without any, the keyring of `gpg_home`,
  `DEBFORGE_GNUPGHOME` or `GNUPGHOME` is used as it is;
- passphrase: `passphrase_file`, else `DEBFORGE_SIGN_PASSPHRASE_FILE`, else `DEBFORGE_SIGN_PASSPHRASE`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from debforge.errors import CommandError, RepoError
from debforge.repo.state import Repo
from debforge.run import run


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningKey:
    """Where to find the key and its passphrase; nothing secret is held in memory longer than needed."""

    key_id: str | None
    key_file: Path | None
    key_text: str | None
    gpg_home: Path | None
    passphrase_file: Path | None
    passphrase: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyOptions:
    """What the command line named for signing; each None falls back to the environment, then the repo."""

    sign_key: str | None = None
    key_file: Path | None = None
    gpg_home: Path | None = None
    passphrase_file: Path | None = None
    env: Mapping[str, str] | None = None  # None: the process environment

    def environment(self) -> Mapping[str, str]:
        """The environment the DEBFORGE_SIGN_* variables are read from."""
        return os.environ if self.env is None else self.env


def signing_key(repo: Repo, options: KeyOptions) -> SigningKey:
    """Combine arguments, environment and repository configuration (see the module docstring)."""
    env = options.environment()
    sign_key, key_file = options.sign_key, options.key_file
    gpg_home, passphrase_file = options.gpg_home, options.passphrase_file
    file_env = env.get("DEBFORGE_SIGN_KEY_FILE")
    pass_env = env.get("DEBFORGE_SIGN_PASSPHRASE_FILE")
    home_env = env.get("DEBFORGE_GNUPGHOME") or env.get("GNUPGHOME")
    key_text = env.get("DEBFORGE_SIGN_PRIVATE_KEY")
    chosen_file = key_file or (Path(file_env) if file_env else None)
    if chosen_file is None and not key_text:
        chosen_file = repo.key_file
    return SigningKey(
        key_id=sign_key or env.get("DEBFORGE_SIGN_KEY") or repo.sign_key,
        key_file=chosen_file,
        key_text=None if chosen_file else key_text,
        gpg_home=gpg_home or (Path(home_env) if home_env else None),
        passphrase_file=passphrase_file or (Path(pass_env) if pass_env else None),
        passphrase=env.get("DEBFORGE_SIGN_PASSPHRASE"),
    )


def is_configured(key: SigningKey) -> bool:
    """True when some key was named or given."""
    return bool(key.key_id or key.key_file or key.key_text)


def require_key(key: SigningKey) -> None:
    """Raise RepoError (one sentence) when no key was named or given."""
    if not is_configured(key):
        raise RepoError(
            "no signing key is configured, so apt could not verify this repository",
            hint="pass --sign-key KEYID or --key-file FILE, or set DEBFORGE_SIGN_KEY or "
            "DEBFORGE_SIGN_PRIVATE_KEY (use --unsigned only for trusted=yes sources)",
        )


@contextlib.contextmanager
def keyring(key: SigningKey) -> Iterator[tuple[list[str], str]]:
    """Yield (gpg argv prefix, key fingerprint) for a keyring holding the secret key; RepoError if none."""
    require_key(key)
    if key.key_file is None and key.key_text is None:
        base = ["gpg", "--batch", "--no-tty", *(["--homedir", str(key.gpg_home)] if key.gpg_home else [])]
        yield base, _fingerprint(base, key.key_id or "", secret=True)
        return
    # A short path under /tmp: gpg-agent's socket path must fit in sockaddr_un (108 bytes).
    home = Path(tempfile.mkdtemp(prefix="debforge-gpg-"))
    # gpg-agent re-protects an imported key on first use with an s2k count calibrated to
    # ~100 ms of CPU, which took 4-7 s on a busy CI runner. This keyring lives for one publish
    # in a 0700 directory and is deleted after it, so the minimum count costs no security.
    (home / "gpg-agent.conf").write_text("s2k-count 65536\n")
    base = ["gpg", "--batch", "--no-tty", "--homedir", str(home)]
    try:
        _import(base, key)
        yield base, _fingerprint(base, key.key_id or "", secret=True)
    finally:
        run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], check=False)
        shutil.rmtree(home, ignore_errors=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Signer:
    """A ready keyring: gpg's argv prefix and the key's fingerprint (from `signer`)."""

    key: SigningKey
    base: tuple[str, ...]
    fingerprint: str

    def sign_release(self, release: Path, inrelease: Path, detached: Path) -> None:
        """Write InRelease (clearsigned) and Release.gpg (detached, armored) for `release`."""
        for mode, out in (("--clearsign", inrelease), ("--detach-sign", detached)):
            argv = [*self.base, "--yes", "--pinentry-mode", "loopback", "--local-user", self.fingerprint]
            argv += ["--digest-algo", "SHA512", "--armor", *_passphrase_args(self.key)]
            try:
                run([*argv, "--output", str(out), mode, str(release)], input=_passphrase_input(self.key))
            except CommandError as exc:
                raise RepoError(
                    f"gpg could not sign the Release file with key {self.fingerprint}: "
                    f"{_last_line(exc).split(': ')[-1]}",
                    hint="check the key's passphrase (DEBFORGE_SIGN_PASSPHRASE or its _FILE variant)",
                ) from exc


@contextlib.contextmanager
def signer(key: SigningKey) -> Iterator[Signer]:
    """A Signer for the whole publish: the key is imported (if given as a file or text) once."""
    with keyring(key) as (base, fpr):
        yield Signer(key=key, base=tuple(base), fingerprint=fpr)


def export_public_key(key: SigningKey) -> str:
    """The signing key's public part, ASCII-armored."""
    with keyring(key) as (base, fpr):
        text = run([*base, "--armor", "--export", fpr]).text
    if "BEGIN PGP PUBLIC KEY BLOCK" not in text:
        raise RepoError(f"gpg exported no public key for {fpr}")
    return text


def _import(base: list[str], key: SigningKey) -> None:
    source = str(key.key_file) if key.key_file else "-"
    data = None if key.key_file else (key.key_text or "").encode()
    if key.key_file is not None and not key.key_file.is_file():
        raise RepoError(f"signing key file {key.key_file} does not exist")
    try:
        # gpg >= 2.1 imports a protected secret key without asking for its passphrase.
        run([*base, "--import", source], input=data)
    except CommandError as exc:
        raise RepoError(f"gpg could not import the signing key: {_last_line(exc)}") from exc


def _fingerprint(base: list[str], key_id: str, *, secret: bool) -> str:
    listing = "--list-secret-keys" if secret else "--list-keys"
    done = run([*base, "--with-colons", listing, *([key_id] if key_id else [])], check=False)
    fprs = [line.split(":")[9] for line in done.text.splitlines() if line.startswith("fpr:")]
    if done.returncode != 0 or not fprs:
        where = next((a for a in base if a.startswith("/")), "the default gpg keyring")
        named = f"signing key {key_id}" if key_id else "a secret signing key"
        raise RepoError(
            f"{named} is not in {where}",
            hint="import it (gpg --import), or set DEBFORGE_SIGN_KEY_FILE / "
            "DEBFORGE_SIGN_PRIVATE_KEY to the armored private key",
        )
    return fprs[0]  # the primary key: gpg picks a signing subkey itself


def _passphrase_args(key: SigningKey) -> list[str]:
    if key.passphrase_file is not None:
        return ["--passphrase-file", str(key.passphrase_file)]
    if key.passphrase is not None:
        return ["--passphrase-fd", "0"]
    return []


def _passphrase_input(key: SigningKey) -> bytes | None:
    if key.passphrase_file is None and key.passphrase is not None:
        return key.passphrase.encode() + b"\n"
    return None


def _last_line(exc: CommandError) -> str:
    lines = [ln for ln in exc.stderr_tail.splitlines() if ln.strip()]
    return lines[-1].removeprefix("gpg: ") if lines else f"exit code {exc.returncode}"
