"""Progress reporting: stages talk to a Reporter, the CLI decides how it is drawn."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn


class Bar(Protocol):
    """A running progress bar."""

    def advance(self, amount: int) -> None:
        """Move the bar forward by `amount` units."""


class Reporter(Protocol):
    """What a stage may say while it works; never stdout."""

    def step(self, title: str) -> AbstractContextManager[None]:
        """Context manager around one named step of work."""

    def progress(self, title: str, total: int | None) -> AbstractContextManager[Bar]:
        """Context manager yielding a bar counting up to `total` (bytes or items)."""

    def info(self, message: str) -> None:
        """A line of information."""

    def warning(self, message: str) -> None:
        """Something the user should know but that does not stop the work."""


class _NullBar:
    def advance(self, amount: int) -> None:
        del amount


class NullReporter:
    """Says nothing: for tests, libraries and `--json` with `--quiet`."""

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        del title
        yield

    @contextmanager
    def progress(self, title: str, total: int | None) -> Iterator[Bar]:
        del title, total
        yield _NullBar()

    def info(self, message: str) -> None:
        del message

    def warning(self, message: str) -> None:
        del message


class _RichBar:
    def __init__(self, progress: Progress, task: object) -> None:
        self._progress = progress
        self._task = task

    def advance(self, amount: int) -> None:
        self._progress.advance(self._task, amount)  # type: ignore[arg-type]  # TaskID is an int alias


class RichReporter:
    """Draws steps and bars on stderr with rich."""

    def __init__(self, console: Console | None = None, *, verbose: bool = False) -> None:
        self.console = console or Console(stderr=True)
        self.verbose = verbose

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        start = time.monotonic()
        with self.console.status(title):
            yield
        self.console.print(f"[green]✓[/] {title} [dim]({time.monotonic() - start:.1f} s)[/]")

    @contextmanager
    def progress(self, title: str, total: int | None) -> Iterator[Bar]:
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task(title, total=total)
            yield _RichBar(bar, task)

    def info(self, message: str) -> None:
        if self.verbose:
            self.console.print(f"[dim]{message}[/]")

    def warning(self, message: str) -> None:
        self.console.print(f"[yellow]warning:[/] {message}")
