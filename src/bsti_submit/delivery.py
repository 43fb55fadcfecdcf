"""Delivery of verified instances to the central endpoint, resumable and idempotent.

Verified instances are spooled to a private folder as they are cleaned and sent in batches,
bounded by count and bytes, while the rest are still being cleaned; the spool is bounded too.
Every instance's outcome goes to the state database at once, so a rerun sends only what the
server has not acknowledged.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from .audit import AuditLog
from .destination import LocalFolder
from .state import ACKNOWLEDGED, FAILED, DeliveryState
from .stow import StowClient

_MEGABYTE = 1 << 20


@dataclass
class StudyCounts:
    """What became of one study's instances."""

    delivered: int = 0
    already_delivered: int = 0
    failed: int = 0


@dataclass
class DeliveryCounts:
    """What the endpoint part of a run did, in all and per study."""

    delivered: int = 0
    already_delivered: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (SOP instance UID, reason)
    studies: dict[str, StudyCounts] = field(default_factory=dict)


class BatchSink(Protocol):
    """Told after each batch: the study, how many instances, bytes sent and bytes in all."""

    def batch_sent(self, study: str, instances: int, sent: int, total: int) -> None: ...


@dataclass(frozen=True)
class Batching:
    """Bounds of one STOW-RS request."""

    instances: int = 50
    megabytes: int = 64


class StowDelivery:
    """Sends a run's verified instances while the rest are still being cleaned: each one is
    spooled, and a study's instances leave in batches as soon as a batch is full, or sooner
    when the spool holds `spool_megabytes`; the rest leave when the run's files are all
    taken. A file leaves the spool once the server has answered for it."""

    def __init__(
        self,
        client: StowClient,
        state: DeliveryState,
        spool: Path,
        run_id: str,
        batching: Batching = Batching(),
        spool_megabytes: int = 256,
    ) -> None:
        self.client, self.state, self.run_id, self.batching = client, state, run_id, batching
        self.destination = client.endpoint.base_url
        spool.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.spool = LocalFolder(spool)
        self.counts = DeliveryCounts()
        self._spool_limit = spool_megabytes * _MEGABYTE
        self._waiting: dict[str, dict[str, tuple[Path, str, int]]] = {}  # study: sop: file
        self._waiting_bytes = self._sent = self._total = 0
        self.peak_spool_bytes = 0
        self._audit: AuditLog | None = None
        self._progress: BatchSink | None = None
        self._on_stored: Callable[[str, bool], None] | None = None

    def start(
        self,
        audit: AuditLog,
        progress: BatchSink | None = None,
        on_stored: Callable[[str, bool], None] | None = None,
    ) -> None:
        """Where outcomes go: the audit log, the progress bars, and `on_stored`, which hears of
        each instance the server holds as soon as it does, and whether this run sent it (False:
        it was there already)."""
        self._audit, self._progress, self._on_stored = audit, progress, on_stored

    def add(self, study: str, sop: str, path: Path) -> None:
        """A verified instance, spooled at `path`: sent now if the server has it already
        (nothing is sent), else queued, and whatever is due is sent."""
        digest, size = _sha256(path), path.stat().st_size
        counts = self.counts.studies.setdefault(study, StudyCounts())
        if self.state.acknowledged(self.destination, sop, digest):
            self.counts.already_delivered += 1
            counts.already_delivered += 1
            path.unlink()
            self._recorded().delivery(sop, "already delivered", "")
            self._stored(sop, sent_now=False)
            return
        self._waiting.setdefault(study, {})[sop] = (path, digest, size)
        self._waiting_bytes += size
        self._total += size
        self.peak_spool_bytes = max(self.peak_spool_bytes, self._waiting_bytes)
        self._send_due(study)

    def finish(self) -> DeliveryCounts:
        """Send what is left, record each study's counts; the spool is emptied whatever
        happens."""
        try:
            for study in list(self._waiting):
                while self._waiting.get(study):
                    self._send(study, self._next_batch(study))
            for study, counts in sorted(self.counts.studies.items()):
                self._recorded().study_delivery(study, asdict(counts))
        finally:
            shutil.rmtree(self.spool.root, ignore_errors=True)
        return self.counts

    def close(self) -> None:
        """Empty the spool (a run that stopped early: its instances go again next time)."""
        shutil.rmtree(self.spool.root, ignore_errors=True)

    def _send_due(self, study: str) -> None:
        """The run's first instance leaves at once (the first acknowledgement comes in seconds,
        and proves the endpoint takes what the run sends); then a full batch of `study` leaves
        at once, and when the spool is full, the oldest study's next batch leaves, full or not,
        until it is not."""
        batch = self._next_batch(study)
        full = len(batch) == self.batching.instances or self._bytes(study, batch) >= self._limit()
        if full or self._sent == 0:
            self._send(study, batch)
        while self._waiting_bytes > self._spool_limit:
            oldest = next(name for name, files in self._waiting.items() if files)
            self._send(oldest, self._next_batch(oldest))

    def _limit(self) -> int:
        return self.batching.megabytes * _MEGABYTE

    def _bytes(self, study: str, batch: list[str]) -> int:
        return sum(self._waiting[study][sop][2] for sop in batch)

    def _next_batch(self, study: str) -> list[str]:
        """The study's oldest waiting instances, within the batch's bounds (at least one)."""
        batch: list[str] = []
        size = 0
        for sop, (_, _, length) in self._waiting.get(study, {}).items():
            if batch and (len(batch) == self.batching.instances or size + length > self._limit()):
                break
            batch.append(sop)
            size += length
        return batch

    def _send(self, study: str, batch: list[str]) -> None:
        waiting = self._waiting[study]
        outcomes = self.client.store(study, {sop: waiting[sop][0] for sop in batch})
        self._sent += self._bytes(study, batch)
        if self._progress is not None:
            self._progress.batch_sent(study, len(batch), self._sent, self._total)
        counts = self.counts.studies[study]
        for outcome in outcomes:
            path, digest, size = waiting.pop(outcome.sop)
            status = ACKNOWLEDGED if outcome.stored else FAILED
            self.state.record(
                self.destination,
                outcome.sop,
                study,
                digest,
                status,
                outcome.reason,
                self.run_id,
            )
            self._recorded().delivery(
                outcome.sop, "delivered" if outcome.stored else "not delivered", outcome.reason
            )
            path.unlink(missing_ok=True)  # answered: its outcome is recorded
            self._waiting_bytes -= size
            if outcome.stored:
                self.counts.delivered += 1
                counts.delivered += 1
                self._stored(outcome.sop, sent_now=True)
            else:
                self.counts.failed.append((outcome.sop, outcome.reason))
                counts.failed += 1
        for sop in [sop for sop in batch if sop in waiting]:  # no answer came for it
            path, _, size = waiting.pop(sop)
            path.unlink(missing_ok=True)
            self._waiting_bytes -= size
            self.counts.failed.append((sop, "the server gave no answer for it"))
            counts.failed += 1
        if not waiting:
            del self._waiting[study]

    def _recorded(self) -> AuditLog:
        assert self._audit is not None, "start() was not called"
        return self._audit

    def _stored(self, sop: str, sent_now: bool) -> None:
        if self._on_stored is not None:
            self._on_stored(sop, sent_now)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_MEGABYTE):
            digest.update(chunk)
    return digest.hexdigest()
