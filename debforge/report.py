"""Progress reporting: stages talk to a Reporter, the CLI decides how it is drawn."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text


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
    """Draws steps and bars on stderr with rich; in a log (not a terminal, or `plain`) one line per step.

    Every message is printed as literal text, never read as rich markup: recipe keys such as
    `[package.metadata.deb]` and tool output such as `[/etc/apt]` must reach the user verbatim.
    Lines are never wrapped (soft wrap), so a CI log holds each message on one greppable line.
    """

    def __init__(
        self, console: Console | None = None, *, verbose: bool = False, plain: bool | None = None
    ) -> None:
        self.console = console or Console(
            stderr=True, soft_wrap=True, highlight=False, force_terminal=True if plain is False else None
        )
        self.verbose = verbose
        self.plain = not self.console.is_terminal if plain is None else plain

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        start = time.monotonic()
        ok = False
        try:
            if self.plain:
                yield
            else:
                with self.console.status(Text(title)):
                    yield
            ok = True
        finally:
            self._done(title, time.monotonic() - start, ok=ok)

    @contextmanager
    def progress(self, title: str, total: int | None) -> Iterator[Bar]:
        if self.plain:
            # A bar redrawn in a log is noise; the step around it prints the line with the time.
            yield _NullBar()
            return
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task(escape(title), total=total)
            yield _RichBar(bar, task)

    def info(self, message: str) -> None:
        if self.verbose:
            self._line(Text(message, style="dim"))

    def warning(self, message: str) -> None:
        self._line(Text.assemble(("warning:", "yellow"), " ", message))

    def _done(self, title: str, seconds: float, *, ok: bool) -> None:
        mark = ("✓", "green") if ok else ("✗", "red")
        self._line(Text.assemble(mark, " ", title, " ", (f"({seconds:.1f} s)", "dim")))

    def _line(self, text: Text) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------- --timings


@dataclass(frozen=True, slots=True, kw_only=True)
class StepTime:
    """One finished step: its title, when it started (seconds after the run began), how long it took."""

    title: str
    start: float
    seconds: float
    depth: int  # steps open around it on the same thread when it started
    ok: bool
    thread: str = ""  # the thread it ran on, when not the main one (work done beside the rest)


class Timings:
    """The steps of one run, in the order they started (what `--timings` prints at the end)."""

    def __init__(self) -> None:
        self.origin = time.monotonic()
        self._steps: list[StepTime] = []
        self._lock = threading.Lock()
        self._depth = threading.local()

    @contextmanager
    def measure(self, title: str) -> Iterator[None]:
        """Record the step around the block, nested under the steps open on this thread."""
        depth = getattr(self._depth, "value", 0)
        self._depth.value = depth + 1
        start, ok = time.monotonic(), False
        try:
            yield
            ok = True
        finally:
            self._depth.value = depth
            current = threading.current_thread()
            thread = "" if current is threading.main_thread() else current.name
            step = StepTime(title=title, start=start - self.origin, seconds=time.monotonic() - start,
                            depth=depth, ok=ok, thread=thread)  # fmt: skip
            with self._lock:
                self._steps.append(step)

    def steps(self) -> tuple[StepTime, ...]:
        """Every finished step, by start time (an outer step before the steps inside it)."""
        with self._lock:
            return tuple(sorted(self._steps, key=lambda s: (s.start, s.depth)))

    def render(self) -> str:
        """The breakdown: one line per step (seconds, share of the wall time, `@` when it started),
        indented by nesting, then the run's wall time."""
        wall = time.monotonic() - self.origin
        lines = ["timings:"]
        for step in self.steps():
            share = 100 * step.seconds / wall if wall > 0 else 0.0
            mark = ("" if step.ok else "  (failed)") + (f"  [{step.thread}]" if step.thread else "")
            title = "  " * step.depth + step.title
            # The start column shows what ran beside what (the runtime image beside the build).
            lines.append(f"  {step.seconds:7.1f} s {share:5.1f}%  @{step.start:6.1f}  {title}{mark}")
        lines.append(f"  {wall:7.1f} s 100.0%  total (wall)")
        return "\n".join(lines)


class TimedReporter:
    """A Reporter that records every step in `timings` and passes everything on to `inner`."""

    def __init__(self, inner: Reporter, timings: Timings) -> None:
        self.inner = inner
        self.timings = timings

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        with self.timings.measure(title), self.inner.step(title):
            yield

    def progress(self, title: str, total: int | None) -> AbstractContextManager[Bar]:
        return self.inner.progress(title, total)

    def info(self, message: str) -> None:
        self.inner.info(message)

    def warning(self, message: str) -> None:
        self.inner.warning(message)
