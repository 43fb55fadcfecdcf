"""The trust's lookup table: pseudonym -> original patient, kept locally, never sent.

SQLite in the platformdirs data folder, readable by its owner only. Staff use it to find which
patient a pseudonym in the central collection stands for, and the reverse; and it marks the
patients who withdrew consent, whose studies every later run holds back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .databases import now_text, open_private_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS patients (
    pseudonym TEXT PRIMARY KEY,
    issuer TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS withdrawals (
    pseudonym TEXT PRIMARY KEY COLLATE NOCASE,
    withdrawn_at TEXT NOT NULL,
    request TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class PatientEntry:
    """One row of the lookup table."""

    pseudonym: str
    issuer: str
    patient_id: str
    first_seen: str
    last_seen: str


class LookupTable:
    """The lookup table at `path`, created (mode 0600) on first use; `close()` it when done."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection = open_private_database(path, _SCHEMA, "lookup table")

    def close(self) -> None:
        """Close the underlying file."""
        self._connection.close()

    def record(self, pseudonym: str, issuer: str, patient_id: str, sent: bool = True) -> None:
        """Note that `pseudonym` was given to this patient; `sent`: sent now (else found at
        the endpoint already: the patient is added if missing, "last sent" stays)."""
        now = now_text()
        on_conflict = "DO UPDATE SET last_seen = excluded.last_seen" if sent else "DO NOTHING"
        with self._connection:
            self._connection.execute(
                f"INSERT INTO patients VALUES (?, ?, ?, ?, ?) ON CONFLICT(pseudonym) {on_conflict}",  # noqa: S608 - two fixed texts
                (pseudonym, issuer, patient_id, now, now),
            )

    def by_pseudonym(self, pseudonym: str) -> PatientEntry | None:
        """The patient a pseudonym was given to, if this trust gave it (in any case)."""
        row = self._connection.execute(
            "SELECT * FROM patients WHERE pseudonym = ? COLLATE NOCASE", (pseudonym.strip(),)
        ).fetchone()
        return PatientEntry(*row) if row else None

    def by_patient_id(self, patient_id: str) -> list[PatientEntry]:
        """The pseudonyms given to a patient ID, in any case (one per issuer)."""
        rows = self._connection.execute(
            "SELECT * FROM patients WHERE patient_id = ? COLLATE NOCASE ORDER BY issuer",
            (patient_id.strip(),),
        ).fetchall()
        return [PatientEntry(*row) for row in rows]

    def withdraw(self, pseudonym: str, request: Path) -> None:
        """Mark a patient as withdrawn, with the withdrawal request written for them."""
        with self._connection:
            self._connection.execute(
                "INSERT INTO withdrawals VALUES (?, ?, ?) ON CONFLICT(pseudonym) DO NOTHING",
                (pseudonym, now_text(), str(request)),
            )

    def withdrawn(self) -> set[str]:
        """The pseudonyms of every patient who withdrew, in upper case."""
        rows = self._connection.execute("SELECT pseudonym FROM withdrawals").fetchall()
        return {str(pseudonym).upper() for (pseudonym,) in rows}
