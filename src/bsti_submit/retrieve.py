"""`bsti-submit retrieve`: find studies on the trust's PACS, fetch each one into the inbox, and
send it down the same line as `submit` (de-identify, verify, deliver, audit).

With C-MOVE the PACS opens its own association to this node's AE title, so `retrieve` runs the
Storage SCP of `listen` while it works; with C-GET the instances come back over the query's
association. When a listener already runs on the state folder, `retrieve` only asks for the
studies: the listener receives them and sends each once it is quiet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .config import Settings
from .errors import AlreadyRunningError, ExitStatus, UsageError
from .listener import LISTEN_LOCK, StorageNode, StudyLine
from .locks import RunLock
from .pacs import FoundStudy, Pacs, Retrieved, StudyQuery
from .run import RunSummary

_MATCHING_MARKS = "*?\\"  # C-FIND wildcards, and the backslash of a list of values
_ACCESSION_HEADINGS = {"accession", "accessionnumber", "accessionno", "accno", "acc"}


@dataclass(frozen=True)
class StudyOutcome:
    """One study fetched: what the PACS counted and what the line did with it."""

    study: FoundStudy
    retrieved: Retrieved
    summary: RunSummary | None  # None: nothing arrived, or the running listener sends it


@dataclass
class Retrieval:
    """What `retrieve` did."""

    outcomes: list[StudyOutcome] = field(default_factory=list)
    leftovers: int = 0  # studies an interrupted listen or retrieve left, sent first
    handed_over: bool = False  # a listener runs on the state folder: it sends the studies

    def exit_status(self, missing: list[str]) -> ExitStatus:
        """The worst of the studies' statuses; instances the PACS failed to send, and
        accession numbers it has no study for, are input errors."""
        statuses = [outcome.summary.exit_status for outcome in self.outcomes if outcome.summary]
        if missing or any(outcome.retrieved.failed for outcome in self.outcomes):
            statuses.append(ExitStatus.INPUT_ERRORS)
        return max(statuses, default=ExitStatus.SUCCESS)


def read_accessions(path: Path) -> list[str]:
    """Accession numbers from a file: one per line, or the column of a CSV file headed
    Accession (or AccessionNumber, Acc No...). Blank lines and lines starting with # are
    skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise UsageError(f"accessions file {path}: {reason}") from error
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines or "," not in lines[0]:
        return [line.strip() for line in lines]
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    headings = ["".join(cell.lower().split()).replace("_", "") for cell in rows[0]]
    column = next((i for i, name in enumerate(headings) if name in _ACCESSION_HEADINGS), None)
    if column is None:
        raise UsageError(
            f"accessions file {path}: a CSV file needs a column headed Accession or "
            f"AccessionNumber; its headings are {', '.join(rows[0])}"
        )
    return [row[column].strip() for row in rows[1:] if len(row) > column and row[column].strip()]


def study_queries(
    accessions: list[str],
    patient_id: str | None,
    study_date: str | None,
    modalities: tuple[str, ...] = (),
) -> list[StudyQuery]:
    """One C-FIND per accession number and modality, each narrowed by the patient and the
    dates. A key that could match more than it names (blank, or a wildcard) is refused."""
    if not accessions and patient_id is None and study_date is None:
        raise UsageError(
            "name what to fetch: --accession N, --accessions FILE, --patient-id ID or "
            "--study-date FROM-TO"
        )
    keys = [("accession number", value) for value in accessions]
    keys += [("patient ID", patient_id)] if patient_id is not None else []
    for name, value in keys:
        if not value.strip() or any(mark in value for mark in _MATCHING_MARKS):
            raise UsageError(f"{name} {value!r} could match other studies: no blank, *, ? or \\")
    if study_date is not None and not _is_date_range(study_date):
        raise UsageError(f"study date {study_date!r}: give YYYYMMDD or YYYYMMDD-YYYYMMDD")
    return [
        StudyQuery(accession, patient_id or "", study_date or "", modality)
        for accession in accessions or [""]
        for modality in modalities or ("",)
    ]


def _is_date_range(text: str) -> bool:
    dates = text.split("-")
    if len(dates) not in (1, 2) or any(len(date) != 8 for date in dates):
        return False
    try:
        parsed = [datetime.strptime(date, "%Y%m%d") for date in dates]
    except ValueError:
        return False
    return parsed == sorted(parsed)


def find_studies(settings: Settings, queries: list[StudyQuery]) -> list[FoundStudy]:
    """The studies the PACS holds for any of the queries (C-FIND, study root)."""
    return Pacs(settings).find(queries)


def retrieve(
    settings: Settings,
    destination: str,
    studies: list[FoundStudy],
    on_study: Callable[[StudyOutcome], None] | None = None,
) -> Retrieval:
    """Fetch each study and send it down the line. A study an earlier run left in the inbox
    is sent first, so no identifiable copy waits there for a listener that never comes."""
    pacs = Pacs(settings)
    line = StudyLine(settings, destination)
    node = StorageNode(settings, line.inbox)
    moving = settings.pacs_retrieve == "move"
    done = Retrieval()
    with ExitStack() as stack:
        try:
            stack.enter_context(RunLock(settings.state_dir, name=LISTEN_LOCK))
        except AlreadyRunningError:
            done.handed_over = True
        if not done.handed_over:
            for folder in line.inbox.ready(0):
                line.send(folder)
                done.leftovers += 1
            if moving:
                stack.enter_context(node.running())
        for study in studies:
            retrieved = (
                pacs.move(study.study_uid) if moving else pacs.get(study.study_uid, node.store)
            )
            folder = line.inbox.folder(study.study_uid)
            sent = not done.handed_over and folder.is_dir()
            done.outcomes.append(
                StudyOutcome(study, retrieved, line.send(folder) if sent else None)
            )
            if on_study is not None:
                on_study(done.outcomes[-1])
    return done
