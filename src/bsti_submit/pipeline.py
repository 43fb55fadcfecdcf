"""The library API behind the CLI: `submit()` runs discover -> de-identify -> write, audited."""

from __future__ import annotations

import getpass
import os
import platform
import uuid
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from . import __version__
from .audit import AuditLog
from .burned_in import BurnedInRisk, MaskRules
from .config import Settings
from .deidentify import Deidentified, Deidentifier
from .destination import LocalFolder
from .discover import Skipped, discover, read_instance
from .errors import ExitStatus, InstanceError, KeyFileError, NotAnInstanceError, UsageError
from .identifiers import collect
from .lookup import LookupTable
from .pixels import PixelMaskError, Rectangle, apply_mask
from .profile import Profile, load_profile
from .pseudonym import Pseudonymizer, load_or_create_key
from .quarantine import Quarantine
from .verify import Finding, Verifier

ProgressCallback = Callable[[Path], None]


@dataclass
class RunSummary:
    """What a run did; the CLI prints it and it agrees with the audit log's footer."""

    run_id: str
    audit_log: Path
    destination: str
    profile: str
    files_found: int = 0
    written: int = 0
    changes: int = 0
    studies: set[str] = field(default_factory=set)
    series: set[str] = field(default_factory=set)
    patients: set[str] = field(default_factory=set)
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[Skipped] = field(default_factory=list)
    quarantined: list[Skipped] = field(default_factory=list)

    @property
    def exit_status(self) -> ExitStatus:
        """Quarantined when anything was held back; else input errors when any file that
        looked like DICOM could not be processed; else success."""
        if self.quarantined:
            return ExitStatus.QUARANTINED
        return ExitStatus.INPUT_ERRORS if self.failed else ExitStatus.SUCCESS

    def counts(self) -> dict[str, int]:
        """The footer's counts."""
        return {
            "files_found": self.files_found,
            "written": self.written,
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "quarantined": len(self.quarantined),
            "studies": len(self.studies),
            "series": len(self.series),
            "patients": len(self.patients),
        }


def dependency_versions() -> dict[str, str]:
    """Versions worth quoting in a support ticket."""
    versions = {"bsti-submit": __version__, "python": platform.python_version()}
    for package in ("pydicom", "deid"):
        versions[package] = version(package)
    return versions


def default_audit_path(settings: Settings, run_id: str) -> Path:
    """`<log dir>/audit-<UTC time>-<run id>.jsonl`."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return settings.log_dir / f"audit-{stamp}-{run_id[:8]}.jsonl"


def submit(
    source: Path,
    destination: Path,
    settings: Settings,
    audit_path: Path | None = None,
    on_file: ProgressCallback | None = None,
) -> RunSummary:
    """De-identify every DICOM instance under `source` into the folder `destination`."""
    _check_folders(source, destination)
    profile = load_profile(settings.profile)
    engine = Deidentifier(profile, Pseudonymizer(_key(settings)), settings.site)
    folder = LocalFolder(destination)
    run_id = uuid.uuid4().hex
    summary = RunSummary(
        run_id=run_id,
        audit_log=audit_path or default_audit_path(settings, run_id),
        destination=str(folder),
        profile=profile.label,
    )
    found = discover(source)
    summary.files_found = len(found.candidates) + len(found.skipped)
    header = _run_header(run_id, profile, source, folder, settings)
    gate = _Gate(profile, settings)
    with (
        closing(AuditLog(summary.audit_log, header)) as audit,
        closing(LookupTable(settings.lookup_file)) as lookup,
        closing(Quarantine(settings.state_dir / "quarantine")) as quarantine,
    ):
        for skipped in found.skipped:
            summary.skipped.append(skipped)
            audit.outcome(skipped.path, "skipped", skipped.reason)
        line = _Line(engine, gate, folder, audit, lookup, quarantine, summary)
        for path in found.candidates:
            line.process(path)
            if on_file is not None:
                on_file(path)
        summary.changes = audit.changes
        audit.footer(summary.counts())
    return summary


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


def _key(settings: Settings) -> bytes:
    try:
        return load_or_create_key(settings.key_file)
    except OSError as error:
        raise KeyFileError(f"pseudonym key {settings.key_file}: {error.strerror}") from error


def _run_header(
    run_id: str, profile: Profile, source: Path, folder: LocalFolder, settings: Settings
) -> dict[str, object]:
    return {
        "run_id": run_id,
        "versions": dependency_versions(),
        "profile": {
            "name": profile.name,
            "version": profile.version,
            "sha256": profile.sha256,
            "sources": list(profile.sources),
        },
        "settings": {
            "source": str(source),
            "destination": str(folder),
            "profile": settings.profile,
            "site": settings.site,
            "key_file": str(settings.key_file),
            "pid": os.getpid(),
        },
    }


class _Gate:
    """What decides, independently of the engine, whether an instance may leave."""

    def __init__(self, profile: Profile, settings: Settings) -> None:
        self.allowed_classes = profile.sop_classes
        self.burned_in = BurnedInRisk()
        self.masks = MaskRules(profile)
        self.verifier = Verifier(profile, settings.local_id_pattern)

    def admit(self, dataset: Dataset) -> None:
        """Refuse, as not processed, objects outside the profile's SOP class allowlist."""
        sop_class = dataset.SOPClassUID
        if str(sop_class) not in self.allowed_classes:
            raise NotAnInstanceError(
                f"{sop_class.name}: not on the profile's list of SOP classes to send"
            )


class _Line:
    """One file at a time through read -> assess -> de-identify -> verify -> write or hold,
    recorded as it goes. Any failure of one file is recorded and the run goes on."""

    def __init__(
        self,
        engine: Deidentifier,
        gate: _Gate,
        folder: LocalFolder,
        audit: AuditLog,
        lookup: LookupTable,
        quarantine: Quarantine,
        summary: RunSummary,
    ) -> None:
        self.engine, self.gate, self.folder, self.audit = engine, gate, folder, audit
        self.lookup, self.quarantine, self.summary = lookup, quarantine, summary
        self.written_from: dict[str, Path] = {}

    def process(self, path: Path) -> None:
        try:
            dataset = read_instance(path)
            self.gate.admit(dataset)
            risks = self.gate.burned_in.assess(dataset)  # judged on the original header
            rectangles = self.gate.masks.rectangles_for(dataset) if risks else []
            original = collect(dataset)
            result = self.engine.apply(dataset, original)
            if rectangles:
                risks = self._mask(dataset, rectangles, result)
            findings = risks + self.gate.verifier.check(dataset, original)
            new_sop = str(dataset.SOPInstanceUID)
            if new_sop in self.written_from:
                reason = f"duplicate of {self.written_from[new_sop]} (same SOP Instance UID)"
                self._skip(path, reason, new_sop)
                return
            if findings:
                self._hold(path, dataset, result, findings)
                return
            target = self.folder.write(dataset)
        except NotAnInstanceError as error:
            self._skip(path, str(error))
            return
        except DICOM_FILE_ERRORS as error:
            self._fail(path, error)
            return
        self._written(path, dataset, result, target)

    @staticmethod
    def _mask(dataset: Dataset, rectangles: list[Rectangle], result: Deidentified) -> list[Finding]:
        """Blank a mask rule's rectangles; what is still at risk if that cannot be done."""
        try:
            result.changes.extend(apply_mask(dataset, rectangles))
        except PixelMaskError as error:
            return [Finding("burned-in text risk", f"mask rule not applied ({error})")]
        return []

    def _skip(self, path: Path, reason: str, new_sop: str = "") -> None:
        self.summary.skipped.append(Skipped(path, reason))
        self.audit.outcome(path, "skipped", reason, new_sop)

    def _fail(self, path: Path, error: Exception) -> None:
        known = isinstance(error, InstanceError)
        reason = str(error) if known else f"{type(error).__name__}: {error}"
        self.summary.failed.append(Skipped(path, reason))
        self.audit.outcome(path, "failed", reason)

    def _hold(
        self, path: Path, dataset: Dataset, result: Deidentified, findings: list[Finding]
    ) -> None:
        new_sop = str(dataset.SOPInstanceUID)
        held = self.quarantine.hold(
            dataset, path, str(self.folder.root), findings, self.summary.run_id
        )
        self.written_from[new_sop] = path
        self._record(path, new_sop, result)
        reason = "; ".join(str(finding) for finding in findings)
        self.summary.quarantined.append(Skipped(path, f"{held}: {reason}"))
        self.audit.outcome(path, "quarantined", reason, new_sop, quarantine_id=held)

    def _record(self, path: Path, new_sop: str, result: Deidentified) -> None:
        if result.patient is not None:
            link = result.patient
            self.lookup.record(link.pseudonym, link.issuer, link.patient_id)
            self.summary.patients.add(link.pseudonym)
        for change in result.changes:
            self.audit.change(path, new_sop, change)

    def _written(self, path: Path, dataset: Dataset, result: Deidentified, target: Path) -> None:
        new_sop = str(dataset.SOPInstanceUID)
        self.written_from[new_sop] = path
        self._record(path, new_sop, result)
        self.summary.written += 1
        self.summary.studies.add(str(dataset.StudyInstanceUID))
        self.summary.series.add(str(dataset.SeriesInstanceUID))
        output = str(target.relative_to(self.folder.root))
        self.audit.outcome(path, "written", "", new_sop, output=output)


# What reading, cleaning or writing one odd file can raise; anything else is a bug and stops.
DICOM_FILE_ERRORS = (
    InstanceError,
    InvalidDicomError,
    OSError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    OverflowError,
    EOFError,
)


@dataclass(frozen=True)
class Release:
    """What `release` did."""

    held_id: str
    target: Path
    audit_log: Path


def release(held_id: str, reason: str, settings: Settings) -> Release:
    """Send a reviewed quarantined instance on to the destination it was bound for, once, and
    audit the release with its reason and who ran it."""
    if not reason.strip():
        raise UsageError("a release needs a reason (--reason TEXT)")
    run_id = uuid.uuid4().hex
    audit_path = default_audit_path(settings, run_id)
    with closing(Quarantine(settings.state_dir / "quarantine")) as quarantine:
        held = quarantine.get(held_id)
        if held.released_at is not None:
            raise UsageError(f"{held.id} was already released on {held.released_at}")
        dataset = pydicom.dcmread(quarantine.path_of(held))
        target = LocalFolder(Path(held.destination)).write(dataset)
        user = getpass.getuser()
        quarantine.mark_released(held, user, reason)
    header = {"run_id": run_id, "action": "quarantine release", "versions": dependency_versions()}
    with closing(AuditLog(audit_path, header)) as audit:
        audit.release(held.id, held.sop, held.source, held.findings, user, reason)
        audit.outcome(Path(held.source), "released", reason, held.sop, quarantine_id=held.id)
        audit.footer({"released": 1})
    return Release(held.id, target, audit_path)
