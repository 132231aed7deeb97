"""`debforge repo`: publish debs to a signed apt repository."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from debforge.cli.options import Json, print_json, reporter, stdout

repo_app = typer.Typer(help="Publish debs to a signed apt repository.", no_args_is_help=True)
RepoDir = Annotated[Path, typer.Option("--repo", help="The repository directory.")]
SignKey = Annotated[str | None, typer.Option("--sign-key", help="gpg key id (or $DEBFORGE_SIGN_KEY).")]
KeyFile = Annotated[
    Path | None,
    typer.Option("--key-file", help="Armored private key to sign with (or $DEBFORGE_SIGN_KEY_FILE)."),
]
GpgHome = Annotated[Path | None, typer.Option("--gpg-home", help="GNUPGHOME holding the signing key.")]


def _render_list(result: Any, json_out: bool) -> None:
    if json_out:
        print_json(result.to_json())
        return
    table = Table("dist", "component", "package", "version", "arch")
    for p in result.packages:
        table.add_row(p.dist, p.component, p.name, p.version, p.arch)
    stdout().print(table)


@repo_app.command("init")
def repo_init(
    *,
    repo: RepoDir,
    dist: Annotated[list[str], typer.Option("--dist", help="Dist to carry (repeat for several).")],
    arch: Annotated[str, typer.Option("--arch", help="Comma-separated architectures, e.g. arm64,amd64.")],
    component: Annotated[
        list[str] | None, typer.Option("--component", help="Components (default main).")
    ] = None,
    sign_key: SignKey = None,
    key_file: KeyFile = None,
    origin: Annotated[str, typer.Option("--origin")] = "debforge",
    label: Annotated[str, typer.Option("--label")] = "debforge",
    description: Annotated[str, typer.Option("--description")] = "",
    json_out: Json = False,
) -> None:
    """Create an apt repository in the standard Debian layout."""
    from debforge.repo import KeyOptions, Labels, init_repo

    result = init_repo(
        repo,
        dists=tuple(dist),
        components=tuple(component or ["main"]),
        arches=tuple(a for a in arch.split(",") if a),
        key=KeyOptions(sign_key=sign_key, key_file=key_file),
        labels=Labels(origin=origin, label=label, description=description),
    )
    print_json(result.to_json()) if json_out else stdout().print(f"initialised {repo}")


@repo_app.command("add")
def repo_add(
    debs: Annotated[list[Path], typer.Argument(help=".deb files to add to the pool.")],
    repo: RepoDir,
    dist: Annotated[str | None, typer.Option("--dist")] = None,
    component: Annotated[str | None, typer.Option("--component")] = None,
    json_out: Json = False,
) -> None:
    """Copy debs into the pool (a no-op for a deb already there)."""
    from debforge.repo import add_debs

    _render_list(add_debs(repo, debs, dist=dist, component=component), json_out)


@repo_app.command("remove")
def repo_remove(
    spec: Annotated[str, typer.Argument(help="NAME or NAME=VERSION.")],
    repo: RepoDir,
    arch: Annotated[str | None, typer.Option("--arch")] = None,
    dist: Annotated[str | None, typer.Option("--dist")] = None,
    json_out: Json = False,
) -> None:
    """Remove a package (all versions, or one) from the repository; the next publish drops its files."""
    from debforge.repo import remove

    name, _, version = spec.partition("=")
    _render_list(remove(repo, name, version or None, arch, dist=dist), json_out)


@repo_app.command("list")
def repo_list(repo: RepoDir, json_out: Json = False) -> None:
    """List the packages in the repository."""
    from debforge.repo import list_packages

    _render_list(list_packages(repo), json_out)


@repo_app.command("prune")
def repo_prune(
    repo: RepoDir,
    keep_versions: Annotated[
        int, typer.Option("--keep-versions", min=1, help="Versions to keep per package.")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would go.")] = False,
    json_out: Json = False,
) -> None:
    """Retention: keep the newest N versions of each package and drop the rest."""
    from debforge.repo import prune

    _render_list(prune(repo, keep_versions=keep_versions, dry_run=dry_run), json_out)


@repo_app.command("publish")
def repo_publish(
    *,
    repo: RepoDir,
    date: Annotated[str | None, typer.Option("--date", help="Release Date (ISO 8601 or @epoch).")] = None,
    valid_for: Annotated[float | None, typer.Option("--valid-for", help="Days until Valid-Until.")] = None,
    sign_key: SignKey = None,
    key_file: KeyFile = None,
    gpg_home: GpgHome = None,
    passphrase_file: Annotated[Path | None, typer.Option("--passphrase-file")] = None,
    unsigned: Annotated[bool, typer.Option("--unsigned", help="Publish without signatures.")] = False,
    keep_generations: Annotated[int, typer.Option("--keep-generations", min=1)] = 3,
    json_out: Json = False,
) -> None:
    """Write Packages, Release, InRelease and Release.gpg, switched in atomically."""
    from datetime import timedelta

    from debforge.repo import KeyOptions, parse_date, publish

    result = publish(
        repo,
        date=parse_date(date) if date else None,
        valid_for=timedelta(days=valid_for) if valid_for else None,
        key=KeyOptions(
            sign_key=sign_key, key_file=key_file, gpg_home=gpg_home, passphrase_file=passphrase_file
        ),
        unsigned=unsigned,
        keep_generations=keep_generations,
        reporter=reporter(),
    )
    print_json(result.to_json()) if json_out else stdout().print(f"published {repo}")


@repo_app.command("export-key")
def repo_export_key(
    repo: RepoDir, sign_key: SignKey = None, key_file: KeyFile = None, gpg_home: GpgHome = None
) -> None:
    """Print the public key for /etc/apt/keyrings/ (use it with signed-by)."""
    from debforge.repo import KeyOptions, export_key

    sys.stdout.write(export_key(repo, KeyOptions(sign_key=sign_key, key_file=key_file, gpg_home=gpg_home)))
