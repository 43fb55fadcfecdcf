"""The delivery state: which instance was sent where, and whether the server acknowledged it.

SQLite in the platformdirs state folder. A rerun asks it before sending, so nothing already
stored is sent again and a killed run resumes where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..databases import now_text, open_private_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    destination TEXT NOT NULL,
    sop TEXT NOT NULL,
    study TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    run_id TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (destination, sop)
);
CREATE TABLE IF NOT EXISTS sources (
    destination TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    changed INTEGER NOT NULL,
    status TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (destination, path)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    destination TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT
);
"""
ACKNOWLEDGED = "acknowledged"
FAILED = "failed"
DELETED = "deleted"  # at the destination, after a withdrawal


@dataclass(frozen=True)
class StudyStatus:
    """Per destination and study: how many instances are acknowledged and failed."""

    destination: str
    study: str
    acknowledged: int
    failed: int
    deleted: int  # withdrawn, and deleted at the destination


class DeliveryState:
    """The state database at `path`, created (mode 0600) on first use; `close()` it."""

    def __init__(self, path: Path) -> None:
        self._connection = open_private_database(path, _SCHEMA, "state database")

    def close(self) -> None:
        """Close the database."""
        self._connection.close()

    def start_run(self, run_id: str, destination: str) -> None:
        with self._connection:
            self._connection.execute(
                "INSERT INTO runs VALUES (?, ?, ?, NULL)", (run_id, destination, now_text())
            )

    def finish_run(self, run_id: str) -> None:
        with self._connection:
            self._connection.execute(
                "UPDATE runs SET finished = ? WHERE run_id = ?", (now_text(), run_id)
            )

    def acknowledged(self, destination: str, sop: str, sha256: str) -> bool:
        """Whether this exact content of this instance was stored there already."""
        row = self._connection.execute(
            "SELECT 1 FROM deliveries WHERE destination = ? AND sop = ? AND sha256 = ? "
            "AND status = ?",
            (destination, sop, sha256, ACKNOWLEDGED),
        ).fetchone()
        return row is not None

    def record(
        self,
        destination: str,
        sop: str,
        study: str,
        sha256: str,
        status: str,
        reason: str,
        run_id: str,
    ) -> None:
        """Note an instance's outcome; committed at once, so a kill loses nothing recorded."""
        with self._connection:
            self._connection.execute(
                "INSERT OR REPLACE INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (destination, sop, study, sha256, status, reason, run_id, now_text()),
            )

    def mark_deleted(self, destination: str, study: str) -> None:
        """Note that a study was deleted at its destination (a patient withdrew)."""
        with self._connection:
            self._connection.execute(
                "UPDATE deliveries SET status = ?, at = ? WHERE destination = ? AND study = ?",
                (DELETED, now_text(), destination, study),
            )

    def source_done(self, destination: str, path: str, size: int, changed: int) -> bool:
        """Whether this source file, unchanged, was taken for this destination before."""
        row = self._connection.execute(
            "SELECT 1 FROM sources WHERE destination = ? AND path = ? AND size = ? AND changed = ?",
            (destination, path, size, changed),
        ).fetchone()
        return row is not None

    def mark_sources(self, destination: str, files: list[tuple[str, int, int, str]]) -> None:
        """Note that source files (path, size, time of change, status) were taken: written,
        delivered or quarantined. One commit for them all."""
        now = now_text()
        with self._connection:
            self._connection.executemany(
                "INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?)",
                [(destination, *file, now) for file in files],
            )

    def studies(self) -> list[StudyStatus]:
        """Acknowledged, failed and deleted counts per destination and study."""
        rows = self._connection.execute(
            "SELECT destination, study, SUM(status = ?), SUM(status = ?), SUM(status = ?) "
            "FROM deliveries GROUP BY destination, study ORDER BY destination, study",
            (ACKNOWLEDGED, FAILED, DELETED),
        )
        return [StudyStatus(*row) for row in rows.fetchall()]

    def runs(self) -> list[tuple[str, str, str, str | None]]:
        """Every run: its ID, destination, start and finish (None when it did not finish)."""
        return list(self._connection.execute("SELECT * FROM runs ORDER BY started").fetchall())
