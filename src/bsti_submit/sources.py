"""What makes `submit` safe on a folder that PACS keeps adding to: only new files are taken, a
study is taken only once it has been quiet for a while, and delivered files can be moved away
or deleted (only once written, or acknowledged by the server)."""

from __future__ import annotations

import shutil
import time
from collections import defaultdict
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from .config import AFTER_DELIVERY
from .delivery.state import DeliveryState
from .errors import UsageError


class SourceTracker:
    """Remembers, in the state database, each source file taken (by path, size and time of
    change) for a destination, so a rerun skips it while it is unchanged.

    Marks of files written to a folder are committed in batches of `batch`, as one commit per
    file would wait for the disk once per file: a run killed before a batch is committed takes
    those files again next time and writes the same output. Marks of files sent to an endpoint
    (batch 1) are committed as each is acknowledged, beside the delivery state."""

    def __init__(self, state: DeliveryState, destination: str, batch: int = 256) -> None:
        self.state, self.destination, self.batch = state, destination, batch
        self._pending: list[tuple[str, int, int, str]] = []

    def done(self, path: Path) -> bool:
        size, changed = _fingerprint(path)
        return self.state.source_done(self.destination, str(path), size, changed)

    def mark(self, path: Path, status: str) -> None:
        size, changed = _fingerprint(path)
        self._pending.append((str(path), size, changed, status))
        if len(self._pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Write the marks not written yet."""
        self.state.mark_sources(self.destination, self._pending)
        self._pending.clear()


def _fingerprint(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_size, status.st_mtime_ns


def quiet_studies(paths: list[Path], quiet_seconds: int) -> tuple[list[Path], list[Path]]:
    """(ready, waiting): the files of a study wait while any of them changed within the last
    `quiet_seconds`, so a study PACS is still exporting is left for the next run."""
    if quiet_seconds <= 0:
        return paths, []
    studies: dict[str, list[Path]] = defaultdict(list)
    for path in paths:
        studies[_study_of(path)].append(path)
    cutoff = time.time() - quiet_seconds
    ready: list[Path] = []
    waiting: list[Path] = []
    for files in studies.values():
        newest = max(path.stat().st_mtime for path in files)
        (ready if newest <= cutoff else waiting).extend(files)
    return sorted(ready), sorted(waiting)


def _study_of(path: Path) -> str:
    """The Study Instance UID from the header alone; an unreadable file is its own study."""
    try:
        header = pydicom.dcmread(
            path, force=True, stop_before_pixels=True, specific_tags=["StudyInstanceUID"]
        )
        return str(header.get("StudyInstanceUID") or path)
    except (InvalidDicomError, OSError, ValueError, EOFError, TypeError, KeyError):
        return str(path)


class AfterDelivery:
    """What to do with a source file once its instance is safe: keep, move or delete it."""

    def __init__(self, mode: str, source_root: Path, move_to: Path | None) -> None:
        if mode not in AFTER_DELIVERY:
            raise UsageError(f"--after-delivery takes {', '.join(AFTER_DELIVERY)}, not {mode!r}")
        if mode == "move" and move_to is None:
            raise UsageError("--after-delivery move needs --move-to DIR")
        if mode == "move" and move_to is not None:
            move_to = move_to.resolve()
            if move_to.is_relative_to(source_root.resolve()):
                raise UsageError(
                    f"--move-to {move_to} is inside SOURCE {source_root}: moved files would be "
                    "read again by the next run; choose a folder outside it"
                )
        self.mode, self.source_root, self.move_to = mode, source_root, move_to

    def act(self, path: Path) -> None:
        if self.mode == "delete":
            path.unlink(missing_ok=True)
        elif self.mode == "move" and self.move_to is not None:
            target = self.move_to / path.relative_to(self.source_root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)
