"""Delivery of verified instances to the central endpoint, resumable and idempotent.

Verified instances are spooled to a private folder during the run; each study is then sent in
batches bounded by count and bytes. Every instance's outcome goes to the state database at once,
so a rerun sends only what the server has not acknowledged.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
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
    """Spools a run's verified instances, then sends them study by study."""

    def __init__(
        self,
        client: StowClient,
        state: DeliveryState,
        spool: Path,
        run_id: str,
        batching: Batching = Batching(),
    ) -> None:
        self.client, self.state, self.run_id, self.batching = client, state, run_id, batching
        self.destination = client.endpoint.base_url
        spool.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.spool = LocalFolder(spool)
        self.counts = DeliveryCounts()
        self._sent = self._total = 0
        self._on_stored: Callable[[str, bool], None] | None = None

    def deliver(
        self,
        audit: AuditLog,
        progress: BatchSink | None = None,
        on_stored: Callable[[str, bool], None] | None = None,
    ) -> DeliveryCounts:
        """Send everything spooled; `on_stored` hears of each instance the server holds, as
        soon as it does, and whether this run sent it (False: it was there already). The spool
        is emptied whatever happens."""
        self._on_stored = on_stored
        try:
            studies = sorted(path for path in self.spool.root.iterdir() if path.is_dir())
            self._total = sum(path.stat().st_size for path in self.spool.root.rglob("*.dcm"))
            self._sent = 0
            for study in studies:
                self.counts.studies[study.name] = StudyCounts()
                self._deliver_study(study, audit, progress)
                audit.study_delivery(study.name, asdict(self.counts.studies[study.name]))
        finally:
            shutil.rmtree(self.spool.root, ignore_errors=True)
        return self.counts

    def _deliver_study(self, study: Path, audit: AuditLog, progress: BatchSink | None) -> None:
        pending: dict[str, tuple[Path, str]] = {}
        counts = self.counts.studies[study.name]
        for path in sorted(study.rglob("*.dcm")):
            sop, digest = path.stem, _sha256(path)
            if self.state.acknowledged(self.destination, sop, digest):
                self.counts.already_delivered += 1
                self._stored(sop, sent_now=False)
                counts.already_delivered += 1
                self._sent += path.stat().st_size
                audit.delivery(sop, "already delivered", "")
            else:
                pending[sop] = (path, digest)
        for batch in self._batches(pending):
            outcomes = self.client.store(study.name, {sop: pending[sop][0] for sop in batch})
            self._sent += sum(pending[sop][0].stat().st_size for sop in batch)
            if progress is not None:
                progress.batch_sent(study.name, len(batch), self._sent, self._total)
            for outcome in outcomes:
                status = ACKNOWLEDGED if outcome.stored else FAILED
                digest = pending[outcome.sop][1]
                self.state.record(
                    self.destination,
                    outcome.sop,
                    study.name,
                    digest,
                    status,
                    outcome.reason,
                    self.run_id,
                )
                audit.delivery(
                    outcome.sop, "delivered" if outcome.stored else "not delivered", outcome.reason
                )
                if outcome.stored:
                    self.counts.delivered += 1
                    self._stored(outcome.sop, sent_now=True)
                    counts.delivered += 1
                else:
                    self.counts.failed.append((outcome.sop, outcome.reason))
                    counts.failed += 1

    def _stored(self, sop: str, sent_now: bool) -> None:
        if self._on_stored is not None:
            self._on_stored(sop, sent_now)

    def _batches(self, pending: dict[str, tuple[Path, str]]) -> Iterator[list[str]]:
        batch: list[str] = []
        size = 0
        limit = self.batching.megabytes * _MEGABYTE
        for sop, (path, _) in pending.items():
            length = path.stat().st_size
            if batch and (len(batch) == self.batching.instances or size + length > limit):
                yield batch
                batch, size = [], 0
            batch.append(sop)
            size += length
        if batch:
            yield batch


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_MEGABYTE):
            digest.update(chunk)
    return digest.hexdigest()
