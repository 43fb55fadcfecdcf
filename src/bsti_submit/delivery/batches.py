"""Delivery of verified instances to the central endpoint, resumable and idempotent.

Verified instances are spooled to a private folder as they are cleaned and posted in batches,
bounded by count and bytes, by sender threads while the rest are still being cleaned; the
spool is bounded too. Every answer is recorded in the state database by the run's own thread
as soon as that thread sees it, so a rerun sends only what the server has not acknowledged.
"""

from __future__ import annotations

import hashlib
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol

from ..errors import BstiError, EndpointError
from .folder import LocalFolder
from .state import ACKNOWLEDGED, FAILED, DeliveryState
from .stow import Outcome, StowClient

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


class DeliveryRecord(Protocol):
    """Where each instance's and each study's outcome is written (the run's audit log)."""

    def delivery(
        self, sop_instance_uid: str, status: str, reason: str, sha256: str = "", **ack: str
    ) -> None: ...

    def study_delivery(self, study_instance_uid: str, counts: dict[str, int]) -> None: ...


class BatchSink(Protocol):
    """Told after each answer: instances answered so far, of the instances handed over so far
    (the rest of the run's files may add more)."""

    def batch_sent(self, answered: int, handed_over: int) -> None: ...


@dataclass(frozen=True)
class Batching:
    """Bounds of one STOW-RS request."""

    instances: int = 50
    megabytes: int = 64


@dataclass(frozen=True)
class _Spooled:
    path: Path
    sha256: str
    size: int


@dataclass
class _Batch:
    """One request's instances, and, once answered, the server's answer or why none came."""

    study: str
    files: dict[str, _Spooled]
    outcomes: list[Outcome] | None = None
    error: Exception | None = None

    @property
    def size(self) -> int:
        return sum(spooled.size for spooled in self.files.values())


class _Sender:
    """Threads that post batches in the order given, each on a connection of its own, and
    hand every batch back answered. Two connections: one uploads a batch while the server
    stores the other's (on a trust's uplink, it also hides the round trip). So a study's
    batches may be stored out of order; the instances within a batch keep theirs, and a
    STOW-RS receiver stores each instance on its own, as the standard asks. After an error
    (the server refused the credentials, say) nothing more is posted: the batches after it
    come back with neither outcomes nor error, as never sent."""

    CONNECTIONS = 2

    def __init__(self, client: StowClient) -> None:
        self._to_send: queue.Queue[_Batch | None] = queue.Queue()
        self.answered: queue.Queue[_Batch] = queue.Queue()
        self._broken = False
        self._clients = [client] + [client.another() for _ in range(self.CONNECTIONS - 1)]
        self._threads = [
            threading.Thread(target=self._run, args=(own,), name="stow-sender", daemon=True)
            for own in self._clients
        ]
        for thread in self._threads:
            thread.start()

    def post(self, batch: _Batch) -> None:
        self._to_send.put(batch)

    def stop(self, post_the_rest: bool, grace: float | None = None) -> None:
        """End once the batches on the wire are answered, or after `grace` seconds (a batch
        still on the wire then is recorded by no one, and goes again next run). The batches
        queued are posted first only if `post_the_rest`, else they come back unsent."""
        if not post_the_rest:
            self._broken = True
        for _ in self._threads:
            self._to_send.put(None)
        deadline = None if grace is None else time.monotonic() + grace
        try:
            for thread in self._threads:
                thread.join(None if deadline is None else max(deadline - time.monotonic(), 0))
        finally:
            for extra in self._clients[1:]:  # the first is the run's, closed with it
                extra.close()

    def _run(self, client: StowClient) -> None:
        while (batch := self._to_send.get()) is not None:
            if self._broken:
                self.answered.put(batch)
                continue
            try:
                batch.outcomes = client.store(
                    batch.study, {sop: spooled.path for sop, spooled in batch.files.items()}
                )
            except BstiError as error:  # handed to the run's thread, which raises it
                batch.error, self._broken = error, True
            except BaseException as error:  # a thread that died would leave the run waiting
                reason = f"{type(error).__name__}: {error}".rstrip(": ")
                batch.error = EndpointError(f"sending failed: {reason}")
                self._broken = True
            self.answered.put(batch)


class StowDelivery:
    """Sends a run's verified instances while the rest are still being cleaned: each one is
    spooled, and a study's instances leave in batches as soon as a batch is full, or sooner
    when the spool holds `spool_megabytes` (then the run waits for answers); the rest leave
    when the run's files are all taken. A file leaves the spool once the server has answered
    for it. Use it as a context manager, and `start()` it, before adding instances."""

    STOP_GRACE_SECONDS = 5.0

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
        self._waiting: dict[str, dict[str, _Spooled]] = {}  # study: sop: file, not yet posted
        self._in_flight = 0  # batches posted and not yet answered
        self._spool_bytes = self._posted = self._answered = self._handed_over = 0
        self.peak_spool_bytes = 0
        self._sender: _Sender | None = None
        self._audit: DeliveryRecord | None = None
        self._progress: BatchSink | None = None
        self._on_stored: Callable[[str, bool], None] | None = None

    def start(
        self,
        audit: DeliveryRecord,
        progress: BatchSink | None = None,
        on_stored: Callable[[str, bool], None] | None = None,
    ) -> None:
        """Where outcomes go: the audit log, the progress bars, and `on_stored`, which hears of
        each instance the server holds as soon as the run sees the answer, and whether this
        run sent it (False: it was there already)."""
        self._audit, self._progress, self._on_stored = audit, progress, on_stored

    def add(self, study: str, sop: str, path: Path, sha256: str = "") -> None:
        """A verified instance, spooled at `path` (`sha256`: its hash, if known already): done
        now if the server has it already (nothing is sent), else queued; whatever is due is
        posted, and the answers that came meanwhile are recorded."""
        self._record_answers(wait=False)
        digest, size = sha256 or sha256_of(path), path.stat().st_size
        self._handed_over += 1
        if self.state.acknowledged(self.destination, sop, digest):
            self.counts.already_delivered += 1
            self._study(study).already_delivered += 1
            path.unlink()
            self._recorded().delivery(sop, "already delivered", "", digest)
            self._answered += 1
            self._stored(sop, sent_now=False)
            self._tell_progress()
            return
        self._study(study)
        self._waiting.setdefault(study, {})[sop] = _Spooled(path, digest, size)
        self._spool_bytes += size
        self.peak_spool_bytes = max(self.peak_spool_bytes, self._spool_bytes)
        self._post_due(study)

    def finish(self) -> DeliveryCounts:
        """Post what is left, record every answer and each study's counts."""
        for study in list(self._waiting):
            while self._waiting.get(study):
                self._post(study)
        while self._in_flight:
            self._record_answers(wait=True)
        for study, counts in sorted(self.counts.studies.items()):
            self._recorded().study_delivery(study, asdict(counts))
        return self.counts

    def __enter__(self) -> StowDelivery:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the senders, and record every answer that came, each on its own. After an
        error the batches queued are not posted, and the senders are given
        `STOP_GRACE_SECONDS` to bring the answers on the wire (an interrupted run must end
        at once: systemd kills one that does not); what is not recorded goes next run. The
        spool is emptied whatever happens; an error in recording gives way to the one that
        stopped the run."""
        try:
            if self._sender is not None:
                stopped = error is not None
                grace = self.STOP_GRACE_SECONDS if stopped else None
                self._sender.stop(post_the_rest=not stopped, grace=grace)
        finally:
            try:
                self._record_every_answer(quietly=error is not None)
            finally:
                shutil.rmtree(self.spool.root, ignore_errors=True)

    def record_answers(self) -> None:
        """Record the answers that came meanwhile, waiting for none (called while the run
        waits for its workers, so an acknowledgement is not left unrecorded for long)."""
        self._record_answers(wait=False)

    def _record_every_answer(self, quietly: bool) -> None:
        """Record each answered batch on its own, so one error does not hide the answers behind
        it; the first error is raised at the end, unless `quietly`."""
        first: Exception | None = None
        while (batch := self._next_answer(wait=False)) is not None:
            try:
                self._record(batch)
            except Exception as problem:
                first = first or problem
        if first is not None and not quietly:
            raise first

    def _study(self, study: str) -> StudyCounts:
        return self.counts.studies.setdefault(study, StudyCounts())

    def _post_due(self, study: str) -> None:
        """The run's first instance leaves at once (the first acknowledgement comes in seconds,
        and proves the endpoint takes what the run sends); then a full batch of `study` leaves
        at once. While the spool is over its bound, the oldest study's next batch leaves, full
        or not, and once all are posted the run waits for answers."""
        batch = self._next_batch(study)
        size = sum(self._waiting[study][sop].size for sop in batch)
        if len(batch) == self.batching.instances or size >= self._limit() or self._posted == 0:
            self._post(study)
        while self._spool_bytes > self._spool_limit:
            oldest = next((name for name, files in self._waiting.items() if files), None)
            if oldest is None:
                self._record_answers(wait=True)
            else:
                self._post(oldest)

    def _limit(self) -> int:
        return self.batching.megabytes * _MEGABYTE

    def _next_batch(self, study: str) -> list[str]:
        """The study's oldest waiting instances, within the batch's bounds (at least one)."""
        batch: list[str] = []
        size = 0
        for sop, spooled in self._waiting.get(study, {}).items():
            if batch and (
                len(batch) == self.batching.instances or size + spooled.size > self._limit()
            ):
                break
            batch.append(sop)
            size += spooled.size
        return batch

    def _post(self, study: str) -> None:
        waiting = self._waiting[study]
        batch = _Batch(study, {sop: waiting.pop(sop) for sop in self._next_batch(study)})
        if not waiting:
            del self._waiting[study]
        if self._sender is None:  # started late: workers fork before, never with a thread running
            self._sender = _Sender(self.client)
        self._sender.post(batch)
        self._in_flight += 1
        self._posted += 1

    def _record_answers(self, wait: bool) -> None:
        """Record the answered batches: one at least if `wait`, else those already back."""
        while (batch := self._next_answer(wait)) is not None:
            self._record(batch)
            wait = False

    def _next_answer(self, wait: bool) -> _Batch | None:
        """The next answered batch, taken off the spool's count; None when none is on its way,
        or, unless `wait`, none is back yet."""
        if self._sender is None or not self._in_flight:
            return None
        try:
            batch = self._sender.answered.get(block=wait)
        except queue.Empty:
            return None
        self._in_flight -= 1
        self._spool_bytes -= batch.size
        return batch

    def _record(self, batch: _Batch) -> None:
        if batch.error is not None:
            raise batch.error
        if batch.outcomes is None:  # posted after an error: never sent, so it goes next run
            return
        counts = self.counts.studies[batch.study]
        for outcome in batch.outcomes:
            spooled = batch.files.pop(outcome.sop)
            status = ACKNOWLEDGED if outcome.stored else FAILED
            self.state.record(
                self.destination,
                outcome.sop,
                batch.study,
                spooled.sha256,
                status,
                outcome.reason,
                self.run_id,
            )
            self._recorded().delivery(
                outcome.sop,
                "delivered" if outcome.stored else "not delivered",
                outcome.reason,
                spooled.sha256,
                retrieve_url=outcome.retrieve_url,
            )
            spooled.path.unlink(missing_ok=True)  # answered: its outcome is recorded
            if outcome.stored:
                self.counts.delivered += 1
                counts.delivered += 1
                self._stored(outcome.sop, sent_now=True)
            else:
                self.counts.failed.append((outcome.sop, outcome.reason))
                counts.failed += 1
        for sop, spooled in batch.files.items():  # no answer came for it
            spooled.path.unlink(missing_ok=True)
            self.counts.failed.append((sop, "the server gave no answer for it"))
            counts.failed += 1
        self._answered += len(batch.outcomes) + len(batch.files)
        self._tell_progress()

    def _tell_progress(self) -> None:
        if self._progress is not None:
            self._progress.batch_sent(self._answered, self._handed_over)

    def _recorded(self) -> DeliveryRecord:
        assert self._audit is not None, "start() was not called"
        return self._audit

    def _stored(self, sop: str, sent_now: bool) -> None:
        if self._on_stored is not None:
            self._on_stored(sop, sent_now)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_MEGABYTE):
            digest.update(chunk)
    return digest.hexdigest()
