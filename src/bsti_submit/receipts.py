"""Submission receipts: what one run sent, signed, for the trust's file and the collection.

A receipt is built from the run's audit log and names only what left: new UIDs, pseudonyms,
hashes of the bytes sent and the server's acknowledgements. No original identifier, no source
path, no key. It is written beside the audit log (`receipt-<time>-<run>.json`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import signing
from .history import RELEASED, SENT, Instance, Run, read_run
from .platforms import make_private

FORMAT = "bsti-submit-receipt/1"


def receipt_path(audit_log: Path) -> Path:
    """Beside the audit log: `audit-X.jsonl` -> `receipt-X.json`."""
    name = audit_log.name
    if name.startswith("audit-"):
        return audit_log.with_name("receipt-" + name.removeprefix("audit-")).with_suffix(".json")
    return audit_log.with_suffix(".receipt.json")


def delivered_anything(run: Run) -> bool:
    """Whether a run put anything at its destination (only those runs get a receipt
    automatically)."""
    return any(instance.fate in (SENT, RELEASED) for instance in run.instances.values())


def receipt_document(run: Run) -> dict[str, Any]:
    """The receipt's content, before it is signed."""
    handed_over = [i for i in run.instances.values() if i.outcome in ("written", "released")]
    studies: dict[str, list[Instance]] = {}
    for instance in sorted(handed_over, key=lambda i: (i.study, i.sop)):
        studies.setdefault(instance.study, []).append(instance)
    return {
        "format": FORMAT,
        "run": {
            "run_id": run.run_id,
            "action": run.action,
            "started": run.started,
            "finished": run.finished,
        },
        "site": run.site,
        "destination": run.destination,
        "tool": run.versions,
        "profile": {
            name: run.profile[name]
            for name in ("name", "version", "sha256", "options", "method_codes")
            if name in run.profile
        },
        "studies": [_study(uid, instances) for uid, instances in studies.items()],
        "totals": _counts(handed_over),
    }


def _study(uid: str, instances: list[Instance]) -> dict[str, Any]:
    pseudonyms = sorted({i.pseudonym for i in instances if i.pseudonym})
    return {
        "study_instance_uid": uid,
        "pseudonym": ", ".join(pseudonyms),  # one, unless the source mixed patients in a study
        "counts": _counts(instances),
        "instances": [_instance(i) for i in instances],
    }


def _instance(instance: Instance) -> dict[str, Any]:
    acknowledgement = {"status": _status(instance), "at": instance.at}
    if instance.retrieve_url:
        acknowledgement["retrieve_url"] = instance.retrieve_url
    if instance.reason:
        acknowledgement["reason"] = instance.reason
    return {
        "sop_instance_uid": instance.sop,
        "modality": instance.modality,
        "sha256": instance.sha256,
        "acknowledgement": acknowledgement,
    }


def _status(instance: Instance) -> str:
    if instance.delivery:
        return instance.delivery
    return "written to the destination folder"


def _counts(instances: Iterable[Instance]) -> dict[str, int]:
    statuses = [_status(instance) for instance in instances]
    return {
        "instances": len(statuses),
        "delivered": sum(status == "delivered" for status in statuses),
        "already_delivered": sum(status == "already delivered" for status in statuses),
        "not_delivered": sum(status == "not delivered" for status in statuses),
        "written": sum(status.startswith("written") for status in statuses),
    }


@dataclass(frozen=True)
class Written:
    """A receipt written: where, and what it holds."""

    path: Path
    document: dict[str, Any]
    signed: bytes


def write_receipt(audit_log: Path, pseudonym_key: bytes, run: Run | None = None) -> Written:
    """Build the receipt of the run `audit_log` records (`run`, if it was read already), sign
    it with the trust's key and write it beside the log (replacing an earlier one: the same
    run gives the same receipt)."""
    document = receipt_document(run or read_run(audit_log))
    signed = signing.sign(document, signing.signing_key(pseudonym_key))
    path = receipt_path(audit_log)
    temporary = path.with_name(path.name + ".part")
    temporary.write_bytes(signed)
    make_private(temporary)  # the trust decides to share it; until then it is the trust's
    temporary.replace(path)
    return Written(path, document, signed)
