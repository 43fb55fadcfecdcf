"""What the audit logs say was sent, held and released, run by run: the source of receipts,
the period report and withdrawals.

Each run's log names, per instance, its new study UID, modality and pseudonym, and what the
endpoint answered. Logs written before this was recorded give what they hold: the pseudonym
from the PatientID change, the study from the output path, no modality.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .audit import iter_records
from .errors import UsageError

SENT, HELD, RELEASED = "sent", "held", "released"


@dataclass
class Instance:
    """One instance a run handled, by its new SOP instance UID."""

    sop: str
    study: str = ""
    modality: str = ""
    pseudonym: str = ""
    outcome: str = ""  # written, quarantined or released (the file record's status)
    delivery: str = ""  # delivered, already delivered, not delivered, no answer ("": a folder)
    reason: str = ""
    sha256: str = ""
    at: str = ""  # when the endpoint answered (the run's end, for a folder)
    retrieve_url: str = ""

    @property
    def fate(self) -> str:
        """sent (this run put it at its destination), held, released, or "" (sent before, or
        not delivered)."""
        if self.outcome == "quarantined":
            return HELD
        if self.outcome == "released":
            return RELEASED
        if self.outcome == "written" and self.delivery in ("", "delivered"):
            return SENT
        return ""


@dataclass
class Run:
    """One audit log, read."""

    path: Path
    run_id: str
    action: str  # "submit", "quarantine release" or "withdraw"
    started: str
    finished: str  # "" when the log has no footer
    destination: str
    site: str
    versions: dict[str, str]
    profile: dict[str, Any]
    instances: dict[str, Instance] = field(default_factory=dict)

    def sent(self) -> list[Instance]:
        """What this run put at its destination (a release's instance included)."""
        return [i for i in self.instances.values() if i.fate in (SENT, RELEASED)]


def read_run(path: Path) -> Run:
    """The run an audit log records."""
    try:
        return _read(path)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"{path} is not a readable audit log: {error}") from error


def _read(path: Path) -> Run:
    records = iter_records(path)
    header = next(records, {})
    if header.get("type") != "run":
        raise UsageError(f"{path} is not a bsti-submit audit log")
    run = _run_of(path, header)
    patient_ids: dict[str, str] = {}  # sop: the PatientID it was given (older logs)
    for record in records:
        kind = record.get("type")
        if kind == "file" and record.get("sop"):
            _take_file(run, record)
        elif kind == "delivery":
            _take_delivery(run, record)
        elif kind == "change" and record.get("path") == "PatientID" and record.get("new"):
            patient_ids[str(record.get("sop"))] = str(record["new"])
        elif kind == "end":
            run.finished = str(record.get("time", ""))
    endpoint = is_endpoint(run.destination)
    for instance in run.instances.values():
        if endpoint and instance.outcome == "written" and not instance.delivery:
            instance.delivery = "no answer"  # the run stopped before the endpoint answered
        instance.pseudonym = instance.pseudonym or patient_ids.get(instance.sop, "")
        if not instance.at and instance.fate:
            instance.at = run.finished or run.started
    return run


def _run_of(path: Path, header: dict[str, Any]) -> Run:
    settings = header.get("settings") or {}
    return Run(
        path=path,
        run_id=str(header.get("run_id", "")),
        action=str(header.get("action", "submit")),
        started=str(header.get("time", "")),
        finished="",
        destination=str(settings.get("destination", header.get("destination", ""))),
        site=str(settings.get("site", "")),
        versions=dict(header.get("versions") or {}),
        profile=dict(header.get("profile") or {}),
    )


def _take_file(run: Run, record: dict[str, Any]) -> None:
    status = str(record.get("status"))
    if status not in ("written", "quarantined", "released"):
        return
    sop = str(record["sop"])
    instance = run.instances.setdefault(sop, Instance(sop))
    instance.outcome = status
    output = str(record.get("output", ""))
    instance.study = str(record.get("study") or (output.split("/")[0] if "/" in output else ""))
    instance.modality = str(record.get("modality", instance.modality))
    instance.pseudonym = str(record.get("pseudonym", instance.pseudonym))
    instance.sha256 = str(record.get("sha256", instance.sha256))


def _take_delivery(run: Run, record: dict[str, Any]) -> None:
    sop = str(record.get("sop"))
    instance = run.instances.setdefault(sop, Instance(sop))
    instance.delivery = str(record.get("status", ""))
    instance.reason = str(record.get("reason", ""))
    instance.sha256 = str(record.get("sha256") or instance.sha256)
    instance.at = str(record.get("at", ""))
    instance.retrieve_url = str(record.get("retrieve_url", ""))


def is_endpoint(destination: str) -> bool:
    """Whether a destination as a log records it is an endpoint: runs record an endpoint's
    normalised https:// URL, and a folder as a path (which may look like anything)."""
    return destination.startswith("https://")


def audit_logs(log_dir: Path) -> list[Path]:
    """Every audit log in the log folder, oldest first (their names start with the time)."""
    return sorted(log_dir.glob("audit-*.jsonl"))


def runs(log_dir: Path) -> Iterator[Run]:
    """Every readable run in the log folder, oldest first; a log that cannot be read is
    passed over here (`audit verify` names it)."""
    for path in audit_logs(log_dir):
        try:
            yield read_run(path)
        except UsageError:
            continue


def find_run(log_dir: Path, name: str) -> Run:
    """The run named by its ID (or the first 8 or more characters of it), or by its audit
    log's path."""
    given = Path(name)
    if given.suffix == ".jsonl" and given.is_file():
        return read_run(given)
    wanted = name.strip().lower()
    if len(wanted) < 8:
        raise UsageError(f"{name}: give the run ID (at least 8 characters) or its audit log")
    matches = [
        run
        for path in sorted(log_dir.glob(f"audit-*-{wanted[:8]}.jsonl"))
        if (run := read_run(path)).run_id.startswith(wanted)
    ]
    if not matches:
        raise UsageError(f"no audit log of run {name} in {log_dir}")
    if len(matches) > 1:
        raise UsageError(f"{name} names {len(matches)} runs: give more of the run ID")
    return matches[0]
