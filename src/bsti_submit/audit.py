"""The local audit log: JSON Lines, one file per run, readable by its owner only.

Records: a run header, one record per attribute changed, one per file outcome, and a footer
with the counts. Each record ends with a `mac`: an HMAC-SHA256, under a key derived from the
trust's pseudonym key, of the record and the `mac` before it. A removed, reordered or edited
record breaks the chain, and nobody without the key can re-seal an edited log; a log without
its footer was cut short. The log stays at the trust: it holds original values by design.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .databases import now_text
from .platforms import make_private, shown
from .records import Change

GENESIS = "0" * 64
_CHAIN_PURPOSE = b"bsti-submit audit chain v1"  # the audit key is for this and nothing else


def audit_key(pseudonym_key: bytes) -> bytes:
    """The key that seals audit logs, derived from the trust's pseudonym key."""
    return hmac.new(pseudonym_key, _CHAIN_PURPOSE, hashlib.sha256).digest()


def _seal(key: bytes, previous: str, body: str) -> str:
    return hmac.new(key, (previous + body).encode("utf-8"), hashlib.sha256).hexdigest()


_ENCODER = json.JSONEncoder(ensure_ascii=False)  # made once: json.dumps makes one per call


class AuditLog:
    """Append-only writer of one run's log; `close()` it when done."""

    def __init__(self, path: Path, header: dict[str, Any], key: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        make_private(path)  # it names patients; Windows ignores the mode
        self.path = path
        self._key = key
        self._handle = os.fdopen(descriptor, "w", encoding="utf-8", newline="\n")  # any OS
        self._previous = GENESIS
        self._sequence = 0
        self.outcomes: Counter[str] = Counter()
        self.changes = 0
        self._write({"type": "run", "time": now_text(), **header})

    def close(self) -> None:
        """Close the underlying file."""
        self._handle.close()

    def _write(self, record: dict[str, Any]) -> None:
        body = _ENCODER.encode({"seq": self._sequence, **record})
        self._previous = _seal(self._key, self._previous, body)
        self._handle.write(f'{body[:-1]}, "mac": "{self._previous}"}}\n')
        self._sequence += 1

    def change(self, source: Path, sop_instance_uid: str, change: Change) -> None:
        """One attribute changed in one instance."""
        self.changes += 1
        self._write(
            {"type": "change", "file": str(source), "sop": sop_instance_uid, **change._asdict()}
        )

    def outcome(
        self, source: Path, status: str, reason: str = "", sop_instance_uid: str = "", **extra: str
    ) -> None:
        """What happened to one file: written, skipped or failed. Flushed, so a crash keeps it."""
        self.outcomes[status] += 1
        record = {"type": "file", "file": shown(source), "status": status, "reason": reason}
        if sop_instance_uid:
            record["sop"] = sop_instance_uid
        self._write({**record, **extra})
        self._handle.flush()

    def release(
        self,
        held_id: str,
        sop: str,
        source: str,
        findings: list[str],
        user: str,
        reason: str,
        accepted: list[str],
    ) -> None:
        """A quarantined instance released by a member of staff, with their reason: the
        findings that held it, and those the gate still made after cleaning it again, which the
        reviewer accepted by name."""
        self._write(
            {
                "type": "release",
                "quarantine_id": held_id,
                "sop": sop,
                "file": source,
                "findings": findings,
                "accepted": accepted,
                "user": user,
                "reason": reason,
            }
        )

    def delivery(
        self, sop_instance_uid: str, status: str, reason: str, sha256: str = "", **ack: str
    ) -> None:
        """What the endpoint did with one instance, when, the SHA-256 of what was sent, and
        what the server's acknowledgement named (its retrieve URL). Flushed, so a crash keeps
        it."""
        record = {"type": "delivery", "sop": sop_instance_uid, "status": status, "reason": reason}
        self._write({**record, "at": now_text(), "sha256": sha256, **ack})
        self._handle.flush()

    def study_delivery(self, study_instance_uid: str, counts: dict[str, int]) -> None:
        """Per study: delivered, already delivered before, not delivered."""
        self._write({"type": "study", "study": study_instance_uid, **counts})
        self._handle.flush()

    def withdrawal(self, asked_for: str, pseudonyms: list[str], request: str) -> None:
        """A patient withdrawn: as staff named them, their pseudonyms, the signed request."""
        self._write(
            {
                "type": "withdrawal",
                "asked_for": asked_for,
                "pseudonyms": pseudonyms,
                "request": request,
            }
        )

    def deletion(self, destination: str, study_instance_uid: str, answer: str) -> None:
        """What an endpoint answered when asked to delete a withdrawn patient's study."""
        self._write(
            {
                "type": "deletion",
                "destination": destination,
                "study": study_instance_uid,
                "answer": answer,
            }
        )
        self._handle.flush()

    def footer(self, counts: dict[str, int]) -> None:
        """The run's closing record with its counts."""
        self._write({"type": "end", "time": now_text(), "changes": self.changes, **counts})
        self._handle.flush()


def read_records(path: Path) -> list[dict[str, Any]]:
    """All records of a log, in order."""
    return list(iter_records(path))


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a log one at a time: a big run's log is never held whole."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


@dataclass(frozen=True)
class ChainCheck:
    """The verdict on one audit log's chain."""

    records: int
    broken_at: int | None  # the line number (from 1) of the first record that does not follow
    reason: str = ""
    complete: bool = False  # its last record is the run's footer (or a release's)
    legacy: bool = False  # written by an earlier build: a plain SHA-256 chain, not sealed


def verify_chain(path: Path, key: bytes) -> ChainCheck:
    """Check that every record is sealed under `key` after the one before it, in sequence,
    and that the log ends with its footer. A last line cut short by a crash counts as broken
    there: everything before it verifies."""
    previous, count, last_type = GENESIS, 0, ""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            record, body = _parsed(raw)
            if record is None and number == 1 and b'"prev": ' in raw:
                return ChainCheck(0, 1, "an earlier build's log, not sealed", legacy=True)
            if record is None:
                return ChainCheck(count, number, "not a complete JSON record")
            mac = record.get("mac")
            if record.get("seq") != number - 1 or mac != _seal(key, previous, body):
                return ChainCheck(count, number, "does not follow the record before it")
            previous, count, last_type = str(mac), count + 1, str(record.get("type"))
    return ChainCheck(count, None, complete=last_type == "end")


def _parsed(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """A line's record and the text it was sealed as (the record before its `mac`)."""
    try:
        text = raw.decode("utf-8").rstrip("\n")
        record = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, ""
    if not isinstance(record, dict) or not text.endswith('"}') or ', "mac": "' not in text:
        return None, ""
    return record, text[: text.rindex(', "mac": "')] + "}"


def verify_with_keys(path: Path, keys: list[tuple[str, bytes]]) -> tuple[ChainCheck, str]:
    """The verdict under whichever of the trust's keys (named: the current one, then retired
    ones) sealed the log, and that key's name; else the verdict under the first key."""
    verdicts = [(verify_chain(path, audit_key(key)), name) for name, key in keys]
    for verdict, name in verdicts:
        if verdict.broken_at is None:
            return verdict, name
    return max(verdicts, key=lambda pair: pair[0].records)
