"""One run at a time per state folder: cron must never start a second submit over the first.

The lock is an OS lock on a file in the state folder (`flock` on POSIX, `msvcrt.locking` on
Windows: see platforms), which the OS releases when its process dies however it dies; the file
keeps the holder's PID, so a second run can name the first, and a run that finds the PID of a
dead process knows it took over a stale lock. The lock is ours, not filelock's: a forked worker
must close its copy of the lock's descriptor, and filelock's fallback, a lock file that outlives
a killed run, would keep cron out until someone deleted it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from . import platforms
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


platforms.after_fork_in_child(_forget_locks_in_child)


class RunLock:
    """Held for the life of a `with` block."""

    def __init__(
        self,
        state_dir: Path,
        locking: platforms.Locking | None = None,
        name: str = "run.lock",  # "listen.lock": one listener per state folder, beside the runs
    ) -> None:
        self.path = state_dir / name
        self.stale_pid: int | None = None
        self._descriptor = -1
        self._locking = locking or platforms.file_locking()

    def __enter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | platforms.BINARY_FLAG, 0o600)
        if not self._locking.try_lock(self._descriptor):
            holder = self._read_pid()
            os.close(self._descriptor)
            raise AlreadyRunningError(
                f"another bsti-submit run (pid {holder}) is using {self.path.parent}; "
                "this one stops without doing anything"
            )
        previous = self._read_pid()
        if previous and previous != os.getpid():
            self.stale_pid = previous  # its process died without releasing: we take over
        self._write_pid(f"{os.getpid()}\n")
        _HELD.add(self._descriptor)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        _HELD.discard(self._descriptor)
        self._write_pid("")
        self._locking.unlock(self._descriptor)
        os.close(self._descriptor)

    def _read_pid(self) -> int | None:
        try:
            os.lseek(self._descriptor, 0, os.SEEK_SET)
            text = os.read(self._descriptor, 32).decode("ascii", "replace").strip()
        except OSError:  # the name of the holder is a courtesy, not a need
            return None
        return int(text) if text.isdigit() else None

    def _write_pid(self, text: str) -> None:
        os.ftruncate(self._descriptor, 0)
        os.lseek(self._descriptor, 0, os.SEEK_SET)
        os.write(self._descriptor, text.encode("ascii"))
