"""Work started early on a second thread: the runtime image of `--test` while the build runs.

The builder image is native work (unpacking, the engine writing layers) and the runtime image of a
foreign target is QEMU work; on two cores they overlap instead of adding up. Both go through the one
Session: its Docker and HTTP clients are pooled connections (urllib3 pools are thread-safe), and
every cache entry is written to a temporary sibling and renamed, so two writers never see half an entry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Ahead:
    """`work()` running on its own thread from now on; `wait()` joins it and re-raises what it raised."""

    def __init__(self, work: Callable[[], object], *, name: str) -> None:
        self._work = work
        self._error: BaseException | None = None
        # A daemon: Ctrl-C ends the run without waiting for an image nobody will use.
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # everything: the waiting thread raises it as its own
            self._error = exc

    def wait(self) -> None:
        """Block until the work is done; raise its exception, if any, here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
