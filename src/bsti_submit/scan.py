"""The dry run: discovery, de-identification and verification exactly as `submit` does them, in
memory. Nothing is written (no output, no state, no lookup entry, no audit log, no key) and
nothing is sent; the report says what would be removed, changed, held back and sent.
"""

from __future__ import annotations

import getpass
import os
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from .config import Settings
from .databases import now_text
from .deid.engine import Deidentifier
from .deid.profile import Profile, load_profile
from .deid.pseudonym import Pseudonymizer
from .dicomio.discover import discover
from .errors import ExitStatus, KeyFileError, NotAnInstanceError
from .gate.thumbnails import thumbnail_png
from .keys import key_store
from .platforms import shown
from .preparer import DICOM_FILE_ERRORS, Prepared, Preparer
from .records import Change
from .versions import dependency_versions

SCHEMA_VERSION = 1
HIDDEN = "(hidden)"


CHANGE_COLUMNS = ("tag", "keyword", "action", "files", "before (example)", "after")


def change_cells(change: dict[str, Any]) -> list[str]:
    """One row of the report's `changes`, as the cells under CHANGE_COLUMNS."""
    return [
        change["tag_path"],
        change["keyword"],
        change["action"],
        str(change["files"]),
        change["example_before"],
        str(change["example_after"]),
    ]


@dataclass
class ScannedInstance:
    """What would happen to one source file that holds an instance."""

    file: str
    sop: str
    study: str
    series: str
    modality: str
    outcome: str  # "send" or "quarantine"
    findings: list[str]
    changes: list[Change]


@dataclass
class ScanReport:
    """Everything a dry run found; `as_json` is the documented, versioned form."""

    source: str
    destination: str
    profile: Profile
    instances: list[ScannedInstance] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    patients: dict[str, tuple[str, str]] = field(default_factory=dict)  # pseudonym -> (issuer, id)
    thumbnails: dict[str, str] = field(default_factory=dict)  # series UID -> PNG as base64
    masked_series: set[str] = field(default_factory=set)  # series with masked pixels shown
    series_labels: dict[str, str] = field(default_factory=dict)  # series UID -> what it shows
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    made_at: str = field(default_factory=now_text)
    made_by: str = field(default_factory=lambda: _user())

    @property
    def exit_status(self) -> ExitStatus:
        """As `submit` would end: quarantine, else input errors, else success."""
        if any(instance.outcome == "quarantine" for instance in self.instances):
            return ExitStatus.QUARANTINED
        return ExitStatus.INPUT_ERRORS if self.failed else ExitStatus.SUCCESS

    def change_table(self, hide_values: bool = False) -> list[dict[str, Any]]:
        """Every attribute that would change: tag path, keyword, action, how many files, and
        one example before -> after (before hidden on request)."""
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        for instance in self.instances:
            for change in instance.changes:
                key = (change.path, change.keyword, change.action)
                if key not in rows:
                    rows[key] = {
                        "tag_path": change.path,
                        "keyword": change.keyword,
                        "action": change.action,
                        "files": 0,
                        "example_before": HIDDEN if hide_values else change.old,
                        "example_after": "(removed)" if change.new is None else change.new,
                    }
                rows[key]["files"] += 1
        return sorted(rows.values(), key=lambda row: (row["tag_path"], row["action"]))

    def as_json(self, hide_values: bool = False) -> dict[str, Any]:
        """The report as one JSON document (schema: data/scan-report.schema.json). With
        `hide_values`, original values, patient IDs and source paths (which often carry names)
        are masked."""
        quarantined = [i for i in self.instances if i.outcome == "quarantine"]
        files = _file_names(self, hide_values)
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": dependency_versions(),
            "source": HIDDEN if hide_values else self.source,
            "destination": self.destination,
            "profile": {
                "name": self.profile.name,
                "version": self.profile.version,
                "sha256": self.profile.sha256,
                "options": list(self.profile.options),
                "method_codes": list(self.profile.method_codes),
            },
            "counts": {
                "instances": len(self.instances),
                "would_send": len(self.instances) - len(quarantined),
                "would_quarantine": len(quarantined),
                "skipped": len(self.skipped),
                "failed": len(self.failed),
                "studies": len({i.study for i in self.instances}),
                "series": len({i.series for i in self.instances}),
            },
            "modalities": dict(Counter(i.modality for i in self.instances)),
            "skipped": [{"file": files[file], "reason": reason} for file, reason in self.skipped],
            "failed": [{"file": files[file], "reason": reason} for file, reason in self.failed],
            "quarantine_reasons": dict(
                Counter(finding for i in quarantined for finding in i.findings)
            ),
            "patients": [
                {
                    "pseudonym": pseudonym,
                    "issuer": HIDDEN if hide_values else issuer,
                    "patient_id": HIDDEN if hide_values else patient_id,
                }
                for pseudonym, (issuer, patient_id) in sorted(self.patients.items())
            ],
            "changes": self.change_table(hide_values),
            "instances": [_instance_json(i, files, hide_values) for i in self.instances],
        }


def _file_names(report: ScanReport, hide_values: bool) -> dict[str, str]:
    """Each source path as shown: itself, or `file N` when values are hidden."""
    paths = [i.file for i in report.instances] + [f for f, _ in report.skipped + report.failed]
    return {path: f"file {number}" if hide_values else path for number, path in enumerate(paths, 1)}


def _instance_json(
    instance: ScannedInstance, files: dict[str, str], hide_values: bool
) -> dict[str, Any]:
    return {
        "file": files[instance.file],
        "sop": instance.sop,
        "study": instance.study,
        "series": instance.series,
        "modality": instance.modality,
        "outcome": instance.outcome,
        "findings": instance.findings,
        "changes": [
            {
                "tag_path": change.path,
                "keyword": change.keyword,
                "action": change.action,
                "before": HIDDEN if hide_values else change.old,
                "after": change.new,
            }
            for change in instance.changes
        ],
    }


def scan(
    source: Path, settings: Settings, destination: str = "", thumbnails: bool = False
) -> ScanReport:
    """Predict what `submit` would do with `source`, writing nothing. The key must exist: a
    dry run makes none, and only the real key predicts the real pseudonyms."""
    store = key_store(settings)
    if not store.exists():
        raise KeyFileError(
            f"no pseudonym key at {store.where}: run `bsti-submit init --site CODE` first "
            "(a dry run creates nothing)"
        )
    profile = load_profile(settings.profile)
    key = store.load()
    engine = Deidentifier(profile, Pseudonymizer(key), settings.site, settings.local_id_pattern)
    preparer = Preparer(engine, profile, settings.local_id_pattern)
    report = ScanReport(str(source), destination, profile)
    found = discover(source)
    report.skipped = [(shown(entry.path), entry.reason) for entry in found.skipped]
    seen: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="bsti-scan-") as folder:  # private: mode 0700
        written = Path(folder) / "instance.dcm"
        for path in found.candidates:
            try:
                prepared = preparer.stage(path, written)
            except NotAnInstanceError as error:
                report.skipped.append((shown(path), str(error)))
                continue
            except DICOM_FILE_ERRORS as error:
                report.failed.append((shown(path), str(error)))
                continue
            _note(report, path, prepared, seen, thumbnails)
    return report


def _note(
    report: ScanReport, path: Path, prepared: Prepared, seen: dict[str, Path], thumbnails: bool
) -> None:
    dataset: Dataset = prepared.dataset
    sop = str(dataset.SOPInstanceUID)
    if sop in seen:
        report.skipped.append(
            (shown(path), f"duplicate of {shown(seen[sop])} (same SOP Instance UID)")
        )
        return
    seen[sop] = path
    series = str(dataset.SeriesInstanceUID)
    report.instances.append(
        ScannedInstance(
            file=shown(path),
            sop=sop,
            study=str(dataset.StudyInstanceUID),
            series=series,
            modality=str(dataset.get("Modality", "")),
            outcome="quarantine" if prepared.findings else "send",
            findings=[str(finding) for finding in prepared.findings],
            changes=prepared.result.changes,
        )
    )
    link = prepared.result.patient
    if link is not None and link.sent:
        report.patients[link.pseudonym] = (link.issuer, link.patient_id)
    # a series shows its first image, or the first whose pixels were masked
    first_masked = prepared.masked and series not in report.masked_series
    if thumbnails and (series not in report.thumbnails or first_masked):
        picture = thumbnail_png(dataset, prepared.masked)
        if picture is not None:
            report.thumbnails[series] = picture
            report.series_labels[series] = series_label(dataset)
        if prepared.masked:
            report.masked_series.add(series)


def series_label(dataset: Dataset) -> str:
    """A series as a reader tells it apart: its modality and (cleaned) description."""
    parts = [str(dataset.get("Modality", "")), str(dataset.get("SeriesDescription", ""))]
    return " ".join(part for part in parts if part.strip()) or "series"


def _user() -> str:
    """Who is running: the login name, else the user ID (a container user may have no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown user"
