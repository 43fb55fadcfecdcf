"""The report for a period: runs, studies, instances and patients sent, held and released, by
month and modality, from the audit logs. Counts only, unless the trust asks for the values
(pseudonyms, and the patient IDs the lookup table maps them to), for its own eyes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from .history import HELD, RELEASED, SENT, Instance, Run, runs
from .lookup import LookupTable

FATES = (SENT, HELD, RELEASED)


@dataclass
class _Tally:
    instances: int = 0
    studies: set[str] = field(default_factory=set)
    patients: set[str] = field(default_factory=set)

    def add(self, instance: Instance) -> None:
        self.instances += 1
        self.studies.add(instance.study)
        if instance.pseudonym:
            self.patients.add(instance.pseudonym)

    def counts(self) -> dict[str, int]:
        return {
            "instances": self.instances,
            "studies": len(self.studies),
            "patients": len(self.patients),
        }


@dataclass
class _Row:
    month: str
    modality: str
    runs: set[str] = field(default_factory=set)
    tallies: dict[str, _Tally] = field(default_factory=lambda: {f: _Tally() for f in FATES})

    def pseudonyms(self) -> list[str]:
        return sorted(set().union(*(tally.patients for tally in self.tallies.values())))


@dataclass(frozen=True)
class PeriodReport:
    """The report's rows and its totals, ready to print."""

    since: date
    until: date | None
    runs: int
    rows: list[dict[str, Any]]


def period_report(
    log_dir: Path, since: date, until: date | None = None, lookup_file: Path | None = None
) -> PeriodReport:
    """Tally the runs whose audit logs start between `since` and `until` (inclusive). With
    the lookup table, each row also names its pseudonyms and their patient IDs."""
    if lookup_file is None:
        return _tallied(log_dir, since, until, None)
    with closing(LookupTable(lookup_file)) as lookup:
        return _tallied(log_dir, since, until, lookup)


def _tallied(
    log_dir: Path, since: date, until: date | None, lookup: LookupTable | None
) -> PeriodReport:
    chosen = [run for run in runs(log_dir) if _within(run, since, until)]
    rows: dict[tuple[str, str], _Row] = {}
    for run in chosen:
        for instance in run.instances.values():
            if instance.fate:
                key = (run.started[:7], instance.modality or "unknown")
                row = rows.setdefault(key, _Row(*key))
                row.runs.add(run.run_id)
                row.tallies[instance.fate].add(instance)
    shown = [_shown(row, lookup) for _, row in sorted(rows.items())]
    return PeriodReport(since, until, len(chosen), shown)


def _within(run: Run, since: date, until: date | None) -> bool:
    day = run.started[:10]
    return day >= since.isoformat() and (until is None or day <= until.isoformat())


def _shown(row: _Row, lookup: LookupTable | None) -> dict[str, Any]:
    shown: dict[str, Any] = {"month": row.month, "modality": row.modality, "runs": len(row.runs)}
    shown.update({fate: row.tallies[fate].counts() for fate in FATES})
    if lookup is not None:
        pseudonyms = row.pseudonyms()
        shown["pseudonyms"] = pseudonyms
        shown["patient_ids"] = sorted(
            entry.patient_id for p in pseudonyms if (entry := lookup.by_pseudonym(p))
        )
    return shown


COLUMNS = ["month", "modality", "runs"] + [
    f"{fate}_{count}" for fate in FATES for count in ("instances", "studies", "patients")
]


def flat(row: dict[str, Any]) -> dict[str, Any]:
    """One row as one level of columns (for CSV and the table)."""
    values = {name: row[name] for name in ("month", "modality", "runs")}
    for fate in FATES:
        values.update({f"{fate}_{count}": number for count, number in row[fate].items()})
    for name in ("pseudonyms", "patient_ids"):
        if name in row:
            values[name] = ";".join(row[name])
    return values


def as_csv(report: PeriodReport) -> str:
    """The rows as CSV, with a header line."""
    names = COLUMNS + [name for name in ("pseudonyms", "patient_ids") if _has(report.rows, name)]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat(row) for row in report.rows)
    return out.getvalue()


def _has(rows: Iterable[dict[str, Any]], name: str) -> bool:
    return any(name in row for row in rows)


def as_json(report: PeriodReport) -> dict[str, Any]:
    """The report as one JSON document."""
    return {
        "since": report.since.isoformat(),
        "until": report.until.isoformat() if report.until else None,
        "runs": report.runs,
        "rows": report.rows,
    }
