"""Work started early on a second thread: an image built while the run goes on with other work.

The runtime image of `--test` beside the whole build, the builder image beside the build-depends
sysroot and the target's Rust std. Image builds spend most of their time waiting (for QEMU, for the
engine loading or committing layers) while the rest is Python unpacking .debs; on two cores they
overlap instead of adding up. Both threads go through the one Session: its Docker and HTTP clients are
pooled connections (urllib3 pools are thread-safe), and every cache entry is written to a temporary
sibling and renamed, so two writers never see half an entry.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Ahead(Generic[T]):
    """`work()` running on its own thread from now on; `wait()` joins it, returns what it returned and
    re-raises what it raised."""

    def __init__(self, work: Callable[[], T], *, name: str) -> None:
        self._work = work
        self._result: T | None = None
        self._error: BaseException | None = None
        # A daemon: Ctrl-C ends the run without waiting for an image nobody will use.
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._work()
        except BaseException as exc:  # everything: the waiting thread raises it as its own
            self._error = exc

    def wait(self) -> T:
        """Block until the work is done; its result, or its exception raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]  # set: the thread ended without an error


@contextlib.contextmanager
def beside(work: Callable[[], T], *, name: str) -> Iterator[Ahead[T]]:
    """`work` on its own thread while the block runs. When the block fails, the work is let finish
    (the next run reuses the image) so that no container of it is left behind."""
    ahead = Ahead(work, name=name)
    try:
        yield ahead
    except Exception:
        with contextlib.suppress(Exception):
            ahead.wait()
        raise
