"""One run at a time per state folder: cron must never start a second submit over the first.

The lock is an advisory `flock` on a file in the state folder, which the kernel releases when
its process dies however it dies; the file keeps the holder's PID, so a second run can name the
first, and a run that finds the PID of a dead process knows it took over a stale lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from .errors import AlreadyRunningError

_HELD: set[int] = set()  # descriptors of the locks this process holds


def _forget_locks_in_child() -> None:
    """A forked worker closes its copies of the lock's descriptor (closing, not unlocking,
    which would unlock the run too): were the run killed, a worker still alive must not keep
    the next run out."""
    for descriptor in _HELD:
        with contextlib.suppress(OSError):
            os.close(descriptor)
    _HELD.clear()


os.register_at_fork(after_in_child=_forget_locks_in_child)


class RunLock:
    """Held for the life of a `with` block."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "run.lock"
        self.stale_pid: int | None = None
        self._descriptor = -1

    def __enter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            holder = self._read_pid()
            os.close(self._descriptor)
            raise AlreadyRunningError(
                f"another bsti-submit run (pid {holder}) is using {self.path.parent}; "
                "this one stops without doing anything"
            ) from error
        previous = self._read_pid()
        if previous and previous != os.getpid():
            self.stale_pid = previous  # its process died without releasing: we take over
        os.ftruncate(self._descriptor, 0)
        os.pwrite(self._descriptor, f"{os.getpid()}\n".encode(), 0)
        _HELD.add(self._descriptor)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        _HELD.discard(self._descriptor)
        os.ftruncate(self._descriptor, 0)
        fcntl.flock(self._descriptor, fcntl.LOCK_UN)
        os.close(self._descriptor)

    def _read_pid(self) -> int | None:
        text = os.pread(self._descriptor, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
