"""The quarantine: cleaned instances that failed the gate, held at the trust for review.

Each held instance is kept as its cleaned file (readable by its owner only) with the findings
that stopped it, in an SQLite table in the platformdirs state folder. A finding is stored with
the text that matched, so a reviewer at the trust can judge it (`quarantine show`). A release
cleans the instance again from its source file and sends it to the destination it was bound for;
each release is audited with its reason, who ran it and what the reviewer accepted.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..databases import now_text, open_private_database
from ..errors import UsageError
from ..platforms import replace_file
from ..records import Finding

_SCHEMA = """
CREATE TABLE IF NOT EXISTS quarantine (
    id TEXT PRIMARY KEY,
    sop TEXT NOT NULL,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    findings TEXT NOT NULL,
    run_id TEXT NOT NULL,
    held_at TEXT NOT NULL,
    released_at TEXT,
    released_by TEXT,
    release_reason TEXT
)
"""


@dataclass(frozen=True)
class Held:
    """One quarantined instance."""

    id: str
    sop: str
    source: str
    destination: str
    findings: list[Finding]
    run_id: str
    held_at: str
    released_at: str | None
    released_by: str | None
    release_reason: str | None

    @property
    def file_name(self) -> str:
        return f"{self.id}.dcm"


class Quarantine:
    """The quarantine under `folder`; `close()` it when done."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        database = folder / "quarantine.sqlite"
        self._connection = open_private_database(database, _SCHEMA, "quarantine")

    def close(self) -> None:
        """Close the table."""
        self._connection.close()

    def hold(
        self,
        staged: Path,
        sop: str,
        source: Path,
        destination: str,
        findings: list[Finding],
        run: str,
    ) -> str:
        """Keep a staged cleaned instance that failed the gate; returns its quarantine ID."""
        held_id = hashlib.sha256(sop.encode()).hexdigest()[:12]
        replace_file(staged, self.folder / f"{held_id}.dcm")
        reasons = json.dumps([asdict(finding) for finding in findings])
        with self._connection:
            self._connection.execute(
                "INSERT OR REPLACE INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
                (held_id, sop, str(source), destination, reasons, run, now_text()),
            )
        return held_id

    def entries(self) -> list[Held]:
        """Everything held or released, oldest first."""
        rows = self._connection.execute("SELECT * FROM quarantine ORDER BY held_at, id")
        return [_entry(row) for row in rows.fetchall()]

    def get(self, held_id: str) -> Held:
        """One entry; a usage error when there is no such ID."""
        row = self._connection.execute(
            "SELECT * FROM quarantine WHERE id = ?", (held_id.strip(),)
        ).fetchone()
        if row is None:
            raise UsageError(f"no quarantined instance with ID {held_id}")
        return _entry(row)

    def path_of(self, held: Held) -> Path:
        """Where a held instance's cleaned file is."""
        return self.folder / held.file_name

    def review_picture(self, held: Held) -> Path | None:
        """For a hold on text in the pixels: a PNG of the frame, the regions outlined, beside
        the held file (readable by its owner only); None for any other hold."""
        regions = [finding.region for finding in held.findings if finding.region]
        if not regions:
            return None
        import pydicom

        from ..records import Blank
        from .thumbnails import REVIEW_SIZE, picture_png

        frame = regions[0][0]
        blanks = [
            Blank(region[0], (region[1], region[2], region[3], region[4])) for region in regions
        ]
        picture = picture_png(pydicom.dcmread(self.path_of(held)), blanks, REVIEW_SIZE, frame)
        if picture is None:
            return None
        path = self.folder / f"{held.id}.png"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(picture)
        return path

    def mark_released(self, held: Held, user: str, reason: str) -> None:
        """Record that a held instance was released, by whom and why."""
        with self._connection:
            self._connection.execute(
                "UPDATE quarantine SET released_at = ?, released_by = ?, release_reason = ? "
                "WHERE id = ?",
                (now_text(), user, reason, held.id),
            )


def _entry(row: tuple[str, ...]) -> Held:
    values: list[object] = list(row)
    values[4] = [_finding(stored) for stored in json.loads(row[4])]
    return Held(*values)  # type: ignore[arg-type]


def _finding(stored: dict[str, Any] | str) -> Finding:
    """A stored finding; entries held by earlier versions kept only its text."""
    if isinstance(stored, str):
        check, _, kind = stored.partition(": ")
        return Finding(check, kind)
    region = tuple(stored.pop("region", ()))
    return Finding(**stored, region=region)
