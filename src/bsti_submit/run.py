"""The library API behind the CLI: `submit()` runs discover -> de-identify -> write, audited."""

from __future__ import annotations

import getpass
import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pydicom

from . import platforms
from .audit import AuditLog, audit_key
from .config import Settings
from .deid.engine import Deidentifier
from .deid.profile import Profile, load_profile
from .deid.pseudonym import Pseudonymizer
from .delivery.address import is_url
from .delivery.batches import Batching, DeliveryCounts, StowDelivery, sha256_of
from .delivery.folder import LocalFolder
from .delivery.state import DeliveryState
from .delivery.stow import Endpoint, StowClient
from .dicomio.discover import discover
from .errors import (
    ConfigError,
    EndpointError,
    ExitStatus,
    HeldError,
    KeyFileError,
    UsageError,
)
from .folders import ensure_writable
from .gate.quarantine import Held, Quarantine
from .history import is_endpoint, read_run
from .keys import key_store
from .locks import RunLock
from .lookup import LookupTable
from .preparer import DICOM_FILE_ERRORS, Prepared, Preparer, build_preparer
from .receipts import delivered_anything, write_receipt
from .records import Finding, PatientLink, Skipped
from .sources import AfterDelivery, SourceTracker, quiet_studies
from .versions import dependency_versions
from .workers import Staged, WorkerSetup, staging_pool


class Progress(Protocol):
    """Where a run reports how far it has got (a progress bar on a terminal)."""

    def files_found(self, count: int) -> None:
        """`count` source files are to be processed."""

    def file_done(self, path: Path) -> None:
        """One source file was processed."""

    def batch_sent(self, answered: int, handed_over: int) -> None:
        """The endpoint answered for `answered` instances so far, of the `handed_over` so far
        to be sent (more may come, as the run's files are de-identified)."""


@dataclass
class RunSummary:
    """What a run did; the CLI prints it and it agrees with the audit log's footer."""

    run_id: str
    audit_log: Path | None  # None: nothing was new, so no audit log was written
    destination: str
    profile: str
    files_found: int = 0
    written: int = 0
    changes: int = 0
    studies: set[str] = field(default_factory=set)
    series: set[str] = field(default_factory=set)
    patients: set[str] = field(default_factory=set)  # one keyed pseudonym a patient
    pseudonyms: set[str] = field(default_factory=set)  # those the output carries
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[Skipped] = field(default_factory=list)
    quarantined: list[Skipped] = field(default_factory=list)
    delivery: DeliveryCounts | None = None
    already_processed: int = 0
    waiting: list[Path] = field(default_factory=list)
    written_files: list[Path] = field(default_factory=list)
    stale_lock_pid: int | None = None
    receipt: Path | None = None  # the signed receipt, when anything was sent or written
    peak_spool_bytes: int = 0  # the most the endpoint's spool held at once

    @property
    def exit_status(self) -> ExitStatus:
        """Partial delivery when the endpoint refused or lost instances; else quarantined when
        anything was held back; else input errors when any file that looked like DICOM could
        not be processed; else success."""
        if self.delivery is not None and self.delivery.failed:
            return ExitStatus.PARTIAL_DELIVERY
        if self.quarantined:
            return ExitStatus.QUARANTINED
        return ExitStatus.INPUT_ERRORS if self.failed else ExitStatus.SUCCESS

    def counts(self) -> dict[str, int]:
        """The footer's counts."""
        sent = self.delivery or DeliveryCounts()
        return {
            "delivered": sent.delivered,
            "already_delivered": sent.already_delivered,
            "delivery_failed": len(sent.failed),
            "files_found": self.files_found,
            "written": self.written,
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "quarantined": len(self.quarantined),
            "already_processed": self.already_processed,
            "waiting": len(self.waiting),
            "studies": len(self.studies),
            "series": len(self.series),
            "patients": len(self.patients),
        }


def default_audit_path(settings: Settings, run_id: str) -> Path:
    """`<log dir>/audit-<UTC time>-<run id>.jsonl`."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return settings.log_dir / f"audit-{stamp}-{run_id[:8]}.jsonl"


def submit(
    source: Path,
    destination: str | Path,
    settings: Settings,
    audit_path: Path | None = None,
    progress: Progress | None = None,
) -> RunSummary:
    """De-identify every DICOM instance under `source`, verify it, and write it to the folder
    `destination` or send it to the DICOMweb endpoint `destination` (an https:// URL)."""
    source = source.resolve()  # one folder given two ways is one folder: its files are done once
    profile = load_profile(settings.profile)
    key = _key(settings)
    # refuse a bad set-up before any work
    Deidentifier(profile, Pseudonymizer(key), settings.site, settings.local_id_pattern)
    run_id = uuid.uuid4().hex
    endpoint = endpoint_for(settings, str(destination)) if is_url(destination) else None
    if endpoint is None:
        _check_folders(source, Path(destination))
    elif not source.is_dir():
        raise UsageError(f"source {source} is not a folder")
    audit_log = audit_path or default_audit_path(settings, run_id)
    summary = RunSummary(
        run_id=run_id,
        audit_log=audit_log,
        destination=str(destination),
        profile=profile.label,
    )
    after = AfterDelivery(settings.after_delivery, source, settings.move_to)
    _check_writable(settings, audit_log, None if endpoint else Path(destination))
    found = discover(source)
    summary.files_found = len(found.candidates) + len(found.skipped)
    header = _run_header(run_id, profile, source, str(destination), settings)
    with ExitStack() as stack:
        lock = stack.enter_context(RunLock(settings.state_dir))
        summary.stale_lock_pid = lock.stale_pid
        state = stack.enter_context(closing(DeliveryState(settings.state_database)))
        tracker = SourceTracker(state, str(destination), batch=1 if endpoint else 256)
        stack.callback(tracker.flush)  # before the state database closes, however the run ends
        new_files = [path for path in found.candidates if not tracker.done(path)]
        summary.already_processed = len(found.candidates) - len(new_files)
        ready, summary.waiting = quiet_studies(new_files, settings.quiet_seconds)
        summary.skipped += found.skipped
        if not ready and not summary.waiting and audit_path is None:
            summary.audit_log = None  # nothing new (cron every few minutes): the day log says so
            return summary
        audit = stack.enter_context(closing(AuditLog(audit_log, header, audit_key(key))))
        lookup = stack.enter_context(closing(LookupTable(settings.lookup_file)))
        quarantine = stack.enter_context(closing(Quarantine(settings.quarantine_dir)))
        delivery = None
        state.start_run(run_id, endpoint.base_url if endpoint else str(destination))
        if endpoint is not None:
            delivery = _stow_delivery(stack, endpoint, state, settings, run_id)
            folder = delivery.spool
        else:
            folder = LocalFolder(Path(destination))
        for skipped in found.skipped:
            audit.outcome(skipped.path, "skipped", skipped.reason)
        if progress is not None:
            progress.files_found(len(ready))
        for path in summary.waiting:
            audit.outcome(path, "waiting", "its study changed recently: left for the next run")
        line = _Line(folder, audit, lookup, quarantine, summary)
        line.on_safe = None if delivery else lambda path: _done(tracker, after, path)
        if delivery is not None:
            delivery.start(audit, progress, line.stored(tracker, after))
            line.on_spooled = delivery.add
        staging = settings.staging_dir
        shutil.rmtree(staging, ignore_errors=True)  # a killed run's leftovers: we hold the lock
        setup = WorkerSetup(
            settings.profile, key, settings.site, settings.local_id_pattern, staging / run_id
        )
        idle = delivery.record_answers if delivery is not None else None
        with staging_pool(setup, worker_count(settings), idle) as stage_all:
            for staged in stage_all(ready):
                if progress is not None:
                    progress.file_done(staged.source)
                line.take(staged)
        if delivery is not None:
            summary.delivery = delivery.finish()
            summary.peak_spool_bytes = delivery.peak_spool_bytes
        state.finish_run(run_id)
        for path in line.held:
            tracker.mark(path, "quarantined")
        for path in line.passed_over:
            tracker.mark(path, "skipped")
        summary.changes = audit.changes
        audit.footer(summary.counts())
    summary.receipt = _receipt(audit_log, key)
    return summary


def _receipt(audit_log: Path, key: bytes) -> Path | None:
    """The signed receipt of a run that put anything at its destination, beside its log."""
    run = read_run(audit_log)
    if not delivered_anything(run):
        return None
    try:
        return write_receipt(audit_log, key, run).path
    except OSError as error:
        raise ConfigError(
            f"the run is done, but its receipt cannot be written beside {audit_log}: "
            f"{error.strerror}; write it later with `bsti-submit receipt {audit_log}`"
        ) from error


def _done(tracker: SourceTracker, after: AfterDelivery, path: Path) -> None:
    """A source file whose instance is safe at its destination: remembered, then kept, moved
    or deleted as asked."""
    tracker.mark(path, "delivered")
    after.act(path)


def _stow_delivery(
    stack: ExitStack, endpoint: Endpoint, state: DeliveryState, settings: Settings, run_id: str
) -> StowDelivery:
    client = stack.enter_context(closing(StowClient(endpoint)))
    client.check()  # fail fast, before any work, on TLS, authentication or the base path
    spools = settings.spool_dir
    shutil.rmtree(spools, ignore_errors=True)  # a killed run's leftovers: we hold the lock now
    spool = spools / run_id
    batching = Batching(settings.batch_instances, settings.batch_megabytes)
    delivery = StowDelivery(client, state, spool, run_id, batching, settings.spool_megabytes)
    return stack.enter_context(delivery)  # a run that stops early leaves no spooled copies


def endpoint_for(settings: Settings, url: str) -> Endpoint:
    """The endpoint and its credentials: the token (or basic-auth password) from
    BSTI_SUBMIT_TOKEN (BSTI_SUBMIT_PASSWORD), else the keyring, else the token (password) file."""
    token, password = settings.secret("token", url), settings.secret("password", url)
    return Endpoint(
        base_url=url,
        ca_bundle=settings.ca_bundle,
        token=token,
        username=settings.username or None,
        password=password,
        client_cert=settings.client_cert,
        client_key=settings.client_key,
        idle_timeout=float(settings.idle_timeout),
        retries=settings.retries,
        backoff=settings.retry_backoff,
    )


def check_destination(settings: Settings, destination: str) -> str:
    """Prove the destination can take a study now: a harmless query to an endpoint, or a
    probe file in a folder; what was seen, or an error saying why not."""
    if not is_url(destination):
        ensure_writable(Path(destination), "destination folder")
        return f"destination folder {destination} can be written"
    with closing(StowClient(endpoint_for(settings, destination))) as client:
        return client.check()


def _check_folders(source: Path, destination: Path) -> None:
    """The output must not be found by the walk: not inside the source, nor the other way."""
    if not source.is_dir():
        raise UsageError(f"source {source} is not a folder")
    inner, outer = destination.resolve(), source.resolve()
    if inner.is_relative_to(outer) or outer.is_relative_to(inner):
        raise UsageError(
            f"destination {destination} and source {source} must not contain one another: "
            "a later run would read the cleaned copies as new input"
        )


def _check_writable(settings: Settings, audit_log: Path, folder: Path | None) -> None:
    """Every folder a run writes can be written, and the audit log is a new file: checked
    before any work, so a run never fails file by file for want of a folder."""
    ensure_writable(settings.state_dir, "state folder")
    ensure_writable(settings.lookup_file.parent, "data folder")
    ensure_writable(audit_log.parent, "audit log folder")
    if audit_log.exists():
        raise UsageError(f"audit log {audit_log} exists already: name a new file")
    if folder is not None:
        ensure_writable(folder, "destination folder")


def _key(settings: Settings) -> bytes:
    store = key_store(settings)
    try:
        # A key file is made on first use; a key missing from the keyring is an error (another
        # account's keyring, another backend), never quietly replaced by new pseudonyms.
        if not store.exists() and settings.key_store == "file":
            store.create()
        return store.load()
    except OSError as error:
        raise KeyFileError(f"pseudonym key {store.where}: {error.strerror}") from error


def worker_count(settings: Settings) -> int:
    """Processes that de-identify: as set, else one per CPU, at most what the OS allows."""
    return min(settings.workers or os.cpu_count() or 1, platforms.most_workers())


def _run_header(
    run_id: str, profile: Profile, source: Path, destination: str, settings: Settings
) -> dict[str, object]:
    return {
        "run_id": run_id,
        "versions": dependency_versions(),
        "profile": _profile_record(profile),
        "settings": {
            "source": str(source),
            "destination": destination,
            "profile": settings.profile,
            "site": settings.site,
            "key": key_store(settings).where,
            "workers": worker_count(settings),
            "pid": os.getpid(),
        },
    }


WITHDRAWN = Finding("consent", "the patient withdrew consent (bsti-submit withdraw)")


def _profile_record(profile: Profile) -> dict[str, object]:
    """The profile as an audit log's header (and so a receipt) names it."""
    return {
        "name": profile.name,
        "version": profile.version,
        "sha256": profile.sha256,
        "sources": list(profile.sources),
        "options": list(profile.options),
        "method_codes": list(profile.method_codes),
    }


class _Line:
    """One file at a time through read -> assess -> de-identify -> verify -> write or hold,
    recorded as it goes. Any failure of one file is recorded and the run goes on."""

    def __init__(
        self,
        folder: LocalFolder,
        audit: AuditLog,
        lookup: LookupTable,
        quarantine: Quarantine,
        summary: RunSummary,
    ) -> None:
        self.folder, self.audit = folder, audit
        self.lookup, self.quarantine, self.summary = lookup, quarantine, summary
        self.written_from: dict[str, Path] = {}
        self.held: list[Path] = []
        self.passed_over: list[Path] = []  # skipped by a worker: taken, unless they change
        self.held_sops: set[str] = set()  # taken, but only into the quarantine
        self.links: dict[str, PatientLink] = {}  # whose pseudonym each instance carries
        self.noted: set[tuple[str, bool]] = set()  # (pseudonym, sent now) in the lookup table
        self.withdrawn = lookup.withdrawn()  # their studies are held back, whatever the gate says
        # Called with a source file once its instance is safe (a local destination only: an
        # endpoint's acknowledgements come through `stored`).
        self.on_safe: Callable[[Path], None] | None = None
        # Called with (study, SOP instance UID, spooled file, its SHA-256) once an instance is
        # in the endpoint's spool: it is sent from there while the rest are cleaned.
        self.on_spooled: Callable[[str, str, Path, str], None] | None = None

    def take(self, staged: Staged) -> None:
        """Commit what a worker staged, or record why there is nothing to commit."""
        path = staged.source
        if staged.kind == "skipped":
            self._skip(path, staged.reason)
            self.passed_over.append(path)
            return
        if staged.kind == "failed":
            self._fail(path, staged.reason)
            return
        assert staged.file is not None
        sop = staged.parts[2]
        # Of two copies of an instance, one that can leave wins over one held (its pixels
        # unreadable, say): the held copy stays in the quarantine.
        replaces_held = sop in self.held_sops and not staged.findings
        if sop in self.written_from and not replaces_held:
            staged.file.unlink(missing_ok=True)
            self._skip(path, f"duplicate of {self.written_from[sop]} (same SOP Instance UID)", sop)
            self.passed_over.append(path)
            return
        if staged.patient is not None and staged.patient.pseudonym.upper() in self.withdrawn:
            staged.findings = [WITHDRAWN, *staged.findings]
        if staged.findings:
            self._hold(staged)
            return
        try:
            target = self.folder.commit(staged.file, staged.parts)
        except OSError as error:
            staged.file.unlink(missing_ok=True)
            self._fail(path, f"cannot be written: {error.strerror or error}")
            return
        self._written(staged, target)

    def stored(self, tracker: SourceTracker, after: AfterDelivery) -> Callable[[str, bool], None]:
        """What to do as the endpoint holds each instance: the source is done, and the lookup
        table notes the patient as sent, when this run sent it."""

        def on_stored(sop: str, sent_now: bool) -> None:
            _done(tracker, after, self.written_from[sop])
            self._sent(sop, sent_now)

        return on_stored

    def _sent(self, sop: str, sent_now: bool = True) -> None:
        """The lookup table notes a patient when an instance carrying their pseudonym is sent
        ("last sent" moves), or is found at the endpoint already (added if missing: a run
        killed between the acknowledgement and this note must not lose the patient). Held
        instances are not noted. Once a patient a run."""
        link = self.links.pop(sop, None)
        if link is None or not link.sent or (link.pseudonym, sent_now) in self.noted:
            return
        self.lookup.record(link.pseudonym, link.issuer, link.patient_id, sent=sent_now)
        self.noted.add((link.pseudonym, sent_now))

    def _skip(self, path: Path, reason: str, new_sop: str = "") -> None:
        self.summary.skipped.append(Skipped(path, reason))
        self.audit.outcome(path, "skipped", reason, new_sop)

    def _fail(self, path: Path, reason: str) -> None:
        self.summary.failed.append(Skipped(path, reason))
        self.audit.outcome(path, "failed", reason)

    def _hold(self, staged: Staged) -> None:
        path, sop = staged.source, staged.parts[2]
        assert staged.file is not None
        held = self.quarantine.hold(
            staged.file,
            sop,
            path,
            self.summary.destination,
            staged.findings,
            self.summary.run_id,
        )
        self.written_from[sop] = path
        self.held_sops.add(sop)
        self._record(path, sop, staged)
        reason = "; ".join(str(finding) for finding in staged.findings)
        self.summary.quarantined.append(Skipped(path, f"{held}: {reason}"))
        self.held.append(path)
        self.audit.outcome(
            path, "quarantined", reason, sop, quarantine_id=held, **_described(staged)
        )

    def _record(self, path: Path, new_sop: str, staged: Staged) -> None:
        link = staged.patient
        if link is not None:
            self.links[new_sop] = link
            self.summary.patients.add(link.pseudonym)
            if link.sent:
                self.summary.pseudonyms.add(link.pseudonym)
        for change in staged.changes:
            self.audit.change(path, new_sop, change)

    def _written(self, staged: Staged, target: Path) -> None:
        path, (study, series, sop) = staged.source, staged.parts
        held_copy = self.written_from.get(sop) if sop in self.held_sops else None
        self.held_sops.discard(sop)
        self.written_from[sop] = path
        self._record(path, sop, staged)
        self.summary.written += 1
        self.summary.written_files.append(path)
        self.summary.studies.add(study)
        self.summary.series.add(series)
        output = str(target.relative_to(self.folder.root).as_posix())
        reason = (
            f"delivered in place of {held_copy}, held (same SOP Instance UID)" if held_copy else ""
        )
        sent = {"sha256": staged.sha256} if self.on_safe is not None else {}  # a folder's
        self.audit.outcome(
            path, "written", reason, sop, output=output, **_described(staged), **sent
        )
        if self.on_safe is not None:  # a folder: written is sent
            self._sent(sop)
            self.on_safe(path)
        if self.on_spooled is not None:
            self.on_spooled(study, sop, target, staged.sha256)  # hashed once, by the worker


def _described(staged: Staged) -> dict[str, str]:
    """What the report, receipts and withdrawals need of an instance: its new study UID, its
    modality and the pseudonym it carries (none, if the profile sends none)."""
    link = staged.patient
    pseudonym = link.pseudonym if link is not None and link.sent else ""
    return {"study": staged.parts[0], "modality": staged.modality, "pseudonym": pseudonym}


@dataclass(frozen=True)
class Release:
    """What `release` did."""

    held_id: str
    target: str
    audit_log: Path
    accepted: list[str]


def _send_released(path: Path, destination: str, settings: Settings) -> str:
    """Write a released instance to its folder, or send it to its endpoint; where it went."""
    dataset = pydicom.dcmread(path)
    if not is_url(destination):
        return str(LocalFolder(Path(destination)).write(dataset))
    with closing(StowClient(endpoint_for(settings, destination))) as client:
        sop = str(dataset.SOPInstanceUID)
        (outcome,) = client.store(str(dataset.StudyInstanceUID), {sop: path})
    if not outcome.stored:
        raise EndpointError(f"{destination} did not store the released instance: {outcome.reason}")
    return destination


def accepts(finding: Finding, accepted: Iterable[str]) -> bool:
    """Whether a reviewer's `--accept-finding` names this finding: by its attribute path, or
    (for a finding of the whole instance) by its text as `quarantine list` shows it."""
    return any(name.strip() in (finding.path, str(finding)) for name in accepted if name.strip())


def release(held_id: str, reason: str, settings: Settings, accepted: Iterable[str] = ()) -> Release:
    """Clean a reviewed quarantined instance again from its source file with today's engine,
    verify it, and send it on to the destination it was bound for, once. Whatever the gate
    still finds must be named in `accepted`; the release is audited with its reason, who ran it
    and what was accepted."""
    if not reason.strip():
        raise UsageError("a release needs a reason (--reason TEXT)")
    accepted = list(accepted)
    run_id = uuid.uuid4().hex
    audit_path = default_audit_path(settings, run_id)
    preparer = build_preparer(
        settings.profile, _key(settings), settings.site, settings.local_id_pattern
    )
    with closing(Quarantine(settings.quarantine_dir)) as quarantine:
        held = quarantine.get(held_id)
        if held.released_at is not None:
            raise UsageError(f"{held.id} was already released on {held.released_at}")
        cleaned = quarantine.folder / f"{held.id}.release.dcm"
        try:
            prepared = _clean_again(preparer, held, cleaned)
            still = [finding for finding in prepared.findings if not accepts(finding, accepted)]
            if still:
                raise HeldError(
                    f"{held.id} still has {len(still)} finding(s) after cleaning again: "
                    + "; ".join(map(str, still))
                    + f". Review them with `bsti-submit quarantine show {held.id}`, then name "
                    "each with --accept-finding PATH (or its text, for a finding without a path)"
                )
            link = prepared.result.patient
            _refuse_withdrawn(held, link, settings)
            digest = sha256_of(cleaned)
            target = _send_released(cleaned, held.destination, settings)
        finally:
            cleaned.unlink(missing_ok=True)
        if link is not None and link.sent:
            with closing(LookupTable(settings.lookup_file)) as lookup:
                lookup.record(link.pseudonym, link.issuer, link.patient_id)
        user = getpass.getuser()
        quarantine.mark_released(held, user, reason)
    named = [str(finding) for finding in prepared.findings]
    header = {
        "run_id": run_id,
        "action": "quarantine release",
        "versions": dependency_versions(),
        "profile": _profile_record(load_profile(settings.profile)),
        "settings": {"destination": held.destination, "site": settings.site},
    }
    key = _key(settings)
    with closing(AuditLog(audit_path, header, audit_key(key))) as audit:
        source = Path(held.source)
        for change in prepared.result.changes:
            audit.change(source, held.sop, change)
        found = [str(finding) for finding in held.findings]
        audit.release(held.id, held.sop, held.source, found, user, reason, named)
        dataset = prepared.dataset
        pseudonym = link.pseudonym if link is not None and link.sent else ""
        described = {"study": str(dataset.StudyInstanceUID), "pseudonym": pseudonym}
        modality = str(dataset.get("Modality", "") or "")
        audit.outcome(
            source,
            "released",
            reason,
            held.sop,
            quarantine_id=held.id,
            modality=modality,
            sha256=digest,
            **described,
        )
        if is_endpoint(held.destination):
            audit.delivery(held.sop, "delivered", "", digest)
        audit.footer({"released": 1})
    _receipt(audit_path, key)
    return Release(held.id, target, audit_path, named)


def _refuse_withdrawn(held: Held, link: PatientLink | None, settings: Settings) -> None:
    """A patient who withdrew consent is never released, whatever a reviewer accepts."""
    with closing(LookupTable(settings.lookup_file)) as lookup:
        if link is not None and link.pseudonym.upper() in lookup.withdrawn():
            raise HeldError(f"{held.id}: the patient withdrew consent; it cannot be released")


def _clean_again(preparer: Preparer, held: Held, target: Path) -> Prepared:
    """The held instance made again from its source file: the engine may clean more today."""
    source = Path(held.source)
    try:
        prepared = preparer.stage(source, target)
    except DICOM_FILE_ERRORS as error:
        raise UsageError(
            f"{held.id}: its source file {source} cannot be cleaned again ({error}); "
            "export the study again and run submit"
        ) from error
    if str(prepared.dataset.SOPInstanceUID) != held.sop:
        raise UsageError(f"{held.id}: {source} is no longer the instance that was held")
    return prepared
