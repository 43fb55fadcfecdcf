"""Withdrawal of consent: find every study and instance sent for a patient, across all runs;
write a signed withdrawal request for the central collection; optionally delete the studies
at the endpoint (DICOMweb study deletion); and mark the patient so later runs hold them back.

The request names pseudonyms and new UIDs only. The audit log of the withdrawal, which stays
at the trust, names the patient ID it was asked for.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import signing
from .audit import AuditLog, audit_key
from .config import Settings
from .databases import now_text
from .deid.pseudonym import Pseudonymizer
from .delivery.state import DeliveryState
from .delivery.stow import StowClient
from .errors import ConfigError, EndpointError, UsageError
from .history import is_endpoint, runs
from .keys import key_store
from .lookup import LookupTable
from .platforms import make_private
from .run import endpoint_for
from .versions import dependency_versions

FORMAT = "bsti-submit-withdrawal/1"


@dataclass
class SentStudy:
    """One study sent for the patient, at one destination, and its instances."""

    destination: str
    study: str
    pseudonym: str
    instances: dict[str, tuple[str, str]] = field(default_factory=dict)  # sop: (sent, run ID)
    deletion: str = ""  # what the endpoint answered to --delete

    def document(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "destination": self.destination,
            "study_instance_uid": self.study,
            "pseudonym": self.pseudonym,
            "instances": [
                {"sop_instance_uid": sop, "sent_at": sent, "run_id": run_id}
                for sop, (sent, run_id) in sorted(self.instances.items())
            ],
        }
        if self.deletion:
            shown["deletion"] = self.deletion
        return shown


@dataclass(frozen=True)
class Withdrawal:
    """What `withdraw` found and did."""

    pseudonyms: list[str]
    studies: list[SentStudy]
    request: Path
    audit_log: Path

    @property
    def failed_deletions(self) -> list[SentStudy]:
        return [study for study in self.studies if study.deletion.startswith("not deleted")]


def sent_for(log_dir: Path, pseudonyms: Iterable[str]) -> list[SentStudy]:
    """Every study and instance the audit logs say was sent carrying one of `pseudonyms`,
    by destination and study; an instance sent by several runs is named with its first."""
    wanted = {pseudonym.upper() for pseudonym in pseudonyms}
    found: dict[tuple[str, str], SentStudy] = {}
    for run in runs(log_dir):
        for instance in run.sent():
            if instance.pseudonym.upper() not in wanted:
                continue
            key = (run.destination, instance.study)
            study = found.setdefault(key, SentStudy(*key, instance.pseudonym))
            study.instances.setdefault(instance.sop, (instance.at, run.run_id))
    return [found[key] for key in sorted(found)]


def patient_pseudonyms(
    settings: Settings, patient_id: str | None, pseudonym: str | None, issuer: str
) -> list[str]:
    """The pseudonyms to withdraw: a patient ID's, from the lookup table (or, for a patient
    never sent, the one the key would give them); or the pseudonym given."""
    if bool(patient_id) == bool(pseudonym):
        raise UsageError("name the patient with --patient-id ID or --pseudonym PSEUDONYM")
    if pseudonym:
        return [pseudonym.strip().upper()]
    assert patient_id is not None
    with closing(LookupTable(settings.lookup_file)) as lookup:
        entries = lookup.by_patient_id(patient_id)
    if entries:
        return sorted(entry.pseudonym for entry in entries)
    if not settings.site:
        raise ConfigError("a site code is needed to name a patient never sent: --site CODE")
    key = key_store(settings).load()
    return [Pseudonymizer(key).patient(settings.site, issuer.strip(), patient_id.strip())]


def withdraw(
    settings: Settings,
    pseudonyms: list[str],
    delete: bool = False,
    asked_for: str = "",
) -> Withdrawal:
    """List, request, optionally delete, and mark: see the module's docstring. `asked_for` is
    how staff named the patient (kept in the trust's audit log only)."""
    studies = sent_for(settings.log_dir, pseudonyms)
    if delete:
        _delete(settings, studies)
    key = key_store(settings).load()
    run_id = uuid.uuid4().hex
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    request = settings.log_dir / f"withdrawal-{stamp}-{run_id[:8]}.json"
    _write_request(request, key, settings.site, pseudonyms, studies)
    with closing(LookupTable(settings.lookup_file)) as lookup:
        for pseudonym in pseudonyms:
            lookup.withdraw(pseudonym, request)
    audit_log = settings.log_dir / f"audit-{stamp}-{run_id[:8]}.jsonl"
    _audit(audit_log, key, run_id, settings.site, asked_for, pseudonyms, studies, request)
    return Withdrawal(pseudonyms, studies, request, audit_log)


def _delete(settings: Settings, studies: list[SentStudy]) -> None:
    """Delete each study at its endpoint, noting the answer; the state database forgets it
    was delivered. One study's failure does not stop the others."""
    with closing(DeliveryState(settings.state_database)) as state:
        for study in studies:
            if not is_endpoint(study.destination):
                study.deletion = "not deleted: a folder destination (delete it there)"
                continue
            try:
                with closing(StowClient(endpoint_for(settings, study.destination))) as client:
                    answer = client.delete_study(study.study)
            except EndpointError as error:
                study.deletion = f"not deleted: {error}"
                continue
            study.deletion = f"{answer} at {now_text()}"
            state.mark_deleted(study.destination, study.study)


def _write_request(
    path: Path, key: bytes, site: str, pseudonyms: list[str], studies: list[SentStudy]
) -> None:
    document = {
        "format": FORMAT,
        "requested_at": now_text(),
        "site": site,
        "request": "The patient withdrew consent: delete every study listed, and any copy.",
        "pseudonyms": sorted(pseudonyms),
        "studies": [study.document() for study in studies],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(signing.sign(document, signing.signing_key(key)))
    make_private(path)


def _audit(
    path: Path,
    key: bytes,
    run_id: str,
    site: str,
    asked_for: str,
    pseudonyms: list[str],
    studies: list[SentStudy],
    request: Path,
) -> None:
    header = {
        "run_id": run_id,
        "action": "withdraw",
        "versions": dependency_versions(),
        "settings": {"site": site},
    }
    with closing(AuditLog(path, header, audit_key(key))) as audit:
        audit.withdrawal(asked_for, pseudonyms, str(request))
        for study in studies:
            audit.study_delivery(study.study, {"instances": len(study.instances)})
            if study.deletion:
                audit.deletion(study.destination, study.study, study.deletion)
        audit.footer({"studies": len(studies)})
