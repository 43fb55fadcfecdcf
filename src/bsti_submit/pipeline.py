"""The library API behind the CLI: `submit()` runs discover -> de-identify -> write, audited."""

from __future__ import annotations

import os
import platform
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from pydicom.errors import InvalidDicomError

from . import __version__
from .audit import AuditLog
from .config import Settings
from .deidentify import Deidentifier
from .destination import LocalFolder
from .discover import Skipped, discover, read_instance
from .errors import ExitStatus, InstanceError, KeyFileError, NotAnInstanceError, UsageError
from .profile import Profile, load_profile
from .pseudonym import Pseudonymizer, load_or_create_key

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
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[Skipped] = field(default_factory=list)

    @property
    def exit_status(self) -> ExitStatus:
        """Input errors when any file that looked like DICOM could not be processed."""
        return ExitStatus.INPUT_ERRORS if self.failed else ExitStatus.SUCCESS

    def counts(self) -> dict[str, int]:
        """The footer's counts."""
        return {
            "files_found": self.files_found,
            "written": self.written,
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "studies": len(self.studies),
            "series": len(self.series),
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
    engine = Deidentifier(profile, Pseudonymizer(_key(settings)))
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
    with AuditLog(summary.audit_log, header) as audit:
        for skipped in found.skipped:
            summary.skipped.append(skipped)
            audit.outcome(skipped.path, "skipped", skipped.reason)
        written_from: dict[str, Path] = {}
        for path in found.candidates:
            _process(path, engine, folder, audit, summary, written_from)
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
            "key_file": str(settings.key_file),
            "pid": os.getpid(),
        },
    }


def _process(
    path: Path,
    engine: Deidentifier,
    folder: LocalFolder,
    audit: AuditLog,
    summary: RunSummary,
    written_from: dict[str, Path],
) -> None:
    """One file through the line. Any failure is recorded and the run goes on."""
    try:
        dataset = read_instance(path)
        changes = engine.apply(dataset)
        new_sop = str(dataset.SOPInstanceUID)
        if new_sop in written_from:
            reason = f"duplicate of {written_from[new_sop]} (same SOP Instance UID)"
            summary.skipped.append(Skipped(path, reason))
            audit.outcome(path, "skipped", reason, new_sop)
            return
        target = folder.write(dataset)
    except NotAnInstanceError as error:
        summary.skipped.append(Skipped(path, str(error)))
        audit.outcome(path, "skipped", str(error))
        return
    except DICOM_FILE_ERRORS as error:
        reason = (
            str(error) if isinstance(error, InstanceError) else f"{type(error).__name__}: {error}"
        )
        summary.failed.append(Skipped(path, reason))
        audit.outcome(path, "failed", reason)
        return
    written_from[new_sop] = path
    for change in changes:
        audit.change(path, new_sop, change)
    summary.written += 1
    summary.studies.add(str(dataset.StudyInstanceUID))
    summary.series.add(str(dataset.SeriesInstanceUID))
    audit.outcome(path, "written", "", new_sop, output=str(target.relative_to(folder.root)))


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
