"""`--dist a,b --arch x,y`: the matrix options, per-pair outputs and the one summary table."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from debforge.cli.options import TargetOptions, print_json, stdout, styled

if TYPE_CHECKING:  # the pipeline package is imported when a matrix runs, not for --help
    from debforge.pipeline.matrix import Made, MatrixResult, Pair

Jobs = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        envvar="DEBFORGE_JOBS",
        help="Pairs of a matrix built at once on each engine (default: CPUs).",
    ),
]


def is_matrix(opts: TargetOptions) -> bool:
    """--dist or --arch (or DEBFORGE_DIST/DEBFORGE_ARCH) lists more than one value (a lone DIST/ARCH
    is split into both by the options)."""
    from debforge.pipeline.matrix import split_list

    dists = split_list(opts.dist, "--dist")
    return len(dists) > 1 or len(split_list(opts.arch, "--arch")) > 1


def pair_options(opts: TargetOptions) -> dict[Pair, TargetOptions]:
    """Each pair with the options naming it alone (checked against the target table first)."""
    from debforge.pipeline.matrix import matrix_pairs, split_list

    pairs = matrix_pairs(split_list(opts.dist, "--dist"), split_list(opts.arch, "--arch"))
    opts.engines()  # a malformed --engine is a usage error before any pair starts
    return {p: dataclasses.replace(opts, dist=p.dist, arch=p.arch) for p in pairs}


def pair_out(out: Path, pair: Pair) -> Path:
    """A matrix writes each pair into `<out>/<dist>-<arch>/`: the same version built for two dists
    would otherwise be one file name."""
    return out / pair.name


def pair_debs(debs: list[Path], pair: Pair) -> list[Path]:
    """The .debs `test-install` gives one pair: a .deb as it is (e.g. Architecture: all), a matrix
    output directory as its `<dist>-<arch>/*.deb`."""
    from debforge.errors import UsageError

    found: list[Path] = []
    for deb in debs:
        if not deb.is_dir():
            found.append(deb)
            continue
        inside = sorted((deb / pair.name).glob("*.deb"))
        if not inside:
            raise UsageError(f"{deb / pair.name} holds no .deb for {pair.dist}/{pair.arch}")
        found += inside
    return found


def run_pairs(
    opts: TargetOptions, stage: Callable[[Pair, TargetOptions], Made], *, jobs: int | None
) -> MatrixResult:
    """Validate every pair, then run `stage` for each, `jobs` at a time on each engine (default: the CPUs)."""
    from debforge.pipeline.matrix import default_jobs, run_matrix

    options = pair_options(opts)
    engines = opts.engines()
    return run_matrix(
        tuple(options), lambda pair: stage(pair, options[pair]), jobs=jobs or default_jobs(),
        lane=lambda pair: engines.for_arch(pair.arch).name,
    )  # fmt: skip


def render_matrix(result: MatrixResult, *, json_out: bool) -> None:
    """One table (pair, result, time, deb), then each failure in full; exit 1 if any pair failed."""
    if json_out:
        print_json(result.to_json())
    else:
        table = Table("pair", "result", "time", "deb")
        for r in result.results:
            mark = styled("ok", "green") if r.ok else styled("FAIL", "red")
            deb = str(r.made.path) if r.made and r.made.path else ""
            table.add_row(r.pair.name, mark, f"{r.seconds:.0f} s", deb)
        stdout().print(table)
        for r in result.failures:
            stdout().print(Text.assemble((f"{r.pair.name} failed:", "bold red"), " ", r.error))
            if r.hint:
                stdout().print(Text.assemble(("hint:", "bold"), " ", r.hint))
    if not result.ok:
        raise typer.Exit(1)
